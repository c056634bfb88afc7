#!/bin/bash
# submit.sh - create the finsim pool, run a job, or set up the daily schedule
# on Azure Batch with the az CLI, from the JSON templates next to this script.
#
# usage: submit.sh [--dry-run] pool | run | schedule | render DIR
#   pool       az batch pool create --json-file pool.json (this data-plane request cannot
#              attach a managed identity: create a pool that needs one through Azure
#              Resource Manager with the same settings, docs/AZURE-BATCH.md)
#   run        az batch job create --json-file job.json, then
#              az batch task create --json-file task.json (the multi-instance MPI task), then
#              az batch job set --json-file (onAllTasksComplete=terminatejob: the job ends with the task)
#   schedule   az batch job-schedule create --json-file job-schedule.json: a job every 24 hours
#              from the next FINSIM_SCHEDULE_AT in FINSIM_SCHEDULE_TZ; its job manager task
#              (add-task.sh) adds the rendered task.json to each day's job
#   render DIR write the rendered JSON files to DIR with the pool's secrets replaced
#              by <redacted> (to review them or keep them with a change request)
#   --dry-run  render (redacted) and print the az commands instead of running them
#
# Settings (environment):
#   FINSIM_IMAGE            container image, e.g. myregistry.azurecr.io/finsim:0.1.0 (required)
#   FINSIM_STORE            rediss://NAME.redis.cache.windows.net:6380 for Azure Cache for Redis
#                           (TLS port 6380; the plain port 6379 is off by default) (required)
#   FINSIM_TRADE_WINDOW     number of trades (required for run/schedule); FINSIM_START_TRADE (0)
#   FINSIM_ALGORITHM, FINSIM_SEED, FINSIM_PATHS     as 'finsim run' (finsim's defaults if unset)
#   FINSIM_POOL_ID (finsim-pool), FINSIM_VM_SIZE (Standard_D16s_v5), FINSIM_NODES (2),
#   FINSIM_RANKS_PER_NODE (default: the node's cores)
#   FINSIM_JOB_ID (finsim-<UTC time>), FINSIM_SCHEDULE_ID (finsim-daily)
#   FINSIM_SCHEDULE_AT (15:25:03) and FINSIM_SCHEDULE_TZ (UTC, or e.g. Europe/London): the
#                           first run; Batch keeps every later one exactly 24 h after it in UTC
#   FINSIM_RESULTS_CONTAINER_URL https://ACCOUNT.blob.core.windows.net/CONTAINER, a plain
#                           URL: the results upload with the pool's identity (a SAS is refused)
#   FINSIM_RESULTS_IDENTITY_ID  resource id of the pool's user-assigned managed identity
#                           (required for run/schedule); FINSIM_IDENTITY_CLIENT_ID its client
#                           id (needed when the pool has more than one identity)
#   FINSIM_KEYVAULT         Key Vault the tasks read at run time with that identity: secret
#                           finsim-redis-password (the cache access key) and, on several
#                           nodes, finsim-mpi-ssh-ca (the ssh CA key; docs/AZURE-BATCH.md)
#   FINSIM_REGISTRY_SERVER with FINSIM_REGISTRY_USER (and the password below), or with
#                           FINSIM_REGISTRY_IDENTITY_ID (a pool identity): a private registry
# No job, task or schedule request carries a secret: the tasks fetch the Redis
# password and the ssh CA themselves when they run (azure-identity.sh), make a
# fresh ssh key per attempt, and upload with the pool identity.
# Pool secrets (environment, or Key Vault FINSIM_KEYVAULT when unset; never printed,
# never on a command line; they go into a private temp copy of pool.json, which az reads):
#   FINSIM_REGISTRY_PASSWORD     registry password         (finsim-registry-password)
#   FINSIM_FILES_KEY             storage account key of the Azure Files share (only with
#                                FINSIM_SHARED_MOUNT=azurefiles; finsim-files-key)
# Shared output (optional): FINSIM_SHARED_MOUNT=azurefiles (FINSIM_FILES_ACCOUNT,
# FINSIM_FILES_SHARE, FINSIM_FILES_KEY) or nfs (FINSIM_NFS_SOURCE, e.g.
# nfs://ACCOUNT.file.core.windows.net/ACCOUNT/SHARE or host:/export) adds that entry of
# pool-mounts.json as the pool's mountConfiguration (mounted at
# $AZ_BATCH_NODE_MOUNTS_DIR/finsim on every node) and sets FINSIM_SHARED_MOUNT on the
# task: run-task.sh then writes the results there, in parallel from every node, and
# copies them to the task directory for upload. Without it the working directory is
# node-local and rank 0 writes the whole file (docs/CLUSTER.md).
# az must be logged in to the Batch account (az login; az batch account login ...).
set -euo pipefail
PROG=submit.sh
HERE=$(cd "$(dirname "$0")" && pwd)
die() { echo "$PROG: error: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

DRY=0
CMD=
OUTDIR=
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --dry-run) DRY=1; shift ;;
        pool|run|schedule) CMD=$1; shift ;;
        render) CMD=render; OUTDIR=${2:-}; [ -n "$OUTDIR" ] || die "render needs a directory"; shift 2 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$CMD" ] || { usage >&2; exit 2; }
