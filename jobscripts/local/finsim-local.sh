#!/usr/bin/env bash
# finsim-local.sh - run `finsim run` under mpirun on one workstation (or on the
# hosts of a hostfile) with sensible defaults.
#
# Every option has an environment variable, so the same wrapper works from a
# shell, a cron job or a container entry point; command-line options win.
# Secrets are never options: the Redis password comes from FINSIM_REDIS_PASSWORD
# (inherited by the ranks) or from a password file (--password-file, mode 0600).
set -euo pipefail

PROG=$(basename "$0")

usage() {
    cat <<USAGE
usage: $PROG [options] [-- extra 'finsim run' options]

Launch 'mpirun -np RANKS finsim run ...' on this machine.

options (environment variable in brackets; the option wins):
  -n, --ranks N          MPI ranks [FINSIM_RANKS] (default: number of cores, $(nproc 2>/dev/null || echo 1) here)
  -s, --store URL        trade store: redis://host:port[/db], rediss://..., unix:///sock,
                         or an HDF5 trade file [FINSIM_STORE] (required)
  -k, --start-trade K    first trade id [FINSIM_START_TRADE] (default 0)
  -w, --trade-window W   number of trades [FINSIM_TRADE_WINDOW] (required)
  -a, --algorithm A      pvonly, deltavega or synthetic [FINSIM_ALGORITHM] (default: finsim's, pvonly)
      --seed S           run seed [FINSIM_SEED] (default: finsim's, 1)
      --paths N          Monte Carlo paths per trade [FINSIM_PATHS] (default: each trade's trials)
  -o, --output FILE.h5   results file [FINSIM_OUTPUT] (default finsim-results-<UTC time>.h5)
      --resume           reuse results already mirrored in the store [FINSIM_RESUME=1]
      --password-file F  Redis password file, mode 0600 [FINSIM_PASSWORD_FILE]
      --hostfile FILE    Open MPI hostfile for several hosts [FINSIM_HOSTFILE]
      --finsim PATH      finsim binary [FINSIM_BIN] (default: finsim on PATH, else the
                         repository's build/ or build-*/ directory)
      --mpirun PATH      mpirun to use [FINSIM_MPIRUN] (default mpirun)
      --dry-run          print the command line and exit
  -h, --help             this text

environment only:
  FINSIM_ENV_SETUP       a file sourced before the launch (load a module, a Spack
                         or Apptainer environment, put finsim/mpirun on PATH)
  FINSIM_KILL_GRACE      seconds mpirun gets after SIGTERM/SIGINT to this wrapper
                         before its whole process group is killed (default 30)

mpirun flags are added only when needed: --allow-run-as-root when running as
root (Open MPI refuses root otherwise), --oversubscribe when RANKS exceeds the
cores of this machine and no hostfile is given.

exit status: that of finsim (0 all priced, 1 some trades failed, 10 injected
failure: rerun with --resume), or 2 for a usage error of this wrapper.
When mpirun ends the run itself (a rank killed by a signal: 128 + N; a lost
node or daemon; any status outside finsim's 0-14) the status stays mpirun's
and a line "the run ended by a failure of mpirun, not with a finsim exit
code: ..." says so.
A SIGTERM or SIGINT is passed on to mpirun; one that does not end within
FINSIM_KILL_GRACE seconds (a host it cannot reach) is killed, so the wrapper
never hangs on a partitioned host.

examples:
  $PROG --store trades.h5 --trade-window 1000 --paths 10000
  FINSIM_STORE=redis://cache:6379 FINSIM_REDIS_PASSWORD=... $PROG -n 8 -w 1000000 -o q3.h5
USAGE
}

die() { echo "$PROG: $*" >&2; exit 2; }

RANKS=${FINSIM_RANKS:-}
STORE=${FINSIM_STORE:-}
START=${FINSIM_START_TRADE:-0}
WINDOW=${FINSIM_TRADE_WINDOW:-}
ALGO=${FINSIM_ALGORITHM:-}
SEED=${FINSIM_SEED:-}
PATHS=${FINSIM_PATHS:-}
OUTPUT=${FINSIM_OUTPUT:-}
RESUME=${FINSIM_RESUME:-0}
PWFILE=${FINSIM_PASSWORD_FILE:-}
HOSTFILE=${FINSIM_HOSTFILE:-}
FINSIM=${FINSIM_BIN:-}
MPIRUN=${FINSIM_MPIRUN:-mpirun}
DRYRUN=0
EXTRA=()

need() { [ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        -n|--ranks) need "$@"; RANKS=$2; shift 2 ;;
        -s|--store) need "$@"; STORE=$2; shift 2 ;;
        -k|--start-trade) need "$@"; START=$2; shift 2 ;;
        -w|--trade-window) need "$@"; WINDOW=$2; shift 2 ;;
        -a|--algorithm) need "$@"; ALGO=$2; shift 2 ;;
        --seed) need "$@"; SEED=$2; shift 2 ;;
        --paths) need "$@"; PATHS=$2; shift 2 ;;
        -o|--output) need "$@"; OUTPUT=$2; shift 2 ;;
        --resume) RESUME=1; shift ;;
        --password-file) need "$@"; PWFILE=$2; shift 2 ;;
        --hostfile) need "$@"; HOSTFILE=$2; shift 2 ;;
        --finsim) need "$@"; FINSIM=$2; shift 2 ;;
        --mpirun) need "$@"; MPIRUN=$2; shift 2 ;;
        --dry-run) DRYRUN=1; shift ;;
        --password|--password=*) die "passwords are not accepted on the command line; use FINSIM_REDIS_PASSWORD or --password-file" ;;
        --) shift; EXTRA=("$@"); break ;;
        *) die "unknown option '$1' (see --help; finsim options go after --)" ;;
    esac
