# test_launch_local.sh - jobscripts/local/finsim-local.sh: options and their
# environment variables, the mpirun flags it adds only when needed (root,
# more ranks than cores), a real 3-rank run on the file store whose results
# equal a plain mpirun run, and clear usage errors.
source "$FINSIM_SRC/tests/lib/common.sh"
L=$FINSIM_SRC/jobscripts/local/finsim-local.sh
CORES=$(nproc)

expect_rc 0 bash "$L" --help
expect_grep 'FINSIM_STORE' "$T/last.out"
expect_grep 'oversubscribe' "$T/last.out"

"$FINSIM_BIN" generate --trades 40 --seed 3 --store "$T/trades.h5" >/dev/null 2>&1
cp "$T/trades.h5" "$T/trades2.h5"

# flags: only as many as needed
expect_rc 0 bash "$L" --finsim "$FINSIM_BIN" -s "$T/trades.h5" -w 40 -n 1 --dry-run
if [ "$(id -u)" = 0 ]; then expect_grep 'allow-run-as-root' "$T/last.out"
else expect_no_grep 'allow-run-as-root' "$T/last.out"; fi
expect_no_grep 'oversubscribe' "$T/last.out"
expect_rc 0 bash "$L" --finsim "$FINSIM_BIN" -s "$T/trades.h5" -w 40 -n $((CORES + 1)) --dry-run
expect_grep 'oversubscribe' "$T/last.out"
# the default rank count is the number of cores (no -n, no FINSIM_RANKS), and
# the real run starts that many ranks
expect_rc 0 env -u FINSIM_RANKS bash "$L" --finsim "$FINSIM_BIN" -s "$T/trades.h5" -w 40 --dry-run
expect_grep "-np $CORES " "$T/last.out"
expect_rc 0 env -u FINSIM_RANKS bash "$L" --finsim "$FINSIM_BIN" -s "$T/trades.h5" -w 40 -o "$T/dflt.h5" -- --progress 0
expect_grep "^finsim-local.sh: $CORES ranks" "$T/last.err"
"$PY" - "$T/dflt.h5" "$CORES" <<'PYEOF'
import sys, h5py
n = len(h5py.File(sys.argv[1], "r")["telemetry"])
sys.exit(0 if n == int(sys.argv[2]) else f"{n} ranks in the telemetry, want {sys.argv[2]}")
PYEOF
CHECKS=$((CHECKS + 1))
# every option also comes from the environment; the option wins
expect_rc 0 env FINSIM_STORE="$T/trades.h5" FINSIM_TRADE_WINDOW=40 FINSIM_RANKS=2 FINSIM_ALGORITHM=pvonly \
  FINSIM_BIN="$FINSIM_BIN" bash "$L" --algorithm deltavega --dry-run
expect_grep '-np 2 .*--store [^ ]*trades.h5 .*--trade-window 40' "$T/last.out"
expect_grep 'algorithm deltavega' "$T/last.out"
# a default output name is made up when none is given
expect_grep 'output finsim-results-[0-9]{8}T[0-9]{6}Z\.h5' "$T/last.out"

# a real run: 3 ranks on this machine, and the same numbers as plain mpirun
ARGS=(--algorithm deltavega --paths 1000 --seed 7 --start-trade 0 --trade-window 40 --progress 0)
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades2.h5" "${ARGS[@]}" --output "$T/plain.h5"
expect_rc 0 env -u OMPI_MCA_rmaps_base_oversubscribe FINSIM_BIN="$FINSIM_BIN" \
  bash "$L" -n 3 -s "$T/trades.h5" -a deltavega --paths 1000 --seed 7 -w 40 -o "$T/local.h5" -- --progress 0
expect_grep 'RESULT: OK' "$T/last.out"
H5CHECK valid "$T/local.h5" 40 0
H5CHECK same "$T/plain.h5" "$T/local.h5"
# --resume is passed through: everything is taken from the store's mirror
expect_rc 0 env FINSIM_BIN="$FINSIM_BIN" bash "$L" -n 2 -s "$T/trades.h5" -a deltavega --paths 1000 --seed 7 \
  -w 40 -o "$T/again.h5" --resume -- --progress 0
expect_grep 'resumed 40' "$T/last.out"
H5CHECK same "$T/plain.h5" "$T/again.h5"

# usage errors: exit 2 and a message that says what to do
expect_rc 2 env -u FINSIM_STORE bash "$L" -w 10
expect_grep 'FINSIM_STORE' "$T/last.err"
expect_rc 2 bash "$L" -s "$T/trades.h5"
expect_grep 'trade window' "$T/last.err"
expect_rc 2 bash "$L" -s "$T/trades.h5" -w 10 -n zero
expect_rc 2 bash "$L" -s "$T/trades.h5" -w 10 -a montecarlo
expect_rc 2 bash "$L" -s "redis://user:hunter2@cache:6379" -w 10
expect_grep 'password' "$T/last.err"
expect_no_grep 'hunter2' "$T/last.err"
expect_rc 2 bash "$L" --password hunter2 -s "$T/trades.h5" -w 10
expect_no_grep 'hunter2' "$T/last.err"
expect_rc 2 bash "$L" -s "$T/trades.h5" -w 10 --bogus

