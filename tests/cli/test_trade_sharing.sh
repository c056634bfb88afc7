# test_trade_sharing.sh - a trade file shared by many readers: run
# --no-mirror, export and screen open it read-only, so they run beside each
# other; a writer (run with the mirror) against a file that another process
# holds open fails at once with a plain message about the lock that names
# HDF5_USE_FILE_LOCKING. The holding run waits on a FIFO (its ids file) while
# the others run: no timing, no sleeps.
source "$FINSIM_SRC/tests/lib/common.sh"
unset HDF5_USE_FILE_LOCKING
"$FINSIM_BIN" generate --trades 40 --seed 3 --store "$T/trades.h5" > /dev/null
FAST=(--algorithm deltavega --paths 500 --seed 7 --start-trade 0 --trade-window 10 --progress 0)
HOLD=(--algorithm deltavega --paths 500 --seed 7 --progress 0)

# The holder opens the store, then reads its ids from a FIFO: while the test
# keeps the FIFO without data, the holder has the trade file open and waits.
mkfifo "$T/ids.fifo"
# hold ARGS...: start a run that holds the trade file (HOLDER, its pid) and
# wait until it reads the FIFO (so the store is open)
hold() {
  "$FINSIM_BIN" run --store "$T/trades.h5" "${HOLD[@]}" --ids-file "$T/ids.fifo" "$@" \
    > "$T/hold.out" 2> "$T/hold.err" &
  HOLDER=$!
  add_cleanup "kill $HOLDER 2>/dev/null"
  exec 3<> "$T/ids.fifo"   # read-write: never blocks; the holder's open completes
  wait_for 60 "the holder opening its ids (after the store)" reads_fifo "$HOLDER"
}
# reads_fifo PID: PID has the FIFO open
reads_fifo() { ls -l "/proc/$1/fd" 2>/dev/null | grep -q ids.fifo; }
# release: give the holder its ids and end the FIFO; it must then finish fine
release() {
  echo "1 2 3 4 5" >&3
  exec 3>&-
  local rc=0
  wait "$HOLDER" || rc=$?
  expect_status 0 "$rc" "the holder" "$T/hold.out" "$T/hold.err"
}

# 1. a reader holds the file: other readers run beside it
hold --no-mirror --output "$T/h1.h5"
expect_rc 0 "$FINSIM_BIN" run --store "$T/trades.h5" "${FAST[@]}" --no-mirror --output "$T/r2.h5"
expect_rc 0 "$FINSIM_BIN" export --store "$T/trades.h5" --to "$T/copy.h5"
expect_rc 0 "$FINSIM_BIN" screen --make-quotes "$T/q.csv" --store "$T/trades.h5" --paths 500 --trade-window 10
# a writer needs the file alone
expect_rc 6 "$FINSIM_BIN" run --store "$T/trades.h5" "${FAST[@]}" --output "$T/w.h5"
expect_grep 'locked by another process' "$T/last.err"
expect_grep 'HDF5_USE_FILE_LOCKING' "$T/last.err"
reads_fifo "$HOLDER" || { echo "FAIL: the holder let go of the file during the checks"; exit 1; }
release
H5CHECK valid "$T/h1.h5" 5 0

# 2. a writer holds the file (run with the mirror): another writer, and a reader, are refused
hold --output "$T/h2.h5"
expect_rc 6 "$FINSIM_BIN" run --store "$T/trades.h5" "${FAST[@]}" --output "$T/w2.h5"
expect_grep 'locked by another process' "$T/last.err"
expect_grep 'HDF5_USE_FILE_LOCKING' "$T/last.err"
expect_rc 6 "$FINSIM_BIN" run --store "$T/trades.h5" "${FAST[@]}" --no-mirror --output "$T/w3.h5"
expect_grep 'locked by another process' "$T/last.err"
release
finish
