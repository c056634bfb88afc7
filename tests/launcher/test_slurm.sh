# test_slurm.sh - the Slurm job scripts on a real single-node Slurm (own munged,
# slurmctld and slurmd in a temp dir; see tests/lib/slurm.sh):
#   finsim.sbatch with srun --mpi=pmix gives a valid HDF5 file;
#   an injected failure on the first attempt makes the script requeue its job,
#   the second attempt resumes, and /results is bitwise equal to the
#   uninterrupted run; a restart limit of 0 ends the job with finsim's status;
#   finsim-array.sbatch prices two portfolios, one per array index;
#   the scrontab entry (run as scrontab would submit it, since Debian ships no
#   scrontab command) submits finsim.sbatch at a given second with an INI file;
#   finsim-screen.sbatch (the daily screen) publishes the signals of a direct run.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/slurm.sh"
PY=${PY:-/usr/bin/python3}
J=$FINSIM_SRC/jobscripts/slurm

if ! slurm_have; then
  echo "FAIL: Slurm or munge is not installed: run scripts/install-deps.sh (it lists slurmctld slurmd slurm-client munge)" >&2
  exit 1
fi

# the shared launch/requeue block must stay identical in both job scripts
block() { sed -n '/^# ---- launch and requeue/,$p' "$1"; }
block "$J/finsim.sbatch" > "$T/b1"
block "$J/finsim-array.sbatch" > "$T/b2"
expect_rc 0 cmp "$T/b1" "$T/b2"
expect_grep 'scontrol requeue' "$T/b1"
for s in finsim.sbatch finsim-array.sbatch finsim-submit-at.sh; do
  expect_rc 0 bash -n "$J/$s"
  expect_rc 0 bash "$J/$s" --help
  expect_grep 'FINSIM|sbatch' "$T/last.out"
done
# outside a job the scripts refuse to run, with a hint
expect_rc 2 env -u SLURM_JOB_ID bash "$J/finsim.sbatch"
expect_grep 'submit it' "$T/last.err"

t0=$(date +%s.%N)
slurm_start "$T/slurm"
echo "slurm up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

N=40
"$FINSIM_BIN" generate --trades $N --seed 3 --store "$T/trades.h5" >/dev/null
for s in a b c d; do cp "$T/trades.h5" "$T/store-$s.h5"; done
export FINSIM_BIN FINSIM_TRADE_WINDOW=$N FINSIM_START_TRADE=0 FINSIM_ALGORITHM=deltavega FINSIM_SEED=7 \
  FINSIM_PATHS=1000

# submit ARGS...: sbatch --parsable, prints the job id
submit() { sbatch --parsable --chdir="$T" "$@"; }
# wait_job JID: final state. Slurm holds a requeued job for about 2 minutes;
# the test (as admin) releases it as soon as the node is idle again, i.e. the
# killed attempt is cleaned up (releasing it earlier races with that cleanup).
wait_job() {
  local jid=$1 n=0 line state
  while [ "$n" -lt 1500 ]; do
    line=$(scontrol show job "$jid" 2>/dev/null || true)
    state=$(grep -oP 'JobState=\K\S+' <<< "$line" || true)
    case "$state" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "$state"; return 0 ;;
      PENDING)
        if grep -q 'Reason=BeginTime' <<< "$line" && ! grep -q 'Restarts=0 ' <<< "$line" &&
           [ "$(sinfo -h -N -o %T | head -n 1)" = idle ] && ! pgrep -f "slurmstepd: \[$jid\." >/dev/null; then
          slurm_release_held "$jid"
        fi ;;
    esac
    sleep 0.2
    n=$((n + 1))
  done
  echo "STUCK($state)"
}
job_field() { scontrol show job "$1" | grep -oP "$2=\K\S+" | head -n 1; }
expect_state() { # JID WANT LOG
  local got
  got=$(wait_job "$1")
  if [ "$got" != "$2" ]; then
    echo "FAIL: job $1 ended $got, expected $2" >&2
    scontrol show job "$1" >&2 || true
    [ ! -r "$3" ] || tail -40 "$3" >&2
    tail -20 "$SLURM_DIR/log/slurmctld.log" >&2
    exit 1
  fi
  CHECKS=$((CHECKS + 1))
}

