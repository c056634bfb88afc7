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
#   service and posts the rendered task to a fake Batch endpoint, token unseen.
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
sed 's/"value": "${FINSIM_REDIS_PASSWORD}"/"value": "hunter2hunter2"/' "$A/job.json" > "$T/bad-job.json"
expect_rc 1 "$PY" "$CHK" job="$T/bad-job.json"
expect_grep 'secret setting FINSIM_REDIS_PASSWORD holds a value' "$T/last.out"
# nothing secret-looking in the committed files
expect_no_grep 'sig=|AccountKey=|BEGIN .*PRIVATE KEY|"password": "[^$]' "$A/pool.json"
for f in job task job-schedule; do expect_no_grep 'sig=|AccountKey=|BEGIN .*PRIVATE KEY' "$A/$f.json"; done

# ---- 2. submit.sh: render, dry run, secrets kept out of its output ----
SECRET_PW="pw-$(date +%s%N)-do-not-print"
SECRET_SAS="sv=2024-01-01&sp=cw&sig=SIGNATURE$(date +%N)"
export FINSIM_IMAGE=finsimacr.azurecr.io/finsim:0.1.0 FINSIM_STORE="$T/trades.h5" FINSIM_TRADE_WINDOW=40 \
  FINSIM_ALGORITHM=deltavega FINSIM_SEED=7 FINSIM_PATHS=1000 FINSIM_RANKS_PER_NODE=2 FINSIM_NODES=1 \
  FINSIM_JOB_ID=finsim-test-job FINSIM_REDIS_PASSWORD="$SECRET_PW" \
  FINSIM_RESULTS_CONTAINER_URL="https://finsimstore.blob.core.windows.net/results?$SECRET_SAS"
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
expect_rc 0 env PATH="$T/bin:$PATH" AZ_SEEN="$T/az-seen" TMPDIR="$T/subtmp" bash "$A/submit.sh" run
expect_no_grep "$SECRET_PW|SIGNATURE" "$T/last.out"
expect_no_grep "$SECRET_PW|SIGNATURE" "$T/az-seen/args"
expect_grep "\"value\": \"$SECRET_PW\"" "$T/az-seen/job.json"
expect_grep 'SIGNATURE' "$T/az-seen/task.json"
expect_grep '^700$' "$T/az-seen/dirmode"
[ -z "$(ls -A "$T/subtmp")" ] || { echo "FAIL: submit.sh left its private render directory behind" >&2; exit 1; }

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
  PATH="$PATH" HOME="$HOME" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 FINSIM_BIN="$FINSIM_BIN")
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
expect_grep 'password set' "$T/app.out"
expect_no_grep "$SECRET_PW" "$T/attempts.log"
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
expect_grep 'FINSIM_MPI_SSH_KEY is not set' "$T/last.err"

# ---- 4. add-task.sh against a fake metadata service and Batch endpoint ----
TOKEN="tok-$(date +%s%N)-secret"
cat > "$T/fake_azure.py" <<'PYEOF'
import http.server, json, sys, threading
port_file, log, token = sys.argv[1], sys.argv[2], sys.argv[3]
LOCK = threading.Lock()  # one POST at a time appends and counts
class H(http.server.BaseHTTPRequestHandler):
    timeout = 60  # a stalled client gives up its thread, never the server
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/metadata/identity/oauth2/token") and self.headers.get("Metadata") == "true":
            body = json.dumps({"access_token": token, "expires_in": "3599", "token_type": "Bearer"}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        else:
            self.send_response(400); self.end_headers()
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        with LOCK:
            with open(log, "a") as f:
                f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization"),
                                    "ctype": self.headers.get("Content-Type"), "body": json.loads(body)}) + "\n")
            dup = sum(1 for _ in open(log)) > 1
        self.send_response(409 if dup else 201)
        msg = b'{"odata.metadata":"x","code":"TaskExists","message":{"value":"exists"}}' if dup else b""
        self.send_header("Content-Length", str(len(msg))); self.end_headers(); self.wfile.write(msg)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)  # a slow client never blocks the next
s.daemon_threads = True
import os
with open(port_file + ".tmp", "w") as f:  # atomic: the reader never sees half a number
    f.write(str(s.server_address[1]))
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
PYEOF
"$PY" "$T/fake_azure.py" "$T/fake.port" "$T/fake.log" "$TOKEN" &
FAKE_PID=$!
add_cleanup "kill $FAKE_PID 2>/dev/null"
wait_for 60 "port file of the fake Batch service" test -s "$T/fake.port"
PORT=$(cat "$T/fake.port")
TJ=$("$PY" -c 'import json, sys
for e in json.load(open(sys.argv[1]))["jobSpecification"]["jobManagerTask"]["environmentSettings"]:
    if e["name"] == "FINSIM_TASK_JSON": print(e["value"])' "$T/rendered/job-schedule.json")
ADD_ENV=(PATH="$PATH" AZ_BATCH_ACCOUNT_URL="http://127.0.0.1:$PORT" AZ_BATCH_JOB_ID="finsim-daily:job-7"
  FINSIM_TASK_JSON="$TJ" FINSIM_IDENTITY_CLIENT_ID=00000000-1111-2222-3333-444444444444
  FINSIM_IMDS_URL="http://127.0.0.1:$PORT/metadata/identity/oauth2/token")
expect_rc 0 env -i "${ADD_ENV[@]}" bash "$A/add-task.sh"
expect_grep 'added task finsim-mpi to job finsim-daily:job-7' "$T/last.out"
expect_no_grep "$TOKEN" "$T/last.out"
expect_no_grep "$TOKEN" "$T/last.err"
"$PY" - "$T/fake.log" "$TOKEN" <<'PYEOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["path"].startswith("/jobs/finsim-daily:job-7/tasks?api-version="), r["path"]
assert r["auth"] == "Bearer " + sys.argv[2], "no bearer token"
assert r["ctype"].startswith("application/json"), r["ctype"]
t = r["body"]
assert t["id"] == "finsim-mpi" and t["multiInstanceSettings"]["coordinationCommandLine"]
paths = [o["destination"]["container"]["path"] for o in t["outputFiles"]]
assert paths[0] == "finsim-daily:job-7", f"upload path not the day's job id: {paths}"
print("add-task: posted the rendered task with the bearer token; upload path", paths[0])
PYEOF
CHECKS=$((CHECKS + 1))
# a retried job manager finds its task already there: still success
expect_rc 0 env -i "${ADD_ENV[@]}" bash "$A/add-task.sh"
expect_grep 'already in job' "$T/last.out"
# the token never is a command-line argument of curl
expect_no_grep 'Bearer \$|-H "Authorization' "$A/add-task.sh"
finish
