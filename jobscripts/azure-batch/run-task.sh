#!/bin/bash
# run-task.sh - application command of the finsim multi-instance task.
#
# Azure Batch runs this on the primary node only, in the finsim container,
# after coordinate.sh has finished on every node. It runs
#   mpirun --host <each host of AZ_BATCH_HOST_LIST>:<ranks> finsim run ...
# and writes the results to AZ_BATCH_TASK_WORKING_DIR/FINSIM_OUTPUT_NAME,
# which the task's outputFiles upload to Blob storage on success.
#
# Settings (task or job environment settings; secrets only there, never on
# a command line):
#   FINSIM_STORE            trade store, e.g. rediss://NAME.redis.cache.windows.net:6380
#                           (Azure Cache for Redis: TLS on port 6380)
#   FINSIM_KEYVAULT         Key Vault holding the cache's access key as secret
#                           finsim-redis-password, read at run time with the pool's
#                           managed identity (FINSIM_IDENTITY_CLIENT_ID; azure-identity.sh)
#                           and kept only in memory (the environment of mpirun and
#                           the ranks). FINSIM_REDIS_PASSWORD, when set, is used instead.
#   FINSIM_START_TRADE, FINSIM_TRADE_WINDOW, FINSIM_ALGORITHM, FINSIM_SEED, FINSIM_PATHS
#   FINSIM_RANKS_PER_NODE   MPI ranks per node (default: the node's cores)
#   FINSIM_OUTPUT_NAME      results file name (default finsim-results.h5)
#   FINSIM_RESUME           auto (default: resume when coordinate.sh counted an
#                           earlier attempt of this task on this node), always, never
#   FINSIM_FAILURE          failure injection, first attempt only (rehearsal)
#   FINSIM_EXTRA_ARGS       more 'finsim run' options, split on blanks (never secrets)
#   FINSIM_SSH_PORT         sshd port on the nodes (default 2222; see coordinate.sh)
#   FINSIM_KILL_GRACE       seconds mpirun gets after SIGTERM before its process group
#                           is killed (default 30), so a lost node cannot hold the task
#   FINSIM_SHARED_MOUNT     set (by submit.sh) when the pool mounts a file share at
#                           $AZ_BATCH_NODE_MOUNTS_DIR/finsim (pool-mounts.json)
#   FINSIM_OUTPUT_DIR       write the results here instead (a directory every node sees)
# Output: AZ_BATCH_TASK_WORKING_DIR is node-local. finsim (--h5-write auto)
# sees that the ranks on other nodes cannot reach it and rank 0 writes the
# whole file. With a shared mount the file is written in parallel from every
# node under $AZ_BATCH_NODE_MOUNTS_DIR/finsim/<job id>/<task id>/ and then
# copied to the working directory, from which outputFiles upload it.
# A failed attempt (finsim exit 10, a lost node) fails the task; Batch retries
# it up to the task's maxTaskRetryCount and the retry resumes.
set -euo pipefail
PROG=run-task.sh
log() { echo "$PROG: $*"; }
die() { echo "$PROG: error: $*" >&2; exit 2; }
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0
fi

for v in AZ_BATCH_HOST_LIST AZ_BATCH_TASK_WORKING_DIR AZ_BATCH_NODE_SHARED_DIR AZ_BATCH_JOB_ID AZ_BATCH_TASK_ID; do
    [ -n "${!v:-}" ] || die "$v is not set (this runs as the command line of an Azure Batch multi-instance task)"
