# test_store_failover.sh - a failover in the middle of a run: the Redis node
# the run talks to becomes a replica (REPLICAOF), so every write is answered
# -READONLY, and is promoted back (REPLICAOF NO ONE) once the run has said it
# is retrying. Within --store-retry that costs a pause, not the job: the
# backend treats READONLY like a lost connection (reconnect with backoff,
# authenticate again, resend the batch). The run ends with RESULT: OK, one
# retry warning naming READONLY and one "back after", /results bitwise equal
# to an uninterrupted run, and every result mirrored. Each flip waits on an
# event of the run (its first progress event, then its retry warning).
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
N=120
RUN=(run --algorithm synthetic --task-duration 12 --seed 4 --start-trade 0 --trade-window $N --batch 8)
gen() { "$FINSIM_BIN" generate --trades $N --seed 9 --store "$1" > /dev/null; }

# the uninterrupted reference (file store, no mirror)
gen "$T/trades.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --progress 0 --store "$T/trades.h5" --no-mirror --output "$T/ref.h5"

export FINSIM_REDIS_PASSWORD=failover-pw-7
redis_start --requirepass "$FINSIM_REDIS_PASSWORD"
add_cleanup redis_stop
gen "$REDIS_URL"
# a master that does not exist (a free port nobody listens on): the node
# stays a replica that keeps its data and refuses writes
DEAD=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/f.h5" --store-retry 60 \
  --progress 0.001 --events "$T/f.events" > "$T/f.out" 2> "$T/f.err" & P=$!
add_cleanup "kill $P 2>/dev/null"
wait_for 60 "progress event" grep -qs '"event":"progress"' "$T/f.events"
[ "$(redis_cli REPLICAOF 127.0.0.1 "$DEAD")" = OK ] || { echo "FAIL: REPLICAOF refused" >&2; exit 1; }
# (or the run's end: without the retry, READONLY ended it with exit 3)
retrying() { grep -qs 'READONLY.*retrying for up to 60 s' "$T/f.err"; }
wait_for 120 "retry warning" eval 'retrying || ! kill -0 $P 2>/dev/null'
retrying || { wait $P || true; echo "FAIL: the run did not retry after READONLY:" >&2; tail -5 "$T/f.err" >&2; exit 1; }
[ "$(redis_cli REPLICAOF NO ONE)" = OK ] || { echo "FAIL: REPLICAOF NO ONE refused" >&2; exit 1; }
rc=0; wait $P || rc=$?
expect_status 0 "$rc" "run through a failover of its store" "$T/f.out" "$T/f.err"
expect_grep 'RESULT: OK' "$T/f.out"
expect_grep "store redis://127.0.0.1:$REDIS_PORT/0 unreachable \(MSET .*READONLY.*\), retrying for up to 60 s" "$T/f.err"
expect_grep "store redis://127.0.0.1:$REDIS_PORT/0 back after [0-9.]+ s" "$T/f.err"
H5CHECK same "$T/ref.h5" "$T/f.h5"
# every result is mirrored: a resume prices nothing
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --progress 0 --store "$REDIS_URL" --resume --force --output "$T/f.h5"
expect_grep "resumed $N\\)" "$T/last.out"
finish
