# test_h5_gather.sh - finsim run --h5-write gather on one host: rank 0 writes
# the whole file with the serial driver from the rows the other ranks send;
# the file is bitwise the one of collective and independent MPI-IO writes
# (static and dynamic schedules, many small batches, an ids file, --resume), and auto
# picks independent writes for a directory that every rank shares.
# (The multi-host cases, node-local output, are in test_cluster.sh.)
source "$FINSIM_SRC/tests/lib/common.sh"
N=50
ARGS=(--algorithm deltavega --paths 2000 --seed 7 --start-trade 0 --trade-window $N --progress 0)
"$FINSIM_BIN" generate --trades 60 --seed 3 --store "$T/trades.h5" > /dev/null

expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --no-mirror --output "$T/c.h5" \
  --h5-write collective --batch 4
expect_grep 'collective MPI-IO writes' "$T/last.out"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --no-mirror --output "$T/g.h5" \
  --h5-write gather --batch 4
expect_grep 'written by rank 0 alone' "$T/last.out"
expect_grep '\(gather writes\)' "$T/last.err"
H5CHECK same "$T/c.h5" "$T/g.h5"
H5CHECK valid "$T/g.h5" $N 0
[ "$(sed -n 's/^checksum *: //p' "$T/last.out")" = "$("$PY" -c 'import h5py,sys; print(h5py.File(sys.argv[1])["/"].attrs["checksum"].decode())' "$T/c.h5")" ] ||
  { echo "FAIL: the gathered run's checksum differs"; exit 1; }
# three ranks, dynamic chunks, a batch of one or two rows: many messages
expect_rc 0 MPIRUN -np 3 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --no-mirror --output "$T/gd.h5" \
  --h5-write gather --schedule dynamic --chunk 3 --batch 2
H5CHECK same "$T/c.h5" "$T/gd.h5"
# an ids file on the dynamic schedule: rank 0 sends each chunk's ids (larger
# than an eager message) while the other ranks may wait for it to take their
# rows; this deadlocked while rank 0 sent the ids with a blocking send.
# Chunks of 1000 ids: 30 of them, or 6 with FINSIM_TEST_SIZE=small (the
# same message sizes, fewer rounds)
MANY=$(sized 30000 6000)
"$FINSIM_BIN" generate --trades "$MANY" --seed 5 --store "$T/many.h5" > /dev/null
seq 0 $((MANY - 1)) > "$T/many.ids"
LIST=(--store "$T/many.h5" --ids-file "$T/many.ids" --algorithm synthetic --task-duration 0 --no-mirror --progress 0
      --schedule dynamic --chunk 1000 --batch 1000)
expect_rc 0 MPIRUN -np 3 "$FINSIM_BIN" run "${LIST[@]}" --output "$T/li.h5" --h5-write independent
expect_rc 0 timeout 120 mpirun --oversubscribe -np 3 "$FINSIM_BIN" run "${LIST[@]}" --output "$T/lg.h5" --h5-write gather
H5CHECK same "$T/li.h5" "$T/lg.h5"
# one rank: gather is a plain serial write
expect_rc 0 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --no-mirror --output "$T/g1.h5" --h5-write gather
H5CHECK same "$T/c.h5" "$T/g1.h5"
# auto on a directory every rank sees: independent MPI-IO writes, no probe file left
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --no-mirror --output "$T/a.h5"
expect_grep '\(independent writes\)' "$T/last.err"
H5CHECK same "$T/c.h5" "$T/a.h5"
! ls -A "$T" | grep -q finsim-probe || { echo "FAIL: a probe file was left in $T"; exit 1; }
# --resume in gather mode: the results mirrored into a copy of the trade
# file by a first run are taken, not priced again, and the file is the same
cp "$T/trades.h5" "$T/mirror.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/mirror.h5" "${ARGS[@]}" --output "$T/m1.h5" --h5-write gather
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$T/mirror.h5" "${ARGS[@]}" --output "$T/m2.h5" --h5-write gather \
  --resume --batch 3
expect_grep "resumed $N" "$T/last.out"
H5CHECK same "$T/c.h5" "$T/m2.h5"
# the option's values
expect_rc 2 "$FINSIM_BIN" run --store "$T/trades.h5" "${ARGS[@]}" --output "$T/x.h5" --h5-write parallel
expect_grep 'auto, independent, collective or gather' "$T/last.err"
expect_rc 0 "$FINSIM_BIN" run --help
expect_grep 'gather: rank 0 writes' "$T/last.out"
finish
