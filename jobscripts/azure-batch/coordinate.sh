#!/bin/bash
# coordinate.sh - coordination command of the finsim multi-instance task.
#
# Azure Batch runs this on every node of the task (the primary and each
# subtask), in the finsim container, before the primary runs run-task.sh.
# It
#   * counts the attempts of this task on this node (a node-local file under
#     AZ_BATCH_NODE_SHARED_DIR, per job and task id); run-task.sh resumes from
#     the store's mirror when the count shows a retry;
#   * on a multi-node task, starts an sshd for Open MPI on FINSIM_SSH_PORT
#     (default 2222; the task runs with --network host), with a host key made
#     here and the task's public key derived from FINSIM_MPI_SSH_KEY, the
#     private key that submit.sh put into the job's environment settings.
#     The key is written to a mode 0600 file and never printed.
# Environment set by Batch: AZ_BATCH_HOST_LIST, AZ_BATCH_NODE_SHARED_DIR,
# AZ_BATCH_JOB_ID, AZ_BATCH_TASK_ID (AZ_BATCH_IS_CURRENT_NODE_MASTER, informative).
set -euo pipefail
PROG=coordinate.sh
log() { echo "$PROG[$(hostname)]: $*"; }
die() { echo "$PROG[$(hostname)]: error: $*" >&2; exit 1; }
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0
fi

for v in AZ_BATCH_HOST_LIST AZ_BATCH_NODE_SHARED_DIR AZ_BATCH_JOB_ID AZ_BATCH_TASK_ID; do
    [ -n "${!v:-}" ] || die "$v is not set (this runs as the coordination command of an Azure Batch multi-instance task)"
done
IFS=',' read -r -a HOSTS <<< "$AZ_BATCH_HOST_LIST"
[ "${#HOSTS[@]}" -ge 1 ] || die "AZ_BATCH_HOST_LIST is empty"

STATE=$AZ_BATCH_NODE_SHARED_DIR/finsim/$AZ_BATCH_JOB_ID/$AZ_BATCH_TASK_ID
mkdir -p "$STATE"
chmod 0700 "$AZ_BATCH_NODE_SHARED_DIR/finsim" "$STATE" 2>/dev/null || true
attempt=$(( $(cat "$STATE/attempts" 2>/dev/null || echo 0) + 1 ))
echo "$attempt" > "$STATE/attempts"
log "attempt $attempt of task $AZ_BATCH_TASK_ID on this node; ${#HOSTS[@]} host(s); master: ${AZ_BATCH_IS_CURRENT_NODE_MASTER:-unknown}"

if [ "${#HOSTS[@]}" -eq 1 ]; then
    log "single node: no remote launcher needed"
    exit 0
fi

# ---- several nodes: an sshd for Open MPI's launcher --------------------------
PORT=${FINSIM_SSH_PORT:-2222}
[ -n "${FINSIM_MPI_SSH_KEY:-}" ] || die "FINSIM_MPI_SSH_KEY is not set: a multi-node task needs the task key (submit.sh sets it)"
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || die "no sshd in this image (openssh-server)"
D=$STATE/ssh
mkdir -p "$D"
chmod 0700 "$D"
umask 077
# the key arrives base64-encoded (one line in the environment settings)
printf '%s' "$FINSIM_MPI_SSH_KEY" | base64 -d > "$D/id_task" 2>/dev/null || die "FINSIM_MPI_SSH_KEY is not a base64 private key"
ssh-keygen -y -f "$D/id_task" > "$D/authorized_keys" 2>/dev/null || die "FINSIM_MPI_SSH_KEY does not hold a valid private key"
[ -s "$D/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$D/host_ed25519"
cat > "$D/sshd_config" <<CONF
Port $PORT
ListenAddress 0.0.0.0
HostKey $D/host_ed25519
AuthorizedKeysFile $D/authorized_keys
PidFile $D/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PrintMotd no
AcceptEnv FINSIM_* OMPI_*
CONF
# sshd insists on its privilege separation directory (absent in a fresh container)
[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd 2>/dev/null || true
if [ -s "$D/sshd.pid" ] && kill -0 "$(cat "$D/sshd.pid")" 2>/dev/null; then
    log "sshd already running (pid $(cat "$D/sshd.pid"))"
else
    "$SSHD" -f "$D/sshd_config" -E "$D/sshd.log" || die "sshd did not start: $(tail -3 "$D/sshd.log" 2>/dev/null)"
fi
for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        log "sshd ready on port $PORT"
        exit 0
    fi
    sleep 0.2
done
die "sshd is not accepting connections on port $PORT: $(tail -3 "$D/sshd.log" 2>/dev/null)"
