# test_redis_cluster_failover.sh - the Redis store through changes of a real
# Redis Cluster (3 masters + 3 replicas, tests/lib/rcluster.sh), with real
# mpirun and HDF5 read back, results compared bitwise with a plain Redis:
# - ASK: a slot half migrated by hand (SETSLOT MIGRATING/IMPORTING, MIGRATE
#   of one key) is read and written through ASKING at the importing node;
# - a slot range resharded (redis-cli --cluster reshard) during a run: MOVED;
# - a master killed during a run: its replica takes over and the run ends
#   with equal results;
# - a shard with no replica left, killed during a run with a short
#   --store-retry: exit 3 naming the cluster node; once the node is back and
#   its trades are written again, --resume completes with equal results.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
source "$FINSIM_SRC/tests/lib/rcluster.sh"
F=$FINSIM_BIN
N=240
rcluster_start 3 1
add_cleanup rcluster_stop
redis_start
add_cleanup redis_stop
# synthetic trades of 25 ms each: a run lasts a few seconds, long enough
# for the cluster to change under it (the events wait for mirrored results,
# and each check below fails if the run ended before its event)
COMMON=(--algorithm synthetic --task-duration 25 --paths 200 --seed 11 --progress 0 --trade-window $N --batch 8)

expect_rc 0 "$F" generate --trades $N --seed 5 --store "$RC_URL"
expect_rc 0 "$F" generate --trades $N --seed 5 --store "$REDIS_URL"
expect_rc 0 MPIRUN -np 2 "$F" run --store "$REDIS_URL" "${COMMON[@]}" --task-duration 0 --output "$T/ref.h5" --no-mirror

mirrored() {  # result keys on the live masters
  local i c=0
  for ((i = 0; i < RC_N; i++)); do
    [ -n "${RC_PIDS[$i]:-}" ] && [ "$(rcluster_role $i)" = master ] || continue
    c=$((c + $(rcluster_cli $i --scan --pattern '*_result.xml' | wc -l)))
  done
  echo $c
}
clear_mirror() {
  local i
  for ((i = 0; i < RC_N; i++)); do
    [ -n "${RC_PIDS[$i]:-}" ] && [ "$(rcluster_role $i)" = master ] || continue
    rcluster_cli $i --scan --pattern '*_result.xml' | xargs -r -n 100 redis-cli -p "${RC_PORTS[$i]}" DEL >/dev/null
  done
}
# (runs name two seeds: node 0, the first, is killed below; the second is
# tried when the first does not answer)
# start_run OUT.h5 [args]: the run in the background (RUN_PID), output in $T/run.*
start_run() {
  local out=$1; shift
  MPIRUN -np 2 "$F" run --store "$RC_SEEDS" "${COMMON[@]}" --output "$out" "$@" > "$T/run.out" 2> "$T/run.err" &
  RUN_PID=$!
}
# wait_mirrored K: until K results are mirrored (bounded: 120 s); fails if the run ended first
wait_mirrored() {
  local k
  for ((k = 0; k < 1200; k++)); do
    [ "$(mirrored)" -ge "$1" ] && break
    sleep 0.1
  done
  kill -0 "$RUN_PID" 2>/dev/null || { echo "FAIL: the run ended before the cluster changed"; cat "$T/run.err"; exit 1; }
}

