# test_target.sh - --target-stderr and --max-paths on the reference trades
# of tests/ref/mc_reference.json: every trade meets the target (or spends
# its budget), the figures agree with the NumPy reference within 4 of their
# own standard errors, and the rounds are consecutive blocks of the trade's
# stream: the pooled PV of the fast kernel is a fixed-path run's of the same
# total paths (to rounding). finsim run on 1 and 2 ranks (dynamic) gives
# price's figures bit for bit and records the paths used in /results.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/ref.sh"
TOOL eyxml "$REF" "$T/ref.xml" --trials 10000

for k in fast reference; do
  tgt=0.004; [ "$k" = fast ] || tgt=0.006
  expect_rc 0 "$FINSIM_BIN" price --algorithm pvonly --kernel "$k" --seed 21 --target-stderr "$tgt" "$T/ref.xml"
  cp "$T/last.out" "$T/tgt-$k.csv"
  tool_ok "target run ($k) against the reference" check "$REF" "$T/tgt-$k.csv" --algorithm pvonly
  "$PY" - "$T/tgt-$k.csv" "$tgt" <<'PYEOF' || { echo "FAIL: target not met ($k)" >&2; exit 1; }
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows, "no rows"
rounds = 0
for r in rows:
    pv, se, n = float(r["pv"]), float(r["pv_stderr"]), int(r["paths"])
    assert se <= float(sys.argv[2]) * abs(pv), f"trade {r['trade_id']}: {se} > {sys.argv[2]} x {pv}"
    rounds += n > 10000
assert rounds > 0, "no trade needed a second round: the test proves nothing"
PYEOF
  CHECKS=$((CHECKS + 1))
done

# the fast kernel's rounds are the pairs of one run: the same PV as a
# fixed-path run of the same total, trade by trade
"$PY" - "$T" "$FINSIM_BIN" <<'PYEOF' || { echo "FAIL: rounds are not consecutive blocks" >&2; exit 1; }
import csv, subprocess, sys
T, B = sys.argv[1], sys.argv[2]
tgt = {r["trade_id"]: r for r in csv.DictReader(open(f"{T}/tgt-fast.csv"))}
for n in sorted({int(r["paths"]) for r in tgt.values()}):
    out = subprocess.run([B, "price", "--algorithm", "pvonly", "--seed", "21", "--paths", str(n), f"{T}/ref.xml"],
                         capture_output=True, text=True, check=True).stdout
    for r in csv.DictReader(out.splitlines()):
        t = tgt[r["trade_id"]]
        if int(t["paths"]) != n:
            continue
        a, b = float(t["pv"]), float(r["pv"])
        sa, sb = float(t["pv_stderr"]), float(r["pv_stderr"])
        assert abs(a - b) <= 1e-9 * abs(b), f"trade {r['trade_id']} at {n} paths: pv {a} != {b}"
        assert abs(sa - sb) <= 1e-6 * sb, f"trade {r['trade_id']} at {n} paths: se {sa} != {sb}"
        print(f"trade {r['trade_id']}: {n} paths, pv {a} = {b}")
PYEOF
CHECKS=$((CHECKS + 1))

# --max-paths caps a target that cannot be met
expect_rc 0 "$FINSIM_BIN" price --algorithm pvonly --seed 21 --target-stderr 1e-9 --max-paths 30000 "$T/ref.xml"
[ "$(tail -n +2 "$T/last.out" | cut -d, -f9 | sort -u)" = 30000 ] || { echo "FAIL: --max-paths 30000 not the cap" >&2; cat "$T/last.out" >&2; exit 1; }
expect_rc 2 "$FINSIM_BIN" price --target-stderr 0 "$T/ref.xml"
expect_rc 2 "$FINSIM_BIN" price --target-stderr 0.01 --max-paths 2 "$T/ref.xml"

# finsim run: the same figures for 1 and 2 ranks, /results records the paths
expect_rc 0 "$FINSIM_BIN" import --eyxml "$T/ref.xml" --store "$T/trades.h5"
for np in 1 2; do
  expect_rc 0 MPIRUN -np "$np" "$FINSIM_BIN" run --store "$T/trades.h5" --all-trades --algorithm pvonly \
    --seed 21 --target-stderr 0.004 --schedule dynamic --chunk 1 --output "$T/run$np.h5" --progress 0 --no-mirror
  tool_ok "run ($np ranks) = price with the target" same "$T/tgt-fast.csv" "$T/run$np.h5"
done
"$PY" - "$T" <<'PYEOF' || { echo "FAIL: /results paths" >&2; exit 1; }
import csv, sys, h5py
T = sys.argv[1]
want = {int(r["trade_id"]): int(r["paths"]) for r in csv.DictReader(open(f"{T}/tgt-fast.csv"))}
for np_ in (1, 2):
    r = h5py.File(f"{T}/run{np_}.h5", "r")["results"][()]
    got = {int(t): int(p) for t, p in zip(r["trade_id"], r["paths"])}
    assert got == want, f"{np_} ranks: paths {got} != {want}"
a, b = (h5py.File(f"{T}/run{n}.h5", "r")["results"][()] for n in (1, 2))
for k in ("pv", "pv_stderr", "paths"):
    assert a[k].tobytes() == b[k].tobytes(), k
PYEOF
CHECKS=$((CHECKS + 1))
finish
