#!/usr/bin/env bash
# test_store_file_tools.sh - trade files are ordinary HDF5: h5dump and h5py
# read one written by 2 MPI ranks (test_store_file_mpi --keep) and one made
# by `finsim generate --store`, whose columns must equal, value for value, the
# eyxml document `finsim generate --eyxml` makes with the same seed.
#
# env: FINSIM_BIN (finsim), FINSIM_FILE_MPI_TEST (test_store_file_mpi).
set -euo pipefail

: "${FINSIM_BIN:?FINSIM_BIN must name the finsim binary}"
: "${FINSIM_FILE_MPI_TEST:?FINSIM_FILE_MPI_TEST must name test_store_file_mpi}"
command -v h5dump >/dev/null || { echo "h5dump not found (hdf5-tools)"; exit 1; }

# The Debian python3-h5py lives in /usr/bin/python3; a python3 earlier in PATH
# (pyenv, venv) may lack it.
PY=
for cand in ${FINSIM_PYTHON:-} python3 /usr/bin/python3; do
    if "$cand" -c 'import h5py, numpy' 2>/dev/null; then PY=$cand; break; fi
done
[ -n "$PY" ] || { echo "no python3 with h5py and numpy (apt-get install python3-h5py python3-numpy)"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/finsim-filetools-XXXXXX")
cleanup() { rm -rf "$dir"; }
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- a file written by 2 ranks ----------------------------------------------
mpiexec -n 2 --oversubscribe "$FINSIM_FILE_MPI_TEST" --keep "$dir" >"$dir/mpi.log" 2>&1 ||
    { cat "$dir/mpi.log"; fail "test_store_file_mpi --keep failed"; }

h5dump -H "$dir/trades.h5" >"$dir/header.txt" || fail "h5dump -H cannot read the trade file"
for name in '"trades"' '"id"' '"fx1"' '"strike"' '"start_date"' '"present"' '"mirror"' '"format"' \
            '"format_version"' 'H5T_COMPOUND' '"trade_id"' '"vega_stderr"'; do
    grep -q -- "$name" "$dir/header.txt" || fail "h5dump -H shows no $name"
done
h5dump -a /format "$dir/trades.h5" | grep -q '"finsim-trades"' || fail "format attribute is not finsim-trades"
h5dump -d /trades/id -c 3 "$dir/trades.h5" | grep -q '1000, 1001, 1002' || fail "h5dump: /trades/id does not start 1000, 1001, 1002"

"$PY" - "$dir/trades.h5" <<'EOF'
import sys
import h5py
import numpy as np

FIRST, N, GAP, EXT = 1000, 4003, 10, 1001
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["format"] in (b"finsim-trades", "finsim-trades"), f.attrs["format"]
    assert int(f.attrs["format_version"]) == 1
    ids = f["/trades/id"][:]
    want = np.concatenate([np.arange(FIRST, FIRST + N), np.arange(FIRST + N + GAP, FIRST + N + GAP + EXT)])
    assert np.array_equal(ids, want), "ids differ"
    present = f["/trades/present"][:]
    # each of the 2 ranks left the last 2 ids of its extension share unwritten
    share_ends = [FIRST + N + GAP + EXT * (r + 1) // 2 for r in range(2)]
    unwritten = [i for e in share_ends for i in (e - 2, e - 1)]
    assert sorted(ids[present == 0].tolist()) == unwritten, ids[present == 0]
    assert (f["/trades/t_steps"][:][present == 0] == 0).all()
    for col in ("fx1", "drift", "maturity", "t_steps", "trials", "ro", "v", "sigma1", "warrants_no",
                "notional_per_warr", "strike", "start_date", "end_date"):
        assert f["/trades/" + col].shape == ids.shape, col
    assert (f["/trades/t_steps"][:][present == 1] == 172).all()
    assert (f["/trades/start_date"][:][present == 1] == b"2017-12-29").all()
    m = f["/mirror"][:]
    assert m.dtype.names[:3] == ("trade_id", "status", "rank"), m.dtype.names
    done = m["trade_id"] == ids
    assert done.sum() == N, done.sum()           # results were mirrored for the first N
    assert (m["trade_id"][N:] == -1).all() and (m["status"][N:] == -1).all()
    assert np.isnan(m["delta"][:N]).all()
    assert (m["pv"][:N] == ids[:N] * 0.5 + m["rank"][:N]).all()
print("h5py: parallel trade file ok")
EOF

# ---- a file made by finsim generate, against its eyxml twin -------------------
"$FINSIM_BIN" generate --trades 64 --start-trade 7 --seed 5 --store "$dir/gen.h5" 2>/dev/null ||
    fail "finsim generate --store failed"
"$FINSIM_BIN" generate --trades 64 --start-trade 7 --seed 5 --eyxml "$dir/gen.xml" ||
    fail "finsim generate --eyxml failed"
h5dump -H "$dir/gen.h5" >/dev/null || fail "h5dump cannot read the generated file"

"$PY" - "$dir/gen.h5" "$dir/gen.xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
import h5py

cols = {"fx1": "fx1", "drift": "drift", "maturity": "maturity", "t_steps": "t_steps", "trials": "trials",
        "ro": "ro", "v": "v", "sigma1": "sigma1", "warrants_no": "warrantsNo",
        "notional_per_warr": "notionalPerWarr", "strike": "strike"}
trades = ET.parse(sys.argv[2]).getroot().findall("trade")
with h5py.File(sys.argv[1], "r") as f:
    ids = f["/trades/id"][:]
    assert len(ids) == len(trades) == 64
    data = {c: f["/trades/" + c][:] for c in list(cols) + ["start_date", "end_date"]}
    for i, t in enumerate(trades):
        assert int(t.text) == ids[i], (t.text, ids[i])
        for col, attr in cols.items():
            text = t.get(attr)
            want = int(text) if col in ("t_steps", "trials", "warrants_no") else float(text)
            assert data[col][i] == want, (int(ids[i]), col, data[col][i], text)
        assert data["start_date"][i].decode() == t.get("start_date")
        assert data["end_date"][i].decode() == t.get("end_date")
    assert (f["/mirror"]["trade_id"][:] == -1).all()
print("h5py: generated trade file equals its eyxml document")
EOF

# ---- a non-finsim HDF5 file is refused with a clear error ----------------------
"$PY" -c "import h5py,sys; h5py.File(sys.argv[1],'w').create_dataset('x', data=[1,2])" "$dir/other.h5"
set +e
"$FINSIM_BIN" generate --trades 3 --store "$dir/other.h5" 2>"$dir/err.txt"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "generate into a foreign HDF5 file: exit $rc, expected 2"
! grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$dir/err.txt" || { cat "$dir/err.txt"; fail "sanitizer report"; }
grep -q "not a finsim trade file" "$dir/err.txt" || { cat "$dir/err.txt"; fail "no clear message for a foreign file"; }
"$PY" -c "import h5py,sys; assert list(h5py.File(sys.argv[1],'r')['x'][:]) == [1,2]" "$dir/other.h5" ||
    fail "the foreign file was modified"

echo "test_store_file_tools: ok"
