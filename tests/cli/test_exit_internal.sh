# test_exit_internal.sh - exit 8 (internal error: out of memory) from the
# command line. Under a virtual-memory limit that MPI start-up fits in, a
# 1 GiB document cannot be read into memory: finsim prints "out of memory"
# and ends with 8 (not abort(): no core file, no SIGABRT's 134), with no
# CSV row printed for the unread document. Not under ASan, whose shadow
# memory needs far more address space than any such limit.
source "$FINSIM_SRC/tests/lib/common.sh"
[ "$SANITIZED" = 0 ] || skip "ASan reserves terabytes of address space; ulimit -v cannot apply"
truncate -s 1G "$T/big.xml"
(ulimit -v 400000; ulimit -c 0; exec "$FINSIM_BIN" price "$T/big.xml") > "$T/out.csv" 2> "$T/err.txt" && rc=0 || rc=$?
[ "$rc" = 8 ] || { echo "FAIL: exit $rc, expected 8" >&2; cat "$T/err.txt" >&2; exit 1; }
expect_grep 'finsim: out of memory allocating [0-9]+ bytes' "$T/err.txt"
[ "$(grep -c '^[0-9]' "$T/out.csv" || true)" = 0 ] || { echo "FAIL: rows printed" >&2; exit 1; }
CHECKS=$((CHECKS + 1))
echo "price of a 1 GiB document under ulimit -v 400000: exit 8, $(head -c 80 "$T/err.txt")"
finish
