# test_failure_rehearsal.sh - an injected failure (--failure P, exit mode) is
# rehearsed once: the failing rank mirrors the failure record, and a --resume
# rerun prices that trade for real, so a few reruns finish (exit 0) with
# results bitwise equal to a run without --failure. Before, every rerun died
# on the same trade (the draw depends only on seed and id).
source "$FINSIM_SRC/tests/lib/common.sh"
N=200
RUN=(run --paths 200 --progress 0 --seed 5 --start-trade 0 --trade-window $N --batch 8)
"$FINSIM_BIN" generate --trades $N --seed 1 --store "$T/t.h5" > /dev/null
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/t.h5" --no-mirror --output "$T/ref.h5"

# record mode counts the failures this seed injects: more than one, so the
# reruns below must each get past another one
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/t.h5" --no-mirror --failure 0.02 \
  --failure-mode record --output "$T/rec.h5"
nfail=$("$PY" -c "import h5py,sys; r=h5py.File(sys.argv[1])['results'][...]; print(int((r['status']==8).sum()))" "$T/rec.h5")
[ "$nfail" -ge 2 ] || { echo "FAIL: want at least 2 injected failures for this test, got $nfail" >&2; exit 1; }

expect_rc 10 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/t.h5" --failure 0.02 --output "$T/f.h5"
expect_grep "injected failure .*rerun with --resume to finish" "$T/last.err"
first=$(grep -o 'on trade [0-9]*' "$T/last.err" | head -1)
rc=10; reruns=0
while [ "$rc" = 10 ]; do
  reruns=$((reruns + 1))
  [ "$reruns" -le $((nfail + 1)) ] || { echo "FAIL: still exit 10 after $nfail reruns (the same failure again?)" >&2; cat "$T/last.err" >&2; exit 1; }
  rc=0
  MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/t.h5" --failure 0.02 --output "$T/f.h5" --resume \
    > "$T/last.out" 2> "$T/last.err" || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 10 ] || { echo "FAIL: rerun $reruns: exit $rc" >&2; cat "$T/last.err" >&2; exit 1; }
  if [ "$rc" = 10 ] && grep -q "$first\b" "$T/last.err"; then
    echo "FAIL: rerun $reruns failed again on the rehearsed $first" >&2; exit 1
  fi
  CHECKS=$((CHECKS + 1))
done
echo "finished after $reruns --resume rerun(s), $nfail injected failures"
H5CHECK valid "$T/f.h5" $N 0
H5CHECK same "$T/ref.h5" "$T/f.h5"

# record mode: the failures are mirrored with their status (exit 1); one
# --resume prices them for real
"$FINSIM_BIN" generate --trades $N --seed 1 --store "$T/r.h5" > /dev/null
expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/r.h5" --failure 0.02 --failure-mode record \
  --output "$T/rr.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/r.h5" --failure 0.02 --failure-mode record \
  --output "$T/rr.h5" --resume
H5CHECK same "$T/ref.h5" "$T/rr.h5"
finish