# FINSIM_ENV_SETUP: a file sourced before the launch (here it is what puts
# finsim on PATH, as a module or Spack environment would)
mkdir -p "$T/envbin"
ln -s "$FINSIM_BIN" "$T/envbin/finsim"
printf 'export PATH=%q:"$PATH"\nFINSIM_SETUP_SEEN=yes\n' "$T/envbin" > "$T/setup.sh"
expect_rc 0 env -u FINSIM_BIN FINSIM_ENV_SETUP="$T/setup.sh" bash "$L" -n 2 -s "$T/trades.h5" -a deltavega \
  --paths 1000 --seed 7 -w 40 -o "$T/setup.h5" -- --progress 0 --no-mirror
H5CHECK same "$T/plain.h5" "$T/setup.h5"
expect_rc 0 env -u FINSIM_BIN FINSIM_ENV_SETUP="$T/setup.sh" bash "$L" -s "$T/trades.h5" -w 4 --dry-run
expect_grep "$T/envbin/finsim run" "$T/last.out"
expect_rc 2 env FINSIM_ENV_SETUP="$T/nonexistent.sh" bash "$L" -s "$T/trades.h5" -w 4 --dry-run
expect_grep 'FINSIM_ENV_SETUP' "$T/last.err"
printf 'return 3\n' > "$T/bad-setup.sh"
expect_rc 2 env FINSIM_ENV_SETUP="$T/bad-setup.sh" bash "$L" -s "$T/trades.h5" -w 4 --dry-run
expect_grep 'failed \(status 3\)' "$T/last.err"
expect_rc 2 env FINSIM_KILL_GRACE=soon FINSIM_BIN="$FINSIM_BIN" bash "$L" -n 1 -s "$T/trades.h5" -w 4 -o "$T/g.h5"
expect_grep 'FINSIM_KILL_GRACE' "$T/last.err"
# SIGTERM to the wrapper reaches mpirun and the ranks; the wrapper returns
# (the kill grace after an ignored SIGTERM is tested with a partitioned host
# in test_cluster)
FINSIM_BIN="$FINSIM_BIN" FINSIM_KILL_GRACE=20 bash "$L" -n 2 -s "$T/trades.h5" -w 40 -o "$T/term.h5" -- \
  --algorithm synthetic --task-duration 2000 --batch 1 --progress 0.001 --events "$T/term.events" --no-mirror \
  > "$T/term.out" 2> "$T/term.err" &
WP=$!
for _ in $(seq 600); do grep -qs '"event":"progress"' "$T/term.events" && break; sleep 0.05; done
grep -qs '"event":"' "$T/term.events" || { echo "FAIL: no event from the wrapped run" >&2; exit 1; }
t0=$SECONDS
kill -TERM "$WP"
rc=0; wait "$WP" || rc=$?
[ "$rc" != 0 ] || { echo "FAIL: a terminated run exited 0" >&2; exit 1; }
[ $((SECONDS - t0)) -le 25 ] || { echo "FAIL: the wrapper took $((SECONDS - t0)) s after SIGTERM" >&2; exit 1; }
expect_grep 'SIGTERM: stopping the launcher' "$T/term.err"
[ ! -e "$T/term.h5" ] || { echo "FAIL: a terminated run left a results file" >&2; exit 1; }
# a rank killed by SIGKILL (the OOM killer, a lost host): mpirun ends the run
# with 128 + 9 and its own words; the wrapper says in finsim's that this is
# not a finsim exit code, and keeps mpirun's status
env FINSIM_BIN="$FINSIM_BIN" bash "$L" -n 2 -s "$T/trades.h5" -a synthetic -w 40 -o "$T/kill.h5" -- \
  --task-duration 200 --progress 0 --events "$T/kill.events" > "$T/kill.out" 2> "$T/kill.err" & W=$!
wait_for 60 "start event" grep -qs '"event":"start"' "$T/kill.events"
victim=$(finsim_pids "$W" | tail -1)
[ -n "$victim" ] || { echo "FAIL: no finsim rank found under the wrapper" >&2; exit 1; }
kill -KILL "$victim"
rc=0; wait "$W" || rc=$?
expect_status 137 "$rc" "the wrapper after SIGKILL of a rank" "$T/kill.err"
expect_grep "finsim-local.sh: error: the run ended by a failure of mpirun, not with a finsim exit code: a rank was killed by a signal: .*exited on signal 9 .*\(mpirun exited with status 137\)" "$T/kill.err"
# a finsim exit code is finsim's: no such line
expect_rc 2 env FINSIM_BIN="$FINSIM_BIN" bash "$L" -n 2 -s "$T/trades.h5" -w 40 -o "$T/bad.h5" -- --paths -5
expect_no_grep 'failure of mpirun' "$T/last.err"
finish
