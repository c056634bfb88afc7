# test_results.sh - the outputs a risk desk reads, on real runs read back:
# format 2 attributes and status enum; /portfolio bitwise equal for 1 and 2
# ranks (static, dynamic, gather); --group-by groups; finsim results
# --csv equal to finsim price's CSV; --failed names the statuses; --top;
# a format 1 file (written here with h5py in the old layout) still reads;
# the h5py example of docs/OUTPUT-FORMAT.md runs; a signals file of finsim
# screen gets the same views.
source "$FINSIM_SRC/tests/lib/common.sh"
"$PY" -c 'import h5py' 2>/dev/null || { echo "FAIL: $PY lacks h5py: run scripts/install-deps.sh" >&2; exit 1; }

# 40 trades, maturities edited into three buckets (0.2, 0.7, 3.0 years)
"$FINSIM_BIN" generate --trades 40 --seed 3 --store "$T/gen.h5" >/dev/null 2>&1
"$FINSIM_BIN" export --store "$T/gen.h5" --start-trade 0 --trade-window 40 --eyxml "$T/all.xml" >/dev/null 2>&1
awk '/<trade /{n++; if (n % 3 == 1) sub(/maturity="0.20"/, "maturity=\"0.70\""); else if (n % 3 == 2) sub(/maturity="0.20"/, "maturity=\"3.00\"")} {print}' \
  "$T/all.xml" > "$T/mixed.xml"
expect_rc 0 "$FINSIM_BIN" import --store "$T/trades.h5" --eyxml "$T/mixed.xml"

RUN=(run --store "$T/trades.h5" --algorithm deltavega --paths 500 --seed 7 --start-trade 0 --trade-window 40
     --progress 0 --no-mirror --failure 0.1 --failure-mode record)
expect_rc 1 MPIRUN -np 1 "$FINSIM_BIN" "${RUN[@]}" --output "$T/r1.h5"
expect_grep '^portfolio totals \(grouped by maturity' "$T/last.out"
expect_grep '^  maturity<=1y ' "$T/last.out"
expect_grep '^trades by status: ok [0-9]+ injected-failure [0-9]+' "$T/last.out"
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --output "$T/r2.h5"
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --output "$T/r2d.h5" --schedule dynamic --chunk 3
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --output "$T/r2g.h5" --h5-write gather
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --output "$T/end.h5" --group-by end_year

"$PY" - "$T" <<'PYEOF'
import sys, h5py, numpy as np
T = sys.argv[1]
def fail(m): sys.exit("FAIL: " + m)
def rows(p):
    with h5py.File(p, "r") as f:
        return f["portfolio/totals"][()], f["portfolio/status_counts"][()], f["results"][()], dict(f.attrs)
t1, c1, r1, a1 = rows(f"{T}/r1.h5")
for other in ("r2", "r2d", "r2g"):
    t2, c2, _, _ = rows(f"{T}/{other}.h5")
    if t1.tobytes() != t2.tobytes() or c1.tobytes() != c2.tobytes():
        fail(f"/portfolio of {other} differs from the 1-rank run:\n{t1}\n{t2}")
# format 2: numbers, enum, units, version
if a1["format_version"] != 2: fail(f"format_version {a1['format_version']!r}")
for k in ("seed", "paths", "ranks", "failed", "trades"):
    if not isinstance(a1[k], (np.integer, int)): fail(f"attribute {k} is {type(a1[k])}, not a number")
if (a1["seed"], a1["paths"], a1["ranks"], a1["trades"]) != (7, 500, 1, 40): fail(f"attributes {a1}")
with h5py.File(f"{T}/r1.h5", "r") as f:
    enum = h5py.check_enum_dtype(f["results"].dtype["status"])
    if not enum or enum["injected-failure"] != 8 or enum["ok"] != 0 or enum["unwritten"] != -1:
        fail(f"status enum {enum}")
    if f["results"].attrs["pv_units"].decode() != "currency of the notional": fail("pv_units")
    if f["portfolio"].attrs["group_by"].decode() != "maturity": fail("group_by")
