#!/usr/bin/env bash
# bench_generate.sh - `finsim generate` (one plain process, no mpirun) against
# `redis-cli --pipe` loading the same SETs (same keys, same documents) into a
# fresh local redis-server; prints both times, best of 3, and their ratio.
#   bench/bench_generate.sh [BUILD_DIR]
# Environment: BENCH_TRADES (1000000), BENCH_REPEAT (3).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_with_redis bench_generate "${1:-build}"
N=${BENCH_TRADES:-1000000}
R=${BENCH_REPEAT:-3}
now() { date +%s.%N; }

echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
echo "finsim:  $("$FINSIM" version)"

# The SETs redis-cli sends: the documents generate writes, under its keys
# (trade_key: "ey", at least 7 digits, ".xml"), built from the eyxml file the
# generator writes (one <trade> line per document).
"$FINSIM" generate --trades "$N" --seed 1 --eyxml "$W/all.xml" > /dev/null
/usr/bin/python3 - "$W/all.xml" "$W/sets.resp" <<'PY'
import re, sys
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as f, open(dst, "wb") as out:
    for line in f:
        if not line.startswith(b"  <trade "):
            continue
        doc = b"<AZFINSIM>\n" + line.rstrip(b"\n") + b"\n</AZFINSIM>"
        tid = int(re.search(rb">(-?\d+)</trade>", line).group(1))
        key = b"ey%07d.xml" % tid
        out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(doc), doc))
PY

# measure NAME CMD...: wall time, the client's CPU (user + sys) and the
# server's CPU (INFO cpu) of one load into an emptied server, appended to
# $W/NAME.t as "wall client server".
server_cpu() {
  redis-cli -p "$REDIS_PORT" info cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'
}
measure() {
  local name=$1
  shift
  redis-cli -p "$REDIS_PORT" flushall > /dev/null
  local c0 t0 t1 c1
  c0=$(server_cpu)
  t0=$(now)
  /usr/bin/time -f "%U %S" -o "$W/time.out" "$@"
  t1=$(now)
  c1=$(server_cpu)
  echo "$t0 $t1 $(tail -1 "$W/time.out") $c0 $c1" |
    awk '{ printf "%.3f %.2f %.2f\n", $2 - $1, $3 + $4, $6 - $5 }' >> "$W/$name.t"
}
for ((i = 0; i < R; i++)); do
  measure pipe sh -c "redis-cli -p $REDIS_PORT --pipe < '$W/sets.resp' > '$W/pipe.out'"
  grep -q "errors: 0, replies: $N" "$W/pipe.out" || { cat "$W/pipe.out" >&2; exit 1; }
  [ -s "$W/sample.pipe" ] || redis-cli -p "$REDIS_PORT" get ey0000007.xml > "$W/sample.pipe"
  measure gen sh -c "'$FINSIM' generate --trades $N --seed 1 --store '$REDIS_URL' > /dev/null 2>&1"
  [ "$(redis-cli -p "$REDIS_PORT" dbsize)" = "$N" ] || { echo "generate stored the wrong number of keys" >&2; exit 1; }
done
# both loads wrote the same document under the same key
redis-cli -p "$REDIS_PORT" get ey0000007.xml | cmp -s - "$W/sample.pipe" || { echo "documents differ" >&2; exit 1; }
# best of the runs, each column on its own
best() { awk -v c="$2" '{ print $c }' "$W/$1.t" | sort -g | head -1; }
runs() { awk '{ printf "%s ", $1 }' "$W/$1.t"; }
P=$(best pipe 1) G=$(best gen 1)
echo "                                   best wall   client CPU  server CPU  (walls of all runs)"
printf "redis-cli --pipe, %d SETs:    %8.3f s  %8.2f s  %8.2f s   (%s)\n" "$N" "$P" "$(best pipe 2)" "$(best pipe 3)" "$(runs pipe)"
printf "finsim generate, 1 process:      %8.3f s  %8.2f s  %8.2f s   (%s)\n" "$G" "$(best gen 2)" "$(best gen 3)" "$(runs gen)"
awk -v g="$G" -v p="$P" 'BEGIN { printf "ratio generate / redis-cli --pipe (best wall): %.2f (goal <= 1.2)\n", g / p }'
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
