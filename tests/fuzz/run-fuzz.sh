#!/usr/bin/env bash
# run-fuzz.sh - build the libFuzzer harnesses and run each for a while.
#
#   tests/fuzz/run-fuzz.sh BUILD_DIR [SECONDS]     (default 60 s per harness)
#
# BUILD_DIR is a build of its own, configured here when needed with clang
# and -DFINSIM_FUZZ=ON (ASan + UBSan + libFuzzer). Each harness starts from
# the seed corpus (corpus/fuzz_NAME) and the regression inputs
# (regress/fuzz_NAME); what it discovers goes to BUILD_DIR/fuzz/NAME, never
# into the source tree. A crash, leak, sanitizer report or timeout fails the
# script; the input that caused it is copied to regress/fuzz_NAME/ (commit
# it with the fix: fuzz_replay_NAME replays it in every ctest run).
# Environment: FINSIM_FUZZ_HARNESSES (default: "trade batch result config url"),
# JOBS (build parallelism, default 2), FINSIM_FUZZ_PARALLEL (harnesses run
# at once, default: the number of cores).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [SECONDS]" >&2
  exit 2
fi
mkdir -p "$1"
B=$(cd "$1" && pwd)
SECS=${2:-60}
case "$SECS" in ''|*[!0-9]*) echo "run-fuzz: SECONDS must be a whole number, not '$SECS'" >&2; exit 2 ;; esac
HARNESSES=${FINSIM_FUZZ_HARNESSES:-"trade batch result config url"}
unset LIBRARY_PATH   # some hosts export a CUDA stub dir here

if ! command -v clang >/dev/null; then
  echo "run-fuzz: clang is missing (apt-get install clang libclang-rt-dev)" >&2
  exit 1
fi
if [ ! -f "$B/CMakeCache.txt" ]; then
  PREFIX=()
  [ -d "$ROOT/.deps/hiredis/lib/cmake" ] && PREFIX=(-DCMAKE_PREFIX_PATH="$ROOT/.deps/hiredis")
  CC=clang cmake -S "$ROOT" -B "$B" -DFINSIM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "${PREFIX[@]}" >"$B/configure.log" 2>&1 \
    || { cat "$B/configure.log" >&2; echo "run-fuzz: configure failed" >&2; exit 1; }
fi
cmake --build "$B" --target fuzz_all -j"${JOBS:-2}" >"$B/fuzz-build.log" 2>&1 \
  || { tail -40 "$B/fuzz-build.log" >&2; echo "run-fuzz: build failed (is $B configured with CC=clang -DFINSIM_FUZZ=ON?)" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# fuzz_one H: run harness H for SECS seconds; its verdict goes to
# $B/fuzz/H.verdict (ok or failed) and its messages to stdout/stderr
fuzz_one() {
  local h=$1
  local bin="$B/tests/fuzz/fuzz_$h"
  local work="$B/fuzz/$h" art="$B/fuzz/artifacts-$h" log="$B/fuzz/$h.log"
  rm -rf "$art"
  mkdir -p "$work" "$art" "$HERE/regress/fuzz_$h"
  local dict=()
  [ -f "$HERE/fuzz_$h.dict" ] && dict=(-dict="$HERE/fuzz_$h.dict")
  local rc=0 bad=0
  "$bin" "$work" "$HERE/corpus/fuzz_$h" "$HERE/regress/fuzz_$h" "${dict[@]}" \
    -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -artifact_prefix="$art/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || bad=1
  grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|property violated' "$log" && bad=1
  if [ "$bad" -eq 1 ]; then
    {
      echo "run-fuzz: fuzz_$h FAILED (exit $rc):"
      grep -E -m5 -A12 'ERROR: |runtime error:|property violated' "$log" || tail -30 "$log"
      for a in "$art"/*; do
        [ -f "$a" ] || continue
        cp "$a" "$HERE/regress/fuzz_$h/"
        echo "run-fuzz: input saved as tests/fuzz/regress/fuzz_$h/$(basename "$a") (replayed by ctest fuzz_replay_$h)"
      done
    } >&2
    echo failed > "$B/fuzz/$h.verdict"
  else
    echo "run-fuzz: fuzz_$h ok: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs," \
         "$(ls "$work" | wc -l) corpus inputs"
    echo ok > "$B/fuzz/$h.verdict"
  fi
}

# as many harnesses at once as there are cores (FINSIM_FUZZ_PARALLEL)
PAR=${FINSIM_FUZZ_PARALLEL:-$(nproc)}
mkdir -p "$B/fuzz"
running=0
for h in $HARNESSES; do
  [ -x "$B/tests/fuzz/fuzz_$h" ] || { echo "run-fuzz: $B/tests/fuzz/fuzz_$h missing" >&2; exit 1; }
  rm -f "$B/fuzz/$h.verdict"
  echo "run-fuzz: fuzz_$h for ${SECS}s (log $B/fuzz/$h.log)"
  fuzz_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$PAR" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true
failed=()
for h in $HARNESSES; do
  [ "$(cat "$B/fuzz/$h.verdict" 2>/dev/null)" = ok ] || failed+=("$h")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "run-fuzz: all harnesses clean (${SECS}s each)"
