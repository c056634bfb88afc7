#!/usr/bin/env bash
# The finsim demo, end to end: build, generate trades, run the MPI job,
# read the HDF5 results back.
#   scripts/demo.sh [file|redis]   (default: file - the embedded trade file, no server)
# Environment: DEMO_TRADES (2000), DEMO_RANKS (2), DEMO_ALGORITHM (deltavega).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STORE_KIND=${1:-file}
TRADES=${DEMO_TRADES:-2000}
RANKS=${DEMO_RANKS:-2}
ALGO=${DEMO_ALGORITHM:-deltavega}

bash scripts/build.sh build
FINSIM=$ROOT/build/finsim
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # only needed as root
OUT=${DEMO_DIR:-$(mktemp -d /tmp/finsim-demo.XXXXXX)}
mkdir -p "$OUT"

case "$STORE_KIND" in
  file)
    STORE=$OUT/trades.h5
    ;;
  redis)
    # shellcheck source=../tests/lib/redis.sh
    source tests/lib/redis.sh
    redis_start
    trap redis_stop EXIT
    STORE=$REDIS_URL
    ;;
  *) echo "usage: scripts/demo.sh [file|redis]" >&2; exit 2 ;;
esac

echo
echo "== 1. generate $TRADES trades (AzFinSim distributions, seed 1) into $STORE"
"$FINSIM" generate --trades "$TRADES" --seed 1 --store "$STORE"

echo
echo "== 2. mpirun -np $RANKS finsim run ($ALGO)"
mpirun --oversubscribe -np "$RANKS" "$FINSIM" run --store "$STORE" --algorithm "$ALGO" \
  --start-trade 0 --trade-window "$TRADES" --seed 1 --output "$OUT/results.h5" --progress 5

echo
echo "== 3. the HDF5 results, read back"
h5dump -H -d /results "$OUT/results.h5"
/usr/bin/python3 - "$OUT/results.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    r = f["results"][...]
    a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    for k in ("finsim_version", "command_line", "algorithm", "seed", "ranks", "hosts", "start_time", "end_time"):
        print(f"  {k:15s} {a[k]}")
    t = f["telemetry"][...]
    for row in t:
        print(f"  rank {row['rank']}: fetch {row['fetch_seconds']:.3f} s, compute {row['compute_seconds']:.3f} s, "
              f"mirror {row['mirror_seconds']:.3f} s, write {row['write_seconds']:.3f} s, {row['trades']} trades")
    print(f"{len(r)} results, {int((r['status'] != 0).sum())} failed, checksum {a['checksum']}")
    print(f"{'trade_id':>8} {'pv':>14} {'pv_stderr':>10} {'delta':>12} {'delta_se':>10} {'vega':>12} {'vega_se':>10}")
    for row in r[:5]:
        print(f"{row['trade_id']:>8} {row['pv']:>14.2f} {row['pv_stderr']:>10.2f} {row['delta']:>12.4f} "
              f"{row['delta_stderr']:>10.4f} {row['vega']:>12.4f} {row['vega_stderr']:>10.4f}")
    ok = r[r['status'] == 0]
    print(f"portfolio PV {ok['pv'].sum():.2f} +/- {np.sqrt((ok['pv_stderr']**2).sum()):.2f}")
PY
echo
echo "demo files in $OUT"
