#!/bin/bash
# serve-task.sh - the command line of serve-task.json: a pool of 'finsim
# serve' workers over the nodes of a multi-instance task (mpirun; every rank
# a worker, consumer <host>:<pid>:<rank>), the real-time Redis queue pool.
# Settings (task environment): FINSIM_STORE (required), FINSIM_STREAMS,
# FINSIM_RANKS_PER_NODE (default: the node's cores), FINSIM_CLAIM_IDLE,
# FINSIM_KEY_PREFIX; FINSIM_KEYVAULT and FINSIM_IDENTITY_CLIENT_ID: the
# Redis password is read at run time from Key Vault secret
# finsim-redis-password with the pool identity (azure-identity.sh), never
# held by the task's JSON and never on a command line. Terminating the task sends
# SIGTERM: mpirun forwards it and each worker finishes its request, acks it
# and exits.
set -euo pipefail
die() { echo "serve-task.sh: error: $*" >&2; exit 2; }
[ -n "${AZ_BATCH_HOST_LIST:-}" ] || die "AZ_BATCH_HOST_LIST is not set (run as a multi-instance task)"
[ -n "${FINSIM_STORE:-}" ] || die "FINSIM_STORE is not set"
[[ "$FINSIM_STORE" != *://*:*@* ]] || die "FINSIM_STORE holds a password; put it in Key Vault (FINSIM_KEYVAULT)"
PROG=serve-task.sh
# shellcheck source=azure-identity.sh
source "$(dirname "$0")/azure-identity.sh"
az_redis_password || exit 2
PER=${FINSIM_RANKS_PER_NODE:-$(nproc)}
IFS=',' read -r -a HOSTS <<< "$AZ_BATCH_HOST_LIST"
HOSTSPEC=$(printf "%s:$PER," "${HOSTS[@]}")
ARGS=(serve --store "$FINSIM_STORE" --streams "${FINSIM_STREAMS:-finsim:requests}")
[ -z "${FINSIM_CLAIM_IDLE:-}" ] || ARGS+=(--claim-idle "$FINSIM_CLAIM_IDLE")
[ -z "${FINSIM_KEY_PREFIX:-}" ] || ARGS+=(--key-prefix "$FINSIM_KEY_PREFIX")
mpirun -np $((PER * ${#HOSTS[@]})) --host "${HOSTSPEC%,}" -x FINSIM_REDIS_PASSWORD finsim "${ARGS[@]}" & P=$!
trap 'kill -TERM "$P" 2>/dev/null || true' TERM INT
rc=0; wait "$P" || rc=$?
wait "$P" 2>/dev/null || true
exit "$rc"
