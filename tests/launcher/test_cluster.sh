# test_cluster.sh - finsim across several hosts (tests/lib/cluster.sh: network
# namespaces on a bridge, each with a node-local /scratch, plus one shared
# directory; Redis and the market data server on the head). Every result is
# compared bit for bit with a one-host run (tests/h5check.py same):
#   a. 3 hosts, output on the shared directory;
#   b. 3 hosts, output on a node-local path: the complete file on rank 0's host;
#      --h5-write collective there fails at once naming the other hosts;
#      --h5-write gather on the shared directory gives the same bits;
#   c. a host whose link goes down mid-run (after the first progress event):
#      the launcher (finsim-local.sh) ends within its kill grace, never hangs;
#      --resume on the remaining hosts completes the same results;
#   d. finsim generate into Redis on the head from 3 hosts, and finsim screen
#      from 3 hosts against a market data server on the head;
#   e. Slurm over the hosts (slurmd per host, slurmctld and munged on the
#      head): finsim.sbatch -N 3 with srun --mpi=pmix and with mpirun; a node
#      whose link goes down mid-job: the job is requeued and resumes;
#   f. the Azure Batch multi-instance task: coordinate.sh on every host (a real
#      sshd each, trusting the ssh CA read from a fake Key Vault on the head;
#      the primary's fresh key signed by it), run-task.sh on the primary with
#      node-local working and shared dirs, once with a shared mount
#      (pool-mounts.json) and once all node-local; a password-protected Redis
#      whose password the task reads from that Key Vault and which is on no
#      command line of any process during the run;
#   g. failures that one host meets alone (a store it cannot reach, a trade
#      file, password, API-key or config file it lacks, an output directory
#      it lacks): every rank stops with the same exit code, the message names
#      the host, nothing hangs;
#   h. gather mode (node-local output) with a host lost mid-run: --resume on
#      the remaining hosts completes the same results on rank 0's host.
# FINSIM_CLUSTER_SCENARIOS="a c" runs a subset.
# Every launch is bounded (timeout -k); waits poll files, events and job
# states with generous ceilings. Each scenario runs even when an earlier one
# failed; the test fails if any did. Needs root and 'ip netns'.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
source "$FINSIM_SRC/tests/lib/cluster.sh"
source "$FINSIM_SRC/tests/lib/slurm.sh"

if [ "$SANITIZED" = 1 ]; then
  echo "SKIP: sanitizer build (the multi-host runs are covered by the plain build)"
  exit 77
fi
if ! cluster_have; then
  echo "FAIL: needs root and 'ip netns' (iproute2)" >&2
  exit 1
fi
LIMIT=${FINSIM_CLUSTER_RUN_LIMIT:-120}     # ceiling of one multi-host launch, seconds
BOUND=(timeout -k 10 "$LIMIT")
SCEN=${FINSIM_CLUSTER_SCENARIOS:-a b c d e f g h}

t0=$SECONDS
cluster_start 3 "$T/cl"
echo "cluster: ${CL_HOSTS[*]:1} on $CL_SUBNET (bridge $CL_BR), up in $((SECONDS - t0)) s"
S=$CL_SHARED
chmod 0755 "$T"          # every host (and user munge) reaches the shared directory

N=40
ARGS=(--algorithm deltavega --paths 1000 --seed 7 --start-trade 0 --trade-window $N --progress 0)
"$FINSIM_BIN" generate --trades $N --seed 3 --store "$S/trades.h5" > /dev/null
# the one-host reference
expect_rc 0 "$FINSIM_BIN" run --store "$S/trades.h5" "${ARGS[@]}" --no-mirror --output "$T/ref.h5"
H5CHECK valid "$T/ref.h5" $N 0

