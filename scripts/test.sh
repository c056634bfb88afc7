#!/usr/bin/env bash
# Build finsim and run the whole test suite: unit tests, real redis-server
# (plain, unix socket, ACL, TLS), real mpirun, HDF5 read back. Three passes:
#
#   1. build/       Release build, ctest
#   2. build-asan/  -DFINSIM_SANITIZE=ON (ASan + UBSan), ctest again (less the
#                   tests labelled "once": the multi-host, Slurm and Redis Cluster
#                   scenarios, and the tests of scripts, fixtures, the Dockerfile
#                   and the report tool, whose subject is not C code) with
#                   LeakSanitizer on: the suppressions built into that build
#                   (src/base/sanitize.c) hide only what Open MPI and HDF5 keep for
#                   themselves, so a leak in finsim fails
#   3. build-fuzz/  clang + libFuzzer (-DFINSIM_FUZZ=ON): each fuzz harness
#                   for FINSIM_FUZZ_SECONDS (tests/fuzz/run-fuzz.sh)
#
#   scripts/test.sh [ctest args...]      (the ctest args apply to passes 1 and 2)
# Both ctest passes run FINSIM_TEST_JOBS tests at once (ctest -j, default: one
# more than the number of cores, as the Slurm and multi-host tests spend most
# of their minutes waiting); the tests that must run alone say so (RUN_SERIAL
# at the end of tests/CMakeLists.txt). FINSIM_TEST_JOBS=1 runs them one by one.
# Environment: FINSIM_FUZZ_SECONDS (default 20 per harness; 0 skips pass 3;
#   longer runs, e.g. 600, are for fuzzing on purpose, not for every change),
#   FINSIM_SANITIZE_PASS=0 (skip pass 2), FINSIM_LOAD_TRADES (trades of the load
#   test in pass 1; pass 2 uses 100000 unless it is set), FINSIM_TEST_SIZE
#   (full or small, tests/lib/common.sh: pass 1 runs at the size it says,
#   default full; pass 2 at small unless it is set), FINSIM_NO_TLS=1 (build
#   and test without TLS on purpose; otherwise a build without TLS fails here).
# Every pass runs even when an earlier one failed; the exit status is that of
# the first failure. ctest runs with --no-tests=error (zero tests is a failure)
# and tests that exit 77 are skips; the last line lists every skip and why.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
FUZZ_SECONDS=${FINSIM_FUZZ_SECONDS:-20}
JOBS=${FINSIM_TEST_JOBS:-$(($(nproc) + 1))}
case "$JOBS" in ''|*[!0-9]*|0) echo "test.sh: FINSIM_TEST_JOBS must be a whole number above 0, not '$JOBS'" >&2; exit 2 ;; esac
status=0
note() { echo; echo "==== test.sh: $* ($(date +%T))"; }
fail() { local rc=$1; shift; echo "==== test.sh: FAILED (exit $rc): $*" >&2; [ "$status" -ne 0 ] || status=$rc; }
SKIPS=()   # "what: why" for the summary line

# run_ctest DIR ctest-args...: ctest in DIR; skipped tests (exit 77) go to
# SKIPS with the reason their "SKIP: ..." line gave.
run_ctest() {
  local dir=$1; shift
  local rc
  set +e
  (cd "$dir" && ctest --no-tests=error --output-on-failure -j "$JOBS" "$@") 2>&1 | tee "$dir/ctest-output.txt"
  rc=${PIPESTATUS[0]}
  set -e
  local name why
  while read -r name; do
    why=$(awk -v t="$name" '/^[0-9]+\/[0-9]+ Testing: /{n=$3} n==t && /^SKIP: /{print substr($0,7); exit}' \
            "$dir/Testing/Temporary/LastTest.log" 2>/dev/null)
    SKIPS+=("$dir/$name: ${why:-no reason given}")
  done < <(sed -nE 's/^[[:space:]]*[0-9]+ - ([^ ]+) \(Skipped\)$/\1/p' "$dir/ctest-output.txt")
  # parts of tests that did not run (skip_part in tests/lib/common.sh)
  while read -r why; do
    SKIPS+=("$dir/$why")
  done < <(awk '/^[0-9]+\/[0-9]+ Testing: /{n=$3} /^SKIP-PART: /{print n " (part): " substr($0,12)}' \
             "$dir/Testing/Temporary/LastTest.log" 2>/dev/null)
  return "$rc"
}

note "pass 1: build/ (Release)"
rc=0
bash scripts/build.sh build || rc=$?
if [ "$rc" -ne 0 ]; then
  fail "$rc" "build of build/"
elif ! build/finsim version | grep -q 'TLS yes'; then
  if [ "${FINSIM_NO_TLS:-0}" = 1 ]; then
    SKIPS+=("TLS cases: FINSIM_NO_TLS=1 (only the 'built without TLS' error is checked)")
  else
    fail 2 "build/finsim was built without TLS (set FINSIM_NO_TLS=1 to test without it on purpose)"
  fi
fi
if [ "$rc" -eq 0 ]; then
  run_ctest build --timeout 600 "$@" || rc=$?
  [ "$rc" -eq 0 ] || fail "$rc" "ctest in build/"
fi

if [ "${FINSIM_SANITIZE_PASS:-1}" != 0 ]; then
  note "pass 2: build-asan/ (AddressSanitizer, UndefinedBehaviorSanitizer, LeakSanitizer)"
  # the options and leak suppressions are built into the binaries
  # (src/base/sanitize.c: they reach ranks started by srun or with a clean
  # environment too); options left in this shell would override them
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
  rc=0
  bash scripts/build.sh build-asan -DFINSIM_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo || rc=$?
  if [ "$rc" -eq 0 ]; then
    # the tests labelled "once" run in pass 1 only: the multi-host, Slurm
    # and Redis Cluster scenarios (their code paths are the same binaries'
    # and the sanitizer pass would double the test command's time for them)
    # and the tests whose subject is a script, a shell fixture, the
    # Dockerfile or the report tool (the finsim runs inside them take paths
    # that the other tests cover in this pass)
    # tests that repeat a code path at scale (statistics, load) run it at
    # smaller sizes here (FINSIM_TEST_SIZE=small, tests/lib/common.sh)
    FINSIM_TEST_SIZE=${FINSIM_TEST_SIZE:-small} FINSIM_LOAD_TRADES=${FINSIM_LOAD_TRADES:-100000} \
      run_ctest build-asan --timeout 900 -LE once "$@" || rc=$?
  fi
  [ "$rc" -eq 0 ] || fail "$rc" "sanitizer pass in build-asan/"
else
  SKIPS+=("pass 2 (sanitizers): FINSIM_SANITIZE_PASS=0")
fi

if [ "$FUZZ_SECONDS" != 0 ]; then
  note "pass 3: build-fuzz/ (libFuzzer, ${FUZZ_SECONDS}s per harness)"
  rc=0
  bash tests/fuzz/run-fuzz.sh build-fuzz "$FUZZ_SECONDS" || rc=$?
  [ "$rc" -eq 0 ] || fail "$rc" "fuzzing"
else
  SKIPS+=("pass 3 (fuzzing): FINSIM_FUZZ_SECONDS=0")
fi

if [ "$status" -eq 0 ]; then
  note "all passes OK"
fi
if [ "${#SKIPS[@]}" -eq 0 ]; then
  echo "==== test.sh: summary: exit $status; skipped: nothing"
else
  echo "==== test.sh: summary: exit $status; skipped ${#SKIPS[@]}:"
  printf '====   %s\n' "${SKIPS[@]}"
fi
exit "$status"
