# test_prefetch.sh - the Redis store reads the next batch ahead while a rank
# parses, prices and mirrors the current one (store_prefetch_trades). With
# many small batches:
#   1. /results is bitwise equal to a run of one batch per rank (nothing
#      read ahead) from a file store, and every trade is read once (the
#      server counts N GETRANGEs: nothing read ahead was read again);
#   2. every client connection killed mid-run (reads ahead in flight are
#      lost with it): the run reconnects within --store-retry and ends
#      bitwise equal, with every result mirrored;
#   3. the server stopped mid-run with --store-retry 0: the run fails
#      (exit 3), and --resume after a restart finishes bitwise equal.
# Each failure is injected on an event of the run (its first progress event).
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
N=400
RUN=(run --algorithm synthetic --task-duration 4 --seed 4 --start-trade 0 --trade-window $N)
gen() { "$FINSIM_BIN" generate --trades $N --seed 9 --store "$1" > /dev/null; }
getranges() { redis_cli INFO commandstats | sed -n 's/^cmdstat_getrange:calls=\([0-9]*\),.*/\1/p'; }
# start NAME ARGS...: a run of small batches in the background, events in $T/NAME.events
start() {
  local name=$1; shift
  rm -f "$T/$name.events"
  MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --batch 7 --store "$REDIS_URL" --output "$T/$name.h5" \
    --progress 0.001 --events "$T/$name.events" "$@" > "$T/$name.out" 2> "$T/$name.err" & P=$!
  add_cleanup "kill $P 2>/dev/null"
  wait_for 60 "progress event in $name" grep -qs '"event":"progress"' "$T/$name.events"
}

# the reference: one batch per rank's window, file store, no mirror
gen "$T/trades.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --batch $((N / 2)) --progress 0 --store "$T/trades.h5" \
  --no-mirror --output "$T/ref.h5"
H5CHECK valid "$T/ref.h5" $N 0

redis_start --appendonly yes --appendfsync always
add_cleanup redis_stop
gen "$REDIS_URL"

# 1. 29 batches per rank, each but the first read ahead
redis_cli CONFIG RESETSTAT > /dev/null
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --batch 7 --progress 0 --store "$REDIS_URL" --output "$T/a.h5"
expect_grep 'RESULT: OK' "$T/last.out"
H5CHECK same "$T/ref.h5" "$T/a.h5"
[ "$(getranges)" = $N ] || { echo "FAIL: $N trades read with $(getranges) GETRANGEs, not $N" >&2; exit 1; }

# 2. every connection killed mid-run: within --store-retry the run goes on
redis_cli FLUSHALL > /dev/null; gen "$REDIS_URL"
start k --store-retry 60
[ "$(redis_cli CLIENT KILL TYPE normal)" -ge 1 ] || { echo "FAIL: no client connection to kill" >&2; exit 1; }
rc=0; wait $P || rc=$?
expect_status 0 "$rc" "run whose connections were killed" "$T/k.out" "$T/k.err"
expect_grep 'RESULT: OK' "$T/k.out"
expect_grep "store redis://127.0.0.1:$REDIS_PORT/0 unreachable \(.*\), retrying for up to 60 s" "$T/k.err"
H5CHECK same "$T/ref.h5" "$T/k.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --batch 7 --progress 0 --store "$REDIS_URL" --resume --force \
  --output "$T/k.h5"
expect_grep "resumed $N\\)" "$T/last.out"

# 3. the server stops mid-run, no retry window: the run fails; --resume finishes it
redis_cli FLUSHALL > /dev/null; gen "$REDIS_URL"
start s --store-retry 0
redis_kill TERM
rc=0; wait $P || rc=$?
expect_status 3 "$rc" "run whose store stopped (exit 3: unreachable)" "$T/s.out" "$T/s.err"
_redis_launch
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --batch 7 --progress 0 --store "$REDIS_URL" --resume \
  --output "$T/s.h5"
expect_grep 'RESULT: OK' "$T/last.out"
H5CHECK same "$T/ref.h5" "$T/s.h5"
finish