# 1. one uninterrupted run, srun --mpi=pmix, 2 tasks
t0=$(date +%s)
JA=$(FINSIM_STORE="$T/store-a.h5" FINSIM_OUTPUT="$T/run-a.h5" submit -N1 -n2 -o "$T/a.out" "$J/finsim.sbatch")
expect_state "$JA" COMPLETED "$T/a.out"
H5CHECK valid "$T/run-a.h5" $N 0
expect_grep 'attempt 1 .*launcher srun' "$T/a.out"
expect_grep 'RESULT: OK' "$T/a.out"
[ "$(job_field "$JA" Restarts)" = 0 ] || { echo "FAIL: job A restarted" >&2; exit 1; }
echo "job A (srun) done in $(($(date +%s) - t0)) s"

# 2. injected failure on the first attempt -> scontrol requeue -> resume
t0=$(date +%s)
JB=$(FINSIM_STORE="$T/store-b.h5" FINSIM_OUTPUT="$T/run-b.h5" FINSIM_FAILURE=0.1 \
     submit -N1 -n2 -o "$T/b.out" "$J/finsim.sbatch")
expect_state "$JB" COMPLETED "$T/b.out"
expect_grep 'injected failure' "$T/b.out"
expect_grep 'requeueing job' "$T/b.out"
expect_grep 'attempt 2 ' "$T/b.out"
expect_grep 'resuming' "$T/b.out"
expect_grep 'resumed [1-9]' "$T/b.out"
expect_grep 'RESULT: OK' "$T/b.out"
[ "$(job_field "$JB" Restarts)" = 1 ] || { echo "FAIL: job B restarts $(job_field "$JB" Restarts), expected 1" >&2; cat "$T/b.out" >&2; exit 1; }
H5CHECK valid "$T/run-b.h5" $N 0
H5CHECK same "$T/run-a.h5" "$T/run-b.h5"
echo "job B (requeue + resume) done in $(($(date +%s) - t0)) s"

# 2b. FINSIM_REQUEUE_CODES: a wrong --expect-checksum (exit 7) requeues the job
# only when 7 is listed (here at most once), and never by default
JR7=$(FINSIM_STORE="$T/store-b.h5" FINSIM_OUTPUT="$T/run-r7.h5" FINSIM_REQUEUE_CODES="3 7" FINSIM_MAX_RESTARTS=1 \
      FINSIM_EXTRA_ARGS="--expect-checksum 1234" submit -N1 -n2 -o "$T/r7.out" "$J/finsim.sbatch")
expect_state "$JR7" FAILED "$T/r7.out"
expect_grep 'CHECKSUM MISMATCH' "$T/r7.out"
expect_grep 'requeueing job' "$T/r7.out"
[ "$(job_field "$JR7" Restarts)" = 1 ] || { echo "FAIL: FINSIM_REQUEUE_CODES=7: restarts $(job_field "$JR7" Restarts), expected 1" >&2; cat "$T/r7.out" >&2; exit 1; }
JN7=$(env -u FINSIM_REQUEUE_CODES FINSIM_STORE="$T/store-b.h5" FINSIM_OUTPUT="$T/run-n7.h5" \
      FINSIM_EXTRA_ARGS="--expect-checksum 1234" sbatch --parsable --chdir="$T" -N1 -n2 -o "$T/n7.out" "$J/finsim.sbatch")
expect_state "$JN7" FAILED "$T/n7.out"
expect_grep 'CHECKSUM MISMATCH' "$T/n7.out"
expect_no_grep 'requeueing job' "$T/n7.out"
[ "$(job_field "$JN7" Restarts)" = 0 ] || { echo "FAIL: exit 7 requeued by default" >&2; cat "$T/n7.out" >&2; exit 1; }

# 3. restart limit 0, mpirun launcher: the job fails with finsim's exit status 10
JC=$(FINSIM_STORE="$T/store-c.h5" FINSIM_OUTPUT="$T/run-c.h5" FINSIM_FAILURE=0.1 FINSIM_MAX_RESTARTS=0 \
     FINSIM_LAUNCHER=mpirun submit -N1 -n2 -o "$T/c.out" "$J/finsim.sbatch")
expect_state "$JC" FAILED "$T/c.out"
expect_grep 'launcher mpirun' "$T/c.out"
expect_grep 'giving up after 0 restarts' "$T/c.out"
[ "$(job_field "$JC" ExitCode)" = "10:0" ] || { echo "FAIL: job C exit $(job_field "$JC" ExitCode)" >&2; exit 1; }
[ ! -e "$T/run-c.h5" ] || { echo "FAIL: a failed run left a complete output file" >&2; exit 1; }

