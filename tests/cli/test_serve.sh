# test_serve.sh - finsim serve and finsim request against a real redis-server:
# answers equal 'finsim price' bit for bit (given and default algorithm,
# paths, seed), the result is mirrored, three workers answer 300 requests
# while one is SIGKILLed holding a pending request (another claims it), a
# poison request ends in the dead letters after --max-deliveries, priority
# streams with a backlog, SIGTERM finishes and acknowledges the current
# request and exits 0, workers under mpirun, finsim request end to end,
# --status, --events and the key prefix. Every wait polls Redis with a
# deadline; nothing sleeps a fixed time.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
redis_start
add_cleanup redis_stop
CLI() { redis_cli "$@"; }
add_cleanup '[ "${DEBUG_SERVE:-}" ] && tail -n "${DEBUG_SERVE_LINES:-5}" "$T"/*.err >&2'
WORKERS=()
add_cleanup 'for w in "${WORKERS[@]}"; do kill -KILL "$w" 2>/dev/null || true; done'
NT=60
expect_rc 0 "$FINSIM_BIN" generate --trades $NT --seed 9 --store "$REDIS_URL"
"$FINSIM_BIN" generate --trades $NT --seed 9 --eyxml "$T/trades.xml" > /dev/null

# reference rows of finsim price: trade_id,status,pv..vega_stderr,paths (compute_s cut)
ref() { # NAME price-options...
  local name=$1; shift
  "$FINSIM_BIN" price "$@" "$T/trades.xml" | tail -n +2 | cut -d, -f1-9 > "$T/ref.$name"
}
ref default --seed 1
ref p1000s5 --seed 5 --paths 1000
ref dv --seed 3 --paths 2000 --algorithm deltavega
ref p3000s5 --seed 5 --paths 3000

# answers STREAM > FILE: one CSV line per answer:
# id,trade,status,pv,pv_stderr,delta,delta_stderr,vega,vega_stderr,paths,worker,error
answers() {
  CLI --raw XRANGE "$1" - + | "$PY" -c '
import re, sys
lines = sys.stdin.read().split("\n")
keys = ["id","trade","status","pv","pv_stderr","delta","delta_stderr","vega","vega_stderr","paths","worker","error"]
i, out = 0, []
while i < len(lines):
    if not re.fullmatch(r"\d+-\d+", lines[i]):
        i += 1; continue
    i += 1; d = {}
    while i + 1 < len(lines) and not re.fullmatch(r"\d+-\d+", lines[i]) and lines[i] in keys + ["latency_ms"]:
        d[lines[i]] = lines[i + 1]; i += 2
    out.append(",".join(d.get(k, "") for k in keys))
print("\n".join(out))'
}
# check_answers FILE REF: every answer with status 0 equals the reference row of its trade
check_answers() {
  "$PY" - "$1" "$2" <<'EOF' || { echo "FAIL: answers in $1 differ from finsim price ($2)" >&2; exit 1; }
import sys
ref = {l.split(",")[0]: l.strip() for l in open(sys.argv[2]) if l.strip()}
n = 0
for l in open(sys.argv[1]):
    f = l.rstrip("\n").split(",")
    if len(f) < 10 or f[2] != "0":
        continue
    got = ",".join([f[1]] + f[2:10])
    if got != ref[f[1]]:
        print("answer", f[0], got, "!= price", ref[f[1]], file=sys.stderr); sys.exit(1)
    n += 1
if n == 0:
    print("no answer to compare", file=sys.stderr); sys.exit(1)
EOF
  CHECKS=$((CHECKS + 1))
}
xlen() { CLI XLEN "$1"; }
pending() { CLI XPENDING "$1" "${2:-finsim}" | head -1; }
start_worker() { # NAME serve-options...: background worker, pid in $WPID
  local name=$1; shift
  "$FINSIM_BIN" serve --store "$REDIS_URL" --consumer "$name" --log-every 0 "$@" \
    > "$T/$name.out" 2> "$T/$name.err" & WPID=$!
  WORKERS+=("$WPID")
}
# held_by STREAM CONSUMER: how many requests CONSUMER holds (pending) on STREAM
held_by() { CLI XPENDING "$1" finsim - + 100 "$2" | grep -c . || true; }
has_consumer() { CLI XINFO CONSUMERS "$1" "${3:-finsim}" 2>/dev/null | grep -qx "$2"; }

