# test_report.sh - tools/finsim-report.py on real finsim output: a 2-rank
# deltavega run on the file store is rendered to a PNG (valid signature and
# IHDR, sensible size and dimensions) and an HTML page that embeds it and
# names the run; a pvonly run (no Greeks) and a run with failed trades render
# too; a file that is not a finsim result is refused with exit 1.
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
expect_grep '<img src="run\.png"' "$T/run.html"
expect_grep 'deltavega' "$T/run.html"
expect_grep '40 \(40 priced, 0 failed\)' "$T/run.html"
expect_grep 'trades/s' "$T/run.html"

# chosen names and title; a pvonly run has no Greeks to plot
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" --algorithm pvonly --paths 1000 --seed 7 \
  --start-trade 0 --trade-window 40 --output "$T/pv.h5" --progress 0 --no-mirror
mkdir -p "$T/out"
expect_rc 0 "$PY" "$R" "$T/pv.h5" -o "$T/out/pv-report.png" --html "$T/out/pv-report.html" --title "Desk FX, PV only"
png_ok "$T/out/pv-report.png" 20000
expect_grep 'src="pv-report\.png"' "$T/out/pv-report.html"
expect_grep 'Desk FX, PV only' "$T/out/pv-report.html"

# failed trades are counted, the rest are plotted
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" --algorithm deltavega --paths 1000 --seed 7 \
  --start-trade 0 --trade-window 40 --output "$T/fail.h5" --progress 0 --no-mirror --failure 0.2 --failure-mode record
nfail=$("$PY" -c 'import h5py, sys; r = h5py.File(sys.argv[1], "r")["results"]["status"]; print(int((r != 0).sum()))' "$T/fail.h5")
[ "$nfail" -gt 0 ] || { echo "FAIL: the failure run has no failed trades" >&2; exit 1; }
expect_rc 0 "$PY" "$R" "$T/fail.h5" --html none
png_ok "$T/fail.png" 20000
[ ! -e "$T/fail.html" ] || { echo "FAIL: --html none still wrote a page" >&2; exit 1; }

# not a results file, a missing file, no arguments
expect_rc 1 "$PY" "$R" "$T/trades.h5"
expect_grep 'not a finsim results file' "$T/last.err"
expect_rc 1 "$PY" "$R" "$T/missing.h5"
expect_grep 'cannot read' "$T/last.err"
expect_rc 2 "$PY" "$R"
finish
