#!/usr/bin/env bash
# bench_redis.sh - Redis trade store throughput over TCP, unix socket and
# (when finsim was built with hiredis_ssl) TLS, against a throwaway server.
#
# Usage: bench/bench_redis.sh [BUILD_DIR [N [BATCH]]]
#   BUILD_DIR  a configured and built finsim build dir (default: build)
#   N          trades (default 100000)
#   BATCH      keys per pipelined batch (default 1000)
# Needs redis-server, redis-cli, openssl (for the TLS run) and python3.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
N=${2:-100000}
BATCH=${3:-1000}
BIN=$BUILD/bench/bench_redis
if [ ! -x "$BIN" ]; then
    echo "bench_redis.sh: $BIN not found; build it first: cmake --build $BUILD --target bench_redis -j2" >&2
    exit 2
fi
. "$SRC/tests/lib/redis.sh"
trap redis_stop EXIT

tls=0
ldd "$BIN" 2>/dev/null | grep -q libhiredis_ssl && tls=1
if [ $tls -eq 1 ]; then redis_start_tls optional; else redis_start; fi
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), $(nproc) cores, N=$N, batch=$BATCH"

# CPU seconds the server has used so far (user + sys, from INFO cpu).
server_cpu() {
    redis_cli INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'
}

run() {
    local label=$1 url=$2 c0 c1
    redis_cli FLUSHALL >/dev/null
    echo "== $label"
    c0=$(server_cpu)
    "$BIN" "$url" "$N" "$BATCH"
    c1=$(server_cpu)
    echo "   server cpu (put + get): $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }') s," \
         "redis used_memory: $(redis_cli INFO memory | sed -n 's/^used_memory_human://p' | tr -d '\r')"
}
run "TCP" "$REDIS_URL"
run "unix socket" "$REDIS_UNIX_URL"
if [ $tls -eq 1 ]; then
    FINSIM_REDIS_CA=$REDIS_CA run "TLS" "$REDIS_TLS_URL"
else
    echo "== TLS: skipped (this build has no hiredis_ssl; see scripts/build-hiredis.sh)"
fi
