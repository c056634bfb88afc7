# test_faults.sh - failures with real processes. Each ends with a clear
# message and a non-zero exit, and a rerun with --resume completes with an
# HDF5 /results equal, bit for bit, to an uninterrupted run:
#   redis-server killed in the middle of a run; Redis emptied mid-run
#   (a restart without persistence); one rank killed with SIGKILL. (A full
#   disk: tests/cli/test_faults_disk.sh.) Every fault is injected on an event of
#   the run (rank 0's first progress event in --events), never after a sleep.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
N=120
RUN=(run --algorithm synthetic --task-duration 12 --seed 4 --start-trade 0 --trade-window $N --progress 0 --batch 8)
gen() { "$FINSIM_BIN" generate --trades $N --seed 9 --store "$1" > /dev/null; }
# wait_progress EVENTS: until rank 0 reports its first batch done (60 s ceiling)
wait_progress() { wait_for 60 "progress event in $1" grep -qs '"event":"progress"' "$1"; }

# the uninterrupted reference (file store, no mirror)
gen "$T/trades.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/trades.h5" --no-mirror --output "$T/ref.h5"
H5CHECK valid "$T/ref.h5" $N 0

# 1. redis-server killed in the middle of a run (--store-retry 0: a server
# that stays away; test_store_retry.sh rides out one that comes back)
redis_start
add_cleanup redis_stop
gen "$REDIS_URL"
rc=0
MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/k.h5" --timeout 2 --store-retry 0 \
  --progress 0.001 --events "$T/k.events" > "$T/k.out" 2> "$T/k.err" & P=$!
wait_progress "$T/k.events"
kill -9 "$REDIS_PID"
wait $P || rc=$?
expect_status 3 "$rc" "run with its store killed (exit 3: store unreachable)" "$T/k.out" "$T/k.err"
expect_grep "127.0.0.1:$REDIS_PORT" "$T/k.err"
[ ! -e "$T/k.h5" ] || { echo "FAIL: a final output after a failed run"; exit 1; }
redis_stop
# a new, empty server: reload the trades and resume (nothing mirrored survives)
redis_start
gen "$REDIS_URL"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/k.h5" --resume
H5CHECK same "$T/ref.h5" "$T/k.h5"

# 2. Redis emptied mid-run (a restart without persistence): the trades still
# to do are reported missing, the run ends with exit 1
redis-cli -p "$REDIS_PORT" FLUSHALL > /dev/null
gen "$REDIS_URL"
MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/e.h5" \
  --progress 0.001 --events "$T/e.events" > "$T/e.out" 2> "$T/e.err" & P=$!
wait_progress "$T/e.events"
redis-cli -p "$REDIS_PORT" FLUSHALL > /dev/null
rc=0; wait $P || rc=$?
expect_status 1 "$rc" "run with its store emptied (exit 1: some trades failed)" "$T/e.out" "$T/e.err"
expect_grep 'not found' "$T/e.err"
expect_grep 'finsim generate' "$T/e.err"
gen "$REDIS_URL"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/e.h5" --resume
H5CHECK same "$T/ref.h5" "$T/e.h5"

# 3. one rank killed with SIGKILL (file store: its mirror survives)
# Kill as soon as rank 0 reports its first batch mirrored (a progress event):
# results are then on disk to resume from, and ~0.6 s of pricing is left.
MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --progress 0.001 --store "$T/trades.h5" --output "$T/s.h5" \
  --events "$T/s.events" > "$T/s.out" 2> "$T/s.err" & P=$!
wait_progress "$T/s.events"
victim=$(pgrep -f "finsim run .*--output $T/s.h5" | while read -r p; do
  [ "$(cat /proc/$p/comm 2>/dev/null)" = finsim ] && echo "$p"; done | tail -1)
[ -n "$victim" ] || { echo "FAIL: no rank process found to kill"; exit 1; }
kill -9 "$victim"
rc=0; wait $P || rc=$?
# mpirun ends the job and reports the rank's signal: 128 + SIGKILL
expect_status 137 "$rc" "job with a rank killed by SIGKILL" "$T/s.out" "$T/s.err"
[ ! -e "$T/s.h5" ] || { echo "FAIL: a final output after a killed rank"; exit 1; }
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/trades.h5" --output "$T/s.h5" --resume
H5CHECK same "$T/ref.h5" "$T/s.h5"
expect_grep 'resumed [1-9]' "$T/last.out"

finish