# the totals are the sums of /results (variances add)
ok = r1[r1["status"] == 0]
tot = t1[0]
if tot["group"].decode() != "total" or tot["trades"] != 40 or tot["priced"] != len(ok): fail(f"total row {tot}")
if int(a1["failed"]) != tot["failed"] or tot["failed"] == 0: fail("failed count")
for k in ("pv", "delta", "vega"):
    if not np.isclose(tot[k], ok[k].sum(), rtol=1e-12): fail(f"{k} {tot[k]} != {ok[k].sum()}")
    if not np.isclose(tot[k + "_stderr"], np.sqrt((ok[k + "_stderr"] ** 2).sum()), rtol=1e-12): fail(k + "_stderr")
groups = [g.decode() for g in t1["group"][1:]]
if groups != ["maturity<=0.25y", "maturity<=1y", "maturity<=5y"]: fail(f"groups {groups}")
if t1["trades"][1:].sum() != 40: fail("groups do not cover the trades")
if dict((int(s), int(n)) for s, n in c1)[8] != tot["failed"]: fail(f"status counts {c1}")
# --group-by end_year: every trade ends in one year here
with h5py.File(f"{T}/end.h5", "r") as f:
    te = f["portfolio/totals"][()]
    if f["portfolio"].attrs["group_by"].decode() != "end_year" or te["group"][1].decode() != "end_year=2018": fail(f"{te}")
    if te[0].tobytes() != t1[0].tobytes(): fail("the total depends on the grouping")
PYEOF
CHECKS=$((CHECKS + 1))
# a format 1 file: the previous layout (string attributes, int status, no /portfolio)
"$PY" "$FINSIM_SRC/tests/lib/h5_format1.py" "$T/r1.h5" "$T/old.h5"
"$PY" -c '
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert "format_version" not in f.attrs and f.attrs["seed"] == b"7" and "portfolio" not in f
assert h5py.check_enum_dtype(f["results"].dtype["status"]) is None' "$T/old.h5" || { echo "FAIL: not a format 1 file" >&2; exit 1; }

# finsim results: the summary of a format 2 file, and the same total computed for a format 1 one
expect_rc 0 "$FINSIM_BIN" results "$T/r1.h5"
expect_grep '\(format 2\)' "$T/last.out"
grep '^  total ' "$T/last.out" > "$T/total2"
expect_rc 0 "$FINSIM_BIN" results "$T/old.h5" --summary
expect_grep '\(format 1\)' "$T/last.out"
grep '^  total ' "$T/last.out" > "$T/total1"
cmp "$T/total1" "$T/total2" || { echo "FAIL: format 1 total differs" >&2; cat "$T/total1" "$T/total2" >&2; exit 1; }
CHECKS=$((CHECKS + 1))

# --csv equals finsim price on the same trades (compute_s aside), for both formats
"$FINSIM_BIN" price --algorithm deltavega --paths 500 --seed 7 --failure 0.1 "$T/mixed.xml" > "$T/price.csv" 2>/dev/null || true
expect_rc 0 "$FINSIM_BIN" results "$T/r2.h5" --csv "$T/r2.csv"
expect_rc 0 "$FINSIM_BIN" results "$T/old.h5" --csv -
cut -d, -f1-9 "$T/price.csv" > "$T/p9"
cut -d, -f1-9 "$T/r2.csv" > "$T/r9"
cut -d, -f1-9 "$T/last.out" > "$T/o9"
[ "$(wc -l < "$T/p9")" -eq 41 ] || { echo "FAIL: price printed $(wc -l < "$T/p9") lines" >&2; exit 1; }
cmp "$T/p9" "$T/r9" || { echo "FAIL: results --csv differs from finsim price" >&2; diff "$T/p9" "$T/r9" | head >&2; exit 1; }
cmp "$T/p9" "$T/o9" || { echo "FAIL: results --csv of the format 1 file differs" >&2; exit 1; }
CHECKS=$((CHECKS + 1))