done

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
CORES=$(nproc 2>/dev/null || echo 1)
[ -n "$RANKS" ] || RANKS=$CORES
is_uint "$RANKS" && [ "$RANKS" -ge 1 ] || die "--ranks must be a positive integer, not '$RANKS'"
[ -n "$STORE" ] || die "no trade store: give --store URL or set FINSIM_STORE"
[ -n "$WINDOW" ] || die "no trade window: give --trade-window W or set FINSIM_TRADE_WINDOW"
is_uint "$WINDOW" && [ "$WINDOW" -ge 1 ] || die "--trade-window must be a positive integer, not '$WINDOW'"
is_uint "$START" || die "--start-trade must be a non-negative integer, not '$START'"
case "$ALGO" in ""|pvonly|deltavega|synthetic) ;; *) die "unknown algorithm '$ALGO' (pvonly, deltavega, synthetic)" ;; esac
[ -z "$SEED" ] || is_uint "$SEED" || die "--seed must be a non-negative integer, not '$SEED'"
[[ "$STORE" != *://*:*@* ]] || die "the store URL holds a password; use FINSIM_REDIS_PASSWORD or --password-file"
[ -z "$PATHS" ] || is_uint "$PATHS" || die "--paths must be a positive integer, not '$PATHS'"
[ -n "$OUTPUT" ] || OUTPUT="finsim-results-$(date -u +%Y%m%dT%H%M%SZ).h5"
[ -z "$HOSTFILE" ] || [ -r "$HOSTFILE" ] || die "cannot read hostfile '$HOSTFILE'"
[ -z "$PWFILE" ] || [ -r "$PWFILE" ] || die "cannot read password file '$PWFILE'"

# The site's environment (modules, Spack, Apptainer) before finsim and mpirun are looked up.
if [ -n "${FINSIM_ENV_SETUP:-}" ]; then
    [ -r "$FINSIM_ENV_SETUP" ] || die "cannot read FINSIM_ENV_SETUP file '$FINSIM_ENV_SETUP'"
    # module and Spack scripts are not written for 'set -eu'
    set +eu
    # shellcheck disable=SC1090
    . "$FINSIM_ENV_SETUP"
    setup_rc=$?
    set -eu
    [ "$setup_rc" = 0 ] || die "FINSIM_ENV_SETUP file '$FINSIM_ENV_SETUP' failed (status $setup_rc)"
    [ -n "$FINSIM" ] || FINSIM=${FINSIM_BIN:-}
fi

# Locate finsim: explicit, PATH, then the repository's build directories.
if [ -z "$FINSIM" ]; then
    if command -v finsim >/dev/null 2>&1; then
        FINSIM=$(command -v finsim)
    else
        here=$(cd "$(dirname "$0")/../.." && pwd)
        for cand in "$here"/build/finsim "$here"/build-*/finsim; do
            if [ -x "$cand" ]; then FINSIM=$cand; break; fi
        done
    fi
fi
[ -n "$FINSIM" ] || die "finsim not found: put it on PATH, set FINSIM_BIN or use --finsim (build: bash scripts/build.sh)"
[ -x "$FINSIM" ] || die "finsim binary '$FINSIM' is not executable"
command -v "$MPIRUN" >/dev/null 2>&1 || die "'$MPIRUN' not found (apt-get install openmpi-bin, or set FINSIM_MPIRUN)"

MPI_ARGS=(-np "$RANKS")
if "$MPIRUN" --version 2>/dev/null | grep -qi "open mpi\|open-mpi\|openrte"; then
    [ "$(id -u)" -ne 0 ] || MPI_ARGS+=(--allow-run-as-root)
    if [ -z "$HOSTFILE" ] && [ "$RANKS" -gt "$CORES" ]; then
        MPI_ARGS+=(--oversubscribe)
    fi
fi
[ -z "$HOSTFILE" ] || MPI_ARGS+=(--hostfile "$HOSTFILE")

# The settings go to finsim as options. finsim also reads FINSIM_<KEY> itself
# (defaults < FINSIM_CONFIG file < environment < command line), so any other
# FINSIM_* setting in the environment still applies, and the options here win.
RUN_ARGS=(run --store "$STORE" --start-trade "$START" --trade-window "$WINDOW" --output "$OUTPUT")
[ -z "$ALGO" ] || RUN_ARGS+=(--algorithm "$ALGO")
[ -z "$SEED" ] || RUN_ARGS+=(--seed "$SEED")
[ -z "$PATHS" ] || RUN_ARGS+=(--paths "$PATHS")
case "$RESUME" in 1|true|yes|on) RUN_ARGS+=(--resume) ;; esac
[ -z "$PWFILE" ] || RUN_ARGS+=(--password-file "$PWFILE")
RUN_ARGS+=("${EXTRA[@]}")

CMD=("$MPIRUN" "${MPI_ARGS[@]}" "$FINSIM" "${RUN_ARGS[@]}")
if [ "$DRYRUN" = 1 ]; then
    printf '%q ' "${CMD[@]}"; echo
    exit 0
fi
# run_bounded CMD...: run the launcher CMD (mpirun/srun) in its own process
# group and return its exit status. SIGTERM, SIGINT or SIGUSR1 to this script
# are forwarded to it as SIGTERM; if it is still running FINSIM_KILL_GRACE
# seconds later (default 30) its whole process group gets SIGKILL. A launcher
# that waits for ever on a partitioned host (mpirun may ignore SIGTERM then)
# thus cannot hold the job. RB_SIGNAL is set to the signal that stopped it.
RB_SIGNAL=
run_bounded() {
    local grace=${FINSIM_KILL_GRACE:-30} pid rc t
    [[ "$grace" =~ ^[0-9]+$ ]] || { echo "${PROG:-finsim}: FINSIM_KILL_GRACE must be whole seconds, not '$grace'" >&2; return 2; }
    RB_SIGNAL=
    trap 'RB_SIGNAL=TERM' TERM
    trap 'RB_SIGNAL=INT' INT
    trap 'RB_SIGNAL=USR1' USR1
    if command -v setsid >/dev/null 2>&1; then setsid "$@" & else "$@" & fi
    pid=$!
    while :; do
        rc=0
        wait "$pid" || rc=$?
        kill -0 "$pid" 2>/dev/null || break          # it ended; rc is its status
        [ -n "$RB_SIGNAL" ] || continue
        echo "${PROG:-finsim}: SIG$RB_SIGNAL: stopping the launcher (pid $pid; SIGKILL in ${grace} s)" >&2
        kill -TERM "$pid" 2>/dev/null || true
        t=$((SECONDS + grace))
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$t" ]; do sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "${PROG:-finsim}: the launcher ignored SIGTERM for ${grace} s: killing its process group" >&2
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        rc=0
        wait "$pid" || rc=$?
        break
    done
    trap - TERM INT USR1
    return "$rc"
}

# mpi_verdict RC LOG: when mpirun ended the run by its own failure (a rank
# killed by a signal, a lost node or daemon, a status that is none of
# finsim's 0-14), say so in finsim's words; LOG holds mpirun's stderr. The
# exit status stays mpirun's.
mpi_verdict() {
    local rc=$1 log=$2 why=
    [ "$rc" -ne 0 ] || return 0
    if grep -q 'exited on signal' "$log" 2>/dev/null; then
        why="a rank was killed by a signal: $(grep -o 'process rank [0-9]* .*exited on signal [0-9]* ([^)]*)' "$log" | head -1)"
    elif grep -qiE 'lost communication with a remote daemon|daemon .*(failed|died)|unexpectedly (failed|died)' "$log" 2>/dev/null; then
        why="mpirun lost a node or its daemon"
    elif [ "$rc" -gt 14 ]; then
        why="status $rc is none of finsim's exit codes"
    fi
    [ -n "$why" ] || return 0
    echo "$PROG: error: the run ended by a failure of mpirun, not with a finsim exit code: $why (mpirun exited with status $rc); the results mirrored so far are kept: rerun with --resume" >&2
}

echo "$PROG: $RANKS ranks, trades $START..$((START + WINDOW - 1)), output $OUTPUT" >&2
ERRLOG=$(mktemp "${TMPDIR:-/tmp}/finsim-local.XXXXXX")
exec 3>&2 2> >(tee "$ERRLOG" >&2)   # mpirun's stderr, also kept for mpi_verdict
TEEPID=$!
rc=0
run_bounded "${CMD[@]}" || rc=$?
exec 2>&3 3>&-
# tee ends when every writer of its pipe has closed it, at once when mpirun
# is gone; a descendant of mpirun stuck on an unreachable host may keep the
# pipe open for ever, so wait for tee a bounded while only (2 s)
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    kill -0 "$TEEPID" 2>/dev/null || break
    sleep 0.1
done
kill "$TEEPID" 2>/dev/null || true
[ -n "$RB_SIGNAL" ] || mpi_verdict "$rc" "$ERRLOG"
rm -f "$ERRLOG"
[ -z "$RB_SIGNAL" ] || echo "$PROG: stopped by SIG$RB_SIGNAL; mpirun exited with status $rc" >&2
exit "$rc"