command -v python3 >/dev/null || die "python3 is needed to render the JSON files"

export FINSIM_POOL_ID=${FINSIM_POOL_ID:-finsim-pool}
export FINSIM_VM_SIZE=${FINSIM_VM_SIZE:-Standard_D16s_v5}
export FINSIM_NODES=${FINSIM_NODES:-2}
export FINSIM_JOB_ID=${FINSIM_JOB_ID:-finsim-$(date -u +%Y%m%d-%H%M%S)}
export FINSIM_SCHEDULE_ID=${FINSIM_SCHEDULE_ID:-finsim-daily}
export FINSIM_SCHEDULE_AT=${FINSIM_SCHEDULE_AT:-15:25:03}
export FINSIM_SCHEDULE_TZ=${FINSIM_SCHEDULE_TZ:-UTC}
export FINSIM_START_TRADE=${FINSIM_START_TRADE:-0}
[[ "$FINSIM_NODES" =~ ^[1-9][0-9]*$ ]] || die "FINSIM_NODES must be a positive integer"
[ -n "${FINSIM_IMAGE:-}" ] || die "set FINSIM_IMAGE (the finsim container image, e.g. myacr.azurecr.io/finsim:0.1.0)"
if [ "$CMD" != pool ]; then
    [ -n "${FINSIM_STORE:-}" ] || die "set FINSIM_STORE (e.g. rediss://NAME.redis.cache.windows.net:6380)"
    [[ "$FINSIM_STORE" != *://*:*@* ]] || die "FINSIM_STORE holds a password: put it in Key Vault (secret finsim-redis-password)"
    [ -n "${FINSIM_TRADE_WINDOW:-}" ] || die "set FINSIM_TRADE_WINDOW (number of trades)"
fi

# pool secrets: environment first, then Key Vault; values are only ever held in
# variables and the private render directory
kv() { # VAR SECRET-NAME
    local var=$1 name=$2
    if [ -z "${!var:-}" ] && [ -n "${FINSIM_KEYVAULT:-}" ] && [ "$DRY" = 0 ] && [ "$CMD" != render ]; then
        local val
        val=$(az keyvault secret show --vault-name "$FINSIM_KEYVAULT" --name "$name" --query value -o tsv 2>/dev/null) ||
            die "cannot read secret '$name' from Key Vault $FINSIM_KEYVAULT"
        export "$var=$val"
    fi
}
[ -z "${FINSIM_REGISTRY_SERVER:-}" ] || kv FINSIM_REGISTRY_PASSWORD finsim-registry-password
# job secrets are never sent: the tasks read them from Key Vault when they run
[ -z "${FINSIM_REDIS_PASSWORD:-}" ] ||
    die "FINSIM_REDIS_PASSWORD is not sent to Batch: store it in Key Vault (az keyvault secret set --vault-name VAULT --name finsim-redis-password --file FILE), set FINSIM_KEYVAULT and unset FINSIM_REDIS_PASSWORD"
[ -z "${FINSIM_MPI_SSH_KEY:-}" ] || die "FINSIM_MPI_SSH_KEY is not used: the tasks make a fresh ssh key per attempt (docs/AZURE-BATCH.md)"
case "${FINSIM_RESULTS_CONTAINER_URL:-}" in
    *\?*|*sig=*) die "FINSIM_RESULTS_CONTAINER_URL carries a query (a SAS?): give the plain container URL; the results upload with the pool identity FINSIM_RESULTS_IDENTITY_ID" ;;
esac
[ -z "${FINSIM_KEYVAULT:-}" ] || [[ "$FINSIM_KEYVAULT" =~ ^[A-Za-z0-9-]{3,24}$ ]] ||
    die "FINSIM_KEYVAULT must be a Key Vault name (3-24 letters, digits, '-')"
if { [ "$CMD" = run ] || [ "$CMD" = schedule ]; } && [ "$DRY" = 0 ]; then
    [ -n "${FINSIM_RESULTS_CONTAINER_URL:-}" ] || die "set FINSIM_RESULTS_CONTAINER_URL (https://ACCOUNT.blob.core.windows.net/CONTAINER)"
    [ -n "${FINSIM_RESULTS_IDENTITY_ID:-}" ] ||
        die "set FINSIM_RESULTS_IDENTITY_ID (the pool's user-assigned identity, which uploads the results and reads Key Vault)"
    [ "$FINSIM_NODES" = 1 ] || [ -n "${FINSIM_KEYVAULT:-}" ] ||
        die "set FINSIM_KEYVAULT: a task on several nodes reads its ssh CA (secret finsim-mpi-ssh-ca) from Key Vault"
    [ -n "${FINSIM_KEYVAULT:-}" ] ||
        echo "$PROG: note: FINSIM_KEYVAULT is not set: the task connects to $FINSIM_STORE without a password" >&2
fi

# optional settings: present (maybe empty) for the renderer, which drops empty
# environment settings and unused registry entries
for v in FINSIM_ALGORITHM FINSIM_SEED FINSIM_PATHS FINSIM_TRADE_WINDOW FINSIM_RANKS_PER_NODE FINSIM_STORE \
         FINSIM_KEYVAULT FINSIM_RESULTS_CONTAINER_URL FINSIM_RESULTS_IDENTITY_ID FINSIM_IDENTITY_CLIENT_ID \
         FINSIM_REGISTRY_SERVER FINSIM_REGISTRY_USER FINSIM_REGISTRY_PASSWORD FINSIM_REGISTRY_IDENTITY_ID \
         FINSIM_SHARED_MOUNT FINSIM_FILES_ACCOUNT FINSIM_FILES_SHARE FINSIM_FILES_KEY FINSIM_NFS_SOURCE; do
    export "$v=${!v:-}"
done
if [ -n "$FINSIM_REGISTRY_SERVER" ] && [ -z "$FINSIM_REGISTRY_IDENTITY_ID" ] &&
   { [ -z "$FINSIM_REGISTRY_USER" ] || { [ -z "$FINSIM_REGISTRY_PASSWORD" ] && [ "$DRY" = 0 ] && [ "$CMD" != render ]; }; }; then
    die "FINSIM_REGISTRY_SERVER needs FINSIM_REGISTRY_USER and FINSIM_REGISTRY_PASSWORD, or FINSIM_REGISTRY_IDENTITY_ID"
fi
case "$FINSIM_SHARED_MOUNT" in
    "") ;;
    azurefiles)
        [ -n "$FINSIM_FILES_ACCOUNT" ] && [ -n "$FINSIM_FILES_SHARE" ] ||
            die "FINSIM_SHARED_MOUNT=azurefiles needs FINSIM_FILES_ACCOUNT and FINSIM_FILES_SHARE (and FINSIM_FILES_KEY)"
        if [ -z "$FINSIM_FILES_KEY" ] && [ "$DRY" = 0 ] && [ "$CMD" != render ]; then
            [ -n "${FINSIM_KEYVAULT:-}" ] || die "set FINSIM_FILES_KEY (or the Key Vault secret finsim-files-key)"
            FINSIM_FILES_KEY=$(az keyvault secret show --vault-name "$FINSIM_KEYVAULT" --name finsim-files-key \
                --query value -o tsv 2>/dev/null) || die "cannot read secret 'finsim-files-key' from Key Vault $FINSIM_KEYVAULT"
            export FINSIM_FILES_KEY
        fi ;;
    nfs) [ -n "$FINSIM_NFS_SOURCE" ] || die "FINSIM_SHARED_MOUNT=nfs needs FINSIM_NFS_SOURCE" ;;
    *) die "FINSIM_SHARED_MOUNT must be azurefiles or nfs, not '$FINSIM_SHARED_MOUNT'" ;;
