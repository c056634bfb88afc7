#!/usr/bin/env bash
# bench_serve.sh - finsim serve: latency of single requests at low load and
# throughput at saturation, against a throwaway redis-server. Prints figures;
# passes or fails nothing.
#
# Usage: bench/bench_serve.sh [BUILD_DIR [REQUESTS [TRADES [WORKERS]]]]
#   BUILD_DIR  a built finsim build dir (default: build)
#   REQUESTS   single requests for the latency figures (default 200)
#   TRADES     requests (one per trade) for the throughput figures (default 2000)
#   WORKERS    serve workers and run ranks (default: nproc)
# Latency: one worker; 'finsim request' sends one request at a time (pvonly,
# 10,000 paths) and measures from its XADD to the answer read back. The
# pricing time of one trade is the mean compute_s of 'finsim price' on the
# same trades and paths. Throughput: WORKERS workers answer a backlog of
# TRADES requests (the clock runs from the first XADD to the last answer),
# against 'mpirun -np WORKERS finsim run' on the same trades and paths
# (wall time of the run, MPI start-up included).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
NREQ=${2:-200}
NT=${3:-2000}
W=${4:-$(nproc)}
BIN=$BUILD/finsim
[ -x "$BIN" ] || { echo "bench_serve.sh: $BIN not found; build first" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
. "$SRC/tests/lib/redis.sh"
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait || true; redis_stop; rm -rf "$TMP"; }
trap cleanup EXIT
redis_start
PATHS=10000
echo "finsim serve benchmark: $(nproc) cores, redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')," \
     "pvonly, $PATHS paths, $W workers"
"$BIN" generate --trades "$NT" --seed 9 --store "$REDIS_URL" > /dev/null
"$BIN" generate --trades "$NT" --seed 9 --eyxml "$TMP/t.xml" > /dev/null

# one trade's pricing time: mean compute_s of finsim price
price_ms=$("$BIN" price --paths $PATHS "$TMP/t.xml" | awk -F, 'NR > 1 { s += $10; n++ } END { printf "%.3f", 1000 * s / n }')

# latency: one worker, one request at a time
"$BIN" serve --store "$REDIS_URL" --consumer lat --log-every 0 2> "$TMP/lat.err" & PIDS+=($!)
for ((i = 0; i < NREQ; i++)); do
  "$BIN" request --store "$REDIS_URL" --trade $((i % NT)) --paths $PATHS --wait 60 | tail -1
done | awk -F, '{ print $NF }' | sort -g > "$TMP/lat"
kill -TERM "${PIDS[0]}"; wait "${PIDS[0]}" || true
PIDS=()
read -r p50 p99 < <(awk '{ v[NR] = $1 } END { i50 = int(0.50 * NR + 0.999); i99 = int(0.99 * NR + 0.999);
  printf "%.3f %.3f\n", v[i50], v[i99] }' "$TMP/lat")
goal=$(awk -v p="$price_ms" 'BEGIN { printf "%.3f", 2 * p + 2 }')
echo "latency ($NREQ single requests): p50 $p50 ms, p99 $p99 ms; one trade's pricing $price_ms ms;" \
     "goal p99 <= 2 x pricing + 2 ms = $goal ms"

# throughput: a backlog of NT requests, W workers
for ((w = 0; w < W; w++)); do
  "$BIN" serve --store "$REDIS_URL" --consumer "tp$w" --log-every 0 2> "$TMP/tp$w.err" & PIDS+=($!)
done
until [ "$(redis_cli XINFO CONSUMERS finsim:requests finsim | grep -c '^tp')" -ge "$W" ]; do sleep 0.05; done
t0=$(date +%s.%N)
for ((i = 0; i < NT; i++)); do
  echo "XADD finsim:requests * id T$i trade $i paths $PATHS reply finsim:replies:tp"
done | redis_cli > /dev/null
until [ "$(redis_cli XLEN finsim:replies:tp)" -ge "$NT" ]; do sleep 0.02; done
t1=$(date +%s.%N)
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
wait || true
PIDS=()
serve_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
t0=$(date +%s.%N)
mpirun --oversubscribe -np "$W" "$BIN" run --store "$REDIS_URL" --start-trade 0 --trade-window "$NT" \
  --paths $PATHS --no-mirror --progress 0 --output "$TMP/run.h5" > /dev/null 2>&1
t1=$(date +%s.%N)
run_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
awk -v n="$NT" -v s="$serve_s" -v r="$run_s" 'BEGIN {
  printf "throughput (%d requests): serve %.3f s = %.1f trades/s; run %.3f s = %.1f trades/s; serve/run = %.0f %% (goal >= 90 %%)\n",
         n, s, n / s, r, n / r, 100 * r / s }'