# fail MESSAGE: report a failed check (the scenario's subshell ends)
fail() { echo "FAIL: $*" >&2; exit 1; }
# elapsed since a start time (s, with decimals)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; false after SECONDS
wait_for() {
  local end=$((SECONDS + $1)); shift
  while [ "$SECONDS" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done
  "$@"
}
# gone PID: the process has ended (absent or a zombie)
gone() { _redis_pid_gone "$1"; }
# scenario_cleanup: what a scenario started (its own subshell's EXIT trap)
SPIDS=()
scenario_cleanup() {
  local p
  for p in "${SPIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  redis_stop
}

# ---- a. output on the shared directory ----
scenario_a() {
  expect_rc 0 "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "$FINSIM_BIN" run --store "$S/trades.h5" "${ARGS[@]}" \
    --no-mirror --output "$S/a.h5"
  expect_grep 'RESULT: OK' "$T/last.out"
  H5CHECK same "$T/ref.h5" "$S/a.h5"
}

# ---- b. output on a node-local path ----
# /scratch differs on every host: finsim must notice that the output directory
# is not shared and have rank 0 write the whole file (--h5-write auto).
scenario_b_node_local_output() {
  local rc=0 t
  t=$(date +%s.%N)
  "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "$FINSIM_BIN" run --store "$S/trades.h5" "${ARGS[@]}" \
    --no-mirror --output "$CL_SCRATCH/b.h5" > "$T/b.out" 2> "$T/b.err" || rc=$?
  echo "b: exit $rc after $(since "$t") s"
  case $rc in
    124|137) fail "b: the run on a node-local output path did not finish within $LIMIT s (hung; killed)" ;;
    0) ;;
    *) tail -5 "$T/b.err" >&2; fail "b: the run on a node-local output path failed with exit $rc" ;;
  esac
  [ -s "$(cluster_local 1)/b.h5" ] || fail "b: no results file on rank 0's host ($(ls "$(cluster_local 1)"))"
  H5CHECK same "$T/ref.h5" "$(cluster_local 1)/b.h5"
  H5CHECK valid "$(cluster_local 1)/b.h5" $N 0
  local i
  for i in 2 3; do
    [ ! -e "$(cluster_local "$i")/b.h5" ] || fail "b: host $i also has a b.h5 (only rank 0's host should)"
  done
  # a parallel mode on the node-local path: a usage error naming the hosts, before any pricing
  t=$(date +%s.%N)
  expect_rc 2 "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "$FINSIM_BIN" run --store "$S/trades.h5" "${ARGS[@]}" \
    --no-mirror --output "$CL_SCRATCH/bc.h5" --h5-write collective
  echo "b: --h5-write collective on node-local output: exit 2 after $(since "$t") s"
  expect_grep "needs an output directory that every host shares" "$T/last.err"
  expect_grep "${CL_HOSTS[2]}, ${CL_HOSTS[3]}" "$T/last.err"
  [ ! -e "$(cluster_local 1)/bc.h5.partial" ] || fail "b: a partial file after the refused parallel mode"
  ! ls -A "$(cluster_local 1)" | grep -q finsim-probe || fail "b: the probe file was left behind"
  # gather on the shared directory: the same bits as the parallel writes
  expect_rc 0 "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "$FINSIM_BIN" run --store "$S/trades.h5" "${ARGS[@]}" \
    --no-mirror --output "$S/bg.h5" --h5-write gather
  expect_grep 'written by rank 0 alone' "$T/last.out"
  H5CHECK same "$T/ref.h5" "$S/bg.h5"
  H5CHECK valid "$S/bg.h5" $N 0
}

# ---- c. a host lost mid-run; the launcher ends within its grace; resume ----
scenario_c() {
  local NC=150 rc=0 t lp grace=5
  cluster_redis_start
  "$FINSIM_BIN" generate --trades $NC --seed 9 --store "$CL_REDIS_URL" > /dev/null
  local RUN=(--algorithm synthetic --task-duration 80 --seed 4 --batch 5 --timeout 3)
  expect_rc 0 "$FINSIM_BIN" run --store "$CL_REDIS_URL" "${RUN[@]}" --start-trade 0 --trade-window $NC --progress 0 \
    --no-mirror --output "$T/cref.h5"
  # the launcher that users run, over the 3 hosts (mpirun settings from CL_MPI_ENV)
  env "${CL_MPI_ENV[@]}" FINSIM_KILL_GRACE=$grace FINSIM_BIN="$FINSIM_BIN" \
    bash "$FINSIM_SRC/jobscripts/local/finsim-local.sh" --hostfile "$CL_HOSTFILE" -n 3 -s "$CL_REDIS_URL" \
    -w $NC -o "$S/c.h5" -- "${RUN[@]}" --progress 0.001 --events "$S/c.events" > "$T/c.out" 2> "$T/c.err" &
  lp=$!
  SPIDS+=("$lp")
  wait_for "$LIMIT" grep -qs '"event":"progress"' "$S/c.events" ||
    { kill -TERM "$lp"; fail "c: no progress event within $LIMIT s: $(tail -3 "$T/c.err")"; }
  cluster_link_down 3
  t=$(date +%s.%N)
  echo "c: host 3's link is down"
  # its rank cannot reach the store (exit 9 after --timeout); whether or not
  # the others notice, a SIGTERM (a scheduler's cancel or time limit) must end
  # the launcher within its kill grace although host 3 cannot be reached
  if wait_for 15 gone "$lp"; then
    echo "c: the launcher ended by itself after $(since "$t") s"
  else
    echo "c: stopping the launcher with SIGTERM, $(since "$t") s after the link went down"
    kill -TERM "$lp"
    local ts; ts=$(date +%s.%N)
    wait_for $((grace + 30)) gone "$lp" ||
      fail "c: finsim-local.sh still runs $((grace + 30)) s after SIGTERM (grace $grace s)"
    echo "c: the launcher returned $(since "$ts") s after SIGTERM"
    expect_grep 'SIGTERM: stopping the launcher' "$T/c.err"
  fi
  wait "$lp" || rc=$?
  [ "$rc" != 0 ] || fail "c: the job survived a lost host"
  [ ! -e "$S/c.h5" ] || fail "c: a final output after a lost host"
  cluster_reap
  # resume on the two remaining hosts
  cluster_hostfile "$S/hosts12" 1 1 2
  expect_rc 0 env "${CL_MPI_ENV[@]}" FINSIM_BIN="$FINSIM_BIN" "${BOUND[@]}" \
    bash "$FINSIM_SRC/jobscripts/local/finsim-local.sh" --hostfile "$S/hosts12" -n 2 -s "$CL_REDIS_URL" \
    -w $NC -o "$S/c.h5" --resume -- "${RUN[@]}" --progress 0
  expect_grep 'resumed [1-9]' "$T/last.out"
  H5CHECK same "$T/cref.h5" "$S/c.h5"
  cluster_link_up 3
  redis_stop
}