esac

umask 077
W=$(mktemp -d "${TMPDIR:-/tmp}/finsim-submit.XXXXXX")
trap 'rm -rf "$W"' EXIT

# Render the templates into $W (or $OUTDIR, redacted). The Python below reads
# the values from the environment; nothing secret is passed on its command line.
REDACT=0
[ "$DRY" = 1 ] || [ "$CMD" = render ] && REDACT=1
OUT=$W
if [ "$CMD" = render ]; then mkdir -p "$OUTDIR"; OUT=$OUTDIR; fi
FINSIM_RENDER_REDACT=$REDACT python3 - "$HERE" "$OUT" <<'PYEOF'
import base64, datetime, json, os, re, sys
here, out = sys.argv[1], sys.argv[2]
env = os.environ
# only the pool's: jobs, tasks and schedules hold none
SECRETS = {"FINSIM_REGISTRY_PASSWORD", "FINSIM_FILES_KEY"}
redact = env.get("FINSIM_RENDER_REDACT") == "1"

def value(name):
    v = env.get(name, "")
    if redact and name in SECRETS and v:
        return "<redacted>"
    return v

def subst(obj, missing):
    if isinstance(obj, dict):
        return {k: subst(v, missing) for k, v in obj.items()}
    if isinstance(obj, list):
        return [subst(v, missing) for v in obj]
    if isinstance(obj, str):
        def rep(m):
            if m.group(1) not in env:
                missing.add(m.group(1))
            return value(m.group(1))
        return re.sub(r"\$\{([A-Z0-9_]+)\}", rep, obj)
    return obj

