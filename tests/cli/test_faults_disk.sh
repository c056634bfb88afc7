# test_faults_disk.sh - a full disk: an 8 KiB tmpfs cannot hold the results;
# found before pricing (exit 6), and a rerun elsewhere gives the
# uninterrupted /results bit for bit. Needs to mount a tmpfs (root): skipped,
# visibly, where it cannot.
source "$FINSIM_SRC/tests/lib/common.sh"
N=120
RUN=(run --algorithm synthetic --task-duration 12 --seed 4 --start-trade 0 --trade-window $N --progress 0 --batch 8)
"$FINSIM_BIN" generate --trades $N --seed 9 --store "$T/trades.h5" > /dev/null
mkdir -p "$T/full"
mount -t tmpfs -o size=8k tmpfs "$T/full" 2>"$T/mount.err" || skip "cannot mount a tmpfs here: $(head -1 "$T/mount.err")"
add_cleanup "umount '$T/full'"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/trades.h5" --no-mirror --output "$T/ref.h5"
H5CHECK valid "$T/ref.h5" $N 0
expect_rc 6 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/trades.h5" --no-mirror --output "$T/full/r.h5"
expect_grep 'disk full|No space' "$T/last.err"
expect_no_grep 'RESULT: OK' "$T/last.out"
# (no --resume: without a mirror there is nothing to resume, and
# --resume --no-mirror is a usage error)
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/trades.h5" --no-mirror --output "$T/f.h5"
H5CHECK same "$T/ref.h5" "$T/f.h5"
finish
