# test_cli_msgs.sh - command-line messages (second hardening round):
#   9. price checks its inputs before it prints the CSV header; getopt's
#      messages name "finsim COMMAND", like every other message;
#  10. run --quiet keeps per-trade errors, as its help says.
source "$FINSIM_SRC/tests/lib/common.sh"
F=$FINSIM_BIN

# ---- 9: price with a missing input: no CSV at all, exit 6
"$F" generate --trades 2 --seed 1 --eyxml "$T/two.xml"
expect_rc 6 "$F" price "$T/two.xml" "$T/missing.xml"
expect_grep "price: cannot read .*missing.xml: No such file" "$T/last.err"
[ ! -s "$T/last.out" ] || { echo "FAIL: price printed CSV before failing on its input" >&2; cat "$T/last.out" >&2; exit 1; }
CHECKS=$((CHECKS + 1))
expect_rc 6 "$F" price "$T"
expect_grep "is a directory" "$T/last.err"
expect_rc 0 "$F" price "$T/two.xml"
expect_grep '^trade_id,status,' "$T/last.out"
# getopt errors read "finsim COMMAND: ..."
expect_rc 2 "$F" run --foo
expect_grep "^finsim run: unrecognized option '--foo'" "$T/last.err"
expect_rc 2 "$F" generate --trades
expect_grep "^finsim generate: option '--trades' requires an argument" "$T/last.err"
expect_rc 2 "$F" price -Z x
expect_grep "^finsim price: invalid option -- 'Z'" "$T/last.err"
expect_no_grep '^(run|generate|price):' "$T/last.err"

# ---- 10: --quiet keeps the per-trade errors (and drops the progress lines)
"$F" generate --trades 3 --seed 1 --store "$T/t.h5" > /dev/null
expect_rc 1 "$F" run --store "$T/t.h5" --start-trade 1 --trade-window 4 --paths 100 --quiet --output "$T/q.h5"
expect_grep 'trade 000000000[34] is not in trade file .* \(status 6 not-found\)' "$T/last.err"
expect_no_grep '^finsim: run: ' "$T/last.err"
expect_grep '^RESULT: 2 TRADES FAILED' "$T/last.out"
finish
