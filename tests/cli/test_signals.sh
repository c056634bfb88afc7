# test_signals.sh - SIGTERM and SIGINT stop a run cleanly: every rank stops
# after its current batch (ranks that got no signal learn it at their next
# batch boundary), the mirror is flushed, the output stays FILE.partial,
# rank 0 says "stopped by SIGTERM after N of M trades; ... rerun with
# --resume", the ranks exit 14 and the end event says so. A --resume then
# finishes with /results bitwise equal to an uninterrupted run. Signals go
# to mpirun (what a scheduler sends; mpirun forwards SIGTERM to the ranks,
# and exits 1 itself: Open MPI sets that status when it is signalled) and
# to one rank directly (mpirun then passes on the ranks' 14). Every signal
# is sent on an event of the run (rank 0's first progress event), never
# after a sleep.
source "$FINSIM_SRC/tests/lib/common.sh"
N=400
RUN=(run --algorithm synthetic --task-duration 20 --seed 4 --start-trade 0 --trade-window $N --batch 8)
"$FINSIM_BIN" generate --trades $N --seed 9 --store "$T/trades.h5" > /dev/null
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --progress 0 --store "$T/trades.h5" --no-mirror \
  --output "$T/ref.h5"

# stop_case NAME WANT_RC TARGET SIG SEEN [OPTIONS...]: start a 2-rank run,
# send SIG to TARGET (mpirun, first or last rank) at its first progress
# event, check the stop (the ranks saw SIGSEEN), then resume it to the
# reference
stop_case() {
  local name=$1 want=$2 target=$3 sig=$4 seen=$5; shift 5
  local out="$T/$name.h5" ev="$T/$name.events"
  # mpirun itself in the background (not the MPIRUN function: $! would be a subshell)
  mpirun --oversubscribe -np 2 "$FINSIM_BIN" "${RUN[@]}" "$@" --progress 0.001 --store "$T/trades.h5" --output "$out" \
    --events "$ev" > "$T/$name.out" 2> "$T/$name.err" & local P=$!
  wait_for 60 "progress event in $ev" grep -qs '"event":"progress"' "$ev"
  local victim=$P
  if [ "$target" != mpirun ]; then
    wait_for 60 "two finsim ranks" test "$(finsim_pids "$P" | wc -l)" -eq 2
    local pids; pids=$(finsim_pids "$P")
    if [ "$target" = first ]; then victim=$(sed -n 1p <<< "$pids"); else victim=$(sed -n '$p' <<< "$pids"); fi
  fi
  kill -"$sig" "$victim"
  local rc=0; wait "$P" || rc=$?
  expect_status "$want" "$rc" "$name: run with SIG$sig to $target" "$T/$name.out" "$T/$name.err"
  expect_grep "stopped by SIG$seen after [0-9]* of $N trades; the results so far are mirrored: rerun with --resume" \
    "$T/$name.err"
  local done
  done=$(sed -n "s/.*stopped by SIG$seen after \([0-9]*\) of.*/\1/p" "$T/$name.err" | head -1)
  [ "$done" -lt "$N" ] || { echo "FAIL: $name: stopped after all $N trades" >&2; exit 1; }
  expect_grep '"event":"end".*"exit":14' "$ev"
  [ ! -e "$out" ] || { echo "FAIL: $name: a final output after a stopped run" >&2; exit 1; }
  [ -e "$out.partial" ] || { echo "FAIL: $name: the stopped run left no $out.partial" >&2; exit 1; }
  expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" "$@" --progress 0 --store "$T/trades.h5" --output "$out" --resume
  expect_grep "resumed [1-9]" "$T/last.out"
  H5CHECK same "$T/ref.h5" "$out"
}

# a scheduler's SIGTERM to mpirun: mpirun forwards it to both ranks and exits 1
stop_case term_mpirun 1 mpirun TERM TERM
# Ctrl-C (SIGINT to mpirun): mpirun sends the ranks SIGTERM, exits 1
stop_case int_mpirun 1 mpirun INT TERM --schedule dynamic
# one rank signalled: the other learns it at its next batch; exit 14
stop_case term_rank_static 14 last TERM TERM
stop_case term_rank0_static 14 first TERM TERM
stop_case int_rank_dynamic 14 last INT INT --schedule dynamic
stop_case term_rank0_dynamic 14 first TERM TERM --schedule dynamic
stop_case term_rank_gather 14 last TERM TERM --h5-write gather
# collective writes: a stopped rank still takes part in every write round
stop_case term_rank_collective 14 last TERM TERM --h5-write collective
finish
