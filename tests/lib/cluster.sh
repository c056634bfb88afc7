# cluster.sh - several "hosts" on this one machine, for multi-host tests and
# experiments with finsim (source it; needs root, iproute2 and util-linux).
#
# Each host is a network namespace on a private bridge, with its own address
# and hostname (UTS namespace) and, for every command launched on it, its own
# mount namespace in which the host's node-local directory is bind-mounted at
# CL_SCRATCH (/scratch). One directory, CL_SHARED, is the same on every host
# (like an NFS home). The machine itself is the head: it owns the bridge
# address, and servers started there (redis-server, slurmctld, a market data
# server) are reachable from every host at CL_HEAD.
#
#   cluster_start [N] [DIR]  make N hosts (default 3) with state under DIR
#                       (default $T/cluster, else a new temp dir). Picks a free
#                       private /24 and a unique bridge and host names, adds
#                       /etc/hosts lines marked with this run's id, and
#                       registers cluster_stop (add_cleanup from common.sh when
#                       loaded, else an EXIT trap). Sets the variables below.
#   cluster_stop        kill what runs inside the hosts (by pid, from
#                       'ip netns pids'), delete the namespaces, the bridge and
#                       this run's /etc/hosts lines. Idempotent.
#   cluster_on I CMD... run CMD on host I (1..N or its name), in the foreground,
#                       with /scratch mounted and the hostname set.
#   cluster_bg I OUT CMD...  the same in the background (stdout+stderr to OUT);
#                       sets CL_BG_PID.
#   cluster_mpirun ARGS...   mpirun over the hosts of CL_HOSTFILE with the rsh
#                       agent and the interface settings (CL_MPI_ARGS).
#   cluster_hostfile FILE [SLOTS] [I...]  write an Open MPI hostfile for hosts
#                       I... (default all) with SLOTS slots each (default 1).
#   cluster_link_down I / cluster_link_up I   cut / restore host I's link (its
#                       veth on the bridge): a partitioned host.
#   cluster_local I     the node-local directory of host I as the head sees it.
#   cluster_reap [I...] SIGKILL every process still inside hosts I... (default
#                       all), e.g. ranks left behind by a killed mpirun.
#   cluster_redis_start [redis-server args]  redis-server (tests/lib/redis.sh)
#                       listening on 127.0.0.1 and CL_HEAD; sets CL_REDIS_URL.
#
# Variables: CL_N, CL_ID (random, 4 hex digits), CL_DIR, CL_SHARED,
# CL_SCRATCH (/scratch), CL_BR (bridge), CL_NET (e.g. 10.213.47), CL_SUBNET
# (CL_NET.0/24), CL_HEAD (CL_NET.1), CL_HOSTS[1..N] (names), CL_ADDRS[1..N]
# (CL_NET.11, .12, ...), CL_HOSTFILE (all hosts, 1 slot), CL_AGENT (the rsh
# agent: "agent HOST CMD..."), CL_MPI_ARGS (mpirun options), CL_MPI_ENV (the
# same settings as OMPI_MCA_* assignments, for launchers that build their own
# mpirun line: env "${CL_MPI_ENV[@]}" jobscripts/local/finsim-local.sh ...).
#
# Programs run on a host see the whole file system except CL_SCRATCH, so keep
# the agent, binaries and shared data on ordinary paths (not in a host's
# /scratch, and not on a tmpfs mounted inside one host). Everything is torn
# down on exit even when a test fails. For interactive use see
# tests/lib/cluster-shell.sh and docs/CLUSTER.md.

CL_N=0 CL_ID= CL_DIR= CL_BR= CL_NET= CL_SUBNET= CL_HEAD= CL_SHARED= CL_HOSTFILE= CL_AGENT=
CL_SCRATCH=${CL_SCRATCH:-/scratch}
CL_HOSTS=() CL_ADDRS=() CL_MPI_ARGS=() CL_MPI_ENV=()
_CL_MARK= _CL_NS=() _CL_UP=0 _CL_OWN_DIR=0

