# rcluster.sh - a throwaway Redis Cluster on loopback for script tests. Source it:
#
#   . "$FINSIM_SRC/tests/lib/rcluster.sh"
#   trap rcluster_stop EXIT          # idempotent
#   rcluster_start 3 0               # 3 masters, 0 replicas per master
#   rcluster_start 3 1 --requirepass pw   # 3 masters + 3 replicas, extra server args
#   finsim generate --store "$RC_URL" ...
#   rcluster_cli 0 CLUSTER KEYSLOT ey0000000001.xml   # node 0's redis-cli
#   RC_TLS=1; rcluster_start 3 0     # TLS only: clients and the cluster bus
#
# Each node is a redis-server with --cluster-enabled yes in its own dir under
# one mktemp dir, with no persistence, listening on 127.0.0.1 at a client
# port and a cluster bus port (--cluster-port) that the OS picked: python
# binds port 0 for each and both are released just before the servers start;
# a port taken in between makes the start fail with "Address already in use",
# and the whole cluster is started again on other ports. The nodes are
# joined with redis-cli --cluster create and the function waits (bounded)
# until every node reports cluster_state:ok and knows all the slots.
#
# Sets RC_N (nodes), RC_PORTS[i], RC_BUS[i], RC_PIDS[i], RC_DIR, RC_URL
# (redis://127.0.0.1:PORT0), RC_SEEDS (redis://127.0.0.1:P0,127.0.0.1:P1),
# RC_PASSWORD (a --requirepass value, if given; passed to redis-cli through
# REDISCLI_AUTH, never argv). Node indexes 0..RC_N-1; masters first.
# With RC_TLS=1 every node listens with TLS only (the client port is a
# --tls-port, --tls-cluster and --tls-replication yes, certificates from
# _redis_make_certs: RC_CA, RC_CLIENT_CERT, RC_CLIENT_KEY) and RC_URL /
# RC_SEEDS are rediss://.
# Functions return non-zero with a message on stderr instead of exiting.

# the pid helpers of the single-server fixture
# shellcheck source=tests/lib/redis.sh
. "$(dirname "${BASH_SOURCE[0]}")/redis.sh"
_rc_pid_gone() { _redis_pid_gone "$@"; }
_rc_kill_wait() { _redis_kill_wait "$@"; }

# N free TCP ports picked by the OS (bind port 0), distinct, one per line.
_rc_free_ports() {
    /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
socks, ports = [], []
while len(ports) < int(sys.argv[1]):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    ports.append(s.getsockname()[1])
for s in socks:
    s.close()
print("\n".join(map(str, ports)))
EOF
}

# rcluster_cli I ARGS...: redis-cli against node I.
rcluster_cli() {
    local i=$1; shift
    local tls=()
    [ "${RC_TLS:-0}" = 1 ] && tls=(--tls --cacert "$RC_CA")
    if [ -n "${RC_PASSWORD:-}" ]; then
        REDISCLI_AUTH=$RC_PASSWORD redis-cli "${tls[@]}" -h 127.0.0.1 -p "${RC_PORTS[$i]}" "$@"
    else
        redis-cli "${tls[@]}" -h 127.0.0.1 -p "${RC_PORTS[$i]}" "$@"
    fi
}

