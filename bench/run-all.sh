#!/usr/bin/env bash
# run-all.sh - the whole benchmark suite: measures, prints one table, writes
# the generated sections of docs/PERFORMANCE.md and the plots in docs/img/.
# Figures only; it checks nothing (not a test, not registered in ctest).
#
#   bash bench/run-all.sh [BUILD_DIR]        (default build-perf; ~5-8 min)
#
# Needs a Release build (bash scripts/build.sh build-perf), redis-server,
# Open MPI and the system Python with numpy, h5py and matplotlib
# (/usr/bin/python3; scripts/install-deps.sh installs them).
# Environment:
#   BENCH_REPEATS  repeats of every timed item (default 3): best and median
#   BENCH_TRADES   trades of the pipeline items (default 1000000)
#   BENCH_OUT      where the raw outputs go (default out/bench-<UTC time>)
#   BENCH_NO_DOC=1 print the table only; leave docs/ alone
# Every figure is stored with the 1-minute load average taken just before it:
# on a shared machine that is the first thing to read next to a number.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build-perf}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
FINSIM=$BUILD/finsim
PY=/usr/bin/python3
REPEATS=${BENCH_REPEATS:-3}
N=${BENCH_TRADES:-1000000}
OUT=${BENCH_OUT:-$ROOT/out/bench-$(date -u +%Y%m%dT%H%M%SZ)}
[ -x "$FINSIM" ] || { echo "run-all: build first: bash scripts/build.sh ${1:-build-perf}" >&2; exit 2; }
grep -q '^CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
    echo "run-all: warning: $BUILD is not a Release build; the figures will not mean much" >&2
cmake --build "$BUILD" -j2 --target bench_kernel bench_redis >/dev/null
$PY -c 'import numpy, h5py, matplotlib' 2>/dev/null ||
    { echo "run-all: $PY lacks numpy/h5py/matplotlib: bash scripts/install-deps.sh" >&2; exit 2; }

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export FINSIM_SRC=$ROOT FINSIM_BIN=$FINSIM
mkdir -p "$OUT"
W=$(mktemp -d /tmp/finsim-runall.XXXXXX)
# shellcheck source=../tests/lib/redis.sh
source "$ROOT/tests/lib/redis.sh"
trap 'redis_stop; rm -rf "$W"' EXIT
T_START=$(date +%s)

load1() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
# log FILE: header of a raw output file (what, when, load)
hdr() { printf '# %s\n# utc %s load %s\n' "$2" "$(date -u +%FT%TZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" > "$1"; }
# rec NAME VALUE UNIT: one figure with the load before it was taken ($L)
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$L" >> "$OUT/figures.tsv"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
step() { echo "[$(($(date +%s) - T_START)) s] $*" >&2; }
# cpu CMD...: run CMD, leaving the user + sys CPU seconds of it and its
# children (the ranks) in $W/cpu: less sensitive to other users than wall time
cpu() { /usr/bin/time -f '%U %S' -o "$W/cpu.raw" "$@"; awk '{ printf "%.2f", $1 + $2 }' "$W/cpu.raw" > "$W/cpu"; }

: > "$OUT/figures.tsv"
{
    echo "host: $(uname -n), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "finsim: $("$FINSIM" version)"
    echo "compiler: $(${CC:-cc} --version | head -1)"
    echo "redis-server: $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
    echo "open mpi: $(mpirun --version 2>/dev/null | head -1)"
    echo "numpy: $($PY -c 'import numpy; print(numpy.__version__)')"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet -- src include 2>/dev/null || echo ' (+ uncommitted changes in src/include)')"
    echo "date: $(date -u +%FT%TZ)"
    echo "repeats: $REPEATS"
} > "$OUT/env.txt"
cat "$OUT/env.txt" >&2

# ---- 1. kernel: ms/trade, ns/path-step, against the precomputed-normals floor
step "kernel (bench_kernel x $REPEATS)"
for i in $(seq 1 "$REPEATS"); do
    hdr "$OUT/kernel.$i.txt" "bench_kernel run $i"
    "$BUILD/bench/bench_kernel" >> "$OUT/kernel.$i.txt"
done

