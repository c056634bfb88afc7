#!/bin/bash
# cluster-shell.sh - an interactive shell on a throwaway multi-host cluster
# (tests/lib/cluster.sh), for experiments. Run as root from the repository:
#
#   sudo bash tests/lib/cluster-shell.sh [N] [--redis]
#
# It makes N hosts (default 3), optionally a redis-server on the head
# (no password, protected mode off, reachable as $CL_REDIS_URL), prints how
# to use them and starts bash with the cluster's variables and functions.
# Leaving that shell (exit or Ctrl-D) tears everything down.
#
# In the shell, for example:
#   cluster_on 2 hostname; cluster_on 2 ls /scratch
#   mpirun "${CL_MPI_ARGS[@]}" -np 3 hostname
#   finsim generate --trades 100 --store "$CL_REDIS_URL"
#   mpirun "${CL_MPI_ARGS[@]}" -np 3 finsim run --store "$CL_REDIS_URL" --trade-window 100 --output "$CL_SHARED/r.h5"
#   cluster_link_down 3; cluster_link_up 3
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FINSIM_SRC=${FINSIM_SRC:-$(cd "$HERE/../.." && pwd)}
export FINSIM_SRC
N=3 REDIS=0
for a in "$@"; do
    case "$a" in
        --redis) REDIS=1 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) [[ "$a" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N] [--redis]" >&2; exit 2; }; N=$a ;;
    esac
done
# shellcheck source=tests/lib/cluster.sh
. "$HERE/cluster.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/finsim-cluster-shell.XXXXXX")
chmod 0755 "$T"
cleanup() {
    if [ "$REDIS" = 1 ]; then redis_stop || true; fi
    cluster_stop
    rm -rf "$T"
}
trap cleanup EXIT
add_cleanup() { :; }            # the trap above tears down
cluster_start "$N" "$T/cluster"
if [ "$REDIS" = 1 ]; then cluster_redis_start; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x "$FINSIM_SRC/build/finsim" ] && export PATH="$FINSIM_SRC/build:$PATH"

# everything the child shell needs: variables and functions
{
    declare -p CL_N CL_ID CL_DIR CL_SHARED CL_SCRATCH CL_BR CL_NET CL_SUBNET CL_HEAD CL_HOSTS CL_ADDRS \
        CL_HOSTFILE CL_AGENT CL_MPI_ARGS CL_MPI_ENV _CL_MARK _CL_NS
    [ "$REDIS" = 0 ] || declare -p CL_REDIS_URL REDIS_PORT REDIS_PID REDIS_DIR
    declare -f | sed -n '/^cluster_\|^_cl_\|^redis_\|^_redis_/,/^}/p'
    echo "_CL_UP=0   # the outer script tears down"
    echo "PS1='[cluster $CL_ID] \\w# '"
} > "$T/rc"
cat <<EOF
cluster $CL_ID: hosts ${CL_HOSTS[*]:1} (${CL_ADDRS[*]:1}) on $CL_SUBNET, head $CL_HEAD (bridge $CL_BR)
  shared directory: $CL_SHARED    node-local: $CL_SCRATCH on each host ($CL_DIR/local/HOST from here)
  mpirun "\${CL_MPI_ARGS[@]}" -np $N CMD      cluster_on I CMD      cluster_link_down I / cluster_link_up I
$([ "$REDIS" = 0 ] || echo "  redis: $CL_REDIS_URL")
exit the shell to tear the cluster down
EOF
bash --rcfile "$T/rc" -i || true
