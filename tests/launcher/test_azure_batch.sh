# test_azure_batch.sh - jobscripts/azure-batch without Azure:
#   the JSON templates parse and follow the Batch REST schema (required and
#   known properties, enums, durations; tests/azure_batch_check.py), hold no
#   secret values, and the checker catches a misspelt property;
#   submit.sh renders them (secrets only in a private temp copy, redacted in
#   --dry-run/render output) into valid requests and prints the az commands;
#   the start task, coordination and application command lines run here as
#   Batch would run them (entrypoint and containerRunOptions of the task, the
#   environment settings of the rendered job and task, the AZ_BATCH_* variables
#   with this machine as the only host) and give a valid HDF5 file that the
#   outputFiles pattern uploads; an injected failure fails the first attempt
#   and the retry resumes to a bitwise-identical result;
#   add-task.sh (the schedule's job manager) gets a token from a fake metadata
#   service and posts the rendered task to a fake Batch endpoint, token unseen;
#   no request body that submit.sh or add-task.sh sends (pool, job, task,
#   schedule, the schedule's embedded task) holds a SAS, a private key or a
#   password, and submit.sh refuses to send them;
#   the tasks fetch their secrets at run time from a fake metadata service and
#   Key Vault: the Redis password, used against a real password-protected
#   redis-server, and the ssh CA, which signs a fresh key on the primary that
#   a second node's sshd accepts (an unsigned key is refused); no secret file
#   and no secret in a log is left behind.
source "$FINSIM_SRC/tests/lib/common.sh"
PY=${PY:-/usr/bin/python3}
A=$FINSIM_SRC/jobscripts/azure-batch
CHK=$FINSIM_SRC/tests/azure_batch_check.py

# ---- 1. templates: JSON, schema, no secrets ----
for f in pool job task job-schedule; do
  expect_rc 0 "$PY" -m json.tool "$A/$f.json"
done
expect_rc 0 "$PY" "$CHK" pool="$A/pool.json" job="$A/job.json" task="$A/task.json" job-schedule="$A/job-schedule.json"
cat "$T/last.out"
# the daily screen's schedule (fetch quotes, price, publish signals)
expect_rc 0 "$PY" -m json.tool "$A/screen-job-schedule.json"
expect_rc 0 "$PY" "$CHK" screen-schedule="$A/screen-job-schedule.json"
cat "$T/last.out"
# the checker finds a misspelt property, a missing required one, a secret value
sed 's/"nodeAgentSKUId"/"nodeAgentSkuId"/' "$A/pool.json" > "$T/bad-pool.json"
expect_rc 1 "$PY" "$CHK" pool="$T/bad-pool.json"
expect_grep "did you mean 'nodeAgentSKUId'" "$T/last.out"
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); del d["outputFiles"][0]["uploadOptions"]; json.dump(d, open(sys.argv[2], "w"))' \
  "$A/task.json" "$T/bad-task.json"
expect_rc 1 "$PY" "$CHK" task="$T/bad-task.json"
expect_grep "requires 'uploadOptions'" "$T/last.out"
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1]))
d["commonEnvironmentSettings"].append({"name": "FINSIM_REDIS_PASSWORD", "value": "${FINSIM_REDIS_PASSWORD}"})
json.dump(d, open(sys.argv[2], "w"))' "$A/job.json" "$T/bad-job.json"
expect_rc 1 "$PY" "$CHK" job="$T/bad-job.json"
expect_grep 'FINSIM_REDIS_PASSWORD: a job, task or schedule holds no secret setting' "$T/last.out"
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); del d["outputFiles"][0]["destination"]["container"]["identityReference"]; json.dump(d, open(sys.argv[2], "w"))' \
  "$A/task.json" "$T/bad-task2.json"
expect_rc 1 "$PY" "$CHK" task="$T/bad-task2.json"
expect_grep 'never a SAS' "$T/last.out"
# nothing secret-looking in the committed files
expect_no_grep 'sig=|AccountKey=|BEGIN .*PRIVATE KEY|"password": "[^$]' "$A/pool.json"
for f in job task job-schedule; do expect_no_grep 'sig=|AccountKey=|BEGIN .*PRIVATE KEY' "$A/$f.json"; done