# Launch node i with the settings in _RC_ARGS; 0 up, 1 port taken, 2 failure.
_rc_launch() {
    local i=$1 d=$RC_DIR/n$1 k pid=""
    mkdir -p "$d"
    rm -f "$d/redis.pid"
    local ports=(--port "${RC_PORTS[$i]}")
    [ "${RC_TLS:-0}" = 1 ] && ports=(--port 0 --tls-port "${RC_PORTS[$i]}" --tls-cluster yes --tls-replication yes
        --tls-cert-file "$RC_DIR/server.crt" --tls-key-file "$RC_DIR/server.key" --tls-ca-cert-file "$RC_CA"
        --tls-auth-clients optional)
    redis-server "${ports[@]}" --cluster-port "${RC_BUS[$i]}" --bind 127.0.0.1 \
        --cluster-enabled yes --cluster-config-file "$d/nodes.conf" --cluster-node-timeout 2000 \
        --dir "$d" --save '' --appendonly no --daemonize yes --pidfile "$d/redis.pid" \
        --logfile "$d/redis.log" "${_RC_ARGS[@]}" >/dev/null 2>>"$d/redis.log" || return 2
    for ((k = 0; k < 6000; k++)); do   # a generous bound for a loaded machine
        [ -z "$pid" ] && [ -s "$d/redis.pid" ] && pid=$(cat "$d/redis.pid")
        if [ -n "$pid" ] && ! _rc_pid_gone "$pid"; then
            if [ "$(rcluster_cli "$i" INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')" = "$pid" ]; then
                RC_PIDS[$i]=$pid
                return 0
            fi
        fi
        grep -q "Address already in use" "$d/redis.log" 2>/dev/null && { [ -n "$pid" ] && _rc_kill_wait "$pid" KILL; return 1; }
        [ -n "$pid" ] && _rc_pid_gone "$pid" && break
        sleep 0.01
    done
    echo "rcluster.sh: node $i (port ${RC_PORTS[$i]}) did not come up; log:" >&2
    tail -n 20 "$d/redis.log" >&2
    return 2
}

# rcluster_wait_ok: every live node reports cluster_state:ok and 16384 slots ok
# (bounded: 60 s).
rcluster_wait_ok() {
    local k i ok info
    for ((k = 0; k < 600; k++)); do
        ok=1
        for ((i = 0; i < RC_N; i++)); do
            _rc_pid_gone "${RC_PIDS[$i]:-}" && continue
            info=$(rcluster_cli "$i" CLUSTER INFO 2>/dev/null | tr -d '\r')
            case $info in *cluster_state:ok*cluster_slots_ok:16384*) ;; *) ok=0; break ;; esac
        done
        [ $ok = 1 ] && return 0
        sleep 0.1
    done
    echo "rcluster.sh: the cluster did not reach cluster_state:ok" >&2
    return 1
}

