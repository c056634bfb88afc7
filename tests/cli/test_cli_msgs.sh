# test_cli_msgs.sh - command-line messages (second hardening round):
#   9. price checks its inputs before it prints the CSV header; getopt's
#      messages name "finsim COMMAND", like every other message;
#  10. run --quiet keeps per-trade errors, as its help says;
#  11. price, generate, export and import run as one plain process start no
#      MPI outside a launcher, and behave as before under mpirun.
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

# ---- 11: no MPI_Init for one plain process. An Open MPI told to use a PML
# component that does not exist fails every MPI_Init; the commands that run
# alone must not call it (run, which always starts MPI, shows the setting bites).
NOMPI=(env OMPI_MCA_pml=finsim_no_such_component)
rc=0; "${NOMPI[@]}" "$F" run --store "$T/t.h5" --start-trade 1 --trade-window 2 --paths 100 --quiet \
  --output "$T/nompi-run.h5" > "$T/nompi-run.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || { echo "FAIL: run started MPI with OMPI_MCA_pml=finsim_no_such_component" >&2; exit 1; }
CHECKS=$((CHECKS + 1))
expect_rc 0 "${NOMPI[@]}" "$F" price --paths 100 "$T/two.xml"
cut -d, -f1-9 "$T/last.out" > "$T/price-alone.csv"
rc=0; MPIRUN -np 1 -x OMPI_MCA_pml=finsim_no_such_component "$F" price --paths 100 "$T/two.xml" \
  > "$T/nompi-launched.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || { echo "FAIL: price under mpirun did not start MPI" >&2; exit 1; }
CHECKS=$((CHECKS + 1))
expect_rc 0 MPIRUN -np 1 "$F" price --paths 100 "$T/two.xml" # launched: MPI as before
cut -d, -f1-9 "$T/last.out" > "$T/price-mpirun.csv"
cmp -s "$T/price-alone.csv" "$T/price-mpirun.csv" ||
  { echo "FAIL: price alone and under mpirun -np 1 differ" >&2; diff "$T/price-alone.csv" "$T/price-mpirun.csv" >&2; exit 1; }
[ "$(wc -l < "$T/price-alone.csv")" -eq 3 ] || { echo "FAIL: price printed no rows" >&2; exit 1; }
CHECKS=$((CHECKS + 2))
expect_rc 0 "${NOMPI[@]}" "$F" generate --trades 5 --seed 3 --eyxml "$T/g.xml"
expect_rc 0 "${NOMPI[@]}" "$F" generate --trades 5 --seed 3 --store "$T/g.h5"
expect_rc 0 "${NOMPI[@]}" "$F" export --store "$T/g.h5" --eyxml "$T/g-back.xml"
cmp -s "$T/g.xml" "$T/g-back.xml" || { echo "FAIL: trade file made without MPI exports other trades" >&2; exit 1; }
expect_rc 0 "${NOMPI[@]}" "$F" import --eyxml "$T/g.xml" --store "$T/g2.h5"
expect_rc 0 MPIRUN -np 1 "$F" generate --trades 5 --seed 3 --store "$T/g1.h5" # launched
expect_rc 0 "$F" export --store "$T/g1.h5" --eyxml "$T/g1.xml"
expect_rc 0 "$F" export --store "$T/g2.h5" --eyxml "$T/g2.xml"
cmp -s "$T/g.xml" "$T/g1.xml" && cmp -s "$T/g.xml" "$T/g2.xml" ||
  { echo "FAIL: trade files made alone, imported and made under mpirun differ" >&2; exit 1; }
CHECKS=$((CHECKS + 2))
finish