# ---- 2. cost growth in paths x steps (finsim price, per-trade compute_s) ----
step "cost grid (finsim price over paths x steps)"
GT=${BENCH_GRID_TRADES:-8}
"$FINSIM" generate --trades "$GT" --seed 1 --eyxml "$W/grid.xml"
mkdir -p "$OUT/grid"
for s in 43 86 172 344 688; do
    sed "s/t_steps=\"172\"/t_steps=\"$s\"/" "$W/grid.xml" > "$W/grid$s.xml"
    for p in 1000 2500 5000 10000 20000 40000; do
        for algo in pvonly deltavega; do
            f=$OUT/grid/$algo.$p.$s.csv
            hdr "$f" "finsim price --algorithm $algo --paths $p, $GT trades of $s steps"
            "$FINSIM" price --algorithm "$algo" --paths "$p" "$W/grid$s.xml" >> "$f"
        done
    done
done
# growth in trades: one process, N trades of 1000 paths x 172 steps
"$FINSIM" generate --trades 1000 --seed 1 --eyxml "$W/t1000.xml"
$PY - "$W/t1000.xml" "$W" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
docs = re.findall(r"  <trade .*?</trade>\n", text)
for n in (1, 10, 100, 1000):
    open(f"{sys.argv[2]}/t{n}.xml", "w").write("<AZFINSIM>\n" + "".join(docs[:n]) + "</AZFINSIM>")
PY
for n in 1 10 100 1000; do
    for i in $(seq 1 "$REPEATS"); do
        L=$(load1)
        t0=$(now)
        "$FINSIM" price --paths 1000 "$W/t$n.xml" > /dev/null
        t1=$(now)
        rec "price_wall.trades$n" "$(sub "$t0" "$t1")" s
    done
done

# ---- 3. 1 -> 2 ranks, compute-bound pvonly on the file store -----------------
NPV=${BENCH_PV_TRADES:-400}
step "scaling 1 -> 2 ranks ($NPV pvonly trades, file store)"
"$FINSIM" generate --trades "$NPV" --seed 1 --store "$W/trades.h5" > /dev/null
SREP=$((REPEATS > 5 ? REPEATS : 5))   # cheap, and the noisiest figure on a shared machine
for i in $(seq 1 "$SREP"); do
    for r in 1 2; do
        f=$OUT/scale.$r.$i.txt
        hdr "$f" "mpirun -np $r finsim run --store FILE --algorithm pvonly --trade-window $NPV"
        L=$(load1)
        t0=$(now)
        mpirun -np "$r" "$FINSIM" run --store "$W/trades.h5" --algorithm pvonly --start-trade 0 \
            --trade-window "$NPV" --output "$W/scale$r.h5" --progress 0 --quiet >> "$f"
        t1=$(now)
        rec "scale.ranks$r.mpirun_wall" "$(sub "$t0" "$t1")" s
        rec "scale.ranks$r.wall" "$(sed -n 's/^wall time *: \([0-9.]*\) s/\1/p' "$f")" s
    done
    $PY "$ROOT/tests/h5check.py" same "$W/scale1.h5" "$W/scale2.h5" >> "$OUT/scale.same.txt"
done

# ---- 4. Redis: store throughput, load rate, end to end, RSS ------------------
step "redis pipeline ($N trades)"
redis_start
server_cpu() {
    redis_cli INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'
}
# store throughput of one client (bench_redis over TCP)
c0=$(server_cpu); L=$(load1)
hdr "$OUT/bench_redis.txt" "bench_redis TCP 200000 trades, batch 1000"
"$BUILD/bench/bench_redis" "$REDIS_URL" 200000 1000 >> "$OUT/bench_redis.txt"
c1=$(server_cpu)
rec bench_redis.server_cpu "$(sub "$c0" "$c1")" s
redis_cli FLUSHALL > /dev/null

for i in $(seq 1 "$REPEATS"); do
    redis_cli FLUSHALL > /dev/null
    f=$OUT/load.$i.txt
    hdr "$f" "mpirun -np 2 finsim generate --trades $N --store redis --batch 2000"
    L=$(load1); c0=$(server_cpu); t0=$(now)
    cpu mpirun -np 2 "$FINSIM" generate --trades "$N" --seed 1 --store "$REDIS_URL" --batch 2000 >> "$f" 2>&1
    t1=$(now); c1=$(server_cpu)
    rec load.wall "$(sub "$t0" "$t1")" s
    rec load.client_cpu "$(cat "$W/cpu")" s
    rec load.server_cpu "$(sub "$c0" "$c1")" s
done
L=$(load1)
rec redis.used_memory "$(redis_cli INFO memory | tr -d '\r' | sed -n 's/^used_memory://p')" B