# ---- d. generate and screen across hosts ----
scenario_d() {
  cluster_redis_start
  expect_rc 0 "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "$FINSIM_BIN" generate --trades $N --seed 3 \
    --store "$CL_REDIS_URL"
  [ "$(redis_cli DBSIZE)" = $N ] || fail "d: DBSIZE $(redis_cli DBSIZE) after generate, want $N"
  "$FINSIM_BIN" generate --trades 1 --start-trade 17 --seed 3 --eyxml-dir "$T/eyx"
  redis_cli --raw GET ey0000017.xml | head -c -1 > "$T/k17"
  expect_rc 0 cmp "$T/k17" "$T/eyx/ey0000017.xml"
  # the trades made by 3 hosts price like those made by one
  expect_rc 0 "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "$FINSIM_BIN" run --store "$CL_REDIS_URL" "${ARGS[@]}" \
    --no-mirror --output "$S/d.h5"
  H5CHECK same "$T/ref.h5" "$S/d.h5"
  # screen: quotes served from the head
  local PR=(--paths 1000 --seed 5) TH=(--min-edge -1e9 --min-z -1e300) srv port
  mkdir -p "$T/www"
  expect_rc 0 "$FINSIM_BIN" screen --make-quotes "$T/www/q.csv" --store "$S/trades.h5" "${PR[@]}" --quote-noise 0.05
  MARKET_BIND=$CL_HEAD "$PY" "$FINSIM_SRC/tests/market_server.py" "$T/www" "$T/port" 5 &
  srv=$!
  SPIDS+=("$srv")
  wait_for 20 test -s "$T/port" || fail "d: the market data server did not start"
  port=$(cat "$T/port")
  expect_rc 0 "$FINSIM_BIN" screen --store "$S/trades.h5" --quotes "$T/www/q.csv" "${PR[@]}" "${TH[@]}" \
    --csv "$T/screen1.csv" --no-signals-redis
  expect_rc 0 "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "$FINSIM_BIN" screen --store "$CL_REDIS_URL" \
    --quotes "http://$CL_HEAD:$port/data/q.csv" "${PR[@]}" "${TH[@]}" --csv "$S/screen3.csv" \
    --output "$S/screen3.h5" --no-signals-redis
  expect_grep "$N trades .*$N joined" "$T/last.err"
  expect_rc 0 cmp "$T/screen1.csv" "$S/screen3.csv"
  expect_grep "GET /data/q.csv 200" "$T/www/requests.log"
  kill "$srv" 2>/dev/null || true
  redis_stop
}

