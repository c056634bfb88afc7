#!/usr/bin/env bash
# bench_isa.sh - the fast kernel side by side in one run: the native build,
# the portable build (each kernel copy it can run on this CPU) and the NumPy
# port of the model, on the same generated trades. Prints figures; checks
# nothing.
#
#   bench/bench_isa.sh [ROUNDS]          (default 3 rounds)
#
# FINSIM_BUILD (default ./build, -march=native) and FINSIM_BUILD_PORTABLE
# (default ./build-portable, configured with -DFINSIM_NATIVE=OFF and built
# when missing). Every round runs each contender once, in turn, so that load
# from other work on a shared machine falls on all of them alike; each figure
# is the best round. Times are the thread's CPU time of the pricing call only
# (bench_kernel --cpu-clock, numpy_model.py --cpu-clock): process start-up,
# trade reading and MPI are outside on both sides.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
native=${FINSIM_BUILD:-$src/build}
portable=${FINSIM_BUILD_PORTABLE:-$src/build-portable}
rounds=${1:-3}
trades=${BENCH_TRADES:-5}
py=${PYTHON:-/usr/bin/python3}

if [ ! -f "$portable/CMakeCache.txt" ]; then
    prefix=$(sed -n 's/^CMAKE_PREFIX_PATH:[A-Z]*=//p' "$native/CMakeCache.txt" 2>/dev/null || true)
    cmake -S "$src" -B "$portable" -DCMAKE_BUILD_TYPE=Release -DFINSIM_NATIVE=OFF \
        ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"} >/dev/null
fi
for b in "$native" "$portable"; do
    cmake --build "$b" -j2 --target bench_kernel finsim >/dev/null
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    "$native/finsim" generate --trades "$trades" --seed 1 --eyxml "$work/t.xml" >/dev/null 2>&1

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores;" \
     "avx512f: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)," \
     "avx2: $(grep -qw avx2 /proc/cpuinfo && echo yes || echo no)"
echo "compiler: $(${CC:-cc} --version | head -1); numpy: $($py -c 'import numpy; print(numpy.__version__)')"
echo "trades: gen_trade seed 1, ids 0..$((trades - 1)), 10,000 paths x 172 steps; $rounds rounds"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# contenders: label, command (bench_kernel prints pvonly, deltavega, normals
# alone, pvonly fed precomputed normals)
labels=("native build (native copy)")
cmds=("$native/bench/bench_kernel --trades $trades --cpu-clock --fast-only")
for isa in avx512 avx2 sse4; do
    if "$portable/bench/bench_kernel" --isa "$isa" --trades 1 --paths 200 --fast-only >/dev/null 2>&1; then
        labels+=("portable build, $isa copy")
        cmds+=("$portable/bench/bench_kernel --trades $trades --cpu-clock --fast-only --isa $isa")
    fi
done
default=$("$portable/bench/bench_kernel" --trades 1 --paths 200 --fast-only | sed -n 's/^kernel copy: \([a-z0-9]*\).*/\1/p')

out=$work/out.txt
for r in $(seq 1 "$rounds"); do
    for i in "${!cmds[@]}"; do
        ${cmds[$i]} | awk -v who="$i" '
            /fast pvonly/        { print who, "pv", $(NF-3) }
            /fast deltavega/     { print who, "dv", $(NF-3) }
            /normals only/       { print who, "nrm", $(NF-3), $(NF-1) }
            /pvonly fed/         { print who, "paths", $(NF-3) }' >> "$out"
    done
    "$py" "$src/bench/numpy_model.py" "$work/t.xml" --trades "$trades" --reps 3 --algo pvonly \
        --cpu-clock | awk '/^numpy pvonly/ { print "np", "pv", $6 }' >> "$out"
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo
awk -v n="${#cmds[@]}" -v def="$default" -v labs="$(printf '%s\n' "${labels[@]}")" '
function best(k) { return (k in b) ? b[k] : -1 }
{
    k = $1 SUBSEP $2
    if (!(k in b) || $3 + 0 < b[k]) { b[k] = $3 + 0; if ($2 == "nrm") nn[$1] = $4 + 0 }
}
END {
    split(labs, lab, "\n")
    np = best("np" SUBSEP "pv")
    printf "%-30s %9s %9s %11s %10s %12s %9s\n", "kernel", "pvonly", "deltavega", "ns/path-step", "ns/normal", "paths alone", "NumPy/x"
    printf "%-30s %9s %9s %11s %10s %12s %9s\n", "", "ms/trade", "ms/trade", "(pvonly)", "", "ms/trade", "(pvonly)"
    for (i = 0; i < n; i++) {
        pv = best(i SUBSEP "pv")
        printf "%-30s %9.2f %9.2f %11.2f %10.2f %12.2f %9.1f\n", lab[i + 1], pv, best(i SUBSEP "dv"),
               pv * 1e6 / (10000 * 172), nn[i], best(i SUBSEP "paths"), np / pv
        if (i == 0) nat = pv
        if (lab[i + 1] ~ (", " def " copy$")) port = pv
    }
    printf "%-30s %9.2f %9s %11.2f\n", "NumPy port (pvonly)", np, "", np * 1e6 / (10000 * 172)
    printf "\nportable build (its default copy, %s) / native build, pvonly: %.3f\n", def, port / nat
    printf "NumPy port / native build, pvonly: %.1f x; / portable build: %.1f x\n", np / nat, np / port
}' "$out"