# 4. an array job: one portfolio per index (two stores, one given as '-')
"$FINSIM_BIN" generate --trades 30 --start-trade 100 --seed 5 --store "$T/book2.h5" >/dev/null
cat > "$T/portfolios.txt" <<EOF
# name   store               start  window
book1    -                   0      20
book2    $T/book2.h5         100    30     --algorithm pvonly
EOF
expect_rc 0 bash "$J/finsim-array.sbatch" --count "$T/portfolios.txt"
expect_grep '^2$' "$T/last.out"
JR=$(FINSIM_STORE="$T/store-d.h5" FINSIM_PORTFOLIOS="$T/portfolios.txt" FINSIM_OUTPUT_DIR="$T/arr" \
     submit --array=1-2 -N1 -n1 -o "$T/arr-%A_%a.out" "$J/finsim-array.sbatch")
mkdir -p "$T/arr"
expect_state "${JR}_1" COMPLETED "$T/arr-${JR}_1.out"
expect_state "${JR}_2" COMPLETED "$T/arr-${JR}_2.out"
H5CHECK valid "$T/arr/book1-$JR.h5" 20 0
H5CHECK valid "$T/arr/book2-$JR.h5" 30 0
expect_grep 'book2: job' "$T/arr-${JR}_2.out"
# a portfolio's rows equal the same trades priced in the whole-book run (same seed)
"$PY" - "$T/run-a.h5" "$T/arr/book1-$JR.h5" <<'PYEOF'
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["results"][:20]
b = h5py.File(sys.argv[2], "r")["results"][...]
for k in ("trade_id", "pv", "pv_stderr", "delta", "vega"):
    if not np.array_equal(a[k].view(np.uint64) if a[k].dtype.kind == "f" else a[k],
                          b[k].view(np.uint64) if b[k].dtype.kind == "f" else b[k]):
        sys.exit(f"portfolio rows differ from the whole-book run in {k}")
print("array: book1 rows bitwise equal to trades 0..19 of the whole-book run")
PYEOF
CHECKS=$((CHECKS + 1))
"$PY" -c 'import h5py, sys; a = h5py.File(sys.argv[1], "r").attrs["algorithm"]; sys.exit(0 if (a.decode() if isinstance(a, bytes) else a) == "pvonly" else 1)' \
  "$T/arr/book2-$JR.h5" || { echo "FAIL: the entry's own options were not applied" >&2; exit 1; }

# 5. the scrontab entry, submitted as scrontab would: its #SCRON options as
# #SBATCH lines, its variables expanded in the command, no login environment.
# Paths point into the test dir. The target second is 90 s ahead (a slow
# start of the submit step must not reach it), computed from epoch seconds;
# the entry's HH:MM:SS means today, so near midnight the test first waits for
# the new day. Section 6 runs while the entry waits; its checks come last.
cp "$T/trades.h5" "$T/store-e.h5"
mkdir -p "$T/home/etc" "$T/home/logs" "$T/home/results" "$T/home/bin" "$T/home/jobscripts"
ln -s "$J" "$T/home/jobscripts/slurm"
ln -s "$FINSIM_BIN" "$T/home/bin/finsim"
# the entry names a password file; a file store ignores the password, but the
# file must exist and be private
(umask 077; echo "not-a-real-password" > "$T/home/etc/redis.pw")
cat > "$T/home/etc/daily.ini" <<EOF
[store]
store = $T/store-e.h5
[run]
algorithm = deltavega
seed = 7
paths = 1000
start_trade = 0
trade_window = $N
EOF
MARGIN=90
today_has_room() { [ "$(date -d "@$(($(date +%s) + MARGIN + 5))" +%F)" = "$(date +%F)" ]; }
wait_for 300 "a target time that is still today" today_has_room
AT_EPOCH=$(($(date +%s) + MARGIN))
AT=$(date -d "@$AT_EPOCH" +%T)
"$PY" - "$J/finsim.scrontab" "$T/home" "$AT" "$T/cron-job.sh" <<'PYEOF'
import re, sys
src, home, at, out = sys.argv[1:]
vars_, opts, cmd = {}, [], None
for line in open(src):
    line = line.rstrip("\n")
    if line.startswith("#SCRON"):
        opts.append(line[len("#SCRON"):].strip())
    elif line.startswith("#") or not line.strip():
        continue
    elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
        k, v = line.split("=", 1)
        vars_[k] = v
    else:
        f = line.split(None, 5)
        assert len(f) == 6, "a cron line needs 5 time fields and a command"
        assert f[:5] == ["24", "15", "*", "*", "*"], f"unexpected schedule {f[:5]}"
        cmd = f[5]
