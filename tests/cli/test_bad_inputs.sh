# test_bad_inputs.sh - every row of docs/BAD-INPUTS.md, against a real
# redis-server and real mpirun: one bad trade value per key among good ones,
# one run of 2 ranks. Each bad trade gets its status code and a message on
# stderr naming it; every other trade of the same run is priced
# (h5check valid N FAILED), the mirror holds the failures, exit status 1.
# Then the rows that are not about one Redis value: duplicate ids in an ids
# file, and for finsim price a document holding one id twice, a broken trade
# inside a multi-trade document, a truncated document and one over 1 MiB.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
redis_start
add_cleanup redis_stop
CLI() { redis-cli -p "$REDIS_PORT" "$@"; }
N=40
FIRST=100
"$FINSIM_BIN" generate --trades $N --start-trade $FIRST --seed 3 --store "$REDIS_URL" > /dev/null

key() { printf 'ey%07d.xml' "$1"; }
# edit ID SED: rewrite the stored document of trade ID with a sed script
edit() { CLI --raw GET "$(key "$1")" | head -c -1 | sed "$2" > "$T/doc"; CLI -x SET "$(key "$1")" < "$T/doc" > /dev/null; }
# put ID FILE: store the bytes of FILE as the value of trade ID's key
put() { CLI -x SET "$(key "$1")" < "$2" > /dev/null; }

ROWS=()   # "ID STATUS message-regex"
row() { ROWS+=("$1|$2|$3"); }

