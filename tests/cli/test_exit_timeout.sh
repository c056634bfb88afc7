# test_exit_timeout.sh - exit 9 (store timeout) from the command line: a
# server that accepts and never answers makes finsim run (1 and 2 ranks) and
# finsim import give up after --timeout with exit 9 and a message naming the
# store, and write no output.
source "$FINSIM_SRC/tests/lib/common.sh"
"$PY" "$FINSIM_SRC/tests/silent_server.py" "$T/port" &
SRV=$!
add_cleanup "kill $SRV"
wait_for 60 "port file of the silent server" test -s "$T/port"
URL=redis://127.0.0.1:$(cat "$T/port")

expect_rc 9 "$FINSIM_BIN" run --store "$URL" --timeout 1 --trade-window 2 --output "$T/r1.h5"
expect_grep "$URL.*no answer within 1 s" "$T/last.err"
[ ! -e "$T/r1.h5" ] && [ ! -e "$T/r1.h5.partial" ] || { echo "FAIL: output written after a timeout"; exit 1; }
expect_rc 9 MPIRUN -np 2 "$FINSIM_BIN" run --store "$URL" --timeout 1 --trade-window 4 --output "$T/r2.h5"
expect_grep "no answer within 1 s" "$T/last.err"
[ ! -e "$T/r2.h5" ] || { echo "FAIL: output written after a timeout"; exit 1; }
"$FINSIM_BIN" generate --trades 3 --seed 1 --eyxml-dir "$T/ey" > /dev/null
expect_rc 9 "$FINSIM_BIN" import --eyxml-dir "$T/ey" --store "$URL" --timeout 1
expect_grep "no answer within 1 s" "$T/last.err"
finish
