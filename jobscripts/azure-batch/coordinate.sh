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
#     here, that accepts only ssh certificates signed by the task CA: the
#     Key Vault secret finsim-mpi-ssh-ca (FINSIM_KEYVAULT), an ssh private
#     key, read with the pool's managed identity (azure-identity.sh);
#   * on the primary node of a multi-node task, makes a fresh key pair for
#     this attempt and signs it with the task CA: a certificate for this job
#     and task, for the user the task runs as, valid for FINSIM_MPI_CERT_HOURS
#     (default 13, the job's wall-clock limit and a margin) and only from the
#     task's hosts. run-task.sh hands it to Open MPI's ssh and removes it.
#     The CA key is in a mode 0600 file in a private directory only while the
#     certificate is signed, and removed on every exit; no key is printed,
#     and none is in any job, task or schedule JSON.
# Environment set by Batch: AZ_BATCH_HOST_LIST, AZ_BATCH_NODE_SHARED_DIR,
# AZ_BATCH_JOB_ID, AZ_BATCH_TASK_ID, AZ_BATCH_IS_CURRENT_NODE_MASTER (true on
# the primary). FINSIM_KEYVAULT, FINSIM_IDENTITY_CLIENT_ID: see azure-identity.sh.
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
[ -n "${FINSIM_KEYVAULT:-}" ] ||
    die "FINSIM_KEYVAULT is not set: a multi-node task reads its ssh CA (secret finsim-mpi-ssh-ca) from Key Vault"
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || die "no sshd in this image (openssh-server)"
USER_NAME=$(id -un 2>/dev/null) || die "the task's uid $(id -u) has no user name (ssh needs one)"
D=$STATE/ssh
mkdir -p "$D"
chmod 0700 "$D"
umask 077
# shellcheck source=azure-identity.sh
source "$(dirname "$0")/azure-identity.sh"
trap az_cleanup EXIT
az_private_dir || exit 1
ca=$(az_kv_secret finsim-mpi-ssh-ca) || exit 1
# the secret: the CA key as stored from the file (PEM), or base64 of it
# (az keyvault secret set --encoding base64)
case $ca in
    -----BEGIN*) printf '%s\n' "$ca" > "$AZW/ca" ;;
    *) printf '%s' "$ca" | base64 -d > "$AZW/ca" 2>/dev/null || die "secret finsim-mpi-ssh-ca is neither an ssh private key nor base64" ;;
esac
unset ca
ssh-keygen -y -f "$AZW/ca" > "$D/ca.pub" 2>/dev/null || die "secret finsim-mpi-ssh-ca does not hold a valid ssh private key"
rm -f "$D/id_task" "$D/id_task.pub" "$D/id_task-cert.pub"
if [ "${AZ_BATCH_IS_CURRENT_NODE_MASTER:-}" = true ]; then
    # only the hosts of this task may use the certificate
    FROM=
    [[ "$AZ_BATCH_HOST_LIST" =~ ^[0-9.,]+$ ]] && FROM="-Osource-address=$AZ_BATCH_HOST_LIST"
    HOURS=${FINSIM_MPI_CERT_HOURS:-13}
    [[ "$HOURS" =~ ^[1-9][0-9]*$ ]] || die "FINSIM_MPI_CERT_HOURS must be whole hours, not '$HOURS'"
    ssh-keygen -q -t ed25519 -N '' -C "finsim-mpi $AZ_BATCH_JOB_ID/$AZ_BATCH_TASK_ID" -f "$D/id_task"
    ssh-keygen -q -s "$AZW/ca" -I "finsim-mpi $AZ_BATCH_JOB_ID/$AZ_BATCH_TASK_ID attempt $attempt" \
        -n "$USER_NAME" -V "-5m:+${HOURS}h" ${FROM:+"$FROM"} "$D/id_task.pub" 2>"$D/sign.err" ||
        die "cannot sign the task key: $(head -c 300 "$D/sign.err")"
    rm -f "$D/sign.err"
    log "fresh task key, certificate for $USER_NAME valid ${HOURS} h"
fi
az_cleanup
[ -s "$D/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$D/host_ed25519"
cat > "$D/sshd_config" <<CONF
Port $PORT
ListenAddress 0.0.0.0
HostKey $D/host_ed25519
TrustedUserCAKeys $D/ca.pub
AuthorizedKeysFile none
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