# 1 malformed XML (mismatched end tag)
edit 101 's#</trade>#</trad>#'
row 101 1 'ey0000101.xml: malformed XML at line 2 column [0-9]+: mismatched tag'
# 2 truncated value: the first 150 bytes of a good document
CLI --raw GET "$(key 102)" | head -c 150 > "$T/doc"; put 102 "$T/doc"
row 102 1 'ey0000102.xml: malformed XML .*: unclosed token'
# 3 wrong root element
edit 103 's#AZFINSIM>#PORTFOLIO>#g'
row 103 1 'ey0000103.xml: root element is not <AZFINSIM>'
# 4 missing attribute
edit 104 's# strike="[^"]*"##'
row 104 2 'ey0000104.xml: attribute strike is missing'
# 5 duplicate attribute
edit 105 's#fx1="\([^"]*\)"#fx1="\1" fx1="0.9"#'
row 105 1 'ey0000105.xml: malformed XML .*: duplicate attribute'
# 6 non-numeric value
edit 106 's#fx1="[^"]*"#fx1="0.9abc"#'
row 106 3 'ey0000106.xml: fx1 is not a finite number'
# 7 NaN and 8 Inf
edit 107 's#sigma1="[^"]*"#sigma1="nan"#'
row 107 3 'ey0000107.xml: sigma1 is not a finite number'
edit 108 's#drift="[^"]*"#drift="-inf"#'
row 108 3 'ey0000108.xml: drift is not a finite number'
# 9 negative volatility
edit 109 's#sigma1="[^"]*"#sigma1="-0.08"#'
row 109 4 'ey0000109.xml: sigma1=-0.08 must be in \[0, 10\]'
# 10 |ro| > 1
edit 110 's#ro="[^"]*"#ro="-1.5"#'
row 110 4 'ey0000110.xml: ro=-1.5 must satisfy \|ro\| <= 1'
# 11 t_steps = 0
edit 111 's#t_steps="[^"]*"#t_steps="0"#'
row 111 4 'ey0000111.xml: t_steps=0 must be >= 1'
# 12 trials absurdly large: beyond int32, and within int32 but over the limits
edit 112 's#trials="[^"]*"#trials="1000000000000"#'
row 112 5 'ey0000112.xml: trials is too large'
edit 113 's#trials="[^"]*"#trials="2000000000"#'
row 113 5 'ey0000113.xml: trials=2000000000 exceeds the limit 10000000'
# 13 keys of the wrong Redis type: a hash and a list
CLI DEL "$(key 114)" > /dev/null; CLI HSET "$(key 114)" fx1 0.9 > /dev/null
row 114 7 'key ey0000114.xml in redis://127.0.0.1:[0-9]+/0 holds a hash, not a string'
CLI DEL "$(key 115)" > /dev/null; CLI RPUSH "$(key 115)" a b > /dev/null
row 115 7 'key ey0000115.xml in .* holds a list, not a string'
# 14 non-UTF-8 bytes (0xff 0xfe inside an attribute value)
CLI --raw GET "$(key 116)" | head -c -1 | sed 's#start_date="2017#start_date="\xff\xfe17#' > "$T/doc"
put 116 "$T/doc"
row 116 1 'ey0000116.xml: malformed XML .*: not well-formed \(invalid token\)'
# 15 a 100 MB value: a good document followed by 100 MB of spaces
CLI --raw GET "$(key 117)" | head -c -1 > "$T/doc"
head -c $((100 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >> "$T/doc"
put 117 "$T/doc"
rm -f "$T/doc"
[ "$(CLI STRLEN "$(key 117)")" -gt 104857600 ] || { echo "FAIL: the 100 MB value was not stored"; exit 1; }
row 117 5 'ey0000117.xml: document larger than 1 MiB'
# 16 the key holds another trade's document (a duplicate id in the store)
CLI --raw GET "$(key 130)" | head -c -1 > "$T/doc"; put 118 "$T/doc"
row 118 12 'ey0000118.xml holds trade 0000000130, not 0000000118'
# 17 two trades in one value
CLI --raw GET "$(key 131)" | head -c -1 | sed 's#</AZFINSIM>##' > "$T/doc"
CLI --raw GET "$(key 119)" | head -c -1 | sed 's#<AZFINSIM>##' >> "$T/doc"; put 119 "$T/doc"
row 119 1 'ey0000119.xml: document holds more than one <trade>'
# 18 an empty value and 19 a missing key
CLI SET "$(key 120)" "" > /dev/null
row 120 1 'ey0000120.xml: malformed XML .*: no element found'
CLI DEL "$(key 121)" > /dev/null
row 121 6 'trade key ey0000121.xml not found in .*; fill it with: finsim generate'
NBAD=${#ROWS[@]}

expect_rc 1 MPIRUN -np 2 "$FINSIM_BIN" run --store "$REDIS_URL" --algorithm pvonly --paths 200 --seed 5 \
  --start-trade $FIRST --trade-window $N --output "$T/r.h5" --progress 0 --batch 8
cp "$T/last.out" "$T/run.out"; cp "$T/last.err" "$T/run.err"
expect_grep "RESULT: $NBAD TRADES FAILED" "$T/run.out"
H5CHECK valid "$T/r.h5" $N $NBAD
want=()
for r in "${ROWS[@]}"; do
  IFS='|' read -r id st re <<< "$r"
  want+=("$id:$st")
  expect_grep "$re" "$T/run.err"
done
# every row has its status; every other trade (the neighbours too) is priced
"$PY" - "$T/r.h5" $FIRST $N "${want[@]}" <<'EOF'
import sys, h5py, numpy as np
r = h5py.File(sys.argv[1], "r")["results"][...]
first, n = int(sys.argv[2]), int(sys.argv[3])
want = {int(a): int(b) for a, b in (x.split(":") for x in sys.argv[4:])}
assert list(r["trade_id"]) == list(range(first, first + n)), "rows are not the trade window"
for tid, st in zip(r["trade_id"], r["status"]):
    exp = want.get(int(tid), 0)
    if int(st) != exp:
        sys.exit(f"trade {tid}: status {st}, expected {exp}")
ok = r["status"] == 0
assert np.all(np.isfinite(r["pv"][ok])) and np.all(r["paths"][ok] == 200), "a priced row lacks its figures"
assert np.all(np.isnan(r["pv"][~ok])), "a failed row has figures"
print(f"statuses: {len(want)} bad trades as expected, {int(ok.sum())} priced")
EOF
CHECKS=$((CHECKS + 1))
# failures are mirrored too (with their status), except the missing key
expect_grep 'status="5"' <(CLI --raw GET ey0000117_result.xml)
[ "$(CLI EXISTS ey0000121_result.xml)" = 0 ] || { echo "FAIL: a missing trade got a mirror key"; exit 1; }
# the 100 MB value is never read whole (GETRANGE of 1 MiB + 1 byte): the
# rank stays near its baseline (~25 MB; reading it whole cost ~220 MB)
# (under ASan freed blocks stay in its quarantine: a looser bound there)
"$PY" - "$T/r.h5" "$([ "$SANITIZED" = 1 ] && echo 1024 || echo 64)" <<'EOF'
import sys, h5py
t = h5py.File(sys.argv[1], "r")["telemetry"][...]
peak = int(t["peak_rss_kb"].max()) // 1024
print(f"peak RSS {peak} MB (ranks: {list(t['peak_rss_kb'] // 1024)}), bound {sys.argv[2]} MB")
sys.exit(0 if peak < int(sys.argv[2]) else 1)
EOF
CHECKS=$((CHECKS + 1))

# many huge values in one batch: eight 32 MB values under the trade keys of
# one batch of 8 (key prefix big:). Only the first 1 MiB + 1 byte of each
# crosses the wire and replies are consumed one at a time, so the rank's
# peak RSS stays near its baseline (~25 MB); reading values whole took
# ~300 MB here. Each is refused as too large, the others of the run priced.
"$FINSIM_BIN" generate --trades 10 --start-trade 0 --seed 3 --store "$REDIS_URL" --key-prefix big: > /dev/null
head -c $((32 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$T/pad"
for i in 1 2 3 4 5 6 7 8; do
  k="big:$(key $i)"
  { CLI --raw GET "$k" | head -c -1; cat "$T/pad"; } > "$T/doc"
  CLI -x SET "$k" < "$T/doc" > /dev/null
done
# and 32 MB values under the result keys of the two good trades, read by
# --resume (the mirror is read with GETRANGE too: a huge one is "not mirrored")
for i in 0 9; do CLI -x SET "big:ey000000${i}_result.xml" < "$T/pad" > /dev/null; done
rm -f "$T/pad" "$T/doc"
[ "$(CLI STRLEN "big:$(key 8)")" -gt 33554432 ] || { echo "FAIL: the 32 MB values were not stored"; exit 1; }
expect_rc 1 MPIRUN -np 1 "$FINSIM_BIN" run --store "$REDIS_URL" --key-prefix big: --algorithm pvonly --paths 200 \
  --start-trade 0 --trade-window 10 --output "$T/big.h5" --progress 0 --batch 8 --resume
expect_grep "RESULT: 8 TRADES FAILED" "$T/last.out"
expect_grep 'big:ey0000008.xml: document larger than 1 MiB' "$T/last.err"
H5CHECK valid "$T/big.h5" 10 8
"$PY" - "$T/big.h5" "$([ "$SANITIZED" = 1 ] && echo 1024 || echo 64)" <<'EOF2'
import sys, h5py
t = h5py.File(sys.argv[1], "r")["telemetry"][...]
peak = int(t["peak_rss_kb"].max()) // 1024
print(f"eight 32 MB values in one batch: peak RSS {peak} MB, bound {sys.argv[2]} MB")
sys.exit(0 if peak < int(sys.argv[2]) else 1)
EOF2
CHECKS=$((CHECKS + 1))
CLI FLUSHDB > /dev/null
"$FINSIM_BIN" generate --trades $N --start-trade $FIRST --seed 3 --store "$REDIS_URL" > /dev/null

# duplicate ids in an ids file: each id is priced once, with a warning
printf '122 123\n122, 139 # 139 twice\n139\n' > "$T/ids.txt"
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --store "$REDIS_URL" --paths 200 --ids-file "$T/ids.txt" \
  --output "$T/ids.h5" --progress 0 --no-mirror
expect_grep '2 duplicate trade ids in the list were dropped \(each id is priced once\)' "$T/last.err"
H5CHECK valid "$T/ids.h5" 3 0

# finsim price: a document holding one id twice: the first is priced, the
# second gets status 9; the trade between them is priced
"$FINSIM_BIN" generate --trades 2 --start-trade 7 --seed 3 --eyxml "$T/two.xml"
sed -n '2p' "$T/two.xml" > "$T/t7"
{ echo '<AZFINSIM>'; sed -n '2,3p' "$T/two.xml"; cat "$T/t7"; echo '</AZFINSIM>'; } > "$T/dup.xml"
expect_rc 1 "$FINSIM_BIN" price --paths 200 "$T/dup.xml"
expect_grep '^7,0,' "$T/last.out"
expect_grep '^8,0,' "$T/last.out"
expect_grep '^7,9,,' "$T/last.out"
expect_grep 'trade 0000000007: trade id appears more than once; only the first is priced \(duplicate\)' "$T/last.err"

# finsim price: a malformed trade inside a document costs only itself
"$FINSIM_BIN" generate --trades 3 --start-trade 20 --seed 3 --eyxml "$T/three.xml"
sed '3s#</trade>#</trad>#' "$T/three.xml" > "$T/broken.xml"
expect_rc 1 "$FINSIM_BIN" price --paths 200 "$T/broken.xml"
expect_grep '^20,0,' "$T/last.out"
expect_grep '^-1,1,' "$T/last.out"
expect_grep '^22,0,' "$T/last.out"
expect_grep 'broken.xml: malformed XML at line 3 column [0-9]+: mismatched tag \(parse\)' "$T/last.err"
# a truncated document: the whole trades before the cut are priced
head -n 3 "$T/three.xml" > "$T/cut.xml"
expect_rc 1 "$FINSIM_BIN" price --paths 200 "$T/cut.xml"
expect_grep '^21,0,' "$T/last.out"
expect_grep 'cut.xml: document ends without </AZFINSIM> \(truncated\?\)' "$T/last.err"
# a document over 1 MiB (generate --eyxml of 4000 trades): every trade priced
"$FINSIM_BIN" generate --trades 4000 --seed 3 --eyxml "$T/big.xml"
[ "$(stat -c %s "$T/big.xml")" -gt 1048576 ] || { echo "FAIL: big.xml is not over 1 MiB"; exit 1; }
expect_rc 0 "$FINSIM_BIN" price --paths 10 "$T/big.xml"
[ "$(grep -c ',0,' "$T/last.out")" = 4000 ] || { echo "FAIL: not every trade of big.xml priced"; exit 1; }
CHECKS=$((CHECKS + 1))
finish