# ---- answers equal finsim price; defaults are run's; the result is mirrored ----
expect_rc 2 "$FINSIM_BIN" serve
expect_grep "store URL is required" "$T/last.err"
expect_rc 2 "$FINSIM_BIN" serve --store "$T/trades.h5"
expect_grep "must be a Redis URL" "$T/last.err"
start_worker w0 --claim-idle 60000
for i in $(seq 0 9); do
  CLI XADD finsim:requests '*' id d$i trade $i > /dev/null
  CLI XADD finsim:requests '*' id p$i trade $i seed 5 paths 1000 reply finsim:replies:p > /dev/null
  CLI XADD finsim:requests '*' id v$i trade $i seed 3 paths 2000 algorithm deltavega reply finsim:replies:v > /dev/null
done
wait_for 120 "30 answers" eval 'test "$(( $(xlen finsim:replies) + $(xlen finsim:replies:p) + $(xlen finsim:replies:v) ))" -ge 30'
wait_for 60 "no pending request" eval 'test "$(pending finsim:requests)" = 0'
answers finsim:replies > "$T/a.default"
answers finsim:replies:p > "$T/a.p"
answers finsim:replies:v > "$T/a.v"
check_answers "$T/a.default" "$T/ref.default"
check_answers "$T/a.p" "$T/ref.p1000s5"
check_answers "$T/a.v" "$T/ref.dv"
expect_grep "^v3,3,0,.*,2000,w0,$" "$T/a.v"
# the mirror holds the last pricing of trade 3 (deltavega, seed 3) as run writes it
pv3=$(grep "^v3," "$T/a.v" | cut -d, -f4)
CLI --raw GET ey0000003_result.xml > "$T/mirror3"
expect_grep "pv=\"$pv3\"" "$T/mirror3"
# latency_ms and worker are in every answer
[ "$(CLI --raw XRANGE finsim:replies - + | grep -c '^latency_ms$')" = 10 ] || { echo "FAIL: latency_ms missing" >&2; exit 1; }

# ---- finsim request end to end ----
expect_rc 0 "$FINSIM_BIN" request --store "$REDIS_URL" --trade 7 --seed 5 --paths 1000 --wait 60
expect_grep "^trade_id,status,pv,pv_stderr,delta,delta_stderr,vega,vega_stderr,paths,latency_ms$" "$T/last.out"
tail -1 "$T/last.out" | cut -d, -f1-9 > "$T/req7"
expect_grep "^$(grep '^7,' "$T/ref.p1000s5")$" "$T/req7"
expect_rc 2 "$FINSIM_BIN" request --store "$REDIS_URL"
expect_grep "trade ID is required" "$T/last.err"

# ---- --status ----
expect_rc 0 "$FINSIM_BIN" serve --store "$REDIS_URL" --status
expect_grep "^stream finsim:requests: length 31, pending 0, consumers 1" "$T/last.out"
expect_grep "^  consumer w0: pending 0" "$T/last.out"
expect_grep "^dead letters finsim:requests:dead: 0$" "$T/last.out"

# ---- SIGTERM: the current request is finished, acknowledged, exit 0 ----
CLI XADD finsim:requests '*' id slow trade 11 paths 1000000 reply finsim:replies:slow > /dev/null
taken() { [ "$(held_by finsim:requests w0)" -ge 1 ] || [ "$(xlen finsim:replies:slow)" = 1 ]; }
wait_for 60 "w0 to take the slow request" taken
kill -TERM "$WPID"
rc=0; wait "$WPID" || rc=$?
expect_status 0 "$rc" "serve after SIGTERM" "$T/w0.out" "$T/w0.err"
expect_grep "SIGTERM: the current request was finished" "$T/w0.err"
[ "$(xlen finsim:replies:slow)" = 1 ] || { echo "FAIL: the request in progress at SIGTERM was not answered" >&2; exit 1; }
[ "$(pending finsim:requests)" = 0 ] || { echo "FAIL: the request in progress at SIGTERM was not acknowledged" >&2; exit 1; }
# SIGINT: the same, when idle
start_worker w0i
wait_for 60 "w0i in the group" has_consumer finsim:requests w0i
kill -INT "$WPID"
rc=0; wait "$WPID" || rc=$?
expect_status 0 "$rc" "serve after SIGINT" "$T/w0i.out" "$T/w0i.err"