assert cmd and "15:25:03" in cmd and opts, "no cron entry"
# the test's paths instead of /shared/finsim, and a size that fits one node
vars_ = {k: v.replace("/shared/finsim", home) for k, v in vars_.items()}
opts = [o.replace("/shared/finsim", home) for o in opts]
cmd = re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: vars_[m.group(1)], cmd)
assert "--nodes=4 --ntasks-per-node=32" in cmd and "15:25:03" in cmd
cmd = cmd.replace("15:25:03", at).replace("--nodes=4 --ntasks-per-node=32", "--nodes=1 --ntasks-per-node=2")
with open(out, "w") as f:
    f.write("#!/bin/sh\n" + "".join(f"#SBATCH {o}\n" for o in opts) + cmd + "\n")
PYEOF
expect_grep '^#SBATCH --job-name=finsim-daily-submit' "$T/cron-job.sh"
JS=$(env -i PATH=/usr/bin:/bin SLURM_CONF="$SLURM_CONF" sbatch --parsable --chdir="$T" \
     --export=SLURM_CONF "$T/cron-job.sh")
SUBMIT_LOG="$T/home/logs/finsim-daily-submit-$JS.out"

# 6. the daily screen job (finsim-screen.sbatch, what finsim-screen.scrontab
# runs): quotes from a file, signals as HDF5 and CSV, the CSV equal to that of
# 'finsim screen' run directly with the same settings (FINSIM_* exported above)
expect_rc 0 bash -n "$J/finsim-screen.sbatch"
expect_rc 0 bash "$J/finsim-screen.sbatch" --help
expect_grep 'FINSIM_QUOTES' "$T/last.out"
expect_rc 0 "$FINSIM_BIN" screen --make-quotes "$T/quotes.csv" --store "$T/trades.h5" --quote-noise 0.05
expect_rc 0 "$FINSIM_BIN" screen --store "$T/trades.h5" --quotes "$T/quotes.csv" --min-edge 0.01 --min-z 1 \
  --csv "$T/direct.csv"
[ "$(wc -l < "$T/direct.csv")" -gt 1 ] || { echo "FAIL: the direct screen selected nothing" >&2; exit 1; }
mkdir -p "$T/sig"
JSC=$(FINSIM_STORE="$T/trades.h5" FINSIM_QUOTES="$T/quotes.csv" FINSIM_MIN_EDGE=0.01 FINSIM_MIN_Z=1 \
      FINSIM_OUTPUT_DIR="$T/sig" submit -N1 -n1 -o "$T/screen-%j.out" "$J/finsim-screen.sbatch")
expect_state "$JSC" COMPLETED "$T/screen-$JSC.out"
SIG=$(ls "$T/sig"/signals-*-"$JSC".csv)
expect_rc 0 cmp "$T/direct.csv" "$SIG"
"$PY" - "${SIG%.csv}.h5" "$(($(wc -l < "$T/direct.csv") - 1))" <<'PYEOF'
import sys, h5py
n = len(h5py.File(sys.argv[1], "r")["signals"])
sys.exit(0 if n == int(sys.argv[2]) else f"/signals has {n} rows, the CSV {sys.argv[2]}")
PYEOF
CHECKS=$((CHECKS + 1))
echo "screen job: $(($(wc -l < "$T/direct.csv") - 1)) signals, CSV equal to the direct run"

# 5, continued: the scrontab entry submitted above
expect_state "$JS" COMPLETED "$SUBMIT_LOG"
expect_grep "waiting .* until $AT" "$SUBMIT_LOG"
JD=$(grep -oP 'Submitted batch job \K[0-9]+' "$SUBMIT_LOG" | tail -n 1 || true)
[ -n "$JD" ] || { echo "FAIL: no job id in $SUBMIT_LOG" >&2; cat "$SUBMIT_LOG" >&2; exit 1; }
expect_state "$JD" COMPLETED "$T/home/logs/finsim-daily-$JD.out"
H5CHECK same "$T/run-a.h5" "$T/home/results/finsim-$JD.h5"
expect_grep 'store \(from .*daily.ini\)' "$T/home/logs/finsim-daily-$JD.out"
start=$(job_field "$JD" StartTime)
echo "scrontab entry: target $AT, daily job submitted $(job_field "$JD" SubmitTime), started $start"
# not started before the target second (how soon after it is a timing, not a
# check: a loaded machine delays it)
st_epoch=$(date -d "$start" +%s)
[ "$st_epoch" -ge "$AT_EPOCH" ] || { echo "FAIL: daily job started at $start, before the target $AT" >&2; exit 1; }
CHECKS=$((CHECKS + 1))

