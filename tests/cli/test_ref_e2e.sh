# test_ref_e2e.sh - end-to-end figures against an independent value: finsim
# price and finsim run (1 and 3 ranks, --kernel fast and reference, pvonly and
# deltavega) on the trades of tests/ref/mc_reference.json (NumPy, written by
# tests/ref/mc_reference.py with many more paths) must agree within 4 of
# finsim's own standard errors, and every Greek must have the reference's
# sign. The reported SEs must match the spread of the estimates over
# independent streams. Checks: tests/ref/ref_tool.py.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/ref.sh"
# ref_check RESULTS ALGO [MODE]: figures vs the reference (a failing check fails the test)
ref_check() {
  TOOL check "$REF" "$1" --algorithm "$2" --greeks "${3:-significant}" >"$T/check.out" 2>&1 || {
    echo "FAIL: $1 ($2) against the reference:" >&2; cat "$T/check.out" >&2; exit 1; }
  cat "$T/check.out"
  CHECKS=$((CHECKS + 1))
}

# 1. finsim price, every trade with enough paths that every Greek is
#    significant at 4 SE (the stochastic-vol trade's vega is small): sign and
#    magnitude of all of them, both kernels. Not more paths than keep
#    finsim's SE above twice the reference's: since the Greeks' bumped
#    scenarios smooth the knock-out, the stochastic-vol trade's vega SE at
#    1.8M paths (1.8) fell below twice NumPy's (1.18); 900k paths give ~2.5,
#    and |vega| = 18 is still 7 SE
#    With FINSIM_TEST_SIZE=small (the sanitizer pass) every count in this
#    test is a tenth: the same code runs, the figures are checked against
#    the reference at their (larger) SE, and a Greek's magnitude and sign
#    only where it is significant at that count.
D=$(sized 1 10)
TOOL eyxml "$REF" "$T/ref.xml" --trials $((100000 / D)),gen1_id3=$((200000 / D)),gen1_id1_stochvol=$((900000 / D))
for k in fast reference; do
  expect_rc 0 "$FINSIM_BIN" price --algorithm deltavega --kernel "$k" --seed 11 "$T/ref.xml"
  cp "$T/last.out" "$T/price-$k-dv.csv"
  ref_check "$T/price-$k-dv.csv" deltavega "$(sized all significant)"
  p=$((100000 / D)); [ "$k" = fast ] || p=$((20000 / D))
  expect_rc 0 "$FINSIM_BIN" price --algorithm pvonly --kernel "$k" --seed 12 --paths "$p" "$T/ref.xml"
  cp "$T/last.out" "$T/price-$k-pv.csv"
  ref_check "$T/price-$k-pv.csv" pvonly
done

# 2. finsim run from a trade file on 1 and 3 ranks: the seed, the fields and
#    the kernel must reach the pricing. 10^5 paths per trade for the fast
#    kernel, 2 * 10^4 for the reference kernel (the NumPy SE is far below
#    finsim's at both); Greeks that are not significant at this
#    count have their magnitude checked, their sign where they are.
TOOL eyxml "$REF" "$T/trades.xml" --trials 10000
expect_rc 0 "$FINSIM_BIN" import --eyxml "$T/trades.xml" --store "$T/trades.h5"
for np in 1 3; do
  for k in fast reference; do
    p=$((100000 / D)); [ "$k" = fast ] || p=$((20000 / D))
    for a in pvonly deltavega; do
      out=$T/run-$np-$k-$a.h5
      expect_rc 0 MPIRUN -np "$np" "$FINSIM_BIN" run --store "$T/trades.h5" --all-trades \
        --algorithm "$a" --kernel "$k" --seed 13 --paths "$p" --output "$out" --progress 0
      expect_grep '^RESULT: OK' "$T/last.out"
      ref_check "$out" "$a"
    done
  done
done
# run hands the kernel the seed, the fields and the kernel it was given: its
# figures are price's, bit for bit, for the same seed, kernel and paths; a
# different seed changes them; and the kernels are told apart by their SEs
# (antithetic pairs: the fast kernel's PV SE is a small fraction of the
# reference kernel's on a trade with rare knock-outs)
for k in fast reference; do
  p=$((100000 / D)); [ "$k" = fast ] || p=$((20000 / D))
  expect_rc 0 "$FINSIM_BIN" price --algorithm deltavega --kernel "$k" --seed 13 --paths "$p" "$T/trades.xml"
  cp "$T/last.out" "$T/price13-$k.csv"
  tool_ok "run (3 ranks, $k) = price, same seed" same "$T/price13-$k.csv" "$T/run-3-$k-deltavega.h5"
  tool_ok "run (1 rank, $k) = price, same seed" same "$T/price13-$k.csv" "$T/run-1-$k-deltavega.h5"
done
tool_ok "another seed, other figures" differ "$T/price-fast-pv.csv" "$T/run-1-fast-pvonly.h5"
tool_ok "fast kernel's SE (run --kernel fast vs --kernel reference)" se-ratio "$REF" \
  "$T/run-1-fast-deltavega.h5" "$T/run-1-reference-deltavega.h5" --trade gen1_id0 --max 0.1

# 3. the reported SE is honest: 300 copies of a trade under distinct ids
#    (independent streams) give estimates whose spread matches the SE they
#    report (std / rms SE in 0.8 .. 1.25), for a knock-out-heavy trade and a
#    stochastic-vol one, both kernels
for tr in gen1_id2_knockout gen1_id1_stochvol; do
  TOOL eyxml "$REF" "$T/copies.xml" --copies 300 --trade "$tr" --first-id 1000
  for k in fast reference; do
    p=2000; [ "$k" = fast ] || p=1000
    expect_rc 0 "$FINSIM_BIN" price --algorithm deltavega --kernel "$k" --seed 21 --paths "$p" "$T/copies.xml"
    cp "$T/last.out" "$T/copies.csv"
    TOOL spread "$T/copies.csv" --algorithm deltavega >"$T/spread.out" 2>&1 || {
      echo "FAIL: SE vs spread, $tr $k:" >&2; cat "$T/spread.out" >&2; exit 1; }
    sed "s/^/$tr $k: /" "$T/spread.out"
    CHECKS=$((CHECKS + 1))
  done
done
finish
