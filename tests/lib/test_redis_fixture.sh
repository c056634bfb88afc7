#!/usr/bin/env bash
# test_redis_fixture.sh - checks tests/lib/redis.sh: start on an OS-picked
# port, unix socket, password via REDISCLI_AUTH, kill/restart, TLS, cleanup.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/redis.sh"
trap redis_stop EXIT

fails=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
eq() { [ "$1" = "$2" ] || { echo "  got '$1', want '$2'" >&2; return 1; }; }

check "redis_start" redis_start
check "port is not 6379" test "$REDIS_PORT" != 6379
check "url" eq "$REDIS_URL" "redis://127.0.0.1:$REDIS_PORT"
check "unix url" eq "$REDIS_UNIX_URL" "unix://$REDIS_DIR/redis.sock"
check "PING over tcp" eq "$(redis_cli PING)" PONG
check "PING over the socket" eq "$(redis-cli -s "$REDIS_SOCK" PING)" PONG
check "pid file matches" eq "$(cat "$REDIS_DIR/redis.pid")" "$REDIS_PID"
check "SET" eq "$(redis_cli SET k v)" OK
check "redis_kill" redis_kill
check "server is gone" test -z "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING 2>/dev/null | grep PONG)"
check "redis_restart" redis_restart
check "PING after restart" eq "$(redis_cli PING)" PONG
check "data gone after restart" eq "$(redis_cli EXISTS k)" 0
dir=$REDIS_DIR
pid=$REDIS_PID
check "redis_stop" redis_stop
check "dir removed" test ! -e "$dir"
check "process gone" _redis_pid_gone "$pid"
check "redis_stop twice" redis_stop

# a port that is taken (by another server): the start retries elsewhere and
# talks to its own server, not to the one already there
check "redis_start (first server)" redis_start
first_port=$REDIS_PORT
first_pid=$REDIS_PID
(
    out=$(mktemp)
    check "redis_start on a taken port" env -u REDIS_PID -u REDIS_DIR REDIS_FIRST_PORT="$first_port" bash -c \
        '. "$0/redis.sh"; redis_start || exit 1; echo "$REDIS_PORT $REDIS_PID" > "$1"; redis_stop' "$HERE" "$out"
    read -r p2 pid2 < "$out"
    rm -f "$out"
    check "second server on another port" test "$p2" != "$first_port"
    check "second server was its own" test "$pid2" != "$first_pid"
    exit "$fails"
) || fails=$((fails + $?))
check "first server untouched" eq "$(redis_cli INFO server | tr -d '\r' | sed -n 's/^process_id://p')" "$first_pid"
redis_stop

check "redis_start --requirepass" redis_start --requirepass fixture-pw
check "password known" eq "$REDIS_PASSWORD" fixture-pw
check "redis_cli authenticates" eq "$(redis_cli PING)" PONG
check "without password: NOAUTH" eq "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING 2>&1 | grep -c NOAUTH)" 1
redis_stop

# (no grep -q in pipelines: with pipefail its early exit would fail them)
if [ "$(ldd "$(command -v redis-server)" 2>/dev/null | grep -c libssl || true)" -gt 0 ]; then
    check "redis_start_tls" redis_start_tls optional
    check "tls url" eq "$REDIS_TLS_URL" "rediss://localhost:$REDIS_TLS_PORT"
    check "TLS PING with the CA" eq "$(redis-cli --tls --cacert "$REDIS_CA" -h localhost -p "$REDIS_TLS_PORT" PING 2>&1)" PONG
    check "TLS PING with another CA fails" test "$(redis-cli --tls --cacert "$REDIS_OTHER_CA" -h localhost -p "$REDIS_TLS_PORT" PING 2>&1)" != PONG
    check "plain port still open" eq "$(redis_cli PING)" PONG
    redis_stop
    check "redis_start_tls yes" redis_start_tls yes
    check "client cert accepted" eq "$(redis-cli --tls --cacert "$REDIS_CA" --cert "$REDIS_CLIENT_CERT" --key "$REDIS_CLIENT_KEY" -h localhost -p "$REDIS_TLS_PORT" PING 2>&1)" PONG
    check "no client cert refused" test "$(redis-cli --tls --cacert "$REDIS_CA" -h localhost -p "$REDIS_TLS_PORT" PING 2>&1)" != PONG
    redis_stop
else
    tls_skipped=1
fi

echo "$fails failure(s)"
[ "$fails" -eq 0 ] || exit 1
if [ -n "${tls_skipped:-}" ]; then echo "SKIP: TLS checks: redis-server is built without TLS"; exit 77; fi