def drop_empty_env(lst):
    return [e for e in lst if e.get("value", "") != ""]

def load(name):
    with open(os.path.join(here, name)) as f:
        return json.load(f)

# next FINSIM_SCHEDULE_AT in FINSIM_SCHEDULE_TZ, as UTC: Batch schedules are UTC
# and do not follow daylight saving time
try:
    from zoneinfo import ZoneInfo
    tz = ZoneInfo(env["FINSIM_SCHEDULE_TZ"])
except Exception as e:
    sys.exit(f"submit.sh: bad FINSIM_SCHEDULE_TZ: {e}")
h, m, s = (int(x) for x in env["FINSIM_SCHEDULE_AT"].split(":"))
now = datetime.datetime.now(tz)
first = now.replace(hour=h, minute=m, second=s, microsecond=0)
if first <= now:
    first += datetime.timedelta(days=1)
env["FINSIM_SCHEDULE_START"] = first.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

missing = set()
nodes = int(env["FINSIM_NODES"])

pool = subst(load("pool.json"), missing)
pool["targetDedicatedNodes"] = nodes
cc = pool["virtualMachineConfiguration"]["containerConfiguration"]
if not env.get("FINSIM_REGISTRY_SERVER"):
    cc.pop("containerRegistries", None)       # a public image
elif env.get("FINSIM_REGISTRY_IDENTITY_ID"):    # the pool's managed identity pulls the image
    cc["containerRegistries"] = [{"registryServer": env["FINSIM_REGISTRY_SERVER"],
                                  "identityReference": {"resourceId": env["FINSIM_REGISTRY_IDENTITY_ID"]}}]

if env.get("FINSIM_SHARED_MOUNT"):
    # only the chosen entry is substituted: the other one's settings may be unset
    pool["mountConfiguration"] = subst(load("pool-mounts.json")[env["FINSIM_SHARED_MOUNT"]], missing)