# 7. FINSIM_ENV_SETUP: the file the job sources before it looks for finsim
# (here it is the only thing that puts finsim on PATH, as a module would)
mkdir -p "$T/envbin"
ln -sf "$FINSIM_BIN" "$T/envbin/finsim"
printf 'export PATH=%q:"$PATH"\necho "env setup sourced"\n' "$T/envbin" > "$T/env.sh"
cp "$T/trades.h5" "$T/store-f.h5"
JF=$(unset FINSIM_BIN; FINSIM_ENV_SETUP="$T/env.sh" FINSIM_STORE="$T/store-f.h5" FINSIM_OUTPUT="$T/run-f.h5" \
     submit -N1 -n2 -o "$T/f.out" "$J/finsim.sbatch")
expect_state "$JF" COMPLETED "$T/f.out"
expect_grep 'env setup sourced' "$T/f.out"
H5CHECK same "$T/run-a.h5" "$T/run-f.h5"
JF2=$(FINSIM_ENV_SETUP="$T/missing-env.sh" FINSIM_STORE="$T/store-f.h5" FINSIM_OUTPUT="$T/run-f2.h5" \
     submit -N1 -n1 -o "$T/f2.out" "$J/finsim.sbatch")
expect_state "$JF2" FAILED "$T/f2.out"
expect_grep 'cannot read FINSIM_ENV_SETUP' "$T/f2.out"

# 8. the default requeue codes include 3 (store unreachable): with a restart
# limit of 0 the script says it would have requeued, and fails with 3
JG=$(FINSIM_STORE=redis://127.0.0.1:1 FINSIM_OUTPUT="$T/run-g.h5" FINSIM_MAX_RESTARTS=0 \
     FINSIM_EXTRA_ARGS="--timeout 2" submit -N1 -n1 -o "$T/g.out" "$J/finsim.sbatch")
expect_state "$JG" FAILED "$T/g.out"
expect_grep 'giving up after 0 restarts' "$T/g.out"
[ "$(job_field "$JG" ExitCode)" = "3:0" ] || { echo "FAIL: job G exit $(job_field "$JG" ExitCode)" >&2; exit 1; }
expect_grep 'FINSIM_REQUEUE_CODES:-3 9 10 14' "$J/finsim.sbatch"
expect_grep '^#SBATCH --signal=B:USR1@' "$J/finsim.sbatch"

# 9. SIGUSR1 (what --signal=B:USR1@N sends before the time limit) in the middle
# of a run: the script stops the launcher, requeues, and the next attempt
# resumes to the same bits as an uninterrupted run
cp "$T/trades.h5" "$T/store-u.h5"
cp "$T/trades.h5" "$T/store-uref.h5"
USYN=(--algorithm synthetic --task-duration 150 --batch 2)
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/store-uref.h5" "${USYN[@]}" --seed 7 --start-trade 0 \
  --trade-window $N --no-mirror --progress 0 --output "$T/run-uref.h5"
JU=$(FINSIM_STORE="$T/store-u.h5" FINSIM_OUTPUT="$T/run-u.h5" FINSIM_ALGORITHM=synthetic FINSIM_PROGRESS=0.001 \
     FINSIM_KILL_GRACE=10 FINSIM_EXTRA_ARGS="--task-duration 150 --batch 2 --events $T/u.events" \
     submit -N1 -n2 -o "$T/u.out" "$J/finsim.sbatch")
for _ in $(seq 1500); do grep -qs '"event":"progress"' "$T/u.events" && break; sleep 0.05; done
grep -qs '"event":"progress"' "$T/u.events" || { echo "FAIL: no progress event from job U" >&2; cat "$T/u.out" >&2; exit 1; }
expect_rc 0 scancel --batch --signal=USR1 "$JU"
expect_state "$JU" COMPLETED "$T/u.out"
expect_grep 'stopped by SIGUSR1' "$T/u.out"
expect_grep 'requeueing job' "$T/u.out"
expect_grep 'resumed [1-9]' "$T/u.out"
[ "$(job_field "$JU" Restarts)" = 1 ] || { echo "FAIL: job U restarts $(job_field "$JU" Restarts), expected 1" >&2; exit 1; }
H5CHECK same "$T/run-uref.h5" "$T/run-u.h5"
finish
