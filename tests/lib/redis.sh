# redis.sh - throwaway redis-server for script tests. Source it:
#
#   . "$FINSIM_SRC/tests/lib/redis.sh"
#   trap redis_stop EXIT            # redis_stop is idempotent
#   redis_start [--requirepass pw ...]     # or: redis_start_tls [optional|yes] [args...]
#   finsim generate --store "$REDIS_URL" ...
#   redis_cli GET ey0000001.xml
#
# redis_start sets REDIS_PORT, REDIS_URL (redis://127.0.0.1:PORT), REDIS_SOCK,
# REDIS_UNIX_URL (unix://SOCK), REDIS_DIR, REDIS_PID, REDIS_LOG and
# REDIS_PASSWORD (the --requirepass value, if given; redis_cli passes it via
# REDISCLI_AUTH, never argv). redis_start_tls also sets REDIS_TLS_PORT,
# REDIS_TLS_URL (rediss://localhost:TLS_PORT), REDIS_CA, REDIS_OTHER_CA (an
# unrelated CA), REDIS_SERVER_CERT/KEY and REDIS_CLIENT_CERT/KEY.
# redis-server cannot bind port 0 and report the port it got, so each start
# picks a random port below the kernel's ephemeral range (where OS-picked
# ports of other tests and clients land), starts the server, checks that the
# server answering is ours (its process id), and on a bind failure retries
# with another port. Never a fixed port. The server listens on 127.0.0.1 and a unix socket in its own mktemp dir, with
# no persistence. One server per shell; use a subshell for a second one.
# Functions return non-zero (with a message on stderr) instead of exiting.

# Is pid gone (absent or a zombie)?
_redis_pid_gone() {
    local pid=$1 state
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    state=$(awk '{ sub(/^.*\) /, ""); print substr($0, 1, 1) }' "/proc/$pid/stat" 2>/dev/null) || return 0
    [ "$state" = Z ] || [ "$state" = X ]
}

# Signal pid and wait (up to ${2:-5} s) for it to go; SIGKILL after that.
_redis_kill_wait() {
    local pid=$1 sig=${2:-TERM} i
    _redis_pid_gone "$pid" && return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 500; i++)); do
        _redis_pid_gone "$pid" && return 0
        sleep 0.01
    done
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 500; i++)); do
        _redis_pid_gone "$pid" && return 0
        sleep 0.01
    done
    return 1
}

# redis-cli against the plain port; the password goes through REDISCLI_AUTH.
redis_cli() {
    if [ -n "${REDIS_PASSWORD:-}" ]; then
        REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
    else
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
    fi
}

# A random TCP port for a server that retries on conflict (see above);
# with an argument of 2, two distinct ones on one line.
_redis_random_port() {
    local count=${1:-1} lo=10000 hi=32767 out="" p i
    read -r hi _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    [ "$hi" -gt $((lo + 1000)) ] 2>/dev/null || hi=32767
    for ((i = 0; i < count; i++)); do
        while :; do
            p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
            case " $out " in *" $p "*) ;; *) break ;; esac
        done
        out+="$p "
    done
    echo "${out% }"
}

