# test_trade_sharing.sh - a trade file shared by many readers: run
# --no-mirror, export and screen open it read-only, so they run beside each
# other; a writer (run with the mirror) against a file that another process
# holds open fails at once with a plain message about the lock that names
# HDF5_USE_FILE_LOCKING. Waits on the first process's events, never a sleep.
source "$FINSIM_SRC/tests/lib/common.sh"
unset HDF5_USE_FILE_LOCKING
"$FINSIM_BIN" generate --trades 40 --seed 3 --store "$T/trades.h5" > /dev/null
SLOW=(--algorithm synthetic --task-duration 150 --seed 4 --start-trade 0 --trade-window 40 --batch 1 --progress 0.001)
FAST=(--algorithm deltavega --paths 500 --seed 7 --start-trade 0 --trade-window 10 --progress 0)

# started: the process with events file $1 has priced a trade (the file is open)
started() { grep -qs '"event":"progress"' "$1"; }
# running PID: the process still runs (so the file is still open)
running() { kill -0 "$1" 2>/dev/null; }

# 1. a reader holds the file: other readers run beside it
"$FINSIM_BIN" run --store "$T/trades.h5" "${SLOW[@]}" --no-mirror --events "$T/r.events" --output "$T/r.h5" \
  > "$T/r.out" 2> "$T/r.err" &
rp=$!
add_cleanup "kill $rp 2>/dev/null"
wait_for 60 "the first reader's progress" started "$T/r.events"
expect_rc 0 "$FINSIM_BIN" run --store "$T/trades.h5" "${FAST[@]}" --no-mirror --output "$T/r2.h5"
expect_rc 0 "$FINSIM_BIN" export --store "$T/trades.h5" --to "$T/copy.h5"
expect_rc 0 "$FINSIM_BIN" screen --make-quotes "$T/q.csv" --store "$T/trades.h5" --paths 500 --trade-window 10
running "$rp" || echo "note: the first reader ended before the others (the checks above still held)"
# a writer needs the file alone
expect_rc 6 "$FINSIM_BIN" run --store "$T/trades.h5" "${FAST[@]}" --output "$T/w.h5"
expect_grep 'locked by another process' "$T/last.err"
expect_grep 'HDF5_USE_FILE_LOCKING' "$T/last.err"
rc=0; wait "$rp" || rc=$?
expect_status 0 "$rc" "the first reader" "$T/r.out" "$T/r.err"
H5CHECK valid "$T/r.h5" 40 0

# 2. a writer holds the file (run with the mirror): another writer, and a reader, are refused
"$FINSIM_BIN" run --store "$T/trades.h5" "${SLOW[@]}" --events "$T/w.events" --output "$T/w1.h5" \
  > "$T/w1.out" 2> "$T/w1.err" &
wp=$!
add_cleanup "kill $wp 2>/dev/null"
wait_for 60 "the writer's progress" started "$T/w.events"
expect_rc 6 "$FINSIM_BIN" run --store "$T/trades.h5" "${FAST[@]}" --output "$T/w2.h5"
expect_grep 'locked by another process' "$T/last.err"
expect_grep 'HDF5_USE_FILE_LOCKING' "$T/last.err"
expect_rc 6 "$FINSIM_BIN" run --store "$T/trades.h5" "${FAST[@]}" --no-mirror --output "$T/w3.h5"
expect_grep 'locked by another process' "$T/last.err"
rc=0; wait "$wp" || rc=$?
expect_status 0 "$rc" "the writer" "$T/w1.out" "$T/w1.err"
finish
