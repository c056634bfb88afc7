# test_store_retry.sh - a Redis outage in the middle of a run costs a pause,
# not the job (--store-retry, default 60 s): every store command is
# idempotent, so after a lost connection or a timeout the backend reconnects
# with backoff, authenticates again and resends the batch. Each outage is
# injected on an event of the run (rank 0's first progress event), and each
# run that rides it out ends with /results bitwise equal to an uninterrupted
# run, one "unreachable, retrying" warning and one "back after" warning:
#   1. the server paused (CLIENT PAUSE) longer than --timeout;
#   2. redis-server stopped and started again (appendonly: the data
#      survives) for longer than the reconnects of --store-retry 0 last;
#      the server wants a password, so each reconnect authenticates again;
#   3. with --store-retry 0 the old behaviour: the pause ends the run with
#      exit 9 (timeout), the restart with exit 3 (unreachable); a pause longer
#      than the window ends it with exit 9 once the window has passed.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
N=120
RUN=(run --algorithm synthetic --task-duration 12 --seed 4 --start-trade 0 --trade-window $N --batch 8)
gen() { "$FINSIM_BIN" generate --trades $N --seed 9 --store "$1" > /dev/null; }
wait_progress() { wait_for 60 "progress event in $1" grep -qs '"event":"progress"' "$1"; }
# start NAME ARGS...: a run in the background, events in $T/NAME.events
start() {
  local name=$1; shift
  rm -f "$T/$name.events"
  MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/$name.h5" --timeout 1 \
    --progress 0.001 --events "$T/$name.events" "$@" > "$T/$name.out" 2> "$T/$name.err" & P=$!
  wait_progress "$T/$name.events"
}

# the uninterrupted reference (file store, no mirror)
gen "$T/trades.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --progress 0 --store "$T/trades.h5" --no-mirror --output "$T/ref.h5"
H5CHECK valid "$T/ref.h5" $N 0

# a password: every reconnect must authenticate again
export FINSIM_REDIS_PASSWORD=retry-pw-5150
redis_start --appendonly yes --appendfsync always --requirepass "$FINSIM_REDIS_PASSWORD"
add_cleanup redis_stop
gen "$REDIS_URL"

# 1. paused for 5 s, past --timeout 1 (each attempt times out), within the window
start p --store-retry 30
redis_cli CLIENT PAUSE 5000 > /dev/null
rc=0; wait $P || rc=$?
expect_status 0 "$rc" "run through a 5 s pause of its store" "$T/p.out" "$T/p.err"
expect_grep "store redis://127.0.0.1:$REDIS_PORT/0 unreachable \(.*\), retrying for up to 30 s" "$T/p.err"
expect_grep "store redis://127.0.0.1:$REDIS_PORT/0 back after [0-9.]+ s" "$T/p.err"
H5CHECK same "$T/ref.h5" "$T/p.h5"

# 2. restarted: stopped (SIGTERM: the append-only file is complete), down for
# 4 s once finsim has noticed (the outage we inject: longer than the ~2 s of
# reconnects without a window), then started again on the same port and dir
redis_cli FLUSHALL > /dev/null; gen "$REDIS_URL"
start r
redis_kill TERM
wait_for 60 "outage warning" grep -qs 'unreachable (.*), retrying for up to 60 s' "$T/r.err"
sleep 4
_redis_launch
rc=0; wait $P || rc=$?
expect_status 0 "$rc" "run through a restart of its store" "$T/r.out" "$T/r.err"
expect_grep "store redis://127.0.0.1:$REDIS_PORT/0 back after [0-9.]+ s" "$T/r.err"
[ "$(grep -c 'retrying for up to' "$T/r.err")" -le 2 ] || { echo "FAIL: more than one outage warning per rank"; exit 1; }
H5CHECK same "$T/ref.h5" "$T/r.h5"

# 3. --store-retry 0: the old behaviour
start p0 --store-retry 0
redis_cli CLIENT PAUSE 5000 > /dev/null
rc=0; wait $P || rc=$?
expect_status 9 "$rc" "run with --store-retry 0 through a pause (exit 9: timeout)" "$T/p0.out" "$T/p0.err"
expect_no_grep 'retrying for up to' "$T/p0.err"
wait_for 60 "the pause to end" redis_cli PING
# an outage longer than the window: the old error and exit code, after it
start pw --store-retry 2
redis_cli CLIENT PAUSE 6000 > /dev/null
rc=0; wait $P || rc=$?
expect_status 9 "$rc" "run through a pause longer than --store-retry 2 (exit 9)" "$T/pw.out" "$T/pw.err"
expect_grep 'retrying for up to 2 s' "$T/pw.err"
expect_grep 'within 1 s.*\(unreachable for [0-9.]+ s, beyond --store-retry 2\)' "$T/pw.err"
wait_for 60 "the pause to end" redis_cli PING
start r0 --store-retry 0
redis_kill TERM
rc=0; wait $P || rc=$?
expect_status 3 "$rc" "run with --store-retry 0 through a restart (exit 3: unreachable)" "$T/r0.out" "$T/r0.err"
finish