def render_task():
    t = subst(load("task.json"), missing)
    t["multiInstanceSettings"]["numberOfInstances"] = nodes
    t["environmentSettings"] = drop_empty_env(t["environmentSettings"])
    if env.get("FINSIM_SHARED_MOUNT"):
        t["environmentSettings"].append({"name": "FINSIM_SHARED_MOUNT", "value": env["FINSIM_SHARED_MOUNT"]})
    if not env.get("FINSIM_RESULTS_IDENTITY_ID"):   # a --dry-run or render without it
        for of in t["outputFiles"]:
            of["destination"]["container"].pop("identityReference", None)
    return t

task = render_task()
# the schedule's task: each day's job uploads under its own id, which only
# exists at run time; add-task.sh replaces @AZ_BATCH_JOB_ID@ before adding it
job_id = env["FINSIM_JOB_ID"]
env["FINSIM_JOB_ID"] = "@AZ_BATCH_JOB_ID@"
sched_task = render_task()
env["FINSIM_JOB_ID"] = job_id

job = subst(load("job.json"), missing)
job["commonEnvironmentSettings"] = drop_empty_env(job["commonEnvironmentSettings"])

env["FINSIM_TASK_JSON"] = base64.b64encode(json.dumps(sched_task, separators=(",", ":")).encode()).decode()
sched = subst(load("job-schedule.json"), missing)
js = sched["jobSpecification"]
js["commonEnvironmentSettings"] = drop_empty_env(js["commonEnvironmentSettings"])
js["jobManagerTask"]["environmentSettings"] = drop_empty_env(js["jobManagerTask"]["environmentSettings"])

# placeholders that no setting filled (optional settings are exported empty by submit.sh)
if missing:
    sys.exit("submit.sh: no value for " + ", ".join(sorted(missing)))
for name, obj in (("pool.json", pool), ("job.json", job), ("task.json", task), ("job-schedule.json", sched)):
    with open(os.path.join(out, name), "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
print(f"submit.sh: rendered {out} (first scheduled run {env['FINSIM_SCHEDULE_START']})"
      + (" with the pool's secrets redacted" if redact else ""), file=sys.stderr)
PYEOF

if [ "$CMD" = render ]; then
    echo "$PROG: wrote $OUTDIR/{pool,job,task,job-schedule}.json (the pool's secrets redacted)"
    exit 0
fi

AZ=(az)
run_az() {
    if [ "$DRY" = 1 ]; then printf '%q ' "${AZ[@]}" "$@"; echo; return 0; fi
    "${AZ[@]}" "$@" --output none
}
[ "$DRY" = 1 ] || command -v az >/dev/null || die "the az CLI is not installed (https://aka.ms/azure-cli)"
case "$CMD" in
    pool)
        run_az batch pool create --json-file "$W/pool.json"
        echo "$PROG: pool $FINSIM_POOL_ID requested ($FINSIM_NODES x $FINSIM_VM_SIZE, image $FINSIM_IMAGE)" ;;
    run)
        run_az batch job create --json-file "$W/job.json"
        run_az batch task create --job-id "$FINSIM_JOB_ID" --json-file "$W/task.json"
        printf '{"onAllTasksComplete": "terminatejob"}\n' > "$W/job-patch.json"
        run_az batch job set --job-id "$FINSIM_JOB_ID" --json-file "$W/job-patch.json"
        echo "$PROG: job $FINSIM_JOB_ID submitted; follow it with: az batch task show --job-id $FINSIM_JOB_ID --task-id finsim-mpi" ;;
    schedule)
        run_az batch job-schedule create --json-file "$W/job-schedule.json"
        echo "$PROG: schedule $FINSIM_SCHEDULE_ID: every 24 h from $FINSIM_SCHEDULE_AT $FINSIM_SCHEDULE_TZ" ;;
esac
if [ "$DRY" = 1 ]; then
    echo "$PROG: dry run; the rendered JSON, the pool's secrets redacted:"
    case "$CMD" in pool) files=(pool) ;; run) files=(job task) ;; schedule) files=(job-schedule) ;; esac
    for f in "${files[@]}"; do echo "--- $f.json"; cat "$W/$f.json"; done
fi
