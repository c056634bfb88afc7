#!/usr/bin/env bash
# bench_pipeline.sh - figures for the whole pipeline (prints them; not a test).
#   bench/bench_pipeline.sh [BUILD_DIR]
# 1. generate-and-load rate into a local redis-server (1,000,000 trades)
# 2. end to end: 1,000,000 synthetic zero-work trades, 2 ranks + redis-server
# 3. parallel efficiency 1 -> 2 ranks on a compute-bound pvonly run
# 4. peak RSS per rank for 10^4 and 10^6 trade windows
# Environment: BENCH_TRADES (1000000), BENCH_PV_TRADES (400).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_with_redis bench_pipeline "${1:-build}"
N=${BENCH_TRADES:-1000000}
NPV=${BENCH_PV_TRADES:-400}
now() { date +%s.%N; }
el() { /usr/bin/python3 -c "print(f'{$2 - $1:.2f}')"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "finsim:  $("$FINSIM" version)"
echo

t0=$(now)
mpirun -np 2 "$FINSIM" generate --trades "$N" --seed 1 --store "$REDIS_URL" --batch 2000 2>&1 | tail -1
t1=$(now)
echo "generate+load $N trades into redis (2 ranks):   $(el "$t0" "$t1") s wall (incl. mpirun start)"
echo "  redis used_memory: $(redis-cli -p "$REDIS_PORT" info memory | sed -n 's/^used_memory_human://p' | tr -d '\r')"

t0=$(now)
mpirun -np 2 "$FINSIM" run --store "$REDIS_URL" --algorithm synthetic --task-duration 0 --start-trade 0 \
  --trade-window "$N" --batch 2000 --output "$W/synthetic.h5" --progress 0 --quiet > "$W/syn.out"
t1=$(now)
E2E=$(el "$t0" "$t1")
echo "end to end, $N synthetic zero-work trades, 2 ranks:   $E2E s wall (incl. mpirun start)"
grep -E '^(  fetch|  parse|  compute|  mirror|  write|  total|throughput|peak RSS)' "$W/syn.out" | sed 's/^/  /'
/usr/bin/python3 -c "print(f'  overhead per trade per rank: {$E2E / $N * 2 * 1e6:.1f} us')"
echo

for r in 1 2; do
  mpirun -np $r "$FINSIM" run --store "$REDIS_URL" --algorithm pvonly --start-trade 0 --trade-window "$NPV" \
    --output "$W/pv$r.h5" --progress 0 --quiet --no-mirror > "$W/pv$r.out"
  eval "T$r=$(sed -n 's/^wall time *: \([0-9.]*\) s/\1/p' "$W/pv$r.out")"
done
/usr/bin/python3 - "$T1" "$T2" "$NPV" <<'PY'
import sys
t1, t2, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"pvonly {n} trades x 10000 paths: 1 rank {t1:.2f} s, 2 ranks {t2:.2f} s, "
      f"speed-up {t1/t2:.2f}, parallel efficiency {t1/t2/2*100:.1f} %  ({t1/n*1000:.2f} ms/trade on 1 rank)")
PY
/usr/bin/python3 "$ROOT/tests/h5check.py" same "$W/pv1.h5" "$W/pv2.h5" | sed 's/^/  /'
echo

for w in 10000 "$N"; do
  mpirun -np 2 "$FINSIM" run --store "$REDIS_URL" --algorithm synthetic --start-trade 0 --trade-window "$w" \
    --output "$W/rss$w.h5" --progress 0 --quiet --no-mirror > "$W/rss$w.out"
  /usr/bin/python3 - "$W/rss$w.h5" "$w" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    t = f["telemetry"][...]
print(f"peak RSS per rank, window {int(sys.argv[2]):>8}: " + ", ".join(f"rank {r['rank']}: {r['peak_rss_kb']/1024:.1f} MB" for r in t))
PY
done