# ---- e. Slurm over the hosts ----
# One munged and slurmctld on the head (the munge socket is a path every host
# sees), one slurmd per host namespace with its own NodeName; finsim.sbatch -N 3
# with srun --mpi=pmix and with mpirun; then a node lost mid-job: Slurm
# requeues the job and the next attempt resumes.
e_node_states() { sinfo -h -N -o '%N %T' 2>/dev/null | sort -u; }
e_all_idle() { [ "$(e_node_states | grep -c ' idle$')" = "$CL_N" ]; }
e_steps_gone() { # JID: no slurmstepd of the job is left on any host (a requeued
  # attempt must not start beside the remains of the last one)
  local i p
  for i in $(seq 1 "$CL_N"); do
    for p in $(cluster_pids "$i"); do
      tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q "^slurmstepd: \[$1\." && return 1
    done
  done
  return 0
}
e_final() { # JID: final state, releasing a requeued job held by its begin time
  local jid=$1 end=$((SECONDS + LIMIT)) line state
  while [ "$SECONDS" -lt "$end" ]; do
    line=$(scontrol show job "$jid" 2>/dev/null || true)
    state=$(grep -oP 'JobState=\K\S+' <<< "$line" || true)
    case "$state" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY) echo "$state"; return 0 ;;
      PENDING)
        if grep -q 'Reason=BeginTime' <<< "$line" && e_all_idle && e_steps_gone "$jid"; then
          slurm_release_held "$jid"
        fi ;;
    esac
    sleep 0.1
  done
  echo "STUCK($state)"
}
scenario_e() {
  slurm_have || fail "e: Slurm or munge is not installed (scripts/install-deps.sh)"
  local SD=$CL_DIR/slurm i jid st ctld_port d_port
  mkdir -p "$SD"/{etc,state,spool,log}
  chmod 0711 "$CL_DIR" "$SD"
  install -d -o munge -g munge -m 0711 "$SD/munge"
  install -o munge -g munge -m 0400 /etc/munge/munge.key "$SD/munge/munge.key"
  runuser -u munge -- /usr/sbin/munged --socket="$SD/munge/munge.sock" --key-file="$SD/munge/munge.key" \
    --pid-file="$SD/munge/munged.pid" --log-file="$SD/munge/munged.log" --seed-file="$SD/munge/munged.seed" ||
    fail "e: munged did not start"
  SPIDS+=("$(cat "$SD/munge/munged.pid")")
  ctld_port=$(_slurm_free_port)
  d_port=$(_slurm_free_port)
  {
    cat <<CONF
ClusterName=finsimcl$CL_ID
SlurmctldHost=localhost($CL_HEAD)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SD/munge/munge.sock
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdTimeout=10
MessageTimeout=5
TCPTimeout=3
MailProg=/bin/true
# node-local (PMIx puts its per-step client directories there; /tmp is shared here)
TmpFS=$CL_SCRATCH
StateSaveLocation=$SD/state
SlurmdSpoolDir=$SD/spool/%n
SlurmctldPidFile=$SD/slurmctld.pid
SlurmdPidFile=$SD/slurmd-%n.pid
SlurmctldLogFile=$SD/log/slurmctld.log
SlurmdLogFile=$SD/log/slurmd-%n.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
KillWait=5
MinJobAge=300
CONF
    for i in $(seq 1 "$CL_N"); do
      echo "NodeName=${CL_HOSTS[i]} NodeAddr=${CL_ADDRS[i]} CPUs=2 RealMemory=1000 State=UNKNOWN"
    done
    echo "PartitionName=cl Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  } > "$SD/etc/slurm.conf"
  export SLURM_CONF=$SD/etc/slurm.conf
  /usr/sbin/slurmctld -f "$SLURM_CONF" || { tail -20 "$SD/log/slurmctld.log" >&2; fail "e: slurmctld did not start"; }
  wait_for 20 test -s "$SD/slurmctld.pid" || fail "e: no slurmctld pid file"
  SPIDS+=("$(cat "$SD/slurmctld.pid")")
  for i in $(seq 1 "$CL_N"); do
    mkdir -p "$SD/spool/${CL_HOSTS[i]}"
    cluster_on "$i" /usr/sbin/slurmd -f "$SLURM_CONF" -N "${CL_HOSTS[i]}" ||
      { tail -20 "$SD/log/slurmd-${CL_HOSTS[i]}.log" >&2; fail "e: slurmd on host $i did not start"; }
  done
  wait_for 60 e_all_idle || { e_node_states >&2; tail -20 "$SD/log/slurmctld.log" >&2; fail "e: the nodes did not all become idle"; }
  echo "e: $(e_node_states | tr '\n' ' ')"
  export FINSIM_BIN FINSIM_TRADE_WINDOW=$N FINSIM_START_TRADE=0 FINSIM_ALGORITHM=deltavega FINSIM_SEED=7 \
    FINSIM_PATHS=1000 FINSIM_KILL_GRACE=10 OMPI_MCA_oob_tcp_if_include=$CL_SUBNET \
    OMPI_MCA_btl_tcp_if_include=$CL_SUBNET OMPI_MCA_btl=tcp,self
  local L
  for L in srun mpirun; do
    jid=$(FINSIM_LAUNCHER=$L FINSIM_STORE="$S/trades.h5" FINSIM_OUTPUT="$S/e-$L.h5" FINSIM_EXTRA_ARGS=--no-mirror \
      sbatch --parsable --chdir="$S" -N 3 --ntasks-per-node=1 -o "$S/e-$L.out" "$FINSIM_SRC/jobscripts/slurm/finsim.sbatch")
    st=$(e_final "$jid")
    echo "e: job $jid ($L, 3 nodes): $st"
    [ "$st" = COMPLETED ] || { tail -n 30 "$S/e-$L.out" "$SD/log/slurmd-${CL_HOSTS[2]}.log" >&2; fail "e: the $L job ended $st"; }
    expect_grep "3 node\(s\), 3 tasks, launcher $L" "$S/e-$L.out"
    H5CHECK same "$T/ref.h5" "$S/e-$L.h5"
  done
  # a node lost mid-job: Slurm marks it down, requeues the job (--requeue);
  # the node comes back, the next attempt resumes from the Redis mirror
  cluster_redis_start
  "$FINSIM_BIN" generate --trades 90 --seed 9 --store "$CL_REDIS_URL" > /dev/null
  local ER=(--algorithm synthetic --task-duration 100 --seed 4 --batch 3 --timeout 3)
  expect_rc 0 "$FINSIM_BIN" run --store "$CL_REDIS_URL" "${ER[@]}" --start-trade 0 --trade-window 90 --progress 0 \
    --no-mirror --output "$T/eref.h5"
  jid=$(FINSIM_STORE="$CL_REDIS_URL" FINSIM_OUTPUT="$S/e-lost.h5" FINSIM_TRADE_WINDOW=90 FINSIM_ALGORITHM=synthetic \
    FINSIM_SEED=4 FINSIM_PATHS= FINSIM_PROGRESS=0.001 FINSIM_EXTRA_ARGS="--task-duration 100 --batch 3 --timeout 3 --events $S/e.events" \
    sbatch --parsable --chdir="$S" -N 3 --ntasks-per-node=1 -o "$S/e-lost.out" "$FINSIM_SRC/jobscripts/slurm/finsim.sbatch")
  wait_for "$LIMIT" grep -qs '"event":"progress"' "$S/e.events" || fail "e: no progress event from job $jid"
  cluster_link_down 3
  echo "e: host 3's link is down during job $jid"
  wait_for "$LIMIT" eval 'scontrol show job '"$jid"' | grep -qE "Restarts=[1-9]|JobState=(PENDING|REQUEUED|NODE_FAIL|FAILED|COMPLETED)"' ||
    fail "e: job $jid was not requeued or ended after the node loss: $(scontrol show job "$jid" | grep -o 'JobState=\S*')"
  echo "e: job $jid after the loss: $(scontrol show job "$jid" | grep -oE 'JobState=\S+|Restarts=\S+' | tr '\n' ' ')"
  cluster_link_up 3
  st=$(e_final "$jid")
  echo "e: job $jid: $st, $(scontrol show job "$jid" | grep -oE 'Restarts=\S+')"
  [ "$st" = COMPLETED ] || { tail -30 "$S/e-lost.out" >&2; fail "e: the job with a lost node ended $st"; }
  expect_grep 'resuming' "$S/e-lost.out"
  H5CHECK same "$T/eref.h5" "$S/e-lost.h5"
}

# ---- f. Azure Batch multi-instance task over the hosts ----
# coordinate.sh on every host (each starts a real sshd on the task's port in
# its own network namespace), run-task.sh on the primary; AZ_BATCH_* dirs are
# node-local (/scratch). Redis on the head has a password, which run-task.sh
# reads from Key Vault (tests/fake_azure.py on the head) and which reaches the
# remote ranks through mpirun's environment forwarding, never a command line.
# No key travels: each host's sshd trusts the CA from the same Key Vault.
scenario_f() {
  local PW NF=60 hosts fport
  PW="pw-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
  cluster_redis_start --requirepass "$PW"
  REDIS_PASSWORD=$PW
  (umask 077; printf '%s\n' "$PW" > "$T/fpw")    # the pattern for the scans below (never on argv)
  FINSIM_REDIS_PASSWORD=$PW "$FINSIM_BIN" generate --trades $NF --seed 3 --store "$CL_REDIS_URL" > /dev/null
  export FINSIM_REDIS_PASSWORD=$PW      # secrets travel in the environment, never on argv
  expect_rc 0 "$FINSIM_BIN" run --store "$CL_REDIS_URL" --algorithm synthetic \
    --task-duration 100 --seed 7 --start-trade 0 --trade-window $NF --no-mirror --progress 0 --output "$T/fref.h5"
  mkdir -p "$T/fkey" "$T/fkv" "$CL_DIR/mounts/finsim"
  ssh-keygen -q -t ed25519 -N '' -f "$T/fkey/ca" -C finsim-test-ca
  (umask 077; base64 -w0 < "$T/fkey/ca" > "$T/fkv/finsim-mpi-ssh-ca"; printf '%s' "$PW" > "$T/fkv/finsim-redis-password")
  FAKE_TOKEN="tok-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')" \
    "$PY" "$FINSIM_SRC/tests/fake_azure.py" "$T/fkv.port" "$T/fkv.log" "$T/fkv" "$CL_HEAD" &
  SPIDS+=("$!")
  wait_for 60 test -s "$T/fkv.port" || fail "f: the fake Key Vault did not start"
  fport=$(cat "$T/fkv.port")
  hosts=$(IFS=,; echo "${CL_ADDRS[*]:1}")
  # 1. with a shared mount (as pool-mounts.json gives): parallel writes there,
  # the file copied to the primary's node-local working directory
  f_task finsim-shared FINSIM_SHARED_MOUNT=nfs
  redis_cli --scan --pattern '*_result.xml' | while read -r k; do redis_cli DEL "$k" > /dev/null; done
  cluster_reap
  # 2. the default: everything node-local
  f_task finsim-mpi
}

# f_task TASK_ID [VAR=VALUE...]: one multi-instance task as Batch runs it
f_task() {
  local task=$1 port=2222 i rc=0 t seen=0 leaks=0 p wd; shift
  local BENV=(PATH="$PATH" HOME="$T/fkey" AZ_BATCH_HOST_LIST="$hosts" AZ_BATCH_NODE_SHARED_DIR=$CL_SCRATCH/shared
        AZ_BATCH_TASK_WORKING_DIR=$CL_SCRATCH/$task/wd AZ_BATCH_JOB_ID=finsim-cluster-job AZ_BATCH_TASK_ID=$task
        AZ_BATCH_NODE_MOUNTS_DIR="$CL_DIR/mounts" FINSIM_SSH_PORT=$port FINSIM_BIN="$FINSIM_BIN"
        OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_routed=direct
        OMPI_MCA_oob_tcp_if_include="$CL_SUBNET" OMPI_MCA_btl_tcp_if_include="$CL_SUBNET" OMPI_MCA_btl=tcp,self
        FINSIM_KEYVAULT=finsimkv FINSIM_IMDS_URL="http://$CL_HEAD:$fport/metadata/identity/oauth2/token"
        FINSIM_KEYVAULT_URL="http://$CL_HEAD:$fport" "$@")
  for i in $(seq 1 "$CL_N"); do
    mkdir -p "$(cluster_local "$i")/$task/wd"
    expect_rc 0 cluster_on "$i" env -i "${BENV[@]}" AZ_BATCH_IS_CURRENT_NODE_MASTER=$([ "$i" = 1 ] && echo true || echo false) \
      bash "$FINSIM_SRC/jobscripts/azure-batch/coordinate.sh"
    expect_grep "sshd ready on port $port" "$T/last.out"
  done
  # the password comes from Key Vault at run time, the task key from coordinate.sh
  cluster_bg 1 "$T/f-$task.log" env -i "${BENV[@]}" AZ_BATCH_IS_CURRENT_NODE_MASTER=true FINSIM_STORE="$CL_REDIS_URL" \
    FINSIM_RANKS_PER_NODE=1 FINSIM_ALGORITHM=synthetic FINSIM_SEED=7 \
    FINSIM_TRADE_WINDOW=$NF FINSIM_START_TRADE=0 FINSIM_KILL_GRACE=10 FINSIM_PROGRESS=0 \
    FINSIM_EXTRA_ARGS="--task-duration 100 --batch 2" \
    timeout -k 10 "$LIMIT" bash "$FINSIM_SRC/jobscripts/azure-batch/run-task.sh"
  local bp=$CL_BG_PID
  SPIDS+=("$bp")
  t=$(date +%s.%N)
  # while it runs: no process on any host has the password in its command line
  while ! gone "$bp"; do
    if [ "$seen" = 0 ]; then
      for p in $(cluster_pids 3); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = finsim ] && seen=1; done
    fi
    for p in $(grep -lsF -f "$T/fpw" /proc/[0-9]*/cmdline); do
      p=${p#/proc/}; p=${p%/cmdline}
      leaks=$((leaks + 1)); echo "f: password in the command line of $p: $(tr '\0' ' ' < "/proc/$p/cmdline")" >&2
    done
    sleep 0.1
  done
  wait "$bp" || rc=$?
  echo "f ($task): run-task.sh exited $rc after $(since "$t") s"
  ps -eo args | grep -F -f "$T/fpw" && leaks=$((leaks + 1))
  [ "$leaks" = 0 ] || fail "f ($task): the Redis password appeared on a command line"
  [ "$seen" = 1 ] || fail "f ($task): no rank ran on host 3 during the scan: $(tail -5 "$T/f-$task.log")"
  CHECKS=$((CHECKS + 2))
  ! grep -qF -f "$T/fpw" "$T/f-$task.log" || fail "f ($task): the password is in the task's output"
  case $rc in
    124|137) fail "f ($task): run-task.sh did not finish within $LIMIT s (killed): $(tail -3 "$T/f-$task.log")" ;;
    0) ;;
    *) tail -10 "$T/f-$task.log" >&2; fail "f ($task): run-task.sh failed with exit $rc" ;;
  esac
  # every trade's result was mirrored into Redis: the remote ranks authenticated
  local mirrored
  mirrored=$(redis_cli --scan --pattern '*_result.xml' | wc -l)
  [ "$mirrored" = $NF ] || fail "f ($task): $mirrored of $NF results mirrored into Redis"
  CHECKS=$((CHECKS + 1))
  wd=$(cluster_local 1)/$task/wd
  [ -s "$wd/finsim-results.h5" ] || fail "f ($task): no results in the primary's working directory: $(ls "$wd")"
  H5CHECK same "$T/fref.h5" "$wd/finsim-results.h5"
  grep -q 'password set (Key Vault finsimkv)' "$T/f-$task.log" || fail "f ($task): the password did not come from Key Vault"
  # the attempt's task key is gone, and no host kept the CA key
  [ ! -e "$(cluster_local 1)/shared/finsim/finsim-cluster-job/$task/ssh/id_task" ] || fail "f ($task): the task key was left behind"
  ! grep -rqsF "$(sed -n 4p "$T/fkey/ca")" "$CL_DIR/local" || fail "f ($task): the CA key was left on a host"
  CHECKS=$((CHECKS + 3))
}

