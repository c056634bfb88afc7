# slurm.sh - a private single-node Slurm cluster for script tests (source it
# after common.sh). Everything lives under one directory: its own munged
# (socket, key copy, pid, log), slurmctld and slurmd with their own slurm.conf,
# free TCP ports, state, spool, logs and pid files. Nothing system-wide is
# started or changed, so it can run beside a real Slurm or another test.
#
#   slurm_start DIR     start munged, slurmctld, slurmd; export SLURM_CONF;
#                       wait until the node is idle. Registers slurm_stop.
#   slurm_stop          SIGTERM the three daemons by their pid files, wait.
#   slurm_wait_job JID [TIMEOUT_S]   poll 'scontrol show job' every 0.2 s until the job
#                       reaches a final state; echo it (COMPLETED, FAILED, ...).
#   slurm_have          true when the slurm and munge programs are installed.
#   slurm_release_held JID   release a requeued job held by its begin time,
#                       no sooner than the second after this first saw it held.

SLURM_DIR=
slurm_have() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null &&
    [ -x /usr/sbin/munged ] && [ -r /etc/munge/munge.key ]
}

_slurm_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

slurm_start() {
  local S=$1
  SLURM_DIR=$S
  mkdir -p "$S"/{etc,state,spool,log,tmp}
  # munged runs as user munge and insists that everyone can reach its socket dir.
  chmod 0711 "$S"
  # the test's own temp dir ($T, mode 0700 from mktemp) must be passable too
  if [ "$(dirname "$S")" = "${T:-}" ]; then chmod 0711 "$T"; fi
  if ! runuser -u munge -- test -x "$S"; then
    echo "slurm.sh: user munge cannot reach $S (a parent directory is closed); set TMPDIR" >&2
    return 1
  fi
  install -d -o munge -g munge -m 0711 "$S/munge"
  install -o munge -g munge -m 0400 /etc/munge/munge.key "$S/munge/munge.key"
  add_cleanup slurm_stop
  runuser -u munge -- /usr/sbin/munged --socket="$S/munge/munge.sock" --key-file="$S/munge/munge.key" \
    --pid-file="$S/munge/munged.pid" --log-file="$S/munge/munged.log" --seed-file="$S/munge/munged.seed" ||
    { echo "slurm.sh: munged failed:" >&2; tail -5 "$S/munge/munged.log" >&2; return 1; }

  # Slurm needs its ports in slurm.conf before it binds them, so the OS
  # cannot pick them at bind time: take two free ones, and when another
  # process grabs one first (the daemon logs "Address already in use"),
  # take two more, up to 5 times.
  local try
  for try in 1 2 3 4 5; do
    _slurm_try_ports "$S" && return 0
    grep -qs 'Address already in use' "$S/log/slurmctld.log" "$S/log/slurmd.log" || return 1
    echo "slurm.sh: a port was taken by another process; new ports (try $((try + 1)))" >&2
    _slurm_kill_daemons "$S"
    rm -rf "$S/state" "$S/spool" "$S/log" && mkdir -p "$S/state" "$S/spool" "$S/log"
  done
  return 1
}

# _slurm_try_ports DIR: write slurm.conf with two free ports, start slurmctld
# and slurmd, wait until the node is idle. Returns 0 or 1 (logs shown).
_slurm_try_ports() {
  local S=$1
  local mem cpus ctld_port d_port
  mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 - 1024 }' /proc/meminfo)
  cpus=$(nproc)
  ctld_port=$(_slurm_free_port)
  d_port=$(_slurm_free_port)
  cat > "$S/etc/slurm.conf" <<CONF
ClusterName=finsimtest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/munge.sock
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
# PMIx makes per-step directories (spmix_appdir_<uid>_<job>.<step>) here: a
# private TmpFS keeps them from colliding with another test's job of the same id
TmpFS=$S/tmp
ScronParameters=enable
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
KillWait=5
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$S/etc/slurm.conf
  /usr/sbin/slurmctld -f "$SLURM_CONF" || { tail -20 "$S/log/slurmctld.log" >&2; return 1; }
  /usr/sbin/slurmd -f "$SLURM_CONF" -N localhost || { tail -20 "$S/log/slurmd.log" >&2; return 1; }
  local i state
  for i in $(seq 1 150); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
    [ "$state" = idle ] && return 0
    sleep 0.2
  done
  echo "slurm.sh: node not idle after 30 s (state '$state')" >&2
  tail -20 "$S/log/slurmctld.log" "$S/log/slurmd.log" >&2
  return 1
}

# _slurm_kill_daemons DIR: stop slurmd and slurmctld of DIR (munged stays).
_slurm_kill_daemons() {
  local f p
  for f in "$1/slurmd.pid" "$1/slurmctld.pid"; do
    p=$(cat "$f" 2>/dev/null || true)
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
    rm -f "$f"
  done
}

slurm_stop() {
  [ -n "$SLURM_DIR" ] || return 0
  local S=$SLURM_DIR pids=() f p
  for f in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/munge/munged.pid"; do
    [ -r "$f" ] || continue
    p=$(cat "$f" 2>/dev/null || true)
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null && pids+=("$p")
  done
  local i
  for i in $(seq 1 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  SLURM_DIR=
  return 0
}

# Slurm holds a requeued job for about two minutes (its begin time); the
# tests, as admin, release it once the killed attempt is cleaned up (the
# caller checks that). Not in the second in which it was first seen held:
# slurmd refuses a job credential created in the same second as the one it
# revoked when the last attempt ended, and the new attempt then fails at
# once (exit 1, no output), which a loaded machine makes likely. Call it on
# every poll that finds the job held and cleaned up.
declare -gA _SLURM_HELD=()
slurm_release_held() {
  local jid=$1
  if [ -z "${_SLURM_HELD[$jid]:-}" ]; then
    _SLURM_HELD[$jid]=$EPOCHSECONDS
  elif [ "$EPOCHSECONDS" -gt $((_SLURM_HELD[$jid] + 1)) ]; then
    unset "_SLURM_HELD[$jid]"
    scontrol update JobId="$jid" StartTime=now >/dev/null 2>&1 || true
  fi
}

slurm_wait_job() {
  local jid=$1 timeout=${2:-240} state= n=0
  local max=$((timeout * 5))
  while [ "$n" -lt "$max" ]; do
    state=$(scontrol show job "$jid" 2>/dev/null | grep -oP 'JobState=\K\S+' || true)
    case "$state" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)
        echo "$state"; return 0 ;;
    esac
    sleep 0.2
    n=$((n + 1))
  done
  echo "TIMEOUT_WAITING($state)"
}
