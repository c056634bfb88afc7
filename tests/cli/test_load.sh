# test_load.sh - a million trades, 1 % of them bad, on 2 ranks.
#
# finsim generate writes N trades into a local redis-server; then N/100 of
# them (every trade whose id ends in 37) are overwritten with bad values of
# eight kinds (malformed XML, a hash, a missing attribute, NaN, a negative
# volatility, too many trials, a deleted key, another trade's document).
# finsim run --algorithm synthetic --task-duration 0 on 2 ranks must finish
# with exactly those trades failed, each with its kind's status, and every
# other trade priced (h5check valid N N/100). Peak RSS per rank, from the
# file's telemetry, is at most 64 MB and flat: within 8 MB of a run of N/100
# trades (not asserted in the sanitizer build, where memory figures mean
# little; reported as a partial skip there).
# Environment: FINSIM_LOAD_TRADES (default 1000000; a multiple of 100).
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
N=${FINSIM_LOAD_TRADES:-1000000}
[ $((N % 100)) -eq 0 ] && [ "$N" -ge 100 ] || { echo "FAIL: FINSIM_LOAD_TRADES must be a multiple of 100"; exit 1; }
BAD=$((N / 100))
redis_start
add_cleanup redis_stop
t0=$SECONDS

expect_rc 0 "$FINSIM_BIN" generate --trades "$N" --seed 3 --store "$REDIS_URL"
[ "$(redis-cli -p "$REDIS_PORT" DBSIZE)" = "$N" ] || { echo "FAIL: DBSIZE is not $N"; exit 1; }

# the bad values, as one redis-cli --pipe stream; kinds.txt: "id status"
"$PY" - "$N" "$T/kinds.txt" > "$T/bad.resp" <<'EOF'
import sys
n, kinds_path = int(sys.argv[1]), sys.argv[2]
out = sys.stdout.buffer

def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))

ATTRS = dict(fx1="0.9", start_date="2017-12-29", end_date="2018-08-28", drift="0.01", maturity="0.20",
             t_steps="172", trials="10000", ro="3.8413221829e-05", v="0.0015480737860400", sigma1="0.08",
             warrantsNo="40000", notionalPerWarr="1000", strike="0.8")

def doc(tid, **change):
    a = dict(ATTRS, **change)
    a = {k: v for k, v in a.items() if v is not None}
    at = " ".join(f'{k}="{v}"' for k, v in a.items())
    return f'<AZFINSIM>\n  <trade {at}>{tid:010d}</trade>\n</AZFINSIM>'.encode()

with open(kinds_path, "w") as kinds:
    for k, tid in enumerate(range(37, n, 100)):
        key = f"ey{tid:07d}.xml"
        kind = k % 8
        if kind == 0:
            cmd("SET", key, doc(tid).replace(b"</trade>", b"</trad>")); st = 1
        elif kind == 1:
            cmd("DEL", key); cmd("HSET", key, "fx1", "0.9"); st = 7
        elif kind == 2:
            cmd("SET", key, doc(tid, strike=None)); st = 2
        elif kind == 3:
            cmd("SET", key, doc(tid, sigma1="nan")); st = 3
        elif kind == 4:
            cmd("SET", key, doc(tid, sigma1="-0.5")); st = 4
        elif kind == 5:
            cmd("SET", key, doc(tid, trials="99999999999")); st = 5
        elif kind == 6:
            cmd("DEL", key); st = 6
        else:
            cmd("SET", key, doc(tid + 1)); st = 12
        kinds.write(f"{tid} {st}\n")
EOF
[ "$(wc -l < "$T/kinds.txt")" = "$BAD" ] || { echo "FAIL: $(wc -l < "$T/kinds.txt") bad trades, expected $BAD"; exit 1; }
redis-cli -p "$REDIS_PORT" --pipe < "$T/bad.resp" > "$T/pipe.out"
expect_grep 'errors: 0' "$T/pipe.out"
echo "load: $N trades generated, $BAD made bad in $((SECONDS - t0)) s"

t1=$SECONDS
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" run --store "$REDIS_URL" --algorithm synthetic --task-duration 0 \
  --start-trade 0 --trade-window "$N" --output "$T/load.h5" --progress 0
echo "load: run of $N trades on 2 ranks in $((SECONDS - t1)) s"
grep -E '^(wall time|throughput|peak RSS|trades) ' "$T/last.out" || true
expect_grep "^RESULT: $BAD TRADES FAILED" "$T/last.out"
expect_grep 'more failed trades on this rank are not listed' "$T/last.err"
H5CHECK valid "$T/load.h5" "$N" "$BAD"
# exactly the chosen trades failed, each with its kind's status
"$PY" - "$T/load.h5" "$T/kinds.txt" <<'EOF'
import sys, h5py, numpy as np
r = h5py.File(sys.argv[1], "r")["results"][...]
want = np.loadtxt(sys.argv[2], dtype=np.int64, ndmin=2)
failed = r[r["status"] != 0]
if not np.array_equal(failed["trade_id"], want[:, 0]):
    sys.exit(f"failed ids differ from the chosen ones ({len(failed)} failed)")
if not np.array_equal(failed["status"].astype(np.int64), want[:, 1]):
    i = int(np.nonzero(failed["status"] != want[:, 1])[0][0])
    sys.exit(f"trade {failed['trade_id'][i]}: status {failed['status'][i]}, expected {want[i, 1]}")
ok = r[r["status"] == 0]
if not (np.all(np.isfinite(ok["pv"])) and np.all(ok["pv_stderr"] >= 0)):
    sys.exit("a priced row lacks its figures")
counts = {int(s): int(c) for s, c in zip(*np.unique(want[:, 1], return_counts=True))}
print(f"load: {len(ok)} priced, {len(failed)} failed as chosen, by status {counts}")
EOF
CHECKS=$((CHECKS + 1))

# peak RSS: a window of N/100 trades for the flat comparison
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" run --store "$REDIS_URL" --algorithm synthetic --task-duration 0 \
  --start-trade 0 --trade-window "$((N / 100))" --output "$T/small.h5" --progress 0 --no-mirror
"$PY" - "$T/load.h5" "$T/small.h5" > "$T/rss.txt" <<'PYEOF'
import sys, h5py
big, small = (max(int(x) for x in h5py.File(p, "r")["telemetry"]["peak_rss_kb"]) / 1024.0 for p in sys.argv[1:])
print(f"{big:.1f} {small:.1f}")
PYEOF
read -r RSS_BIG RSS_SMALL < "$T/rss.txt"
echo "load: peak RSS per rank (max over ranks) $RSS_BIG MB for $N trades, $RSS_SMALL MB for $((N / 100))"
if [ "$SANITIZED" = 1 ]; then
  skip_part "peak RSS limits (sanitizer build: ASan's quarantine and runtime make memory figures meaningless)"
else
  "$PY" -c 'import sys; b, s = map(float, sys.argv[1:]); sys.exit(0 if b <= 64.0 else f"peak RSS {b} MB > 64 MB")' \
    "$RSS_BIG" "$RSS_SMALL" || { echo "FAIL: peak RSS above 64 MB" >&2; exit 1; }
  CHECKS=$((CHECKS + 1))
  "$PY" -c 'import sys; b, s = map(float, sys.argv[1:]); sys.exit(0 if b <= s + 8.0 else f"peak RSS grows with the window: {b} vs {s} MB")' \
    "$RSS_BIG" "$RSS_SMALL" || { echo "FAIL: peak RSS not flat" >&2; exit 1; }
  CHECKS=$((CHECKS + 1))
fi
finish