cluster_have() {
  [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v unshare >/dev/null &&
    ip netns list >/dev/null 2>&1
}

# _cl_hosts_edit: rewrite /etc/hosts in place (it may be a bind mount, so no
# rename), under a lock shared with other runs.
_cl_hosts_drop() {
  [ -n "$_CL_MARK" ] || return 0
  (
    flock -w 30 9 || exit 1
    if grep -q -- "$_CL_MARK" /etc/hosts; then
      grep -v -- "$_CL_MARK" /etc/hosts > "$CL_DIR/hosts.new" || true
      cat "$CL_DIR/hosts.new" > /etc/hosts
    fi
  ) 9>/run/finsim-cluster.lock
}

# _cl_pick_net: a 10.x.y.0/24 in use by no address or route here.
_cl_pick_net() {
  local used try a b
  used=$(ip -4 addr show; ip -4 route show table all 2>/dev/null)
  for try in $(seq 1 200); do
    a=$((200 + RANDOM % 50)) b=$((RANDOM % 250 + 1))
    grep -qE "(^|[^0-9])10\.$a\.$b\.[0-9]" <<< "$used" && continue
    grep -qE "(^|[^0-9])10\.$a\.0\.0/16|(^|[^0-9])10\.0\.0\.0/8" <<< "$used" && continue
    echo "10.$a.$b"
    return 0
  done
  return 1
}

cluster_start() {
  local n=${1:-3} dir=${2:-} i h
  if [ "$_CL_UP" = 1 ]; then echo "cluster.sh: a cluster is already up" >&2; return 1; fi
  cluster_have || { echo "cluster.sh: needs root, iproute2 ('ip netns') and unshare" >&2; return 1; }
  CL_N=$n
  CL_ID=$(od -An -tx1 -N2 /dev/urandom | tr -d ' \n')
  if [ -z "$dir" ]; then
    if [ -n "${T:-}" ]; then dir=$T/cluster; else dir=$(mktemp -d "${TMPDIR:-/tmp}/finsim-cluster.XXXXXX"); _CL_OWN_DIR=1; fi
  fi
  mkdir -p "$dir"
  CL_DIR=$(cd "$dir" && pwd)
  CL_SHARED=$CL_DIR/shared
  mkdir -p "$CL_SHARED" "$CL_DIR/local" "$CL_DIR/bin" "$CL_DIR/log"
  CL_BR=fsbr$CL_ID
  _CL_MARK="finsim-cluster-$CL_ID"
  if command -v add_cleanup >/dev/null 2>&1; then add_cleanup cluster_stop; else trap cluster_stop EXIT; fi
  _CL_UP=1
  mkdir -p "$CL_SCRATCH"
  # subnet choice and bridge creation under one lock: two runs never pick the same net
  (
    flock -w 60 9 || { echo "cluster.sh: lock busy" >&2; exit 1; }
    net=$(_cl_pick_net) || { echo "cluster.sh: no free 10.x.y.0/24" >&2; exit 1; }
    ip link add "$CL_BR" type bridge || exit 1
    ip addr add "$net.1/24" dev "$CL_BR" || exit 1
    ip link set "$CL_BR" up || exit 1
    echo "$net" > "$CL_DIR/net"
  ) 9>/run/finsim-cluster.lock || return 1
  CL_NET=$(cat "$CL_DIR/net")
  CL_SUBNET=$CL_NET.0/24
  CL_HEAD=$CL_NET.1
  CL_HOSTS=("fs${CL_ID}hd") CL_ADDRS=("$CL_HEAD")
  local hostlines="$CL_HEAD fs${CL_ID}hd # $_CL_MARK"$'\n'
  : > "$CL_DIR/hosts.map"
  for i in $(seq 1 "$n"); do
    h=fs${CL_ID}h$i
    CL_HOSTS[i]=$h
    CL_ADDRS[i]=$CL_NET.$((10 + i))
    ip netns add "$h" || return 1
    _CL_NS+=("$h")
    ip link add "fsv${CL_ID}h$i" type veth peer name eth0 netns "$h" || return 1
    ip link set "fsv${CL_ID}h$i" master "$CL_BR" || return 1
    ip link set "fsv${CL_ID}h$i" up || return 1
    ip netns exec "$h" ip addr add "${CL_ADDRS[i]}/24" dev eth0 || return 1
    ip netns exec "$h" ip link set eth0 up || return 1
    ip netns exec "$h" ip link set lo up || return 1
    mkdir -p "$CL_DIR/local/$h"
    echo "$h ${CL_ADDRS[i]}" >> "$CL_DIR/hosts.map"
    hostlines+="${CL_ADDRS[i]} $h # $_CL_MARK"$'\n'
  done
  (
    flock -w 30 9 || exit 1
    printf '%s' "$hostlines" >> /etc/hosts
  ) 9>/run/finsim-cluster.lock || return 1

  # on-host HOST|ADDR CMD...: run CMD (argv) on a host; rsh HOST CMD...: the
  # same with the words joined and run by sh, as rsh/ssh do (mpirun's agent).
  cat > "$CL_DIR/bin/on-host" <<EOF
#!/bin/bash
map=$CL_DIR/hosts.map local=$CL_DIR/local scratch=$CL_SCRATCH
EOF
  cat >> "$CL_DIR/bin/on-host" <<'EOF'
h=$1; shift
name=$(awk -v h="$h" '$1 == h || $2 == h { print $1; exit }' "$map")
[ -n "$name" ] || { echo "on-host: unknown host '$h'" >&2; exit 255; }
# nsenter rather than 'ip netns exec': that one remounts /sys, which hides
# /sys/fs/cgroup (slurmd needs it)
exec nsenter --net="/run/netns/$name" unshare --uts --mount --propagation private \
  /bin/sh -c 'hostname "$1" && mount --bind "$2" "$3" && shift 3 && exec "$@"' on-host "$name" "$local/$name" "$scratch" "$@"
EOF
  cat > "$CL_DIR/bin/rsh" <<EOF
#!/bin/bash
# rsh-like agent for mpirun: rsh HOST COMMAND WORDS...
h=\$1; shift
exec "$CL_DIR/bin/on-host" "\$h" /bin/sh -c "\$*"
EOF
  chmod 0755 "$CL_DIR/bin/on-host" "$CL_DIR/bin/rsh"
  CL_AGENT=$CL_DIR/bin/rsh
  CL_HOSTFILE=$CL_SHARED/hostfile
  cluster_hostfile "$CL_HOSTFILE" 1
  CL_MPI_ARGS=(--hostfile "$CL_HOSTFILE" --mca plm_rsh_agent "$CL_AGENT" --mca routed direct
               --mca oob_tcp_if_include "$CL_SUBNET" --mca btl_tcp_if_include "$CL_SUBNET" --mca btl tcp,self)
  CL_MPI_ENV=(OMPI_MCA_plm_rsh_agent="$CL_AGENT" OMPI_MCA_routed=direct OMPI_MCA_oob_tcp_if_include="$CL_SUBNET"
              OMPI_MCA_btl_tcp_if_include="$CL_SUBNET" OMPI_MCA_btl=tcp,self)
  # every host answers on the network
  for i in $(seq 1 "$n"); do
    cluster_on "$i" true || { echo "cluster.sh: cannot run on host $i" >&2; return 1; }
  done
  return 0
}

# _cl_name I: host name for an index or a name
_cl_name() {
  case "$1" in
    ''|*[!0-9]*) echo "$1" ;;
    *) [ "$1" -ge 1 ] && [ "$1" -le "$CL_N" ] || { echo "cluster.sh: no host $1" >&2; return 1; }
       echo "${CL_HOSTS[$1]}" ;;
  esac
}