# ---- ASK: key 7's slot half migrated from its master to another ----
KEY=ey0000007.xml
SLOT=$(rcluster_cli 0 CLUSTER KEYSLOT $KEY)
SRC=$(rcluster_key_owner $KEY)
DST=$(( (SRC + 1) % 3 ))
rcluster_cli $DST CLUSTER SETSLOT "$SLOT" IMPORTING "$(rcluster_id $SRC)" > /dev/null
rcluster_cli $SRC CLUSTER SETSLOT "$SLOT" MIGRATING "$(rcluster_id $DST)" > /dev/null
rcluster_cli $SRC MIGRATE 127.0.0.1 "${RC_PORTS[$DST]}" $KEY 0 5000 > /dev/null
case $(rcluster_cli $SRC GET $KEY) in ASK*) ;; *) echo "FAIL: key 7 does not answer ASK"; exit 1 ;; esac
expect_rc 0 "$F" export --store "$RC_URL" --trade-window $N --eyxml-dir "$T/ask"
"$F" generate --trades $N --seed 5 --eyxml-dir "$T/gen" > /dev/null
diff -r "$T/ask" "$T/gen" > /dev/null || { echo "FAIL: reads through ASK differ"; exit 1; }
# (one redis-cli connection: ASKING applies to the command after it)
printf 'ASKING\nSET %s stale\n' $KEY | rcluster_cli $DST > /dev/null
expect_rc 0 "$F" generate --trades $N --seed 5 --store "$RC_URL"
case $(rcluster_cli $SRC EXISTS $KEY) in ASK*) ;; *) echo "FAIL: the write went to the migrating node"; exit 1 ;; esac
printf 'ASKING\nGET %s\n' $KEY | rcluster_cli $DST --raw | tail -n +2 | head -c -1 | cmp - "$T/gen/$KEY"
for i in 0 1 2; do rcluster_cli $i CLUSTER SETSLOT "$SLOT" NODE "$(rcluster_id $DST)" > /dev/null; done
rcluster_wait_ok
echo "ASK: slot $SLOT from node $SRC to $DST"

# ---- a slot range resharded during a run: MOVED ----
start_run "$T/reshard.h5"
wait_mirrored 16
redis-cli --cluster reshard "127.0.0.1:${RC_PORTS[0]}" --cluster-from "$(rcluster_id 0)" \
  --cluster-to "$(rcluster_id 1)" --cluster-slots 3000 --cluster-yes > "$T/reshard.log" 2>&1 ||
  { echo "FAIL: reshard"; tail "$T/reshard.log"; exit 1; }
rc=0; wait $RUN_PID || rc=$?
expect_status 0 "$rc" "run during a reshard" "$T/run.out" "$T/run.err"
H5CHECK same "$T/ref.h5" "$T/reshard.h5"

# ---- a master killed during a run: its replica takes over ----
clear_mirror
start_run "$T/failover.h5"
wait_mirrored 16
rcluster_kill 0
rc=0; wait $RUN_PID || rc=$?
expect_status 0 "$rc" "run during a failover" "$T/run.out" "$T/run.err"
H5CHECK same "$T/ref.h5" "$T/failover.h5"
rcluster_wait_ok
NEW=-1
for i in 3 4 5; do [ "$(rcluster_role $i)" = master ] && NEW=$i; done
[ $NEW -ge 0 ] || { echo "FAIL: no replica became master"; exit 1; }
echo "failover: node 0's replica $NEW is master"

# ---- that shard dies too (no replica left): a clear error, then --resume ----
clear_mirror
start_run "$T/down.h5" --store-retry 3
wait_mirrored 16
rcluster_kill $NEW
rc=0; wait $RUN_PID || rc=$?
expect_status 3 "$rc" "run with a shard gone for good" "$T/run.out" "$T/run.err"
expect_grep "cluster node redis://127.0.0.1:[0-9]*/0" "$T/run.err"
expect_grep "store-retry 3" "$T/run.err"
grep -m1 "cluster node" "$T/run.err"
rcluster_restart $NEW
rcluster_wait_ok
expect_rc 0 "$F" generate --trades $N --seed 5 --store "$RC_SEEDS"  # the restarted node lost its data
expect_rc 0 MPIRUN -np 2 "$F" run --store "$RC_SEEDS" "${COMMON[@]}" --resume --output "$T/down.h5"
expect_grep "resumed [1-9]" "$T/last.out"
H5CHECK same "$T/ref.h5" "$T/down.h5"

echo "test_redis_cluster_failover: $CHECKS checks passed"