# ---- g. failures that one host meets alone ----
# Each: host 3 (rank 2) lacks something that hosts 1 and 2 have, in its
# node-local /scratch. Every rank must exit with the same code, within the
# run limit, and the message must name host 3.
# g_alone CODE WHAT CMD...: run CMD over the 3 hosts, expect CODE and host 3's name
g_alone() {
  local code=$1 what=$2 rc=0 t; shift 2
  t=$(date +%s.%N)
  "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "$@" > "$T/g.out" 2> "$T/g.err" || rc=$?
  echo "g: $what: exit $rc after $(since "$t") s"
  case $rc in 124|137) fail "g: $what: hung (killed after $LIMIT s)" ;; esac
  [ "$rc" = "$code" ] || { tail -5 "$T/g.err" >&2; fail "g: $what: exit $rc, want $code"; }
  grep -q "${CL_HOSTS[3]}" "$T/g.err" || { cat "$T/g.err" >&2; fail "g: $what: the message does not name ${CL_HOSTS[3]}"; }
  grep -m1 "${CL_HOSTS[3]}" "$T/g.err"
  CHECKS=$((CHECKS + 2))
}
scenario_g() {
  local i RUN=("$FINSIM_BIN" run --store "$S/trades.h5" "${ARGS[@]}" --no-mirror)
  cluster_redis_start
  "$FINSIM_BIN" generate --trades $N --seed 3 --store "$CL_REDIS_URL" > /dev/null
  for i in 1 2; do
    ln -s "$REDIS_SOCK" "$(cluster_local "$i")/redis.sock"
    (umask 077; echo secret > "$(cluster_local "$i")/pw"; echo key > "$(cluster_local "$i")/key")
    printf '[run]\nseed = 7\n' > "$(cluster_local "$i")/run.ini"
    mkdir -p "$(cluster_local "$i")/out"
  done
  # a store that host 3 cannot reach (its /scratch has no socket)
  g_alone 3 "store unreachable from host 3" "$FINSIM_BIN" run --store "unix://$CL_SCRATCH/redis.sock" "${ARGS[@]}" \
    --no-mirror --output "$S/g1.h5"
  expect_grep 'cannot open store' "$T/g.err"
  # a trade file that host 3 lacks (the ranks open it together): host 3's own reason
  cp "$S/trades.h5" "$(cluster_local 1)/trades.h5"
  cp "$S/trades.h5" "$(cluster_local 2)/trades.h5"
  g_alone 3 "trade file missing on host 3" "$FINSIM_BIN" run --store "$CL_SCRATCH/trades.h5" "${ARGS[@]}" \
    --no-mirror --output "$S/g0.h5"
  expect_grep "trade file $CL_SCRATCH/trades.h5 does not exist" "$T/g.err"
  # a password file that host 3 lacks
  g_alone 2 "password file missing on host 3" "${RUN[@]}" --password-file "$CL_SCRATCH/pw" --output "$S/g2.h5"
  # a config file that host 3 lacks
  g_alone 2 "config file missing on host 3" "${RUN[@]}" --config "$CL_SCRATCH/run.ini" --output "$S/g3.h5"
  # screen: an API-key file that host 3 lacks
  g_alone 2 "API-key file missing on host 3" "$FINSIM_BIN" screen --store "$S/trades.h5" --paths 1000 \
    --quotes "$T/none.csv" --api-key-file "$CL_SCRATCH/key" --no-signals-redis --csv "$S/g4.csv"
  # an output directory that host 3 lacks, with parallel writes
  g_alone 2 "output directory missing on host 3" "${RUN[@]}" --output "$CL_SCRATCH/out/g5.h5" \
    --h5-write independent
  expect_grep 'no such directory' "$T/g.err"
  # with auto, rank 0 writes the file alone: host 3 needs no directory
  expect_rc 0 "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "${RUN[@]}" --output "$CL_SCRATCH/out/g6.h5"
  H5CHECK same "$T/ref.h5" "$(cluster_local 1)/out/g6.h5"
  # an output directory that rank 0's host lacks: exit 6 naming host 1
  rm -rf "$(cluster_local 1)/out"
  mkdir -p "$(cluster_local 3)/out"
  expect_rc 6 "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "${RUN[@]}" --output "$CL_SCRATCH/out/g7.h5"
  # (rank 0 claims the output with its lock file before anything else: the
  # message is rank 0's, its prefix names the host)
  expect_grep "finsim\[0@${CL_HOSTS[1]}\]: error: cannot create output $CL_SCRATCH/out/g7.h5: cannot create its lock file .*No such file or directory" "$T/last.err"
  redis_stop
}

