#!/bin/bash
# add-task.sh - job manager task of the daily job schedule (job-schedule.json).
#
# Every day the schedule creates a new job; its job manager task runs this in
# the finsim container. It adds the multi-instance finsim task (task.json as
# rendered by submit.sh, base64 in FINSIM_TASK_JSON) to that job through the
# Batch REST API, then exits. Neither the task nor the job holds a secret:
# the task reads the Redis password and the ssh CA from Key Vault with the
# pool's identity when it runs, however many days after the schedule was made. killJobOnCompletion is
# false, and onAllTasksComplete=terminatejob ends the job after the task.
#
# Authentication: a Microsoft Entra token for https://batch.core.windows.net/
# from the node's managed identity (instance metadata service). Give the pool
# a user-assigned identity with a Batch data-plane role on the account and
# set FINSIM_IDENTITY_CLIENT_ID to its client id. The token goes to curl in a
# mode 0600 header file, never on a command line, and is not printed
# (azure-identity.sh).
#
# Environment: AZ_BATCH_ACCOUNT_URL and AZ_BATCH_JOB_ID (set by Batch),
# FINSIM_TASK_JSON, FINSIM_IDENTITY_CLIENT_ID (optional with one identity),
# FINSIM_IMDS_URL and FINSIM_BATCH_API_VERSION (overrides, for tests).
# Exit: 0 added (or already there, on a retry of this task), 1 otherwise.
set -euo pipefail
PROG=add-task.sh
die() { echo "$PROG: error: $*" >&2; exit 1; }
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0
fi
for v in AZ_BATCH_ACCOUNT_URL AZ_BATCH_JOB_ID FINSIM_TASK_JSON; do
    [ -n "${!v:-}" ] || die "$v is not set"
done
command -v curl >/dev/null || die "curl is not installed"

# shellcheck source=azure-identity.sh
source "$(dirname "$0")/azure-identity.sh"
trap az_cleanup EXIT
umask 077
az_private_dir || exit 1
W=$AZW
printf '%s' "$FINSIM_TASK_JSON" | base64 -d > "$W/task.json" 2>/dev/null || die "FINSIM_TASK_JSON is not base64"
grep -q '"commandLine"' "$W/task.json" || die "FINSIM_TASK_JSON does not hold a task (no commandLine)"
# this day's job id, e.g. in the upload path of the results
[[ "$AZ_BATCH_JOB_ID" =~ ^[A-Za-z0-9_:-]+$ ]] || die "unexpected job id '$AZ_BATCH_JOB_ID'"
sed -i "s/@AZ_BATCH_JOB_ID@/$AZ_BATCH_JOB_ID/g" "$W/task.json"

hdr=$(az_auth_header https://batch.core.windows.net/) || exit 1

url="${AZ_BATCH_ACCOUNT_URL%/}/jobs/$AZ_BATCH_JOB_ID/tasks?api-version=${FINSIM_BATCH_API_VERSION:-2024-07-01.20.0}"
code=$(curl -sS -o "$W/response" -w '%{http_code}' --retry 3 -X POST -H @"$hdr" \
    -H 'Content-Type: application/json; odata=minimalmetadata' --data-binary @"$W/task.json" "$url") ||
    die "Batch service unreachable ($AZ_BATCH_ACCOUNT_URL)"
case "$code" in
    201) echo "$PROG: added task $(sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$W/task.json" | head -n 1) to job $AZ_BATCH_JOB_ID" ;;
    409) grep -q 'TaskExists' "$W/response" || die "the Batch service refused the task (HTTP 409): $(head -c 600 "$W/response")"
         echo "$PROG: the task is already in job $AZ_BATCH_JOB_ID (a retry of this job manager)" ;;
    *) die "adding the task failed (HTTP $code): $(head -c 600 "$W/response")" ;;
esac