cluster_on() { local h; h=$(_cl_name "$1") || return 1; shift; "$CL_DIR/bin/on-host" "$h" "$@"; }

cluster_bg() {
  local h out=$2; h=$(_cl_name "$1") || return 1; shift 2
  "$CL_DIR/bin/on-host" "$h" "$@" > "$out" 2>&1 &
  CL_BG_PID=$!
}

cluster_local() { local h; h=$(_cl_name "$1") || return 1; echo "$CL_DIR/local/$h"; }

cluster_hostfile() {
  local f=$1 slots=${2:-1} i h; shift 2 || shift $#
  [ $# -gt 0 ] || set -- $(seq 1 "$CL_N")
  : > "$f"
  for i in "$@"; do h=$(_cl_name "$i") || return 1; echo "$h slots=$slots" >> "$f"; done
}

cluster_mpirun() { mpirun "${CL_MPI_ARGS[@]}" "$@"; }

cluster_link_down() { local h; h=$(_cl_name "$1") || return 1; ip link set "fsv${CL_ID}${h#fs"$CL_ID"}" down; }
cluster_link_up() { local h; h=$(_cl_name "$1") || return 1; ip link set "fsv${CL_ID}${h#fs"$CL_ID"}" up; }

# cluster_pids I: pids of the processes inside host I's network namespace
cluster_pids() { local h; h=$(_cl_name "$1") || return 1; ip netns pids "$h" 2>/dev/null || true; }

cluster_reap() {
  local i p pids=()
  [ $# -gt 0 ] || set -- $(seq 1 "$CL_N")
  for i in "$@"; do
    for p in $(cluster_pids "$i"); do pids+=("$p"); done
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for i in $(seq 1 100); do
    local alive=0
    for p in "${pids[@]}"; do
      [ -e "/proc/$p" ] && [ "$(awk '{ sub(/^.*\) /, ""); print substr($0, 1, 1) }' "/proc/$p/stat" 2>/dev/null)" != Z ] && alive=1
    done
    [ $alive = 0 ] && return 0
    sleep 0.05
  done
}

cluster_redis_start() {
  command -v redis_start >/dev/null 2>&1 || . "${FINSIM_SRC:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/lib/redis.sh"
  # a server without a password refuses other hosts unless protected mode is off
  redis_start --bind 127.0.0.1 "$CL_HEAD" --protected-mode no "$@" || return 1
  CL_REDIS_URL=redis://$CL_HEAD:$REDIS_PORT
  export CL_REDIS_URL
}

cluster_stop() {
  [ "$_CL_UP" = 1 ] || return 0
  _CL_UP=0
  local h
  [ ${#_CL_NS[@]} -eq 0 ] || cluster_reap "${_CL_NS[@]}"
  for h in "${_CL_NS[@]}"; do ip netns del "$h" 2>/dev/null || true; done
  [ -z "$CL_BR" ] || ip link del "$CL_BR" 2>/dev/null || true
  _cl_hosts_drop || true
  _CL_NS=()
  if [ "$_CL_OWN_DIR" = 1 ]; then rm -rf -- "$CL_DIR"; fi
  return 0
}