# ---- h. gather mode with a host lost mid-run, then --resume ----
scenario_h() {
  local NH=90 mp rc=0 i
  local RUN=(--algorithm synthetic --task-duration 120 --seed 4 --batch 3 --timeout 3 --start-trade 0 --trade-window $NH)
  cluster_redis_start
  "$FINSIM_BIN" generate --trades $NH --seed 9 --store "$CL_REDIS_URL" > /dev/null
  expect_rc 0 "$FINSIM_BIN" run --store "$CL_REDIS_URL" "${RUN[@]}" --progress 0 --no-mirror --output "$T/href.h5"
  setsid "${BOUND[@]}" mpirun "${CL_MPI_ARGS[@]}" -np 3 "$FINSIM_BIN" run --store "$CL_REDIS_URL" "${RUN[@]}" \
    --progress 0.001 --events "$S/h.events" --output "$CL_SCRATCH/h.h5" > "$T/h.out" 2> "$T/h.err" &
  mp=$!
  SPIDS+=("$mp")
  wait_for "$LIMIT" grep -qs '"event":"progress"' "$S/h.events" || fail "h: no progress event: $(tail -3 "$T/h.err")"
  expect_grep 'gather' "$T/h.err"
  cluster_link_down 3
  echo "h: host 3's link is down"
  # the job ends by itself (host 3's rank cannot reach the store) or is stopped
  wait_for 20 gone "$mp" || kill -TERM -- -"$mp" 2>/dev/null || true
  wait_for 20 gone "$mp" || kill -KILL -- -"$mp" 2>/dev/null || true
  wait "$mp" || rc=$?
  echo "h: the first run ended with exit $rc"
  [ "$rc" != 0 ] || fail "h: the job survived a lost host"
  cluster_reap
  cluster_link_up 3
  [ ! -e "$(cluster_local 1)/h.h5" ] || fail "h: a final output after a lost host"
  cluster_hostfile "$S/hosts12" 1 1 2
  local A12=("${CL_MPI_ARGS[@]}")
  for i in "${!A12[@]}"; do [ "${A12[i]}" != "$CL_HOSTFILE" ] || A12[i]=$S/hosts12; done
  expect_rc 0 "${BOUND[@]}" mpirun "${A12[@]}" -np 2 "$FINSIM_BIN" run --store "$CL_REDIS_URL" "${RUN[@]}" \
    --progress 0 --resume --h5-write gather --output "$CL_SCRATCH/h.h5"
  expect_grep 'resumed [1-9]' "$T/last.out"
  H5CHECK same "$T/href.h5" "$(cluster_local 1)/h.h5"
  [ ! -e "$(cluster_local 2)/h.h5" ] || fail "h: host 2 also has h.h5"
  redis_stop
}

