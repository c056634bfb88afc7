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
# SMALL=1 when FINSIM_TEST_SIZE=small (scripts/test.sh sets it for the
# sanitizer pass): tests that repeat one code path many times for statistics
# or scale take fewer paths, ids or trades; every code path stays the
# same. The full sizes run in the Release pass.
case ${FINSIM_TEST_SIZE:-full} in
  full) SMALL=0 ;;
  small) SMALL=1 ;;
  *) echo "FAIL: FINSIM_TEST_SIZE must be full or small, not '$FINSIM_TEST_SIZE'" >&2; exit 1 ;;
esac
# sized FULL SMALL: FULL, or SMALL when SMALL=1
sized() { if [ "$SMALL" = 1 ]; then echo "$2"; else echo "$1"; fi; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
T=$(mktemp -d "${TMPDIR:-/tmp}/finsim-test.XXXXXX")
CHECKS=0
_cleanups=()
on_exit() { local rc=$?; for c in "${_cleanups[@]}"; do eval "$c" || true; done; rm -rf "$T"; exit $rc; }
trap on_exit EXIT
add_cleanup() { _cleanups+=("$1"); }

# H5CHECK ARGS...: tests/h5check.py; fails the test even where set -e is off
# (inside if, ||, or a function called from one)
H5CHECK() {
  "$PY" "$FINSIM_SRC/tests/h5check.py" "$@" || { echo "FAIL: h5check $*" >&2; exit 1; }
  CHECKS=$((CHECKS + 1))
}
MPIRUN() { mpirun --oversubscribe "$@"; }

# Sanitizer reports (ASan, UBSan, LeakSanitizer). A report in any output of
# a command fails the check that ran it, whatever the exit status.
SANITIZER_RE='ERROR: AddressSanitizer|runtime error:|LeakSanitizer'

# expect_no_sanitizer FILE...: fail if a sanitizer report is in any FILE
# (checked in every build: a Release build never prints one).
expect_no_sanitizer() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || continue
    if grep -qE -- "$SANITIZER_RE" "$f"; then
      echo "FAIL: sanitizer report in $f:" >&2; grep -E -A5 -- "$SANITIZER_RE" "$f" | head -30 >&2; exit 1
    fi
  done
}

# expect_rc WANT cmd...: run cmd, fail unless its exit status is exactly WANT
# (a number: 'any failure' is no answer) and its output has no sanitizer report.
expect_rc() {
  local want=$1; shift
  case $want in ''|*[!0-9]*) echo "FAIL: expect_rc needs an exit code, got '$want'" >&2; exit 1 ;; esac
  local rc=0
  "$@" >"$T/last.out" 2>"$T/last.err" || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL: expected exit $want, got $rc: $*" >&2
    echo "--- stdout" >&2; tail -20 "$T/last.out" >&2
    echo "--- stderr" >&2; tail -20 "$T/last.err" >&2
    exit 1
  fi
  expect_no_sanitizer "$T/last.out" "$T/last.err"
  CHECKS=$((CHECKS + 1))
}

# expect_status WANT RC WHAT [FILE...]: for a command run otherwise (in the
# background, with its own redirections): fail unless RC is exactly WANT and
# no FILE holds a sanitizer report.
expect_status() {
  local want=$1 rc=$2 what=$3; shift 3
  if [ "$rc" != "$want" ]; then
    echo "FAIL: expected exit $want, got $rc: $what" >&2
    local f; for f in "$@"; do [ -e "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
    exit 1
  fi
  expect_no_sanitizer "$@"
  CHECKS=$((CHECKS + 1))
}

# expect_grep PATTERN FILE: fail unless FILE matches PATTERN.
expect_grep() {
  if [ ! -r "$2" ]; then echo "FAIL: $2 does not exist (looking for '$1')" >&2; exit 1; fi
  if ! grep -qE -- "$1" "$2"; then
    echo "FAIL: '$1' not found in $2:" >&2; tail -20 "$2" >&2; exit 1
  fi
  CHECKS=$((CHECKS + 1))
}

# expect_no_grep PATTERN FILE: fail if FILE matches PATTERN, or if FILE is
# missing (a missing file proves nothing).
expect_no_grep() {
  if [ ! -r "$2" ]; then echo "FAIL: $2 does not exist (checking for no '$1')" >&2; exit 1; fi
  if grep -qE -- "$1" "$2"; then
    echo "FAIL: '$1' unexpectedly found in $2" >&2; grep -E -- "$1" "$2" | head -5 >&2; exit 1
  fi
  CHECKS=$((CHECKS + 1))
}

# wait_for CEILING_S WHAT cmd...: poll cmd (every 0.1 s) until it succeeds;
# fail after CEILING_S seconds. The ceiling is generous on purpose: it only
# bounds a hang, it is never a timing assertion.
wait_for() {
  local ceil=$1 what=$2; shift 2
  local end=$((SECONDS + ceil))
  until "$@"; do
    if [ "$SECONDS" -ge "$end" ]; then echo "FAIL: no $what within ${ceil}s" >&2; exit 1; fi
    sleep 0.1
  done
}

# finsim_pids ROOT: pids of the processes under ROOT (ROOT included) that run
# the finsim binary itself (exec done): not mpirun, not a shell before its exec.
finsim_pids() {
  local want p kids
  want=$(readlink -f "$FINSIM_BIN")
  local todo=("$1")
  while [ "${#todo[@]}" -gt 0 ]; do
    p=${todo[0]}; todo=("${todo[@]:1}")
    [ "$(readlink -f "/proc/$p/exe" 2>/dev/null)" = "$want" ] && echo "$p"
    kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
    for k in $kids; do todo+=("$k"); done
  done
  return 0
}

# skip REASON: end the test as skipped (exit 77, ctest's SKIP_RETURN_CODE);
# the reason is printed where scripts/test.sh collects it.
skip() { echo "SKIP: $*"; trap - EXIT; on_exit_skip; exit 77; }
on_exit_skip() { for c in "${_cleanups[@]}"; do eval "$c" || true; done; rm -rf "$T"; }

# skip_part REASON: a part of a test that does not run here; the rest still
# counts. The line is listed in the summary of scripts/test.sh.
skip_part() { echo "SKIP-PART: $*"; }

# finish: the test's last line; a test that checked nothing has failed.
finish() {
  if [ "$CHECKS" -eq 0 ]; then echo "FAIL: no check ran" >&2; exit 1; fi
  echo "$CHECKS passed, 0 failed"
}
