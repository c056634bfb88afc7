# test_faults.sh - failures with real processes. Each ends with a clear
# message and a non-zero exit, and a rerun with --resume completes with an
# HDF5 /results equal, bit for bit, to an uninterrupted run:
#   redis-server killed in the middle of a run; Redis emptied mid-run
#   (a restart without persistence); one rank killed with SIGKILL; a full disk.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
N=120
RUN=(run --algorithm synthetic --task-duration 12 --seed 4 --start-trade 0 --trade-window $N --progress 0 --batch 8)
gen() { "$FINSIM_BIN" generate --trades $N --seed 9 --store "$1" > /dev/null; }

# the uninterrupted reference (file store, no mirror)
gen "$T/trades.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/trades.h5" --no-mirror --output "$T/ref.h5"
H5CHECK valid "$T/ref.h5" $N 0

# 1. redis-server killed in the middle of a run
redis_start
add_cleanup redis_stop
gen "$REDIS_URL"
rc=0
MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/k.h5" --timeout 2 \
  > "$T/k.out" 2> "$T/k.err" & P=$!
sleep 0.5
kill -9 "$REDIS_PID"
wait $P || rc=$?
[ "$rc" -ne 0 ] || { echo "FAIL: the run survived a dead store"; exit 1; }
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
MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/e.h5" > "$T/e.out" 2> "$T/e.err" & P=$!
sleep 0.6
redis-cli -p "$REDIS_PORT" FLUSHALL > /dev/null
rc=0; wait $P || rc=$?
[ "$rc" = 1 ] || { echo "FAIL: exit $rc after the store was emptied, expected 1"; cat "$T/e.err"; exit 1; }
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
for _ in $(seq 1200); do grep -qs '"event":"progress"' "$T/s.events" && break; sleep 0.02; done
grep -qs '"event":"progress"' "$T/s.events" || { echo "FAIL: no progress event within 24 s"; cat "$T/s.err"; exit 1; }
victim=$(pgrep -f "finsim run .*--output $T/s.h5" | while read -r p; do
  [ "$(cat /proc/$p/comm 2>/dev/null)" = finsim ] && echo "$p"; done | tail -1)
[ -n "$victim" ] || { echo "FAIL: no rank process found to kill"; exit 1; }
kill -9 "$victim"
rc=0; wait $P || rc=$?
[ "$rc" -ne 0 ] || { echo "FAIL: the job survived a killed rank"; exit 1; }
[ ! -e "$T/s.h5" ] || { echo "FAIL: a final output after a killed rank"; exit 1; }
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/trades.h5" --output "$T/s.h5" --resume
H5CHECK same "$T/ref.h5" "$T/s.h5"
expect_grep 'resumed [1-9]' "$T/last.out"

# 4. a full disk: an 8 KiB tmpfs cannot hold the results; found before pricing
mkdir -p "$T/full"
if mount -t tmpfs -o size=8k tmpfs "$T/full" 2>/dev/null; then
  add_cleanup "umount '$T/full'"
  expect_rc 6 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/trades.h5" --no-mirror --output "$T/full/r.h5"
  expect_grep 'disk full|No space' "$T/last.err"
  expect_no_grep 'RESULT: OK' "$T/last.out"
  expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/trades.h5" --no-mirror --output "$T/f.h5" --resume
  H5CHECK same "$T/ref.h5" "$T/f.h5"
else
  echo "note: cannot mount a tmpfs here (not root?); full-disk case skipped"
fi
finish