# ---- a poison request ends in the dead letters after --max-deliveries ----
CLI XADD finsim:requests '*' id bad1 trade 999999 reply finsim:replies:bad > /dev/null
CLI XADD finsim:requests '*' id bad2 trade x12 reply finsim:replies:bad > /dev/null
# a reply stream that is a string: the answer cannot be written, the request is never acknowledged
CLI SET finsim:replies:str x > /dev/null
CLI XADD finsim:requests '*' id bad3 trade 1 reply finsim:replies:str > /dev/null
start_worker w1 --claim-idle 200 --max-deliveries 2
wait_for 120 "three dead letters" eval 'test "$(xlen finsim:requests:dead)" = 3'
wait_for 60 "no pending request" eval 'test "$(pending finsim:requests)" = 0'
CLI --raw XRANGE finsim:requests:dead - + > "$T/dead"
expect_grep "not found" "$T/dead"
expect_grep "is not a trade id" "$T/dead"
expect_grep "delivered 2 times and never answered" "$T/dead"
[ "$(grep -x -A1 deliveries "$T/dead" | grep -cx 2)" = 2 ] && [ "$(grep -x -A1 deliveries "$T/dead" | grep -cx 3)" = 1 ] || { echo "FAIL: dead letters without 2 deliveries" >&2; exit 1; }
answers finsim:replies:bad > "$T/a.bad"
expect_grep "^bad1,999999,6,,,,,,,0,w1,.*not found" "$T/a.bad"
expect_grep "^bad2,x12,1,.*is not a trade id" "$T/a.bad"
expect_grep "went to finsim:requests:dead after 2 deliveries" "$T/w1.err"
kill -TERM "$WPID"; wait "$WPID" || true

# ---- priorities: with a backlog, the high stream is served first ----
CLI DEL finsim:replies:prio > /dev/null
for i in $(seq 0 4); do
  CLI XADD finsim:requests '*' id low$i trade $i reply finsim:replies:prio > /dev/null
done
for i in $(seq 0 4); do
  CLI XADD finsim:requests:high '*' id high$i trade $((i + 10)) reply finsim:replies:prio > /dev/null
done
start_worker w2 --streams finsim:requests:high,finsim:requests
wait_for 120 "10 prioritised answers" eval 'test "$(xlen finsim:replies:prio)" = 10'
answers finsim:replies:prio | cut -d, -f1 | tr '\n' ' ' > "$T/prio.order"
expect_grep "^high0 high1 high2 high3 high4 low0 low1 low2 low3 low4 $" "$T/prio.order"
# finsim request --priority high goes through the high stream
expect_rc 0 "$FINSIM_BIN" request --store "$REDIS_URL" --trade 12 --priority high --wait 60
expect_grep "^$(grep '^12,' "$T/ref.default")," "$T/last.out"
kill -TERM "$WPID"; wait "$WPID" || true

# ---- three workers, 300 requests, one SIGKILLed holding a pending request ----
CLI DEL finsim:replies:load > /dev/null
for w in a b c; do start_worker load$w --claim-idle 1000 --events "$T/events.$w" --log-every 0.5; done
PIDS=("${WORKERS[@]: -3}")
for w in a b c; do wait_for 60 "load$w in the group" has_consumer finsim:requests load$w; done
{
  for i in $(seq 1 300); do
    echo "XADD finsim:requests * id L$i trade $((i % NT)) seed 5 paths 3000 reply finsim:replies:load"
  done
} | CLI > /dev/null
# stop worker loadb when it holds a request, then kill it: that request stays pending on it
victim=${PIDS[1]}
held=0
end=$((SECONDS + 120))
while [ "$SECONDS" -lt "$end" ]; do
  kill -STOP "$victim"
  if [ "$(held_by finsim:requests loadb)" -ge 1 ]; then held=1; break; fi
  kill -CONT "$victim"
  [ "$(xlen finsim:replies:load)" -lt 300 ] || break
done
[ "$held" = 1 ] || { echo "FAIL: never caught loadb holding a request" >&2; exit 1; }
CLI XPENDING finsim:requests finsim - + 10 loadb > "$T/held"
kill -KILL "$victim"; wait "$victim" || true
wait_for 800 "300 answered requests" eval 'test "$(answers finsim:replies:load | cut -d, -f1 | sort -u | wc -l)" = 300'
wait_for 120 "no pending request" eval 'test "$(pending finsim:requests)" = 0'
answers finsim:replies:load > "$T/a.load"
check_answers "$T/a.load" "$T/ref.p3000s5"
# the request held by the killed worker was claimed and answered by another
heldid=$(head -1 "$T/held")
cat "$T/loada.err" "$T/loadc.err" > "$T/loadac.err"
expect_grep "claimed request $heldid" "$T/loadac.err"
# duplicates (possible after a claim) carry the same figures
"$PY" - "$T/a.load" <<'EOF' || { echo "FAIL: duplicate answers differ" >&2; exit 1; }
import sys
seen = {}
for l in open(sys.argv[1]):
    f = l.split(",")
    if f[0] in seen and seen[f[0]] != f[1:10]:
        sys.exit(1)
    seen[f[0]] = f[1:10]
EOF
kill -TERM "${PIDS[0]}" "${PIDS[2]}"
wait "${PIDS[0]}" || true
wait "${PIDS[2]}" || true
cat "$T/events.a" "$T/events.c" > "$T/events.ac"
expect_grep '"event":"serve","worker":"load[ac]".*"p99_ms":' "$T/events.ac"

