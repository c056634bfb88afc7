#!/usr/bin/env bash
# bench_ratios.sh - the pipeline's rates against the raw Redis rate, side by
# side in one run on whatever CPU the machine has (prints figures; not a test).
#   bench/bench_ratios.sh [BUILD_DIR]        (default build; ~2-4 min)
# On a fresh local redis-server (tests/lib/redis.sh):
#   pipe      redis-cli --pipe of N ready-made SETs of the trade documents
#             (the keys and bytes finsim generate writes; the protocol file
#             is built once, outside the timing)
#   generate  finsim generate --trades N --store URL, one plain process
#   run       mpirun -np 2 finsim run --algorithm synthetic --task-duration 0
#             --batch 5000 over the N trades (zero work: the pipeline alone),
#             wall time including mpirun, with its per-phase report lines
#   parse     build/bench/bench_parse 100000 5 1000, ns per trade (wall) of
#             trade_parse_batch over batches of 1000 documents: the path
#             the Redis store's reads take (its default batch of 1000 keys)
#   price     finsim price start-up on one trade file outside mpirun
#             (bench/bench_startup.sh), min over its runs
# Each of pipe, generate and run is repeated BENCH_REPEATS times (default 3,
# interleaved) and the best is kept. Goals: generate <= 1.2 x pipe, run <=
# 2.5 x pipe, parse <= 1500 ns/trade, price start-up <= 20 ms.
# Environment: BENCH_REPEATS (3), BENCH_TRADES (1000000), BENCH_RUNS (price
# start-up runs, 10).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
N=${BENCH_TRADES:-1000000}
REPEATS=${BENCH_REPEATS:-3}
command -v redis-cli > /dev/null || { echo "bench_ratios: needs redis-cli" >&2; exit 2; }
source bench/lib.sh
bench_with_redis bench_ratios "${1:-build}"
BUILD=$(dirname "$FINSIM")
cmake --build "$BUILD" -j2 --target bench_parse > /dev/null
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
# secs CMD...: run CMD (output to $W/last.out), print its wall seconds
secs() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" > "$W/last.out" 2>&1 || { echo "bench_ratios: failed: $*" >&2; tail -5 "$W/last.out" >&2; exit 1; }
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
best() { sort -n | head -1; }

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "finsim:  $("$FINSIM" version)"

# the protocol file: the documents finsim generate writes, read back once
"$FINSIM" generate --trades "$N" --seed 1 --store "$REDIS_URL" > /dev/null 2>&1
$PY - "$REDIS_PORT" "$N" "$W/sets.resp" <<'PY'
import socket, sys
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
def cmd(*args):
    b = [b"*%d\r\n" % len(args)]
    for a in args:
        b.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(b)
with open(out, "wb") as o:
    for lo in range(0, n, 10000):
        keys = [b"ey%07d.xml" % i for i in range(lo, min(n, lo + 10000))]
        s.sendall(cmd(b"MGET", *keys))
        assert f.readline().startswith(b"*")
        for k in keys:
            ln = int(f.readline()[1:])
            assert ln > 0, k
            v = f.read(ln + 2)[:-2]
            o.write(cmd(b"SET", k, v))
PY
echo "protocol: $N SETs, $(($(stat -c %s "$W/sets.resp") / 1048576)) MiB"

: > "$W/pipe"; : > "$W/gen"; : > "$W/run"
for r in $(seq "$REPEATS"); do
    rcli FLUSHALL > /dev/null
    secs sh -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT --pipe < $W/sets.resp" >> "$W/pipe"; echo >> "$W/pipe"
    grep -q "errors: 0, replies: $N" "$W/last.out" || { echo "bench_ratios: --pipe: $(tail -1 "$W/last.out")" >&2; exit 1; }
    rcli FLUSHALL > /dev/null
    secs "$FINSIM" generate --trades "$N" --seed 1 --store "$REDIS_URL" >> "$W/gen"; echo >> "$W/gen"
    secs mpirun -np 2 "$FINSIM" run --store "$REDIS_URL" --algorithm synthetic --task-duration 0 --start-trade 0 \
        --trade-window "$N" --batch 5000 --output "$W/syn.h5" --force --progress 0 --quiet >> "$W/run"
    echo >> "$W/run"
    cp "$W/last.out" "$W/run.$r.out"
    echo "repeat $r: pipe $(tail -1 "$W/pipe") s, generate $(tail -1 "$W/gen") s, run $(tail -1 "$W/run") s," \
        "load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
PIPE=$(best < "$W/pipe"); GEN=$(best < "$W/gen"); RUN=$(best < "$W/run")
RBEST=$(grep -n . "$W/run" | sort -t: -k2 -n | head -1 | cut -d: -f1)
PARSE=$("$BUILD/bench/bench_parse" 100000 5 1000 | sed -n 's/^trade_parse_batch: \([0-9]*\) ns\/trade wall.*/\1/p')
START=$(BENCH_RUNS=${BENCH_RUNS:-10} BENCH_STARTUP_ITEMS=price bash "$ROOT/bench/bench_startup.sh" "$BUILD" |
    sed -n 's/^price, 1 trade.* min *\([0-9.]*\) ms.*/\1/p')

echo
echo "zero-work run, best of $REPEATS (repeat $RBEST), per phase per rank (min / mean / max):"
grep -E '^ *(fetch|parse|compute|mirror|write|total) +[0-9.]+ +[0-9.]+ +[0-9.]+ *$' "$W/run.$RBEST.out" | sed 's/^ */  /' || true
echo
$PY - "$N" "$PIPE" "$GEN" "$RUN" "$PARSE" "$START" <<'PY'
import sys
n = int(sys.argv[1]); pipe, gen, run, parse, start = map(float, sys.argv[2:7])
rows = [
    ("redis-cli --pipe, %d SETs" % n, "%.2f s" % pipe, "", "", ""),
    ("finsim generate, %d trades, 1 process" % n, "%.2f s" % gen, "%.2f x pipe" % (gen / pipe), "<= 1.2 x", gen / pipe <= 1.2),
    ("zero-work run, %d trades, 2 ranks" % n, "%.2f s" % run, "%.2f x pipe" % (run / pipe), "<= 2.5 x", run / pipe <= 2.5),
    ("bench_parse 100000 5 1000 (trade_parse_batch, batches of 1000, as the store reads)", "%.0f ns/trade" % parse, "", "<= 1500 ns", parse <= 1500),
    ("finsim price start-up, 1 trade", "%.1f ms" % start, "", "<= 20 ms", start <= 20),
]
print("| item | time | ratio | goal | met |")
print("|---|---|---|---|---|")
for name, t, ratio, goal, ok in rows:
    met = "" if goal == "" else ("met" if ok else "not met")
    print(f"| {name} | {t} | {ratio} | {goal} | {met} |")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
