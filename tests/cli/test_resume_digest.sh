# test_resume_digest.sh - --resume reuses a mirrored result only when it is
# this build's and its figures still match the digest it carries (issue
# "second hardening round", case 1). Against a trade file and a real
# redis-server, with real mpirun:
#  - a mirrored pv edited to 123 is priced again and counted stale, and the
#    output equals an uninterrupted run (checksum and bits);
#  - a Redis mirror without a digest (written before digests existed) is
#    stale; so is one whose fingerprint names another build;
#  - the stale count is in the report and in the HDF5 root attribute "stale".
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
N=12
RUN=(run --algorithm deltavega --paths 400 --seed 4 --trade-window $N --progress 0)

attr() { "$PY" -c 'import h5py,sys; v=h5py.File(sys.argv[1],"r").attrs[sys.argv[2]]; print(v.decode() if isinstance(v, bytes) else v)' "$@"; }

# ---- trade file: /mirror edited in place
expect_rc 0 "$FINSIM_BIN" generate --trades $N --seed 9 --store "$T/tr.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/tr.h5" --output "$T/ref.h5"
REF=$(attr "$T/ref.h5" checksum)
"$PY" - "$T/tr.h5" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    m = f["mirror"][...]
    assert "digest" in m.dtype.names and all(m["digest"] != 0), "mirror without digests"
    m["pv"][3] = 123.0
    f["mirror"][...] = m
PYEOF
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/tr.h5" --output "$T/res.h5" --resume
expect_grep "resumed $((N - 1))\)" "$T/last.out"
expect_grep 'stale mirror   : 1 ' "$T/last.out"
expect_grep "checksum       : $REF" "$T/last.out"
H5CHECK same "$T/ref.h5" "$T/res.h5"
[ "$(attr "$T/res.h5" stale)" = 1 ] || { echo "FAIL: stale attribute $(attr "$T/res.h5" stale), want 1"; exit 1; }
[ "$(attr "$T/ref.h5" stale)" = 0 ] || { echo "FAIL: stale attribute of a fresh run is not 0"; exit 1; }
attr "$T/res.h5" fp_flavour > "$T/flavour"
expect_grep '^(fma|nofma)-(native|portable)$' "$T/flavour"
attr "$T/res.h5" kernel_version > "$T/kver"
expect_grep '^[0-9]+$' "$T/kver"
# the repaired row was mirrored again: the next resume takes everything
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/tr.h5" --output "$T/res2.h5" --resume
expect_grep "resumed $N\)" "$T/last.out"
H5CHECK same "$T/ref.h5" "$T/res2.h5"

# ---- trade file whose /mirror predates digests (the record without the member):
# moved aside to /mirror_nodigest, every trade priced again, the next resume
# takes them all
"$PY" - "$T/tr.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    m = f["mirror"][...]
    names = [n for n in m.dtype.names if n != "digest"]
    old = np.zeros(m.shape, dtype=[(n, m.dtype[n]) for n in names])
    for n in names:
        old[n] = m[n]
    del f["mirror"]
    f.create_dataset("mirror", data=old, maxshape=(None,), chunks=(8192,))
PYEOF
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/tr.h5" --output "$T/old.h5" --resume
expect_grep 'predates result digests; moved to /mirror_nodigest' "$T/last.err"
expect_grep "resumed 0\)" "$T/last.out"
H5CHECK same "$T/ref.h5" "$T/old.h5"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$T/tr.h5" --output "$T/old2.h5" --resume
expect_grep "resumed $N\)" "$T/last.out"
H5CHECK same "$T/ref.h5" "$T/old2.h5"

# ---- Redis: edited pv, a mirror without digest, a fingerprint of another build
redis_start
add_cleanup redis_stop
CLI() { redis-cli -p "$REDIS_PORT" "$@"; }
expect_rc 0 "$FINSIM_BIN" generate --trades $N --seed 9 --store "$REDIS_URL"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/rref.h5"
[ "$(attr "$T/rref.h5" checksum)" = "$REF" ] || { echo "FAIL: Redis and file runs differ"; exit 1; }
set_doc() { CLI -x SET "$1" >/dev/null; }
CLI --raw GET ey0000002_result.xml | head -c -1 | sed -E 's/ pv="[^"]*"/ pv="123"/' | set_doc ey0000002_result.xml
CLI --raw GET ey0000005_result.xml | head -c -1 | sed -E 's/ digest="[^"]*"//' | set_doc ey0000005_result.xml
# another build's fingerprint, with a digest that matches it (as that build
# would have written it): only the fingerprint check can catch it
"$PY" - "$(CLI --raw GET ey0000007_result.xml)" > "$T/doc7" <<'PYEOF'
import re, sys
doc = sys.argv[1].strip()
inputs = int(re.search(r'inputs="([0-9a-f]{16})"', doc).group(1), 16) ^ 1
doc = re.sub(r'inputs="[0-9a-f]{16}"', 'inputs="%016x"' % inputs, doc)
print(doc, end="")
PYEOF
set_doc ey0000007_result.xml < "$T/doc7"
CLI --raw GET ey0000002_result.xml | grep -q 'pv="123"' || { echo "FAIL: the edit did not land"; exit 1; }
CLI --raw GET ey0000005_result.xml | grep -vq 'digest=' || { echo "FAIL: digest not removed"; exit 1; }
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" "${RUN[@]}" --store "$REDIS_URL" --output "$T/rres.h5" --resume
expect_grep 'stale mirror   : 3 ' "$T/last.out"
expect_grep "resumed $((N - 3))\)" "$T/last.out"
expect_grep "checksum       : $REF" "$T/last.out"
H5CHECK same "$T/rref.h5" "$T/rres.h5"
[ "$(attr "$T/rres.h5" stale)" = 3 ] || { echo "FAIL: stale attribute, want 3"; exit 1; }
CLI --raw GET ey0000005_result.xml | grep -q 'digest="[0-9a-f]\{16\}"' || { echo "FAIL: repriced result mirrored without a digest"; exit 1; }
finish