# ---- workers under mpirun: every rank a consumer NAME:rank; the key prefix applies ----
expect_rc 0 "$FINSIM_BIN" generate --trades 20 --seed 9 --store "$REDIS_URL" --key-prefix pf:
mpirun --oversubscribe -np 2 "$FINSIM_BIN" serve --store "$REDIS_URL" --key-prefix pf: --consumer m \
  --idle-exit 3 --log-every 0 > "$T/mpi.out" 2> "$T/mpi.err" & MP=$!
WORKERS+=("$MP")
wait_for 120 "ranks 0 and 1 in the group" eval 'has_consumer pf:finsim:requests m:0 && has_consumer pf:finsim:requests m:1'
for i in $(seq 0 19); do CLI XADD pf:finsim:requests '*' id m$i trade $i > /dev/null; done
wait_for 120 "20 answers under mpirun" eval 'test "$(xlen pf:finsim:replies)" = 20'
rc=0; wait "$MP" || rc=$?
expect_status 0 "$rc" "mpirun serve --idle-exit" "$T/mpi.out" "$T/mpi.err"
answers pf:finsim:replies > "$T/a.mpi"
check_answers "$T/a.mpi" "$T/ref.default"
[ "$(xlen finsim:replies)" = 10 ] || { echo "FAIL: a prefixed worker wrote to unprefixed keys" >&2; exit 1; }
CLI EXISTS pf:ey0000005_result.xml > "$T/pfmirror"
expect_grep "^1$" "$T/pfmirror"

# ---- the least-privileged ACL user of docs/SERVE.md; without +xack: exit 4 naming it ----
SERVE_ACL=('~ey*' '~finsim:*' +getrange +type +mset +multi +discard +xgroup +xreadgroup +xautoclaim +xpending
  +xadd +xack)
CLI ACL SETUSER svc reset on '>svc-pw' "${SERVE_ACL[@]}" > /dev/null
CLI ACL SETUSER svc2 reset on '>svc-pw' "${SERVE_ACL[@]:0:${#SERVE_ACL[@]}-1}" > /dev/null
acl_case() { # USER STREAM WANT_RC
  CLI XADD "$2" '*' id acl-$1 trade 2 reply "finsim:replies:$1" > /dev/null
  local rc=0
  FINSIM_REDIS_PASSWORD=svc-pw "$FINSIM_BIN" serve --store "redis://$1@127.0.0.1:$REDIS_PORT" --streams "$2" \
    --idle-exit 2 --log-every 0 > "$T/acl-$1.out" 2> "$T/acl-$1.err" || rc=$?
  expect_status "$3" "$rc" "serve as ACL user $1" "$T/acl-$1.out" "$T/acl-$1.err"
  answers "finsim:replies:$1" > "$T/a.acl-$1"
  check_answers "$T/a.acl-$1" "$T/ref.default"
}
acl_case svc finsim:requests:acl 0
[ "$(pending finsim:requests:acl)" = 0 ] || { echo "FAIL: the ACL user's request was not acknowledged" >&2; exit 1; }
acl_case svc2 finsim:requests:acl2 4
expect_grep "NOPERM.*xack" "$T/acl-svc2.err"

# ---- TLS with a password (rediss://): a worker and finsim request ----
if "$FINSIM_BIN" version | grep -q 'TLS yes'; then
  redis_stop
  PW="pw-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
  redis_start_tls optional --requirepass "$PW"
  TLS=(--store "$REDIS_TLS_URL" --tls-ca "$REDIS_CA")
  expect_rc 0 env FINSIM_REDIS_PASSWORD="$PW" "$FINSIM_BIN" generate --trades 20 --seed 9 "${TLS[@]}"
  FINSIM_REDIS_PASSWORD="$PW" "$FINSIM_BIN" serve "${TLS[@]}" --consumer tls --log-every 0 \
    > "$T/tls.out" 2> "$T/tls.err" & WPID=$!
  WORKERS+=("$WPID")
  expect_rc 0 env FINSIM_REDIS_PASSWORD="$PW" "$FINSIM_BIN" request "${TLS[@]}" --trade 4 --seed 5 --paths 1000 --wait 60
  tail -1 "$T/last.out" | cut -d, -f1-9 > "$T/req-tls"
  expect_grep "^$(grep '^4,' "$T/ref.p1000s5")$" "$T/req-tls"
  expect_no_grep "$PW" "$T/tls.err"
  kill -TERM "$WPID"
  rc=0; wait "$WPID" || rc=$?
  expect_status 0 "$rc" "serve over TLS after SIGTERM" "$T/tls.out" "$T/tls.err"
else
  skip_part "serve over TLS: this finsim was built without TLS"
fi

finish
