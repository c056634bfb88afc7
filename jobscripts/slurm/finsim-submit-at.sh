#!/bin/bash
# finsim-submit-at.sh - wait until a wall-clock time today, then run sbatch.
#
#   finsim-submit-at.sh HH:MM[:SS] [sbatch options...] SCRIPT [script args...]
#
# cron and scrontab fire on whole minutes. To start a job at a given second
# (e.g. 15:25:03), let scrontab start this small step a minute early (15:24):
# it sleeps until 15:25:03 and submits the real job then. A submission makes
# slurmctld try to schedule at once, so the job starts within about a second
# when its nodes are free (2 s on the test cluster). A job held with
# 'sbatch --begin' waits for the next periodic scheduling pass instead (20 s
# late on the test cluster), and '--begin=HH:MM:SS' without a date was taken
# as tomorrow there when the time was only seconds ahead. If the time has
# already passed, the job is submitted at once and the delay is logged.
set -euo pipefail
PROG=finsim-submit-at.sh
case "${1:-}" in
    -h|--help|"") sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; [ -n "${1:-}" ]; exit $? ;;
esac
AT=$1; shift
[[ "$AT" =~ ^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$ ]] || { echo "$PROG: time must be HH:MM[:SS], not '$AT'" >&2; exit 2; }
[ $# -ge 1 ] || { echo "$PROG: nothing to submit (give sbatch options and a script)" >&2; exit 2; }
# scrontab jobs do not inherit the user's environment: make sure sbatch is found
command -v sbatch >/dev/null 2>&1 || PATH=$PATH:/usr/local/bin:/usr/bin:/bin
# This runs inside a job: its SLURM_EXPORT_ENV (how *it* was submitted) would
# otherwise become the export rule of the job submitted here and of its srun.
unset SLURM_EXPORT_ENV
target=$(date -d "today $AT" +%s)
wait_s=$(awk -v t="$target" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", t - n }')
if awk -v w="$wait_s" 'BEGIN { exit !(w > 0) }'; then
    echo "$PROG: waiting $wait_s s until $AT"
    sleep "$wait_s"
else
    echo "$PROG: $AT passed ${wait_s#-} s ago; submitting now"
fi
echo "$PROG: submitting at $(date +%T.%N | cut -c1-12)"
exec sbatch "$@"
