# test_resume_balance.sh - a --resume rebalances the work that remains over
# all ranks (static schedule): rank 0 reads the mirror first and cuts the
# windows so that each rank gets an equal share of the trades still to
# price (by count; by cost with --balance cost). Before, the windows were
# cut by count over the whole list, so a mirror holding the first half left
# rank 0 nothing to price and rank 1 every remaining trade. Results stay
# bitwise equal to an uninterrupted run.
source "$FINSIM_SRC/tests/lib/common.sh"
N=400
RUN=(run --algorithm pvonly --paths 200 --seed 4 --start-trade 0 --progress 0 --batch 16)
"$FINSIM_BIN" generate --trades $N --seed 9 --store "$T/t.h5" > /dev/null
cp "$T/t.h5" "$T/t2.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --trade-window $N --store "$T/t.h5" --no-mirror --output "$T/ref.h5"

# new_priced FILE: per rank, the trades it priced (not taken from the mirror)
new_priced() {
  "$PY" -c "import h5py,sys; t=h5py.File(sys.argv[1])['telemetry'][...]
print(' '.join(str(int(r['trades']-r['skipped'])) for r in sorted(t, key=lambda r: r['rank'])))" "$1"
}
# expect_share FILE MIN: every rank priced at least MIN trades, and all N - N/2 in total
expect_share() {
  local shares; shares=$(new_priced "$1")
  echo "newly priced per rank: $shares"
  local sum=0
  for k in $shares; do
    [ "$k" -ge "$2" ] || { echo "FAIL: $1: a rank priced $k of the remaining trades (want >= $2): $shares" >&2; exit 1; }
    sum=$((sum + k))
  done
  [ "$sum" -eq $((N - N / 2)) ] || { echo "FAIL: $1: $sum trades priced, want $((N - N / 2))" >&2; exit 1; }
  CHECKS=$((CHECKS + 1))
}

for store in t t2; do
  # a mirror holding the first half of the trades (what a run stopped once
  # rank 0's window was done leaves)
  expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --trade-window $((N / 2)) --store "$T/$store.h5" \
    --output "$T/half-$store.h5"
done

# by count: each rank prices about half of the 200 left
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --trade-window $N --store "$T/t.h5" --output "$T/r.h5" --resume
expect_share "$T/r.h5" $((N / 4 - 10))
expect_grep "resume: 200 of $N trades left to price, shared over 2 ranks" "$T/last.err"
expect_grep "resumed 200\)" "$T/last.out"
H5CHECK same "$T/ref.h5" "$T/r.h5"

# by cost: shares of paths x t_steps; every rank still prices a fair part
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --trade-window $N --store "$T/t2.h5" --output "$T/c.h5" \
  --resume --balance cost
expect_grep "resumed 200\)" "$T/last.out"
expect_share "$T/c.h5" $((N / 8))
H5CHECK same "$T/ref.h5" "$T/c.h5"
finish