# ---- 2. submit.sh: render, dry run, secrets kept out of its output ----
SECRET_PW="pw-$(date +%s%N)-do-not-print"
SECRET_SAS="sv=2024-01-01&sp=cw&sig=SIGNATURE$(date +%N)"
RESULTS_URL=https://finsimstore.blob.core.windows.net/results
IDENT=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/finsim/providers/Microsoft.ManagedIdentity/userAssignedIdentities/finsim-pool
CLIENT_ID=00000000-1111-2222-3333-444444444444
export FINSIM_IMAGE=finsimacr.azurecr.io/finsim:0.1.0 FINSIM_STORE="$T/trades.h5" FINSIM_TRADE_WINDOW=40 \
  FINSIM_ALGORITHM=deltavega FINSIM_SEED=7 FINSIM_PATHS=1000 FINSIM_RANKS_PER_NODE=2 FINSIM_NODES=1 \
  FINSIM_JOB_ID=finsim-test-job FINSIM_KEYVAULT=finsimkv FINSIM_RESULTS_CONTAINER_URL="$RESULTS_URL" \
  FINSIM_RESULTS_IDENTITY_ID="$IDENT" FINSIM_IDENTITY_CLIENT_ID="$CLIENT_ID"
unset FINSIM_REDIS_PASSWORD
expect_rc 0 bash "$A/submit.sh" render "$T/rendered"
expect_rc 0 "$PY" "$CHK" --rendered pool="$T/rendered/pool.json" job="$T/rendered/job.json" \
  task="$T/rendered/task.json" job-schedule="$T/rendered/job-schedule.json"
expect_grep '"numberOfInstances": 1' "$T/rendered/task.json"
expect_grep '"doNotRunUntil": "[0-9-]+T15:25:03Z"' "$T/rendered/job-schedule.json"
for c in pool run schedule; do
  expect_rc 0 bash "$A/submit.sh" --dry-run "$c"
  cat "$T/last.out" "$T/last.err" > "$T/dry-$c.txt"
  expect_no_grep "$SECRET_PW|SIGNATURE" "$T/dry-$c.txt"
done
expect_grep '^az batch pool create --json-file ' "$T/dry-pool.txt"
expect_grep '^az batch job create --json-file ' "$T/dry-run.txt"
expect_grep '^az batch task create --job-id finsim-test-job --json-file ' "$T/dry-run.txt"
expect_grep '^az batch job-schedule create --json-file ' "$T/dry-schedule.txt"
grep -rlE "$SECRET_PW|SIGNATURE" "$T/rendered" && { echo "FAIL: a secret reached the rendered files" >&2; exit 1; }
expect_rc 2 env -u FINSIM_IMAGE bash "$A/submit.sh" --dry-run run
expect_grep 'FINSIM_IMAGE' "$T/last.err"
expect_rc 2 env FINSIM_STORE="redis://u:pw@cache:6379" bash "$A/submit.sh" --dry-run run
expect_no_grep 'pw@' "$T/last.err"
# job secrets are never sent: a password or a SAS given to submit.sh is refused, unprinted
for c in run schedule; do
  expect_rc 2 env FINSIM_REDIS_PASSWORD="$SECRET_PW" bash "$A/submit.sh" --dry-run "$c"
  expect_grep 'Key Vault .*finsim-redis-password' "$T/last.err"
  cat "$T/last.out" "$T/last.err" > "$T/refused.txt"; expect_no_grep "$SECRET_PW" "$T/refused.txt"
  expect_rc 2 env FINSIM_RESULTS_CONTAINER_URL="$RESULTS_URL?$SECRET_SAS" bash "$A/submit.sh" --dry-run "$c"
  expect_grep 'pool identity' "$T/last.err"
  cat "$T/last.out" "$T/last.err" > "$T/refused.txt"; expect_no_grep 'SIGNATURE' "$T/refused.txt"