# Launch the command line in _REDIS_ARGS and wait for PONG.
# Returns 0 up, 1 port taken (caller retries), 2 other failure.
_redis_launch() {
    local i pong
    rm -f "$REDIS_DIR/redis.pid"
    REDIS_PID=
    if ! redis-server "${_REDIS_ARGS[@]}" >/dev/null 2>>"$REDIS_LOG"; then
        echo "redis.sh: redis-server failed to start; log:" >&2
        tail -n 20 "$REDIS_LOG" >&2
        return 2
    fi
    # up to 60 s: a generous ceiling for a loaded machine, never a timing check
    for ((i = 0; i < 6000; i++)); do
        [ -z "$REDIS_PID" ] && [ -s "$REDIS_DIR/redis.pid" ] && REDIS_PID=$(cat "$REDIS_DIR/redis.pid")
        if [ -n "$REDIS_PID" ] && ! _redis_pid_gone "$REDIS_PID"; then
            # the server on the port must be ours, not another test's
            pong=$(redis_cli INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p') || true
            [ "$pong" = "$REDIS_PID" ] && return 0
        fi
        if grep -q "Address already in use" "$REDIS_LOG" 2>/dev/null; then
            [ -n "$REDIS_PID" ] && { _redis_kill_wait "$REDIS_PID" KILL || true; }
            REDIS_PID=
            return 1
        fi
        if [ -n "$REDIS_PID" ] && _redis_pid_gone "$REDIS_PID"; then
            break
        fi
        sleep 0.01
    done
    echo "redis.sh: redis-server on port $REDIS_PORT did not answer PING; log:" >&2
    tail -n 20 "$REDIS_LOG" >&2
    [ -n "$REDIS_PID" ] && { _redis_kill_wait "$REDIS_PID" KILL || true; }
    REDIS_PID=
    return 2
}

# Make the temp dir and set the path variables.
_redis_mkdir() {
    local base=${TMPDIR:-/tmp}
    [ ${#base} -gt 60 ] && base=/tmp   # keep the socket path under 108 bytes
    REDIS_DIR=$(mktemp -d "$base/finsim-redis-XXXXXX") || return 1
    REDIS_SOCK=$REDIS_DIR/redis.sock
    REDIS_LOG=$REDIS_DIR/redis.log
    REDIS_UNIX_URL=unix://$REDIS_SOCK
}

# Start with the common settings plus "$@"; _REDIS_TLS_ARGS (set by
# redis_start_tls) adds the TLS listener.
_redis_start() {
    local attempt rc ports a prev=""
    REDIS_PASSWORD=
    for a in "$@"; do
        [ "$prev" = --requirepass ] && REDIS_PASSWORD=$a
        prev=$a
    done
    for ((attempt = 0; attempt < 20; attempt++)); do
        if [ -n "${_REDIS_TLS:-}" ]; then
            read -r REDIS_PORT REDIS_TLS_PORT <<<"$(_redis_random_port 2)"
        else
            REDIS_PORT=$(_redis_random_port)
        fi
        # REDIS_FIRST_PORT: the port of the first attempt (the fixture's own
        # test uses a taken one to see the retry)
        [ "$attempt" -gt 0 ] || [ -z "${REDIS_FIRST_PORT:-}" ] || REDIS_PORT=$REDIS_FIRST_PORT
        _REDIS_ARGS=(--port "$REDIS_PORT" --bind 127.0.0.1 --unixsocket "$REDIS_SOCK" --unixsocketperm 700
                     --dir "$REDIS_DIR" --save '' --appendonly no --daemonize yes
                     --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_LOG")
        if [ -n "${_REDIS_TLS:-}" ]; then
            _REDIS_ARGS+=(--tls-port "$REDIS_TLS_PORT" --tls-cert-file "$REDIS_SERVER_CERT"
                          --tls-key-file "$REDIS_SERVER_KEY" --tls-ca-cert-file "$REDIS_CA"
                          --tls-auth-clients "$_REDIS_TLS")
        fi
        _REDIS_ARGS+=("$@")
        _redis_launch
        rc=$?
        if [ $rc -eq 0 ]; then
            REDIS_URL=redis://127.0.0.1:$REDIS_PORT
            [ -n "${_REDIS_TLS:-}" ] && REDIS_TLS_URL=rediss://localhost:$REDIS_TLS_PORT
            export REDIS_PORT REDIS_URL REDIS_SOCK REDIS_UNIX_URL REDIS_DIR REDIS_PID REDIS_LOG
            return 0
        fi
        [ $rc -eq 1 ] || break
        echo "redis.sh: port $REDIS_PORT was taken, trying another" >&2
        rm -f "$REDIS_LOG" "$REDIS_SOCK"
    done
    redis_stop
    return 1
}

# redis_start [extra redis-server args...]
redis_start() {
    if [ -n "${REDIS_PID:-}" ]; then
        echo "redis.sh: a server is already running (pid $REDIS_PID); redis_stop it first" >&2
        return 1
    fi
    _REDIS_TLS=
    _redis_mkdir || return 1
    _redis_start "$@"
}

# _redis_make_certs DIR: in DIR a throwaway CA (ca.crt/key), an unrelated CA
# (other-ca.crt), a server certificate for localhost and 127.0.0.1
# (server.crt/key) and a client certificate (client.crt/key). Non-zero on
# failure, with openssl's output in DIR/openssl.log.
_redis_make_certs() {
    (
        cd "$1" || exit 1
        K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
        set -e
        # shellcheck disable=SC2086
        {
            openssl req -x509 $K -days 2 -subj '/CN=finsim test CA' -keyout ca.key -out ca.crt
            openssl req -x509 $K -days 2 -subj '/CN=finsim other CA' -keyout other-ca.key -out other-ca.crt
            openssl req $K -subj '/CN=localhost' -keyout server.key -out server.csr
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                -extfile server.ext -out server.crt
            openssl req $K -subj '/CN=finsim test client' -keyout client.key -out client.csr
            openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt
        } >openssl.log 2>&1
    )
}

# redis_start_tls [optional|yes] [extra redis-server args...]
# optional (default): server authentication only; yes: client certificates
# are required (use REDIS_CLIENT_CERT / REDIS_CLIENT_KEY).
redis_start_tls() {
    local mode=optional
    case "${1:-}" in optional|yes|no) mode=$1; shift ;; esac
    if [ -n "${REDIS_PID:-}" ]; then
        echo "redis.sh: a server is already running (pid $REDIS_PID); redis_stop it first" >&2
        return 1
    fi
    _redis_mkdir || return 1
    if ! _redis_make_certs "$REDIS_DIR"; then
        echo "redis.sh: openssl could not make the test certificates; see $REDIS_DIR/openssl.log" >&2
        cat "$REDIS_DIR/openssl.log" >&2
        redis_stop
        return 1
    fi
    REDIS_CA=$REDIS_DIR/ca.crt
    REDIS_OTHER_CA=$REDIS_DIR/other-ca.crt
    REDIS_SERVER_CERT=$REDIS_DIR/server.crt
    REDIS_SERVER_KEY=$REDIS_DIR/server.key
    REDIS_CLIENT_CERT=$REDIS_DIR/client.crt
    REDIS_CLIENT_KEY=$REDIS_DIR/client.key
    export REDIS_CA REDIS_OTHER_CA REDIS_SERVER_CERT REDIS_SERVER_KEY REDIS_CLIENT_CERT REDIS_CLIENT_KEY
    _REDIS_TLS=$mode
    _redis_start "$@" || return 1
    export REDIS_TLS_PORT REDIS_TLS_URL
}

# redis_kill [SIGNAL]: stop the server (default KILL, i.e. a crash) but keep
# its dir and ports for redis_restart.
redis_kill() {
    [ -n "${REDIS_PID:-}" ] || return 0
    _redis_kill_wait "$REDIS_PID" "${1:-KILL}" || return 1
    REDIS_PID=
}

# redis_restart: start the same command line again (same ports; data is gone).
redis_restart() {
    [ -n "${REDIS_DIR:-}" ] && [ ${#_REDIS_ARGS[@]} -gt 0 ] || { echo "redis.sh: nothing to restart" >&2; return 1; }
    redis_kill TERM || return 1
    _redis_launch || return 1
    export REDIS_PID
}

# redis_stop: stop the server by pid (TERM, then KILL) and remove its dir.
# Idempotent, so it can sit in an EXIT trap.
redis_stop() {
    if [ -n "${REDIS_PID:-}" ]; then
        _redis_kill_wait "$REDIS_PID" TERM
    fi
    case "${REDIS_DIR:-}" in
        */finsim-redis-*) rm -rf -- "$REDIS_DIR" ;;
    esac
    REDIS_PID= REDIS_DIR= REDIS_PORT= REDIS_TLS_PORT= REDIS_URL= REDIS_TLS_URL= REDIS_SOCK= REDIS_UNIX_URL=
    REDIS_PASSWORD= _REDIS_TLS= _REDIS_ARGS=()
    return 0
}
