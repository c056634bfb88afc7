# test_redis_cluster.sh - the Redis store on a real 3-master Redis Cluster on
# loopback (tests/lib/rcluster.sh), with real mpirun and HDF5 read back:
# generate through several seeds spreads the keys over every master with the
# bytes of a plain Redis; run (static and dynamic, 1..3 ranks) gives results
# bitwise equal to a run on one plain redis-server and mirrors every result;
# a failed run finishes with --resume; export/import between the cluster, a
# plain Redis and trade files; price from exported documents; the screen's
# signals sorted set; serve with priority streams on different masters
# answers as finsim price; ?cluster=no talks to one node (and gets MOVED).
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
source "$FINSIM_SRC/tests/lib/rcluster.sh"
F=$FINSIM_BIN
N=300
rcluster_start 3 0
add_cleanup rcluster_stop
redis_start
add_cleanup redis_stop
COMMON=(--algorithm deltavega --paths 500 --seed 11 --progress 0 --trade-window $N)

# ---- generate: every master holds keys, bytes as on a plain Redis ----
expect_rc 0 "$F" generate --trades $N --seed 5 --store "$RC_SEEDS"
expect_rc 0 "$F" generate --trades $N --seed 5 --store "$REDIS_URL"
total=0
for i in 0 1 2; do
  k=$(rcluster_cli $i DBSIZE)
  [ "$k" -gt 0 ] || { echo "FAIL: master $i holds no keys"; exit 1; }
  total=$((total + k))
done
[ "$total" = "$N" ] || { echo "FAIL: the cluster holds $total keys, not $N"; exit 1; }
rcluster_cli 0 -c --raw GET ey0000123.xml > "$T/c123"
redis_cli --raw GET ey0000123.xml > "$T/s123"
cmp "$T/c123" "$T/s123"

# ---- run: bitwise equal to one plain Redis, every result mirrored ----
expect_rc 0 MPIRUN -np 2 "$F" run --store "$REDIS_URL" "${COMMON[@]}" --output "$T/single.h5" --no-mirror
expect_rc 0 MPIRUN -np 3 "$F" run --store "$RC_URL" "${COMMON[@]}" --output "$T/cluster.h5"
H5CHECK same "$T/single.h5" "$T/cluster.h5"
# one rank: each batch is written to all 3 masters before any reply is read
# (the store counts the masters with unread replies; -v logs the most at close)
expect_rc 0 MPIRUN -np 1 "$F" run --store "$RC_URL" "${COMMON[@]}" --output "$T/one.h5" --no-mirror -v
cat "$T/last.out" "$T/last.err" | grep -q "up to 3 masters had batches on the wire at once" ||
  { echo "FAIL: a batch was not on the wire to all masters at once"; cat "$T/last.err"; exit 1; }
H5CHECK same "$T/single.h5" "$T/one.h5"
H5CHECK valid "$T/cluster.h5" $N 0
: > "$T/mirror.tsv"
for i in 0 1 2; do
  for k in $(rcluster_cli $i --scan --pattern '*_result.xml'); do
    printf '%s\t%s\n' "$k" "$(rcluster_cli $i --raw GET "$k")" >> "$T/mirror.tsv"
  done
done
[ "$(wc -l < "$T/mirror.tsv")" = "$N" ] || { echo "FAIL: $(wc -l < "$T/mirror.tsv") results mirrored, not $N"; exit 1; }
H5CHECK mirror "$T/cluster.h5" "$T/mirror.tsv"
expect_rc 0 MPIRUN -np 2 "$F" run --store "$RC_URL" "${COMMON[@]}" --schedule dynamic --chunk 17 \
  --output "$T/dynamic.h5" --no-mirror
H5CHECK same "$T/single.h5" "$T/dynamic.h5"

# ---- an injected failure, then --resume from the cluster's mirror ----
for i in 0 1 2; do
  rcluster_cli $i --scan --pattern '*_result.xml' | xargs -r -n 100 redis-cli -p "${RC_PORTS[$i]}" DEL >/dev/null
done
rc=0
MPIRUN -np 2 "$F" run --store "$RC_URL" "${COMMON[@]}" --batch 8 --failure 0.02 --output "$T/resumed.h5" \
  > "$T/fail.out" 2> "$T/fail.err" || rc=$?
expect_status 10 "$rc" "cluster run with an injected failure" "$T/fail.out" "$T/fail.err"
mirrored=0
for i in 0 1 2; do mirrored=$((mirrored + $(rcluster_cli $i --scan --pattern '*_result.xml' | wc -l))); done
[ "$mirrored" -gt 0 ] || { echo "FAIL: nothing mirrored before the injected failure"; exit 1; }
expect_rc 0 MPIRUN -np 3 "$F" run --store "$RC_URL" "${COMMON[@]}" --resume --output "$T/resumed.h5"
expect_grep "resumed [1-9]" "$T/last.out"
H5CHECK same "$T/single.h5" "$T/resumed.h5"

# ---- --all-trades lists the keys of every master ----
expect_rc 0 MPIRUN -np 2 "$F" run --store "$RC_URL" --algorithm deltavega --paths 500 --seed 11 --progress 0 \
  --all-trades --output "$T/all.h5" --no-mirror
H5CHECK same "$T/single.h5" "$T/all.h5"