done
[ -n "${FINSIM_STORE:-}" ] || die "FINSIM_STORE is not set (a job or task environment setting)"
[[ "$FINSIM_STORE" != *://*:*@* ]] || die "FINSIM_STORE holds a password; put it in Key Vault (FINSIM_KEYVAULT)"
# secrets fetched here and the per-attempt ssh key (coordinate.sh) go at exit
STATE=$AZ_BATCH_NODE_SHARED_DIR/finsim/$AZ_BATCH_JOB_ID/$AZ_BATCH_TASK_ID
trap 'rm -f "$STATE/ssh/id_task" "$STATE/ssh/id_task-cert.pub"' EXIT
# shellcheck source=azure-identity.sh
source "$(dirname "$0")/azure-identity.sh"
az_redis_password || exit 2
pw_from=$AZ_PW_FROM
FINSIM=${FINSIM_BIN:-finsim}
command -v "$FINSIM" >/dev/null 2>&1 || die "finsim not found ('$FINSIM')"

IFS=',' read -r -a HOSTS <<< "$AZ_BATCH_HOST_LIST"
PER_NODE=${FINSIM_RANKS_PER_NODE:-}
[ -n "$PER_NODE" ] || PER_NODE=$(nproc)
[[ "$PER_NODE" =~ ^[1-9][0-9]*$ ]] || die "FINSIM_RANKS_PER_NODE must be a positive integer, not '$PER_NODE'"
NP=$(( ${#HOSTS[@]} * PER_NODE ))
HOSTSPEC=$(printf "%s:$PER_NODE," "${HOSTS[@]}")
HOSTSPEC=${HOSTSPEC%,}
NAME=${FINSIM_OUTPUT_NAME:-finsim-results.h5}
if [ -z "${FINSIM_OUTPUT_DIR:-}" ] && [ -n "${FINSIM_SHARED_MOUNT:-}" ]; then
    [ -n "${AZ_BATCH_NODE_MOUNTS_DIR:-}" ] && [ -d "$AZ_BATCH_NODE_MOUNTS_DIR/finsim" ] ||
        die "FINSIM_SHARED_MOUNT is set but $AZ_BATCH_NODE_MOUNTS_DIR/finsim is not mounted in this container"
    FINSIM_OUTPUT_DIR=$AZ_BATCH_NODE_MOUNTS_DIR/finsim/$AZ_BATCH_JOB_ID/$AZ_BATCH_TASK_ID
fi
[ -z "${FINSIM_OUTPUT_DIR:-}" ] || mkdir -p "$FINSIM_OUTPUT_DIR"
OUTPUT=${FINSIM_OUTPUT_DIR:-$AZ_BATCH_TASK_WORKING_DIR}/$NAME
ATTEMPT=$(cat "$STATE/attempts" 2>/dev/null || echo 1)

case "${FINSIM_RESUME:-auto}" in
    always|1|true|yes) RESUME=1 ;;
    never|0|false|no) RESUME=0 ;;
    auto) [ "$ATTEMPT" -gt 1 ] && RESUME=1 || RESUME=0 ;;
    *) die "FINSIM_RESUME must be auto, always or never, not '$FINSIM_RESUME'" ;;
esac
FAILURE=${FINSIM_FAILURE:-}
# finsim reads FINSIM_<KEY> itself: keep these two to the options below
unset FINSIM_FAILURE FINSIM_RESUME

ARGS=(run --store "$FINSIM_STORE" --output "$OUTPUT" --progress "${FINSIM_PROGRESS:-60}")
[ -z "${FINSIM_START_TRADE:-}" ] || ARGS+=(--start-trade "$FINSIM_START_TRADE")
[ -z "${FINSIM_TRADE_WINDOW:-}" ] || ARGS+=(--trade-window "$FINSIM_TRADE_WINDOW")
[ -z "${FINSIM_ALGORITHM:-}" ] || ARGS+=(--algorithm "$FINSIM_ALGORITHM")
[ -z "${FINSIM_SEED:-}" ] || ARGS+=(--seed "$FINSIM_SEED")
[ -z "${FINSIM_PATHS:-}" ] || ARGS+=(--paths "$FINSIM_PATHS")
if [ "$RESUME" = 1 ]; then
    ARGS+=(--resume)
elif [ -n "$FAILURE" ] && [ "$ATTEMPT" -le 1 ]; then
    ARGS+=(--failure "$FAILURE")
fi
if [ -n "${FINSIM_EXTRA_ARGS:-}" ]; then
    read -r -a extra <<< "$FINSIM_EXTRA_ARGS"
    ARGS+=("${extra[@]}")
fi

MPI=(mpirun -np "$NP" --host "$HOSTSPEC")
[ "$(id -u)" -ne 0 ] || MPI+=(--allow-run-as-root)
[ "$PER_NODE" -le "$(nproc)" ] || MPI+=(--oversubscribe)
# The ranks on other nodes get these variables from mpirun (names only on the
# command line; values travel inside Open MPI's launch message).
for v in $(compgen -e | grep -E '^(FINSIM_|OMPI_MCA_)' | grep -vE '^FINSIM_(MPI_SSH_KEY|TASK_JSON)$' || true); do
    MPI+=(-x "$v")
done
if [ "${#HOSTS[@]}" -gt 1 ]; then
    KEY=$STATE/ssh/id_task
    [ -r "$KEY" ] || die "no task key at $KEY: did coordinate.sh run on this node?"
    MPI+=(--mca plm_rsh_agent ssh
          --mca plm_rsh_args "-p ${FINSIM_SSH_PORT:-2222} -i $KEY -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
fi

if [ -n "${FINSIM_REDIS_PASSWORD:-}" ]; then pw="set ($pw_from)"; else pw="none"; fi
log "job $AZ_BATCH_JOB_ID task $AZ_BATCH_TASK_ID attempt $ATTEMPT: $NP ranks on ${#HOSTS[@]} node(s) ($HOSTSPEC)"
log "store $FINSIM_STORE, password $pw, resume $([ "$RESUME" = 1 ] && echo yes || echo no), output $OUTPUT"
# run_bounded CMD...: run the launcher CMD (mpirun/srun) in its own process
# group and return its exit status. SIGTERM, SIGINT or SIGUSR1 to this script
# are forwarded to it as SIGTERM; if it is still running FINSIM_KILL_GRACE
# seconds later (default 30) its whole process group gets SIGKILL. A launcher
# that waits for ever on a partitioned host (mpirun may ignore SIGTERM then)
# thus cannot hold the job. RB_SIGNAL is set to the signal that stopped it.
RB_SIGNAL=
run_bounded() {
    local grace=${FINSIM_KILL_GRACE:-30} pid rc t
    [[ "$grace" =~ ^[0-9]+$ ]] || { echo "${PROG:-finsim}: FINSIM_KILL_GRACE must be whole seconds, not '$grace'" >&2; return 2; }
    RB_SIGNAL=
    trap 'RB_SIGNAL=TERM' TERM
    trap 'RB_SIGNAL=INT' INT
    trap 'RB_SIGNAL=USR1' USR1
    if command -v setsid >/dev/null 2>&1; then setsid "$@" & else "$@" & fi
    pid=$!
    while :; do
        rc=0
        wait "$pid" || rc=$?
        kill -0 "$pid" 2>/dev/null || break          # it ended; rc is its status
        [ -n "$RB_SIGNAL" ] || continue
        echo "${PROG:-finsim}: SIG$RB_SIGNAL: stopping the launcher (pid $pid; SIGKILL in ${grace} s)" >&2
        kill -TERM "$pid" 2>/dev/null || true
        t=$((SECONDS + grace))
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$t" ]; do sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "${PROG:-finsim}: the launcher ignored SIGTERM for ${grace} s: killing its process group" >&2
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        rc=0
        wait "$pid" || rc=$?
        break
    done
    trap - TERM INT USR1
    return "$rc"
}

rc=0
run_bounded "${MPI[@]}" "$FINSIM" "${ARGS[@]}" || rc=$?
log "finsim exited with status $rc${RB_SIGNAL:+ (stopped by SIG$RB_SIGNAL)}"
[ -n "$RB_SIGNAL" ] || [ "$rc" -le 14 ] || # finsim's codes are 0-14: mpirun's own failure (128 + N: signal N)
    log "error: the run ended by a failure of mpirun, not with a finsim exit code (status $rc); the results mirrored so far are kept"
if [ "$rc" = 0 ] && [ -n "${FINSIM_OUTPUT_DIR:-}" ]; then
    cp "$OUTPUT" "$AZ_BATCH_TASK_WORKING_DIR/$NAME.tmp" && mv "$AZ_BATCH_TASK_WORKING_DIR/$NAME.tmp" "$AZ_BATCH_TASK_WORKING_DIR/$NAME" ||
        { log "cannot copy $OUTPUT to the task working directory"; rc=6; }
fi
exit "$rc"