# rcluster_start MASTERS REPLICAS [extra redis-server args...]
rcluster_start() {
    local masters=$1 reps=$2 attempt i rc addrs
    shift 2
    _RC_ARGS=("$@")
    RC_PASSWORD=
    local a prev=""
    for a in "$@"; do [ "$prev" = --requirepass ] && RC_PASSWORD=$a; prev=$a; done
    [ -n "$RC_PASSWORD" ] && _RC_ARGS+=(--masterauth "$RC_PASSWORD")
    RC_N=$((masters * (1 + reps)))
    local base=${TMPDIR:-/tmp}
    RC_DIR=$(mktemp -d "$base/finsim-rcluster-XXXXXX") || return 1
    local tls=()
    if [ "${RC_TLS:-0}" = 1 ]; then
        _redis_make_certs "$RC_DIR" || { echo "rcluster.sh: openssl failed:" >&2; cat "$RC_DIR/openssl.log" >&2; rcluster_stop; return 1; }
        RC_CA=$RC_DIR/ca.crt RC_CLIENT_CERT=$RC_DIR/client.crt RC_CLIENT_KEY=$RC_DIR/client.key
        export RC_CA RC_CLIENT_CERT RC_CLIENT_KEY
        tls=(--tls --cacert "$RC_CA")
    fi
    for ((attempt = 0; attempt < 10; attempt++)); do
        mapfile -t _rc_ports < <(_rc_free_ports $((2 * RC_N)))
        RC_PORTS=() RC_BUS=() RC_PIDS=()
        for ((i = 0; i < RC_N; i++)); do
            RC_PORTS[$i]=${_rc_ports[$i]}
            RC_BUS[$i]=${_rc_ports[$((RC_N + i))]}
        done
        rc=0
        for ((i = 0; i < RC_N; i++)); do
            _rc_launch "$i" || { rc=$?; break; }
        done
        [ $rc = 0 ] && break
        for ((i = 0; i < RC_N; i++)); do _rc_kill_wait "${RC_PIDS[$i]:-}" KILL; done
        rm -rf "${RC_DIR:?}"/n*
        [ $rc = 1 ] || { rcluster_stop; return 1; }
        echo "rcluster.sh: a port was taken, trying others" >&2
    done
    [ $rc = 0 ] || { rcluster_stop; return 1; }
    addrs=()
    for ((i = 0; i < RC_N; i++)); do addrs+=("127.0.0.1:${RC_PORTS[$i]}"); done
    # redis-cli --cluster create makes the first MASTERS addresses masters
    if ! { if [ -n "$RC_PASSWORD" ]; then export REDISCLI_AUTH=$RC_PASSWORD; fi
           redis-cli "${tls[@]}" --cluster create "${addrs[@]}" --cluster-replicas "$reps" --cluster-yes; } \
           >"$RC_DIR/create.log" 2>&1; then
        echo "rcluster.sh: redis-cli --cluster create failed:" >&2
        tail -n 20 "$RC_DIR/create.log" >&2
        rcluster_stop
        return 1
    fi
    unset REDISCLI_AUTH
    rcluster_wait_ok || { rcluster_stop; return 1; }
    local scheme=redis
    [ "${RC_TLS:-0}" = 1 ] && scheme=rediss
    RC_URL=$scheme://127.0.0.1:${RC_PORTS[0]}
    RC_SEEDS=$scheme://127.0.0.1:${RC_PORTS[0]},127.0.0.1:${RC_PORTS[1]}
    export RC_N RC_DIR RC_URL RC_SEEDS
    return 0
}

# rcluster_role I: "master" or "slave" as node I sees itself.
rcluster_role() {
    rcluster_cli "$1" ROLE 2>/dev/null | head -n 1 | tr -d '\r'
}

# rcluster_kill I [SIGNAL]: stop node I (default KILL: a crash).
rcluster_kill() {
    _rc_kill_wait "${RC_PIDS[$1]}" "${2:-KILL}" || return 1
    RC_PIDS[$1]=
}

# rcluster_restart I: start node I again after rcluster_kill (same ports and
# nodes.conf, so it rejoins with its last role; data is gone: no persistence).
rcluster_restart() {
    _rc_launch "$1"
}

# rcluster_id I: node I's cluster node id.
rcluster_id() {
    rcluster_cli "$1" CLUSTER MYID | tr -d '\r'
}

# rcluster_key_owner KEY: index of the live master that serves KEY (the
# one that answers without MOVED).
rcluster_key_owner() {
    local i
    for ((i = 0; i < RC_N; i++)); do
        _rc_pid_gone "${RC_PIDS[$i]:-}" && continue
        [ "$(rcluster_role "$i")" = master ] || continue
        case $(rcluster_cli "$i" TYPE "$1" 2>&1) in MOVED*|ASK*|CLUSTERDOWN*) ;; *) echo "$i"; return 0 ;; esac
    done
    return 1
}

# rcluster_stop: stop every node by pid and remove the dir. Idempotent.
rcluster_stop() {
    local i
    for ((i = 0; i < ${RC_N:-0}; i++)); do
        [ -n "${RC_PIDS[$i]:-}" ] && _rc_kill_wait "${RC_PIDS[$i]}" TERM
    done
    case "${RC_DIR:-}" in */finsim-rcluster-*) rm -rf -- "$RC_DIR" ;; esac
    RC_PIDS=() RC_PORTS=() RC_BUS=() RC_DIR= RC_URL= RC_SEEDS= RC_N=0 RC_PASSWORD=
    return 0
}
