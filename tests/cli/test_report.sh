# test_report.sh - tools/finsim-report.py on real finsim output: a 2-rank
# deltavega run on the file store is rendered to a PNG (valid signature and
# IHDR, sensible size and dimensions) and a self-contained HTML page that
# inlines that very PNG and names the run; a pvonly run (no Greeks) renders;
# a run with failed trades shows the portfolio total, the top contributors
# and the failed trades by status name (in the page and in the PNG's
# description of what it draws), also from a format 1 file; a file that is
# not a finsim result is refused with exit 1.
source "$FINSIM_SRC/tests/lib/common.sh"
PY=${PY:-/usr/bin/python3}
R=$FINSIM_SRC/tools/finsim-report.py
if ! "$PY" -c 'import h5py, matplotlib' 2>/dev/null; then
  echo "FAIL: $PY lacks h5py or matplotlib: run scripts/install-deps.sh (python3-h5py python3-matplotlib)" >&2
  exit 1
fi

"$FINSIM_BIN" generate --trades 40 --seed 3 --store "$T/trades.h5" >/dev/null 2>&1
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" --algorithm deltavega --paths 1000 --seed 7 \
  --start-trade 0 --trade-window 40 --output "$T/run.h5" --progress 0 --no-mirror
H5CHECK valid "$T/run.h5" 40 0

# png_ok FILE MIN_BYTES: PNG signature, IHDR first, plausible size; prints WxH
png_ok() {
  "$PY" - "$1" "$2" <<'PYEOF'
import struct, sys
path, min_bytes = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"{path}: not a PNG (signature {data[:8]!r})")
if data[12:16] != b"IHDR":
    sys.exit(f"{path}: first chunk is {data[12:16]!r}, not IHDR")
w, h = struct.unpack(">II", data[16:24])
if not (min_bytes <= len(data) <= 5_000_000):
    sys.exit(f"{path}: {len(data)} bytes, outside {min_bytes}..5000000")
if not (800 <= w <= 4000 and 500 <= h <= 3000):
    sys.exit(f"{path}: {w}x{h} pixels is not a sensible report size")
if not data.endswith(b"IEND\xaeB`\x82"):
    sys.exit(f"{path}: truncated (no IEND chunk at the end)")
print(f"{w}x{h} {len(data)} bytes")
PYEOF
  CHECKS=$((CHECKS + 1))
}

# default names next to the results file
expect_rc 0 "$PY" "$R" "$T/run.h5"
expect_grep 'wrote .*run\.png' "$T/last.out"
png_ok "$T/run.png" 30000
# the page is self-contained: its image is the PNG, inlined
"$PY" - "$T/run.html" "$T/run.png" <<'PYEOF' || { echo "FAIL: the HTML does not inline the PNG" >&2; exit 1; }
import base64, re, sys
page = open(sys.argv[1]).read()
m = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
assert m, "no data: URI image"
assert base64.b64decode(m.group(1)) == open(sys.argv[2], "rb").read(), "inlined image differs from the PNG"
assert not re.search(r'src="[^d][^"]*"', page), "a relative link is left"
PYEOF
CHECKS=$((CHECKS + 1))
expect_grep '<h2>Portfolio totals</h2>' "$T/run.html"
expect_grep 'deltavega' "$T/run.html"
expect_grep '40 \(40 priced, 0 failed\)' "$T/run.html"
expect_grep 'trades/s' "$T/run.html"

# chosen names and title; a pvonly run has no Greeks to plot
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" --algorithm pvonly --paths 1000 --seed 7 \
  --start-trade 0 --trade-window 40 --output "$T/pv.h5" --progress 0 --no-mirror
mkdir -p "$T/out"
expect_rc 0 "$PY" "$R" "$T/pv.h5" -o "$T/out/pv-report.png" --html "$T/out/pv-report.html" --title "Desk FX, PV only"
png_ok "$T/out/pv-report.png" 20000
expect_grep 'src="data:image/png;base64,' "$T/out/pv-report.html"
expect_grep 'Desk FX, PV only' "$T/out/pv-report.html"

# failed trades are counted, the rest are plotted
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" --algorithm deltavega --paths 1000 --seed 7 \
  --start-trade 0 --trade-window 40 --output "$T/fail.h5" --progress 0 --no-mirror --failure 0.2 --failure-mode record
nfail=$("$PY" -c 'import h5py, sys; r = h5py.File(sys.argv[1], "r")["results"]["status"]; print(int((r != 0).sum()))' "$T/fail.h5")
[ "$nfail" -gt 0 ] || { echo "FAIL: the failure run has no failed trades" >&2; exit 1; }
expect_rc 0 "$PY" "$R" "$T/fail.h5" --html none
png_ok "$T/fail.png" 20000
[ ! -e "$T/fail.html" ] || { echo "FAIL: --html none still wrote a page" >&2; exit 1; }
# what the PNG says it draws (its Description text chunk) and what the page
# lists: the total of /portfolio, the top contributor, every failed trade by
# status name; for the format 2 file and the same run in the format 1 layout
"$PY" "$FINSIM_SRC/tests/lib/h5_format1.py" "$T/fail.h5" "$T/fail1.h5"
for v in fail fail1; do
  expect_rc 0 "$PY" "$R" "$T/$v.h5"
  "$PY" - "$T/$v.h5" "$T/$v.png" "$T/$v.html" <<'PYEOF' || { echo "FAIL: report of $v.h5 does not show the risk" >&2; exit 1; }
import re, sys, zlib, h5py, numpy as np
h5, png, page = sys.argv[1:]
r = h5py.File(h5, "r")["results"][()]
ok = r[r["status"] == 0]
total = ok["pv"].sum()
top = int(ok["trade_id"][np.lexsort((ok["trade_id"], -np.abs(ok["pv"])))[0]])
bad = [int(t) for t in r["trade_id"][r["status"] != 0]]
assert bad, "no failed trades"
data = open(png, "rb").read()
text = {}
pos = 8
while pos < len(data):
    n = int.from_bytes(data[pos:pos + 4], "big"); kind = data[pos + 4:pos + 8]; body = data[pos + 8:pos + 8 + n]
    if kind == b"tEXt":
        k, v = body.split(b"\0", 1); text[k.decode()] = v.decode("latin-1")
    pos += 12 + n
d = text.get("Description", "")
m = re.match(r"total PV (\S+) \+- \S+; top (\d+)", d)
assert m, f"PNG description {d!r}"
assert abs(float(m.group(1)) - total) <= 1e-9 * abs(total), (m.group(1), total)
assert int(m.group(2)) == top, (m.group(2), top)
for t in bad:
    assert f"{t}:injected-failure" in d, f"failed trade {t} not in the PNG's description"
html = open(page).read()
for t in bad:
    assert f"<td>{t}</td><td>8</td><td>injected-failure</td>" in html, f"failed trade {t} not listed in the page"
assert f"<td>{top}</td>" in html and "<h2>Failed trades (%d)</h2>" % len(bad) in html
print(h5, "ok:", d[:80])
PYEOF
  CHECKS=$((CHECKS + 1))
done

# not a results file, a missing file, no arguments
expect_rc 1 "$PY" "$R" "$T/trades.h5"
expect_grep 'not a finsim results file' "$T/last.err"
expect_rc 1 "$PY" "$R" "$T/missing.h5"
expect_grep 'cannot read' "$T/last.err"
expect_rc 2 "$PY" "$R"
finish
