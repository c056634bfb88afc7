# test_run_file.sh - finsim run on the HDF5 trade-file store with real mpirun:
# results bitwise identical for 1, 2 and 4 ranks, static/dynamic/cost
# schedules, batch sizes and independent or collective HDF5 writes; HDF5 read
# back; usage and I/O errors.
source "$FINSIM_SRC/tests/lib/common.sh"
N=48
ARGS=(--algorithm deltavega --paths 2000 --seed 7 --start-trade 100 --trade-window $N --progress 0)

"$FINSIM_BIN" generate --trades 60 --start-trade 100 --seed 3 --store "$T/trades.h5"
expect_rc 0 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output "$T/r1.h5"
expect_grep '^RESULT: OK' "$T/last.out"
H5CHECK valid "$T/r1.h5" $N 0
SUM=$(sed -n 's/^checksum *: //p' "$T/last.out")

expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output "$T/r2.h5" --batch 5
H5CHECK same "$T/r1.h5" "$T/r2.h5"
expect_rc 0 MPIRUN -np 4 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output "$T/r4.h5" \
  --expect-checksum "$SUM"
H5CHECK same "$T/r1.h5" "$T/r4.h5"
expect_grep 'checksum verified' "$T/last.out"
expect_rc 0 MPIRUN -np 3 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output "$T/rd.h5" \
  --schedule dynamic --chunk 5 --batch 3
H5CHECK same "$T/r1.h5" "$T/rd.h5"
# collective MPI-IO writes (cost-balanced windows)
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output "$T/rcoll.h5" \
  --balance cost --batch 5 --h5-write collective
H5CHECK same "$T/r1.h5" "$T/rcoll.h5"
expect_grep 'collective MPI-IO writes' "$T/last.out"
expect_no_grep 'as independent ones' "$T/last.err"
expect_rc 2 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output "$T/x.h5" --h5-write collective \
  --schedule dynamic
expect_grep 'needs --schedule static' "$T/last.err"
expect_rc 2 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output "$T/x.h5" --h5-write parallel
expect_grep 'auto, independent, collective or gather' "$T/last.err"
# the file is complete only under its final name
[ ! -e "$T/r4.h5.partial" ] || { echo "FAIL: partial file left behind"; exit 1; }

# an ids file (unordered, with a duplicate and a comment) gives rows ordered by id
printf '# some trades\n130, 101\n101 145\n' > "$T/ids.txt"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" --ids-file "$T/ids.txt" \
  --algorithm deltavega --paths 2000 --seed 7 --output "$T/ids.h5" --progress 0
H5CHECK valid "$T/ids.h5" 3 0
expect_grep 'duplicate' "$T/last.err"
# the same list on 4 ranks with collective writes: one rank has no trade and
# must still join the write round of the others
expect_rc 0 MPIRUN -np 4 "$FINSIM_BIN" run --store "$T/trades.h5" --ids-file "$T/ids.txt" \
  --algorithm deltavega --paths 2000 --seed 7 --output "$T/idsc.h5" --progress 0 --h5-write collective
H5CHECK same "$T/ids.h5" "$T/idsc.h5"

# a wrong expected checksum fails with exit 7
expect_rc 7 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output "$T/bad.h5" --expect-checksum 1234
expect_grep 'CHECKSUM MISMATCH' "$T/last.out"
# ids beyond the file are reported per trade; the others are priced; exit 1
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" --start-trade 150 --trade-window 20 \
  --paths 500 --output "$T/missing.h5" --progress 0
H5CHECK valid "$T/missing.h5" 20 10
H5CHECK status "$T/missing.h5" 165 6
# output that cannot be written: found before any pricing, exit 6
expect_rc 6 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output /proc/nonexistent/x.h5
expect_grep 'cannot create output' "$T/last.err"
# a missing store file: clear message, store exit code
expect_rc 3 "$FINSIM_BIN" run --store "$T/none.h5" "${ARGS[@]}" --output "$T/x.h5"
expect_grep 'generate' "$T/last.err"
# usage errors
expect_rc 2 "$FINSIM_BIN" run --store "$T/trades.h5" --output "$T/x.h5"
expect_rc 2 "$FINSIM_BIN" run --store "$T/trades.h5" --trade-window 0 --output "$T/x.h5"
expect_rc 0 "$FINSIM_BIN" run --help
expect_grep 'resume' "$T/last.out"

# a plain 'finsim run' (no launcher) is an MPI singleton without Open MPI's
# helper daemon (orted); OMPI_MCA_ess_singleton_isolated=0 in the
# environment wins and brings the daemon back (the control: the watch
# below does see one when there is one). Watched until the run ends.
daemons_of_run() { # ENV-ARGS...: a 2 s synthetic run under env ENV-ARGS; print the names of its children
  local pid seen=
  env "$@" "$FINSIM_BIN" run --store "$T/trades.h5" --algorithm synthetic --task-duration 50 --start-trade 100 \
    --trade-window 40 --progress 0 --no-mirror --force --output "$T/single.h5" > "$T/single.out" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    seen+=" $(ps -o comm= --ppid "$pid" 2>/dev/null | tr '\n' ' ')"
    sleep 0.05
  done
  wait "$pid" || { echo "FAIL: the singleton run failed: $(tail -3 "$T/single.out")" >&2; exit 1; }
  echo "$seen"
}
[[ " $(daemons_of_run -u OMPI_MCA_ess_singleton_isolated) " != *" orted "* ]] || { echo "FAIL: a plain finsim run started orted" >&2; exit 1; }
[[ " $(daemons_of_run OMPI_MCA_ess_singleton_isolated=0) " == *" orted "* ]] ||
  { echo "FAIL: no orted seen with OMPI_MCA_ess_singleton_isolated=0: the watch proves nothing" >&2; exit 1; }
CHECKS=$((CHECKS + 2))
finish
