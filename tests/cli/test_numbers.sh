# test_numbers.sh - figures that are not numbers never pass as priced, and
# --paths obeys the work limit (issue "second hardening round", cases 2-4):
#  2. a trade whose PV overflows (strike 1e-300, notional and warrants 1e12)
#     fails with status 13 (numeric), counted as failed, exit 1: in
#     `finsim price` and in `finsim run` (trade file store, 2 ranks);
#  3. `screen --paths 2` (one antithetic pair: no standard error) selects
#     nothing: every trade fails "numeric", none with z = inf;
#  4. --paths times a trade's t_steps over the 2e9 work limit of trade
#     validation fails that trade with status 5 (too-large) and says why,
#     at once (a 60 s ceiling bounds the old behaviour: pricing 10^12
#     path-steps); the other trades of the run are priced.
source "$FINSIM_SRC/tests/lib/common.sh"
F=$FINSIM_BIN
doc() { # doc ID STRIKE WARRANTS NOTIONAL T_STEPS TRIALS: one eyxml <trade>
  printf '  <trade fx1="0.8770423970584372" start_date="2017-12-29" end_date="2018-08-28" drift="-0.00877969134811615" maturity="0.20" t_steps="%s" trials="%s" ro="3.8413221829e-05" v="0.0015480737860400" sigma1="0.07153480794438978" warrantsNo="%s" notionalPerWarr="%s" strike="%s">%010d</trade>\n' \
    "$5" "$6" "$3" "$4" "$2" "$1"
}
{
  echo '<AZFINSIM>'
  doc 0 1e-300 1000000000000 1000000000000 172 1000
  doc 1 0.7868889282394202 52392 1012.2736020330984275 172 1000
  doc 2 0.7868889282394202 52392 1012.2736020330984275 100000 10
  echo '</AZFINSIM>'
} > "$T/t.xml"

# ---- 2: overflow, finsim price
expect_rc 1 "$F" price "$T/t.xml" --paths 1000
expect_grep '^0,13,,,,,,,' "$T/last.out"
expect_grep '^1,0,[0-9]' "$T/last.out"
expect_no_grep 'inf' "$T/last.out"
expect_grep 'trade 0000000000: pv is inf, not a finite number: the figures overflow the double range .* \(numeric\)' "$T/last.err"
expect_rc 1 "$F" price "$T/t.xml" --paths 1000 --algorithm deltavega
expect_grep '^0,13,,,,,,,' "$T/last.out"
expect_no_grep 'inf' "$T/last.out"

# ---- 2 and 4 in finsim run: trade 0 overflows, trade 2 has 10^5 steps
expect_rc 0 "$F" import --eyxml "$T/t.xml" --store "$T/tr.h5"
expect_rc 1 MPIRUN -np 2 "$F" run --store "$T/tr.h5" --trade-window 3 --output "$T/r.h5" --progress 0 \
  --algorithm deltavega
expect_grep 'RESULT: 1 TRADES FAILED' "$T/last.out"
expect_grep 'trade 0000000000: pv is inf, not a finite number.*\(status 13 numeric\)' "$T/last.err"
H5CHECK valid "$T/r.h5" 3 1
H5CHECK status "$T/r.h5" 0 13
H5CHECK status "$T/r.h5" 1 0
H5CHECK status "$T/r.h5" 2 0
expect_rc 1 timeout 60 mpirun --oversubscribe -np 2 "$F" run --store "$T/tr.h5" --start-trade 2 --trade-window 1 \
  --output "$T/p.h5" --progress 0 --paths 10000000
expect_grep 'RESULT: 1 TRADES FAILED' "$T/last.out"
expect_grep 'trade 0000000002: --paths 10000000 x t_steps 100000 = 1000000000000 exceeds the limit 2000000000 \(paths x t_steps\) \(status 5 too-large\)' "$T/last.err"
H5CHECK status "$T/p.h5" 2 5
# just over the limit for 10^5 steps: 20001 x 100000 > 2e9; trade 1 (172 steps) is priced
expect_rc 1 timeout 60 "$F" price "$T/t.xml" --paths 20001
expect_grep '^1,0,[0-9]' "$T/last.out"
expect_grep '^2,5,,' "$T/last.out"
expect_grep 'trade 0000000002: --paths 20001 x t_steps 100000 = 2000100000 exceeds the limit' "$T/last.err"

# ---- 3: screen with one antithetic pair per trade: no SE, nothing selected
expect_rc 0 "$F" generate --trades 20 --seed 11 --store "$T/g.h5"
expect_rc 0 "$F" screen --make-quotes "$T/q.csv" --store "$T/g.h5" --paths 1000 --seed 5 --quote-noise 0.05
expect_rc 1 "$F" screen --store "$T/g.h5" --quotes "$T/q.csv" --paths 2 --seed 5 --min-edge 0 --min-z 0 \
  --csv "$T/s.csv" --output "$T/s.h5"
expect_grep '20 joined, 0 unquoted, 0 orphan quotes, 20 failed, .* 0 selected' "$T/last.err"
expect_grep 'pv_stderr is nan, not a finite number: too few paths for a standard error' "$T/last.err"
[ "$(wc -l < "$T/s.csv")" = 1 ] || { echo "FAIL: signals selected without a standard error:"; cat "$T/s.csv"; exit 1; }
expect_no_grep 'nan|inf' "$T/s.csv"
# with 3 paths (two pairs) there is an SE and the screen works
expect_rc 0 "$F" screen --store "$T/g.h5" --quotes "$T/q.csv" --paths 3 --seed 5 --min-edge 0 --min-z 0 \
  --csv "$T/s3.csv"
expect_no_grep 'nan|inf' "$T/s3.csv"
finish
