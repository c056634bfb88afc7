#!/usr/bin/env bash
# test_xfer_cli.sh - finsim export / import through the command line, with a
# trade file written by 3 MPI ranks: every route (file -> eyxml document,
# file -> eyxml files -> file, file -> file window) must give back the bytes
# `finsim generate --eyxml` writes for the same seed and range.
#
# env: FINSIM_BIN (finsim).
set -euo pipefail

: "${FINSIM_BIN:?FINSIM_BIN must name the finsim binary}"
F=$FINSIM_BIN
dir=$(mktemp -d "${TMPDIR:-/tmp}/finsim-xfercli-XXXXXX")
cleanup() { rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir"

# the reference: 250 trades from id 100, seed 17, as one eyxml document
"$F" generate --trades 250 --start-trade 100 --seed 17 --eyxml ref.xml

# 1. a trade file written by 3 ranks, exported as one document
mpiexec -n 3 --oversubscribe "$F" generate --trades 250 --start-trade 100 --seed 17 --store par.h5 2>gen.log ||
    { cat gen.log; fail "mpirun generate into a trade file"; }
"$F" export --store par.h5 --eyxml par.xml 2>/dev/null || fail "export --eyxml"
cmp -s par.xml ref.xml || fail "export of the 3-rank trade file differs from generate --eyxml"

# 2. through one file per trade and back into a new trade file
"$F" export --store par.h5 --eyxml-dir docs 2>/dev/null || fail "export --eyxml-dir"
[ "$(ls docs | wc -l)" -eq 250 ] || fail "export --eyxml-dir wrote $(ls docs | wc -l) files, expected 250"
"$F" generate --trades 1 --start-trade 230 --seed 17 --eyxml one.xml
# a per-trade file is the single-trade document without the final newline
head -c -1 one.xml | cmp -s - docs/ey0000230.xml || fail "docs/ey0000230.xml differs from the generated trade"
"$F" import --eyxml-dir docs --store back.h5 2>/dev/null || fail "import --eyxml-dir"
"$F" export --store back.h5 --eyxml - 2>/dev/null >back.xml || fail "export to stdout"
cmp -s back.xml ref.xml || fail "eyxml -> trade file -> eyxml changed the trades"

# 3. a window copied into another trade file
"$F" export --store par.h5 --start-trade 150 --trade-window 40 --to win.h5 2>/dev/null || fail "export --to"
"$F" generate --trades 40 --start-trade 150 --seed 17 --eyxml win_ref.xml
"$F" export --store win.h5 --eyxml win.xml 2>/dev/null
cmp -s win.xml win_ref.xml || fail "the window copied with --to differs"

# 4. bad trades are skipped, named, and give exit status 1
sed 's/fx1="[^"]*"\(.*\)>0000000101</fx1="-1"\1>0000000101</' ref.xml >bad.xml
set +e
"$F" import --eyxml bad.xml --store mem_bad.h5 2>bad.log
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "import with a bad trade: exit $rc, expected 1"
! grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' bad.log || { cat bad.log; fail "sanitizer report"; }
grep -q "trade 0000000101" bad.log || { cat bad.log; fail "the bad trade is not named"; }
grep -q "imported 249 trades" bad.log || { cat bad.log; fail "the good trades were not imported"; }

# 5. clear errors: a missing trade file, a non-finsim file, usage
set +e
"$F" export --store nothere.h5 --eyxml x.xml 2>e1.log; r1=$?
echo "not hdf5" >plain.h5
"$F" export --store plain.h5 --eyxml x.xml 2>e2.log; r2=$?
"$F" import --store back.h5 2>e3.log; r3=$?
set -e
[ "$r1" -eq 3 ] && grep -q "finsim generate --store nothere.h5" e1.log || { cat e1.log; fail "missing file: exit $r1"; }
[ "$r2" -eq 2 ] && grep -q "not an HDF5 file" e2.log || { cat e2.log; fail "plain file: exit $r2"; }
[ "$r3" -eq 2 ] || fail "import without documents: exit $r3, expected 2"
[ ! -e x.xml ] || fail "an output document was left behind by a failed export"

echo "test_xfer_cli: ok"
