#!/usr/bin/env bash
# bench_redis_cluster.sh - the Redis trade store on one redis-server and on a
# 3-master Redis Cluster on this machine, side by side in one run: put_trades
# and get_trades (bench_redis) of N trades, then a zero-work run
# (--algorithm synthetic --task-duration 0: fetch, price nothing, mirror) on R ranks.
#
# Usage: bench/bench_redis_cluster.sh [BUILD_DIR [N [RANKS [BATCH]]]]
#   BUILD_DIR  a built finsim build dir (default: build)
#   N          trades (default 100000)
#   RANKS      MPI ranks of the zero-work run (default 2)
#   BATCH      keys per pipelined batch (default 1000)
# Needs redis-server, redis-cli, mpirun and python3. Every server is on loopback
# on OS-picked ports and stopped on exit.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
N=${2:-100000}
RANKS=${3:-2}
BATCH=${4:-1000}
BIN=$BUILD/bench/bench_redis
F=$BUILD/finsim
[ -x "$BIN" ] && [ -x "$F" ] || { echo "bench_redis_cluster.sh: build $BUILD first (finsim, bench_redis)" >&2; exit 2; }
. "$SRC/tests/lib/redis.sh"
. "$SRC/tests/lib/rcluster.sh"
T=$(mktemp -d)
trap 'redis_stop; rcluster_stop; rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
redis_start
rcluster_start 3 0
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), $(nproc) cores, N=$N, batch=$BATCH, ranks=$RANKS"

# CPU seconds (user + sys, INFO cpu) the servers of URL have used so far:
# the one redis-server, or every node of the cluster.
server_cpu() {
    local i
    if [ "$1" = "$REDIS_URL" ]; then redis_cli INFO cpu; else for ((i = 0; i < RC_N; i++)); do rcluster_cli $i INFO cpu; done; fi |
        tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'
}

run_one() {
    local label=$1 url=$2 t0 t1 c0 c1
    echo "== $label ($url)"
    "$BIN" "$url" "$N" "$BATCH" | sed 's/^/   /'
    "$F" generate --trades "$N" --store "$url" --batch "$BATCH" > /dev/null
    c0=$(server_cpu "$url")
    t0=$(date +%s.%N)
    mpirun --oversubscribe -np "$RANKS" "$F" run --store "$url" --trade-window "$N" --batch "$BATCH" \
        --algorithm synthetic --task-duration 0 --paths 1 --progress 0 --output "$T/$label.h5" > "$T/$label.out"
    t1=$(date +%s.%N)
    c1=$(server_cpu "$url")
    awk -v a="$t0" -v b="$t1" -v n="$N" -v r="$RANKS" -v c0="$c0" -v c1="$c1" \
        'BEGIN { printf "   zero-work run, %d ranks: %.2f s wall, %.1f us per trade; server cpu %.2f us per trade (all servers)\n", r, b - a, 1e6 * (b - a) / n, 1e6 * (c1 - c0) / n }'
}
run_one single "$REDIS_URL"
run_one cluster3 "$RC_URL"
