#!/usr/bin/env bash
# bench_kernel.sh - per-core speed of the Monte Carlo kernels and their random
# numbers. Prints figures (bench/bench_kernel.c); checks nothing.
#
#   bench/bench_kernel.sh [RUNS]        (default 3 runs)
#
# FINSIM_BUILD: build directory (default ./build; configured as Release and
# the bench_kernel target built when needed). BENCH_ARGS: extra arguments for
# bench_kernel (--trades N --ref-trades N --paths N --seed S). BENCH_CPU=N
# pins the benchmark to core N (taskset); by default the scheduler picks the
# idler core. It is single-threaded throughout. On a shared machine single
# runs vary: the summary gives the best and the median over the runs.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${FINSIM_BUILD:-$src/build}
runs=${1:-3}
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target bench_kernel >/dev/null
bin=$build/bench/bench_kernel

pin=()
if [ -n "${BENCH_CPU:-}" ]; then
    pin=(taskset -c "$BENCH_CPU")
fi

echo "host: $(uname -n), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
echo "compiler: $(${CC:-cc} --version | head -1); build: $(grep -E '^CMAKE_BUILD_TYPE|^FINSIM_NATIVE' "$build/CMakeCache.txt" | tr '\n' ' ')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq 1 "$runs"); do
    echo
    echo "=== run $i of $runs"
    # shellcheck disable=SC2086
    ${pin[@]+"${pin[@]}"} "$bin" ${BENCH_ARGS:-} | tee -a "$out"
done

echo
echo "=== summary over $runs runs: best / median ms per trade (ns per path-step or normal)"
awk '
/ms\/trade/ {
    label = $0; sub(/^ +/, "", label); sub(/ +[0-9.]+ ms\/trade.*/, "", label)
    ms = $0; sub(/ ms\/trade.*/, "", ms); n = split(ms, f, " "); ms = f[n]
    per = $0; sub(/.*ms\/trade +/, "", per)
    if (!(label in cnt)) order[++nl] = label
    v[label, ++cnt[label]] = ms; p[label, cnt[label]] = per
}
END {
    for (i = 1; i <= nl; i++) {
        l = order[i]; c = cnt[l]
        for (a = 1; a <= c; a++) s[a] = v[l, a] + 0
        for (a = 1; a <= c; a++) for (b = a + 1; b <= c; b++) if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
        med = c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
        best = 0
        for (a = 1; a <= c; a++) if (v[l, a] + 0 == s[1]) best = a
        printf "  %-34s best %8.2f  median %8.2f   (best run: %s)\n", l, s[1], med, p[l, best]
    }
}' "$out"