for i in $(seq 1 "$REPEATS"); do
    f=$OUT/e2e.2.$i.txt
    hdr "$f" "mpirun -np 2 finsim run --algorithm synthetic --task-duration 0 --trade-window $N"
    L=$(load1); c0=$(server_cpu); t0=$(now)
    cpu mpirun -np 2 "$FINSIM" run --store "$REDIS_URL" --algorithm synthetic --task-duration 0 --start-trade 0 \
        --trade-window "$N" --batch 2000 --output "$W/e2e.h5" --progress 0 --quiet >> "$f"
    t1=$(now); c1=$(server_cpu)
    rec e2e.ranks2.mpirun_wall "$(sub "$t0" "$t1")" s
    rec e2e.ranks2.client_cpu "$(cat "$W/cpu")" s
    rec e2e.ranks2.server_cpu "$(sub "$c0" "$c1")" s
    $PY - "$W/e2e.h5" "e2e.ranks2.rss_mb" "$L" >> "$OUT/figures.tsv" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    for r in f["telemetry"][...]:
        print(f"{sys.argv[2]}.rank{r['rank']}\t{r['peak_rss_kb'] / 1024:.1f}\tMB\t{sys.argv[3]}")
PY
done
# the same over the unix socket (a local client's cheaper transport)
f=$OUT/e2e.unix.1.txt
hdr "$f" "mpirun -np 2 finsim run --store unix://SOCK --algorithm synthetic --task-duration 0 --trade-window $N"
L=$(load1); c0=$(server_cpu); t0=$(now)
mpirun -np 2 "$FINSIM" run --store "$REDIS_UNIX_URL" --algorithm synthetic --task-duration 0 --start-trade 0 \
    --trade-window "$N" --batch 2000 --output "$W/e2eu.h5" --progress 0 --quiet >> "$f"
t1=$(now); c1=$(server_cpu)
rec e2e.unix.mpirun_wall "$(sub "$t0" "$t1")" s
rec e2e.unix.server_cpu "$(sub "$c0" "$c1")" s
# one rank, same trades: the per-trade cost of one client
f=$OUT/e2e.1.1.txt
hdr "$f" "mpirun -np 1 finsim run --algorithm synthetic --task-duration 0 --trade-window $N"
L=$(load1); c0=$(server_cpu); t0=$(now)
mpirun -np 1 "$FINSIM" run --store "$REDIS_URL" --algorithm synthetic --task-duration 0 --start-trade 0 \
    --trade-window "$N" --batch 2000 --output "$W/e2e1.h5" --progress 0 --quiet >> "$f"
t1=$(now); c1=$(server_cpu)
rec e2e.ranks1.mpirun_wall "$(sub "$t0" "$t1")" s
rec e2e.ranks1.server_cpu "$(sub "$c0" "$c1")" s
# peak RSS per rank for a 10^4 window (the 10^6 one is the end-to-end run)
L=$(load1)
mpirun -np 2 "$FINSIM" run --store "$REDIS_URL" --algorithm synthetic --task-duration 0 --start-trade 0 \
    --trade-window 10000 --batch 2000 --output "$W/w4.h5" --progress 0 --quiet > "$OUT/rss.10000.txt"
$PY - "$W/w4.h5" "rss.window10000" "$L" >> "$OUT/figures.tsv" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    for r in f["telemetry"][...]:
        print(f"{sys.argv[2]}.rank{r['rank']}\t{r['peak_rss_kb'] / 1024:.1f}\tMB\t{sys.argv[3]}")
PY
redis_stop

# ---- 5. NumPy, the tool a quant would otherwise reach for ---------------------
step "numpy model (10,000 paths x 172 steps)"
"$FINSIM" generate --trades 5 --seed 1 --eyxml "$W/np.xml"
hdr "$OUT/numpy.txt" "bench/numpy_model.py, 5 trades x 10000 paths x 172 steps"
$PY "$ROOT/bench/numpy_model.py" "$W/np.xml" --trades 5 --reps "$REPEATS" >> "$OUT/numpy.txt"

# ---- table, plots, docs --------------------------------------------------------
step "report"
args=("$OUT")
[ "${BENCH_NO_DOC:-0}" = 1 ] || args+=(--doc "$ROOT/docs/PERFORMANCE.md" --img "$ROOT/docs/img")
$PY "$ROOT/bench/plot.py" "${args[@]}" | tee "$OUT/table.txt"
echo "raw outputs: $OUT   (suite took $(($(date +%s) - T_START)) s)"