declare -A NAME=([a]="shared output" [b]="node-local output" [c]="lost host, launcher bound, resume"
                 [d]="generate and screen" [e]="Slurm over 3 hosts" [f]="Azure Batch multi-instance rehearsal"
                 [g]="a failure on one host" [h]="gather mode, lost host, resume")
declare -A FN=([a]=scenario_a [b]=scenario_b_node_local_output [c]=scenario_c [d]=scenario_d [e]=scenario_e
               [f]=scenario_f [g]=scenario_g [h]=scenario_h)
failed=()
for s in $SCEN; do
  echo "==== $s. ${NAME[$s]}"
  ts=$SECONDS
  set +e
  (
    set -e
    trap scenario_cleanup EXIT
    CHECKS=0
    ${FN[$s]}
    echo "$CHECKS" > "$T/checks.$s"
  )
  rc=$?
  set -e
  cluster_reap
  for i in $(seq 1 "$CL_N"); do cluster_link_up "$i"; done
  if [ "$rc" = 0 ]; then
    CHECKS=$((CHECKS + $(cat "$T/checks.$s")))
    echo "==== $s. passed ($((SECONDS - ts)) s)"
  else
    echo "==== $s. FAILED ($((SECONDS - ts)) s)"
    failed+=("$s")
  fi
done
echo "cluster test: $((SECONDS - t0)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: scenarios failed: ${failed[*]}" >&2
  exit 1
fi
finish