# --failed: ids, names and messages; --top: ordered by |pv|
expect_rc 0 "$FINSIM_BIN" results "$T/r2.h5" --failed
nf=$("$PY" -c 'import h5py,sys; print(int(h5py.File(sys.argv[1],"r").attrs["failed"]))' "$T/r2.h5")
[ "$(grep -c ',8,injected-failure,"an injected failure' "$T/last.out")" = "$nf" ] || { echo "FAIL: --failed lines" >&2; cat "$T/last.out" >&2; exit 1; }
expect_rc 0 "$FINSIM_BIN" results "$T/old.h5" --failed
[ "$(grep -c ',injected-failure,' "$T/last.out")" = "$nf" ] || { echo "FAIL: --failed on format 1" >&2; exit 1; }
expect_rc 0 "$FINSIM_BIN" results "$T/r2.h5" --top 3 --top-by vega
top=$(awk '$1 == "1" {print $2}' "$T/last.out")
want=$("$PY" -c '
import h5py, sys, numpy as np
r = h5py.File(sys.argv[1], "r")["results"][()]; r = r[r["status"] == 0]
i = np.lexsort((r["trade_id"], -np.abs(r["vega"]))); print(r["trade_id"][i[0]])' "$T/r2.h5")
[ "$top" = "$want" ] || { echo "FAIL: --top 3 --top-by vega starts with $top, not $want" >&2; cat "$T/last.out" >&2; exit 1; }
[ "$(grep -cE '^ +[0-9]+ +[0-9]+ ' "$T/last.out")" = 3 ] || { echo "FAIL: --top 3 rows" >&2; exit 1; }
CHECKS=$((CHECKS + 1))

# bad inputs
expect_rc 6 "$FINSIM_BIN" results "$T/trades.h5"
expect_grep 'not a finsim results file' "$T/last.err"
expect_rc 6 "$FINSIM_BIN" results "$T/missing.h5"
expect_rc 2 "$FINSIM_BIN" results
expect_rc 2 "$FINSIM_BIN" results "$T/r1.h5" --top 0
expect_rc 6 "$FINSIM_BIN" results "$T/r1.h5" --csv "$T/no/such/dir/x.csv"

# a signals file of finsim screen: counts, the first signals, the same CSV as screen --csv
"$FINSIM_BIN" screen --make-quotes "$T/q.csv" --store "$T/gen.h5" --paths 1000 --seed 5 --quote-noise 0.05 >/dev/null 2>&1
expect_rc 0 "$FINSIM_BIN" screen --store "$T/gen.h5" --quotes "$T/q.csv" --paths 1000 --seed 5 --min-edge 0.01 \
  --min-z 3 --output "$T/s.h5" --csv "$T/s.csv"
expect_rc 0 "$FINSIM_BIN" results "$T/s.h5" --csv -
cmp "$T/last.out" "$T/s.csv" || { echo "FAIL: results --csv of a signals file differs from screen --csv" >&2; exit 1; }
expect_rc 0 "$FINSIM_BIN" results "$T/s.h5" --summary --top 2
sel=$(($(wc -l < "$T/s.csv") - 1))
[ "$sel" -gt 1 ] || { echo "FAIL: the screen selected $sel signals" >&2; exit 1; }
expect_grep "^selected +: $sel$" "$T/last.out"
expect_grep "^signals +: $sel rows" "$T/last.out"
expect_grep "^ +1 +$(sed -n 2p "$T/s.csv" | cut -d, -f1) " "$T/last.out"

# the h5py example of docs/OUTPUT-FORMAT.md, as written there
sed -n '/<!-- example: h5py -->/,/^```$/p' "$FINSIM_SRC/docs/OUTPUT-FORMAT.md" | sed '1,2d;$d' > "$T/example.py"
[ -s "$T/example.py" ] || { echo "FAIL: no h5py example in docs/OUTPUT-FORMAT.md" >&2; exit 1; }
expect_rc 0 "$PY" "$T/example.py" "$T/r2.h5"
expect_grep "^priced $((40 - nf)) of 40" "$T/last.out"
expect_grep '^failed: .*injected-failure' "$T/last.out"
expect_rc 0 "$PY" "$T/example.py" "$T/old.h5"
expect_grep "^priced $((40 - nf)) of 40" "$T/last.out"
finish
