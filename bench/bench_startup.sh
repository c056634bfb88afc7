#!/usr/bin/env bash
# bench_startup.sh - wall time of single-process commands, start to exit
# (prints figures; not a test).
#   bench/bench_startup.sh [BUILD_DIR [OTHER_FINSIM]]
# Runs each command BENCH_RUNS times (default 20) with the finsim of
# BUILD_DIR (default build) and, given OTHER_FINSIM, with that binary too,
# interleaved so that both see the same load. Prints min and median in ms.
# Items: price of one trade (1000 paths), generate of one trade to a file,
# and price under mpirun -np 1 (the launched path, for comparison);
# BENCH_STARTUP_ITEMS (default "price generate mpirun") picks some of them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BINS=("$BUILD/finsim")
[ $# -ge 2 ] && BINS+=("$2")
for b in "${BINS[@]}"; do [ -x "$b" ] || { echo "bench_startup: no $b" >&2; exit 2; }; done
RUNS=${BENCH_RUNS:-20}
W=$(mktemp -d /tmp/finsim-startup.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"${BINS[0]}" generate --trades 1 --seed 1 --eyxml "$W/one.xml" 2>/dev/null

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
# one timed run: milliseconds of wall time
ms() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" > /dev/null 2>&1
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) | awk '{printf "%.1f\n", $1 / 1000}'
}
item() { # label, then the command with FINSIM standing for the binary
    local label=$1
    shift
    for i in "${!BINS[@]}"; do : > "$W/t.$i"; done
    for _ in $(seq "$RUNS"); do
        for i in "${!BINS[@]}"; do
            local cmd=("${@/#FINSIM/${BINS[$i]}}")
            ms "${cmd[@]}" >> "$W/t.$i"
        done
    done
    for i in "${!BINS[@]}"; do
        sort -n "$W/t.$i" | awk -v l="$label" -v b="${BINS[$i]}" '{v[NR] = $1}
            END {printf "%-44s min %7.1f ms  median %7.1f ms  (%d runs)  %s\n", l, v[1],
                 (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), NR, b}'
    done
}
ITEMS=" ${BENCH_STARTUP_ITEMS:-price generate mpirun} "
[[ $ITEMS == *" price "* ]] && item "price, 1 trade x 1000 paths" FINSIM price --paths 1000 "$W/one.xml"
[[ $ITEMS == *" generate "* ]] && item "generate, 1 trade to a file" FINSIM generate --trades 1 --seed 1 --eyxml "$W/g.xml"
[[ $ITEMS == *" mpirun "* ]] && item "price under mpirun -np 1" mpirun -np 1 FINSIM price --paths 1000 "$W/one.xml"
exit 0