# ---- export / import: cluster <-> plain Redis <-> trade file ----
expect_rc 0 "$F" export --store "$RC_URL" --trade-window $N --eyxml-dir "$T/fromc"
expect_rc 0 "$F" generate --trades $N --seed 5 --eyxml-dir "$T/ref"
diff -r "$T/fromc" "$T/ref" > /dev/null || { echo "FAIL: exported documents differ from the generator's"; exit 1; }
CHECKS=$((CHECKS + 1))
expect_rc 0 "$F" export --store "$RC_URL" --all --to "$T/trades.h5"
expect_rc 0 MPIRUN -np 2 "$F" run --store "$T/trades.h5" "${COMMON[@]}" --output "$T/fromfile.h5" --no-mirror
H5CHECK same "$T/single.h5" "$T/fromfile.h5"
for i in 0 1 2; do rcluster_cli $i FLUSHALL > /dev/null; done
expect_rc 0 "$F" export --store "$REDIS_URL" --all --to "$RC_SEEDS"
expect_rc 0 MPIRUN -np 2 "$F" run --store "$RC_URL" "${COMMON[@]}" --output "$T/copied.h5" --no-mirror
H5CHECK same "$T/single.h5" "$T/copied.h5"
for i in 0 1 2; do rcluster_cli $i FLUSHALL > /dev/null; done
expect_rc 0 "$F" import --eyxml-dir "$T/ref" --store "$RC_URL"
expect_rc 0 MPIRUN -np 2 "$F" run --store "$RC_URL" "${COMMON[@]}" --output "$T/imported.h5" --no-mirror
H5CHECK same "$T/single.h5" "$T/imported.h5"

# ---- price from the store: exported documents priced in one process ----
expect_rc 0 "$F" export --store "$RC_URL" --trade-window 20 --eyxml "$T/c20.xml"
expect_rc 0 "$F" export --store "$REDIS_URL" --trade-window 20 --eyxml "$T/s20.xml"
expect_rc 0 "$F" price --paths 500 --seed 11 "$T/c20.xml"
cut -d, -f1-9 "$T/last.out" > "$T/pc.csv"
expect_rc 0 "$F" price --paths 500 --seed 11 "$T/s20.xml"
cut -d, -f1-9 "$T/last.out" | cmp - "$T/pc.csv"

# ---- screen: the signals sorted set lands on its slot's master ----
expect_rc 0 "$F" screen --make-quotes "$T/q.csv" --store "$REDIS_URL" --paths 500 --seed 5 --quote-noise 0.05
TH=(--paths 500 --seed 5 --min-edge -1e9 --min-z -1e300)
expect_rc 0 "$F" screen --store "$REDIS_URL" --quotes "$T/q.csv" "${TH[@]}" --csv "$T/s.csv"
expect_rc 0 MPIRUN -np 2 "$F" screen --store "$RC_URL" --quotes "$T/q.csv" "${TH[@]}" --csv "$T/c.csv"
cmp "$T/s.csv" "$T/c.csv"
redis_cli ZREVRANGE finsim:signals 0 -1 WITHSCORES > "$T/zs"
rcluster_cli 0 -c ZREVRANGE finsim:signals 0 -1 WITHSCORES > "$T/zc"
[ -s "$T/zs" ] || { echo "FAIL: no signals on the plain Redis"; exit 1; }
cmp "$T/zs" "$T/zc"

# ---- serve: the request streams and replies routed by slot ----
# the priority streams hash to different masters; a request answers with the
# figures of finsim price on the same trade, seed and paths
expect_rc 0 "$F" price --paths 700 --seed 4 "$T/c20.xml"
cut -d, -f1-9 "$T/last.out" > "$T/ref700"
"$F" serve --store "$RC_SEEDS" --streams finsim:requests:high,finsim:requests --idle-exit 30 --log-every 0 \
  > "$T/serve.out" 2> "$T/serve.err" &
SERVE_PID=$!
for id in 3 17; do
  expect_rc 0 "$F" request --store "$RC_URL" --trade $id --seed 4 --paths 700 --wait 120
  tail -1 "$T/last.out" | cut -d, -f1-9 > "$T/req$id"
  grep -qxF "$(grep "^$id," "$T/ref700")" "$T/req$id" ||
    { echo "FAIL: the answer for trade $id differs from finsim price: $(cat "$T/req$id")"; exit 1; }
done
expect_rc 0 "$F" request --store "$RC_URL" --trade 5 --seed 4 --paths 700 --priority high --wait 120
kill -TERM $SERVE_PID
rc=0; wait $SERVE_PID || rc=$?
expect_status 0 "$rc" "serve on the cluster stopped by SIGTERM" "$T/serve.out" "$T/serve.err"
expect_grep 'hash to different Redis Cluster slots: blocking reads take one stream at a time' "$T/serve.err"

# ---- ?cluster=no: one node only, whose MOVED answers fail clearly ----
rc=0
"$F" generate --trades 50 --seed 5 --store "$RC_URL?cluster=no" > "$T/no.out" 2> "$T/no.err" || rc=$?
[ "$rc" != 0 ] || { echo "FAIL: ?cluster=no wrote across slots through one node"; exit 1; }
expect_grep 'CROSSSLOT' "$T/no.err"

echo "test_redis_cluster: $CHECKS checks passed"