done
expect_rc 2 env FINSIM_NODES=2 FINSIM_KEYVAULT= bash "$A/submit.sh" run
expect_grep 'FINSIM_KEYVAULT' "$T/last.err"
# the real render (what az would read) has the secrets, in a private directory
# that is gone afterwards: run it with a stub az that copies what it is given
mkdir -p "$T/bin" "$T/az-seen" "$T/subtmp"
cat > "$T/bin/az" <<'EOF'
#!/bin/bash
# stub az: keep the JSON files it is given, and its arguments
echo "$*" >> "$AZ_SEEN/args"
while [ $# -gt 0 ]; do
  if [ "$1" = --json-file ]; then cp "$2" "$AZ_SEEN/$(basename "$2")"; stat -c '%a' "$(dirname "$2")" > "$AZ_SEEN/dirmode"; fi
  shift
done
EOF
chmod +x "$T/bin/az"
for c in pool run schedule; do
  expect_rc 0 env PATH="$T/bin:$PATH" AZ_SEEN="$T/az-seen" TMPDIR="$T/subtmp" bash "$A/submit.sh" "$c"
done
expect_grep '^700$' "$T/az-seen/dirmode"
[ -z "$(ls -A "$T/subtmp")" ] || { echo "FAIL: submit.sh left its private render directory behind" >&2; exit 1; }
# every request body az was given: no SAS, no private key (also not base64-encoded),
# no password, no secret-named setting; the results upload with the pool identity
cat > "$T/no_secret_bodies.py" <<'PYEOF'
import base64, binascii, json, os, re, sys
pw, files = os.environ["SECRET_PW"], sys.argv[1:]
BAD = re.compile(r"sig=|PRIVATE KEY|openssh-key-v1|AccountKey=|" + re.escape(pw))
NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|SAS|SSH_KEY|CREDENTIAL", re.I)
def check(doc, where):
    if isinstance(doc, dict):
        if re.fullmatch(r"[A-Z0-9_]+", str(doc.get("name", ""))) and NAME.search(doc["name"]) and doc.get("value"):
            sys.exit(f"FAIL: {where}: setting {doc['name']} holds a value")
        for k, v in doc.items():
            if re.search(r"(?i)password|accountkey", k) and v:
                sys.exit(f"FAIL: {where}.{k}: a password in a request body")
            check(v, f"{where}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            check(v, f"{where}[{i}]")
    elif isinstance(doc, str):
        texts = [doc]
        if len(doc) >= 16 and re.fullmatch(r"[A-Za-z0-9+/=]+", doc):
            try:
                texts.append(base64.b64decode(doc, validate=True).decode("latin-1"))
            except (binascii.Error, ValueError):
                pass
        for t in texts:
            m = BAD.search(t)
            if m:
                sys.exit(f"FAIL: {where}: a secret in a request body ({m.group(0)[:14]!r}...)")
        if len(texts) > 1 and texts[1].lstrip().startswith("{"):
            check(json.loads(texts[1]), where + "<base64 JSON>")
for f in files:
    check(json.load(open(f)), os.path.basename(f))
    print("no secret in", os.path.basename(f))
PYEOF
for f in pool job task job-schedule; do [ -s "$T/az-seen/$f.json" ] || { echo "FAIL: az was not given $f.json" >&2; exit 1; }; done
expect_rc 0 env SECRET_PW="$SECRET_PW" "$PY" "$T/no_secret_bodies.py" "$T"/az-seen/*.json
cat "$T/last.out"
expect_no_grep "$SECRET_PW|SIGNATURE" "$T/az-seen/args"
expect_grep '"FINSIM_KEYVAULT"' "$T/az-seen/job.json"
expect_grep '"FINSIM_KEYVAULT"' "$T/az-seen/job-schedule.json"
"$PY" - "$T/az-seen/task.json" "$RESULTS_URL" "$IDENT" <<'PYEOF'
import json, sys
for o in json.load(open(sys.argv[1]))["outputFiles"]:
    c = o["destination"]["container"]
    assert c["containerUrl"] == sys.argv[2], c
    assert c["identityReference"] == {"resourceId": sys.argv[3]}, c
print("outputFiles: plain container URL, uploaded with the pool identity")
PYEOF
CHECKS=$((CHECKS + 1))
# the old single-file secret checks still hold for the real render
expect_no_grep "$SECRET_PW|SIGNATURE" "$T/last.out"

# the shared-mount option: pool-mounts.json follows the schema; submit.sh adds
# the chosen entry to the pool, the storage key only in the private copy
expect_rc 0 "$PY" "$CHK" pool-mounts="$A/pool-mounts.json"
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); del d["azurefiles"][0]["azureFileShareConfiguration"]["accountKey"]; json.dump(d, open(sys.argv[2], "w"))' \
  "$A/pool-mounts.json" "$T/bad-mounts.json"
expect_rc 1 "$PY" "$CHK" pool-mounts="$T/bad-mounts.json"
expect_grep "requires 'accountKey'" "$T/last.out"
FILES_KEY="fk$(date +%N)secretkey=="
expect_rc 0 env FINSIM_SHARED_MOUNT=azurefiles FINSIM_FILES_ACCOUNT=finsimfiles FINSIM_FILES_SHARE=results \
  FINSIM_FILES_KEY="$FILES_KEY" bash "$A/submit.sh" render "$T/rendered-mount"
expect_rc 0 "$PY" "$CHK" --rendered pool="$T/rendered-mount/pool.json" task="$T/rendered-mount/task.json"
expect_grep '"azureFileUrl": "https://finsimfiles.file.core.windows.net/results"' "$T/rendered-mount/pool.json"
expect_grep '"accountKey": "<redacted>"' "$T/rendered-mount/pool.json"
expect_grep '"name": "FINSIM_SHARED_MOUNT"' "$T/rendered-mount/task.json"
grep -rq "$FILES_KEY" "$T/rendered-mount" && { echo "FAIL: the storage key reached the rendered files" >&2; exit 1; }
expect_rc 0 env FINSIM_SHARED_MOUNT=nfs FINSIM_NFS_SOURCE=nfs://finsimfiles.file.core.windows.net/finsimfiles/results \
  bash "$A/submit.sh" render "$T/rendered-nfs"
expect_rc 0 "$PY" "$CHK" --rendered pool="$T/rendered-nfs/pool.json"
expect_grep '"nfsMountConfiguration"' "$T/rendered-nfs/pool.json"
expect_rc 2 env FINSIM_SHARED_MOUNT=nfs bash "$A/submit.sh" render "$T/rendered-x"
expect_grep 'FINSIM_NFS_SOURCE' "$T/last.err"
expect_no_grep 'mountConfiguration' "$T/rendered/pool.json"

# ---- a fake instance metadata service, Key Vault and Batch endpoint ----
# (tests/fake_azure.py: Key Vault answers the files in $T/kv)
TOKEN="tok-$(date +%s%N)-secret"
mkdir -p "$T/kv"
(umask 077; printf '%s' "$SECRET_PW" > "$T/kv/finsim-redis-password")
FAKE_TOKEN="$TOKEN" "$PY" "$FINSIM_SRC/tests/fake_azure.py" "$T/fake.port" "$T/fake.log" "$T/kv" &
FAKE_PID=$!
add_cleanup "kill $FAKE_PID 2>/dev/null"
wait_for 60 "port file of the fake Azure endpoints" test -s "$T/fake.port"
PORT=$(cat "$T/fake.port")
FAKE_ENV=(FINSIM_IMDS_URL="http://127.0.0.1:$PORT/metadata/identity/oauth2/token" FINSIM_KEYVAULT_URL="http://127.0.0.1:$PORT")

# ---- 3. the command lines, run as Batch runs them ----
"$FINSIM_BIN" generate --trades 40 --seed 3 --store "$T/trades.h5" >/dev/null 2>&1
cp "$T/trades.h5" "$T/trades-ref.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades-ref.h5" --algorithm deltavega --seed 7 --paths 1000 \
  --start-trade 0 --trade-window 40 --output "$T/ref.h5" --progress 0

# batch_env ROOT ATTEMPT_DIR: the variables Batch sets for a multi-instance task
# on one node, plus the rendered job and task environment settings
RJ=$T/az-seen/job.json
RT=$T/az-seen/task.json
settings() { "$PY" -c '
import json, sys
for f, key in ((sys.argv[1], "commonEnvironmentSettings"), (sys.argv[2], "environmentSettings")):
    for e in json.load(open(f)).get(key, []):
        print(e["name"] + "=" + e.get("value", ""))' "$RJ" "$RT"; }
mapfile -t TASK_ENV < <(settings)
mkdir -p "$T/node/shared" "$T/node/startup" "$T/node/wd" "$T/node/taskshared"
BATCH_ENV=(AZ_BATCH_HOST_LIST=127.0.0.1 AZ_BATCH_NODE_LIST=127.0.0.1 AZ_BATCH_MASTER_NODE=127.0.0.1:6000
  AZ_BATCH_IS_CURRENT_NODE_MASTER=true "CCP_NODES=1 127.0.0.1 2" AZ_BATCH_NODE_SHARED_DIR="$T/node/shared"
  AZ_BATCH_NODE_STARTUP_DIR="$T/node/startup" AZ_BATCH_TASK_WORKING_DIR="$T/node/wd" AZ_BATCH_TASK_DIR="$T/node"
  AZ_BATCH_TASK_SHARED_DIR="$T/node/taskshared" AZ_BATCH_JOB_ID=finsim-test-job AZ_BATCH_TASK_ID=finsim-mpi
  AZ_BATCH_ACCOUNT_URL=https://finsim.westeurope.batch.azure.com AZ_BATCH_POOL_ID=finsim-pool
  PATH="$PATH" HOME="$HOME" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 FINSIM_BIN="$FINSIM_BIN"
  "${FAKE_ENV[@]}")
# container_cmd FILE KEY: entrypoint and command line of a task in a JSON file,
# mapped from the image's /opt/finsim/azure-batch to this checkout
container_cmd() { "$PY" - "$@" "$A" <<'PYEOF'
import json, shlex, sys
path, key, here = sys.argv[1], sys.argv[2], sys.argv[3]
t = json.load(open(path))
for k in filter(None, key.split(".")):
    t = t[k]
opts = shlex.split(t.get("containerSettings", {}).get("containerRunOptions", ""))
entry = opts[opts.index("--entrypoint") + 1] if "--entrypoint" in opts else "finsim"
line = t["commandLine"] if "commandLine" in t else t["multiInstanceSettings"]["coordinationCommandLine"]
words = [w.replace("/opt/finsim/azure-batch", here) for w in shlex.split(line)]
print("\n".join([entry] + words))
PYEOF
}
# the image copies the scripts that the command lines name
expect_grep 'COPY jobscripts/azure-batch/run-task.sh jobscripts/azure-batch/coordinate.sh jobscripts/azure-batch/add-task.sh' \
  "$FINSIM_SRC/Dockerfile"
expect_grep '/opt/finsim/azure-batch/' "$FINSIM_SRC/Dockerfile"
expect_grep 'jobscripts/azure-batch/azure-identity.sh' "$FINSIM_SRC/Dockerfile"

# the pool's start task: the image's entrypoint (finsim) with the command line as arguments
mapfile -t START < <(container_cmd "$T/rendered/pool.json" startTask)
[ "${START[0]}" = finsim ] || { echo "FAIL: the start task should use the image entrypoint" >&2; exit 1; }
expect_rc 0 "$FINSIM_BIN" "${START[@]:1}"
expect_grep 'finsim' "$T/last.out"

# the multi-instance task: coordination on every node, then the application on the primary
mapfile -t COORD < <("$PY" -c '
import json, shlex, sys
t = json.load(open(sys.argv[1]))
opts = shlex.split(t["containerSettings"]["containerRunOptions"])
print(opts[opts.index("--entrypoint") + 1])
for w in shlex.split(t["multiInstanceSettings"]["coordinationCommandLine"]):
    print(w.replace("/opt/finsim/azure-batch", sys.argv[2]))' "$RT" "$A")
mapfile -t APP < <(container_cmd "$RT" "")
attempt() { # extra env...: one attempt of the task, like Batch: coordination then application
  expect_rc 0 env -i "${BATCH_ENV[@]}" "${TASK_ENV[@]}" "$@" "${COORD[@]}"
  cat "$T/last.out" >> "$T/attempts.log"
  local rc=0
  env -i "${BATCH_ENV[@]}" "${TASK_ENV[@]}" "$@" "${APP[@]}" > "$T/app.out" 2> "$T/app.err" || rc=$?
  cat "$T/app.out" "$T/app.err" >> "$T/attempts.log"
  return $rc
}
rc=0; attempt FINSIM_FAILURE=0.1 || rc=$?
[ "$rc" = 10 ] || { echo "FAIL: the first attempt should end with the injected failure (10), got $rc" >&2; tail -30 "$T/attempts.log" >&2; exit 1; }
expect_no_sanitizer "$T/app.out" "$T/app.err" "$T/attempts.log"
expect_grep 'attempt 1 of task finsim-mpi' "$T/attempts.log"
[ ! -e "$T/node/wd/finsim-results.h5" ] || { echo "FAIL: a failed attempt left a results file" >&2; exit 1; }
rc=0; attempt FINSIM_FAILURE=0.1 || rc=$?      # Batch retries the task; the failure is first-attempt only
[ "$rc" = 0 ] || { echo "FAIL: the retry failed with $rc" >&2; tail -30 "$T/attempts.log" >&2; exit 1; }
expect_no_sanitizer "$T/app.out" "$T/app.err" "$T/attempts.log"
expect_grep 'attempt 2 of task finsim-mpi' "$T/attempts.log"
expect_grep 'resume yes' "$T/app.out"
expect_grep 'resumed [1-9]' "$T/app.out"
expect_grep 'password set \(Key Vault finsimkv\)' "$T/app.out"
expect_no_grep "$SECRET_PW|$TOKEN" "$T/attempts.log"
H5CHECK valid "$T/node/wd/finsim-results.h5" 40 0
H5CHECK same "$T/ref.h5" "$T/node/wd/finsim-results.h5"
# the outputFiles patterns (relative to the task working directory) pick up the results on success
"$PY" - "$RT" "$T/node/wd" <<'PYEOF'
import glob, json, os, sys
t = json.load(open(sys.argv[1]))
wd = sys.argv[2]
ok = [o for o in t["outputFiles"] if o["uploadOptions"]["uploadCondition"].lower() == "tasksuccess"]
files = [f for o in ok for f in glob.glob(os.path.join(wd, o["filePattern"]))]
if not any(f.endswith("finsim-results.h5") for f in files):
    sys.exit(f"no taskSuccess outputFiles pattern matches the results in {wd}: {os.listdir(wd)}")
print("outputFiles: uploads " + ", ".join(os.path.basename(f) for f in files))
PYEOF
CHECKS=$((CHECKS + 1))
# missing Batch variables: a clear error, not a half-run
expect_rc 2 env -i PATH="$PATH" FINSIM_STORE="$T/trades.h5" bash "$A/run-task.sh"
expect_grep 'AZ_BATCH_HOST_LIST is not set' "$T/last.err"
expect_rc 1 env -i PATH="$PATH" AZ_BATCH_HOST_LIST=10.0.0.4,10.0.0.5 AZ_BATCH_NODE_SHARED_DIR="$T/node2" \
  AZ_BATCH_JOB_ID=j AZ_BATCH_TASK_ID=t bash "$A/coordinate.sh"
expect_grep 'FINSIM_KEYVAULT is not set' "$T/last.err"

# ---- 3b. run-time secrets: the Redis password from Key Vault, used for real ----
# a password-protected redis-server; the job and task hold no password: the
# task must fetch it with the pool identity or the run cannot authenticate
source "$FINSIM_SRC/tests/lib/redis.sh"
redis_start --requirepass "$SECRET_PW"
add_cleanup redis_stop
FINSIM_REDIS_PASSWORD="$SECRET_PW" "$FINSIM_BIN" generate --trades 40 --seed 3 --store "$REDIS_URL" >/dev/null 2>&1
mkdir -p "$T/node/wd-redis"
REDIS_TASK=(FINSIM_STORE="$REDIS_URL" AZ_BATCH_JOB_ID=finsim-redis-job AZ_BATCH_TASK_WORKING_DIR="$T/node/wd-redis")
: > "$T/attempts.log"
# no such secret in the vault: the task stops at once, saying which secret and where
mv "$T/kv/finsim-redis-password" "$T/kv-hidden"
rc=0; attempt "${REDIS_TASK[@]}" || rc=$?
expect_status 2 "$rc" "run-task.sh without the Key Vault secret" "$T/app.err"
expect_grep "Key Vault finsimkv has no secret 'finsim-redis-password'" "$T/app.err"
mv "$T/kv-hidden" "$T/kv/finsim-redis-password"
rc=0; attempt "${REDIS_TASK[@]}" || rc=$?
expect_status 0 "$rc" "run-task.sh against the password-protected redis" "$T/app.out" "$T/app.err"
expect_grep 'password set \(Key Vault finsimkv\)' "$T/app.out"
H5CHECK valid "$T/node/wd-redis/finsim-results.h5" 40 0
H5CHECK same "$T/ref.h5" "$T/node/wd-redis/finsim-results.h5"
# the vault was asked with the vault token of the pool identity
"$PY" - "$T/fake.log" "$CLIENT_ID" <<'PYEOF'
import json, sys
imds = [json.loads(l) for l in open(sys.argv[1] + ".imds")]
kv = [json.loads(l) for l in open(sys.argv[1] + ".kv")]
assert any(r["query"].get("resource") == "https://vault.azure.net" and r["query"].get("client_id") == sys.argv[2]
           for r in imds), imds
assert any(r["path"] == "/secrets/finsim-redis-password?api-version=7.4" and r["auth"].endswith("-vault") for r in kv), kv
print(f"key vault: {len(kv)} secret reads, each with a vault token of identity {sys.argv[2]}")
PYEOF
CHECKS=$((CHECKS + 1))
# nothing secret left behind: no private directory, no file holding the password
# or a token, no secret in any log
leftover=$(find "$T/node" -name '.finsim-az.*' | head -3)
[ -z "$leftover" ] || { echo "FAIL: private secret directories left behind: $leftover" >&2; exit 1; }
if grep -rlF -e "$SECRET_PW" -e "$TOKEN" "$T/node"; then echo "FAIL: a secret was left in a file" >&2; exit 1; fi
expect_no_grep "$SECRET_PW|$TOKEN" "$T/attempts.log"

# ---- 3c. several nodes: a fresh task key per attempt, signed by the Key Vault CA ----
# two "nodes" on this machine (own shared dirs, own sshd port): the primary's
# fresh key is accepted by the other node's sshd through the CA alone; a key
# the CA did not sign is refused; the CA key is left on neither node
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && [ "$(id -u)" = 0 ]; then
  ssh-keygen -q -t ed25519 -N '' -C finsim-test-ca -f "$T/ca"
  (umask 077; base64 -w0 < "$T/ca" > "$T/kv/finsim-mpi-ssh-ca")
  free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  node_env() { # NAME MASTER PORT: the Batch variables of a two-node task on node NAME
    mkdir -p "$T/$1/shared" "$T/$1/wd"
    echo AZ_BATCH_HOST_LIST=127.0.0.1,127.0.0.2 AZ_BATCH_IS_CURRENT_NODE_MASTER="$2" \
      AZ_BATCH_NODE_SHARED_DIR="$T/$1/shared" AZ_BATCH_TASK_DIR="$T/$1" AZ_BATCH_TASK_WORKING_DIR="$T/$1/wd" \
      AZ_BATCH_JOB_ID=finsim-test-job AZ_BATCH_TASK_ID=finsim-mpi FINSIM_SSH_PORT="$3" \
      FINSIM_KEYVAULT=finsimkv FINSIM_IDENTITY_CLIENT_ID="$CLIENT_ID" PATH="$PATH" HOME="$HOME"
  }
  SSH_DIR_A=$T/nodeA/shared/finsim/finsim-test-job/finsim-mpi/ssh
  SSH_DIR_B=$T/nodeB/shared/finsim/finsim-test-job/finsim-mpi/ssh
  add_cleanup 'for f in "$SSH_DIR_A/sshd.pid" "$SSH_DIR_B/sshd.pid"; do [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null; done'
  PB=$(free_port)
  # shellcheck disable=SC2046  # node_env prints the assignments, one word each
  expect_rc 0 env -i $(node_env nodeB false "$PB") "${FAKE_ENV[@]}" bash "$A/coordinate.sh"
  expect_grep "sshd ready on port $PB" "$T/last.out"
  [ ! -e "$SSH_DIR_B/id_task" ] || { echo "FAIL: a subtask node made a task key" >&2; exit 1; }
  PA=$(free_port)
  # shellcheck disable=SC2046
  expect_rc 0 env -i $(node_env nodeA true "$PA") "${FAKE_ENV[@]}" bash "$A/coordinate.sh"
  expect_grep 'fresh task key, certificate for root' "$T/last.out"
  ssh-keygen -L -f "$SSH_DIR_A/id_task-cert.pub" > "$T/cert.txt"
  expect_grep 'Key ID: "finsim-mpi finsim-test-job/finsim-mpi attempt 1"' "$T/cert.txt"
  expect_grep 'source-address 127.0.0.1,127.0.0.2' "$T/cert.txt"
  SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=30)
  expect_rc 0 ssh "${SSH_OPTS[@]}" -p "$PB" -i "$SSH_DIR_A/id_task" 127.0.0.1 echo finsim-ssh-ok
  expect_grep '^finsim-ssh-ok$' "$T/last.out"
  ssh-keygen -q -t ed25519 -N '' -f "$T/unsigned"
  expect_rc 255 ssh "${SSH_OPTS[@]}" -o IdentitiesOnly=yes -p "$PB" -i "$T/unsigned" 127.0.0.1 true
  # the next attempt gets a new key
  cp "$SSH_DIR_A/id_task.pub" "$T/key-attempt1.pub"
  # shellcheck disable=SC2046
  expect_rc 0 env -i $(node_env nodeA true "$PA") "${FAKE_ENV[@]}" bash "$A/coordinate.sh"
  if cmp -s "$T/key-attempt1.pub" "$SSH_DIR_A/id_task.pub"; then echo "FAIL: a retry reused the task key" >&2; exit 1; fi
  # the CA key is on neither node, and run-task.sh removes the task key when it ends
  # (lines 4 and 5 of the key file hold its private part; line 2 is the same in every such key)
  CA_PRIV4=$(sed -n 4p "$T/ca"); CA_PRIV5=$(sed -n 5p "$T/ca")
  if grep -rlF -e "$CA_PRIV4" -e "$CA_PRIV5" -e "$TOKEN" "$T/nodeA" "$T/nodeB"; then echo "FAIL: the CA key or a token was left behind" >&2; exit 1; fi
  # shellcheck disable=SC2046
  expect_rc 2 env -i $(node_env nodeA true "$PA") "${FAKE_ENV[@]}" FINSIM_STORE="$T/trades.h5" FINSIM_BIN=/nonexistent/finsim \
    bash "$A/run-task.sh"
  [ ! -e "$SSH_DIR_A/id_task" ] && [ ! -e "$SSH_DIR_A/id_task-cert.pub" ] ||
    { echo "FAIL: run-task.sh left the task key behind" >&2; exit 1; }
else
  skip_part "no sshd, ssh or root here: the two-node ssh rehearsal"
fi

# ---- 4. add-task.sh against the fake metadata service and Batch endpoint ----
TJ=$("$PY" -c 'import json, sys
for e in json.load(open(sys.argv[1]))["jobSpecification"]["jobManagerTask"]["environmentSettings"]:
    if e["name"] == "FINSIM_TASK_JSON": print(e["value"])' "$T/rendered/job-schedule.json")
ADD_ENV=(PATH="$PATH" AZ_BATCH_ACCOUNT_URL="http://127.0.0.1:$PORT" AZ_BATCH_JOB_ID="finsim-daily:job-7"
  FINSIM_TASK_JSON="$TJ" FINSIM_IDENTITY_CLIENT_ID="$CLIENT_ID" "${FAKE_ENV[@]}")
expect_rc 0 env -i "${ADD_ENV[@]}" bash "$A/add-task.sh"
expect_grep 'added task finsim-mpi to job finsim-daily:job-7' "$T/last.out"
expect_no_grep "$TOKEN" "$T/last.out"
expect_no_grep "$TOKEN" "$T/last.err"
"$PY" - "$T/fake.log.batch" "$TOKEN" <<'PYEOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["path"].startswith("/jobs/finsim-daily:job-7/tasks?api-version="), r["path"]
assert r["auth"] == "Bearer " + sys.argv[2] + "-batch", "no bearer token"
assert r["ctype"].startswith("application/json"), r["ctype"]
t = r["body"]
assert t["id"] == "finsim-mpi" and t["multiInstanceSettings"]["coordinationCommandLine"]
paths = [o["destination"]["container"]["path"] for o in t["outputFiles"]]
assert paths[0] == "finsim-daily:job-7", f"upload path not the day's job id: {paths}"
print("add-task: posted the rendered task with the bearer token; upload path", paths[0])
PYEOF
CHECKS=$((CHECKS + 1))
# the body add-task.sh posted holds no secret either
"$PY" -c 'import json, sys; json.dump(json.loads(open(sys.argv[1]).readline())["body"], open(sys.argv[2], "w"))' \
  "$T/fake.log.batch" "$T/posted-task.json"
expect_rc 0 env SECRET_PW="$SECRET_PW" "$PY" "$T/no_secret_bodies.py" "$T/posted-task.json"
# a retried job manager finds its task already there: still success
expect_rc 0 env -i "${ADD_ENV[@]}" bash "$A/add-task.sh"
expect_grep 'already in job' "$T/last.out"
# the token never is a command-line argument of curl
expect_no_grep 'Bearer \$|-H "Authorization' "$A/add-task.sh"
finish
