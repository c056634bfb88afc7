# common.sh - helpers for finsim's script tests (source it).
#   FINSIM_BIN, FINSIM_SRC come from ctest's environment.
set -euo pipefail
: "${FINSIM_BIN:?run through ctest (FINSIM_BIN unset)}"
: "${FINSIM_SRC:?run through ctest (FINSIM_SRC unset)}"
# Debian's interpreter: it has numpy and h5py (a python3 earlier in PATH may not)
PY=/usr/bin/python3
# SANITIZED=1 for an ASan+UBSan build (memory figures mean little there: ASan
# keeps freed blocks in quarantine and links libasan)
SANITIZED=0
case $("$FINSIM_BIN" version 2>/dev/null) in *ASan*) SANITIZED=1 ;; esac
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
T=$(mktemp -d "${TMPDIR:-/tmp}/finsim-test.XXXXXX")
CHECKS=0
_cleanups=()
on_exit() { local rc=$?; for c in "${_cleanups[@]}"; do eval "$c" || true; done; rm -rf "$T"; exit $rc; }
trap on_exit EXIT
add_cleanup() { _cleanups+=("$1"); }

H5CHECK() { "$PY" "$FINSIM_SRC/tests/h5check.py" "$@"; CHECKS=$((CHECKS + 1)); }
MPIRUN() { mpirun --oversubscribe "$@"; }

# expect_rc WANT cmd...: run cmd, fail unless its exit status is WANT.
expect_rc() {
  local want=$1; shift
  local rc=0
  "$@" >"$T/last.out" 2>"$T/last.err" || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL: expected exit $want, got $rc: $*" >&2
    echo "--- stdout" >&2; tail -20 "$T/last.out" >&2
    echo "--- stderr" >&2; tail -20 "$T/last.err" >&2
    exit 1
  fi
  CHECKS=$((CHECKS + 1))
}

# expect_grep PATTERN FILE: fail unless FILE matches PATTERN.
expect_grep() {
  if ! grep -qE -- "$1" "$2"; then
    echo "FAIL: '$1' not found in $2:" >&2; tail -20 "$2" >&2; exit 1
  fi
  CHECKS=$((CHECKS + 1))
}

expect_no_grep() {
  if grep -qE -- "$1" "$2"; then
    echo "FAIL: '$1' unexpectedly found in $2" >&2; grep -E -- "$1" "$2" | head -5 >&2; exit 1
  fi
  CHECKS=$((CHECKS + 1))
}

finish() { echo "$CHECKS passed, 0 failed"; }
