# test_store_args.sh - what a store argument may be, and generate into an
# existing trade file (second hardening round), with a real redis-server:
#   2. generate into an existing trade file adds or replaces only its ids;
#   3. a store without a scheme is a trade file only when it is one or
#      ends in .h5/.hdf5; connection strings with secrets are refused and
#      never echoed, nor recorded in a results file;
#   4. length limits (key prefix, store path) are usage errors when the
#      options are read, never keys or paths cut short.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
F=$FINSIM_BIN
cd "$T"

# ---- 2: ranges in any order, into an existing trade file
expect_rc 0 "$F" generate --trades 20 --seed 1 --store "$T/g.h5"
expect_rc 0 "$F" generate --trades 5 --start-trade 20 --seed 1 --store "$T/g.h5"
expect_rc 0 "$F" export --store "$T/g.h5" --eyxml "$T/all.xml"
expect_grep 'exported 25 trades .* 0 skipped' "$T/last.err"
# the same bytes as one run of 25 trades
"$F" generate --trades 25 --seed 1 --eyxml "$T/ref.xml"
cmp "$T/all.xml" "$T/ref.xml" || { echo "FAIL: 20 + 5 trades differ from 25" >&2; exit 1; }
# a later range from two ranks (appended), then ids replaced with another seed
expect_rc 0 MPIRUN -np 2 "$F" generate --trades 10 --start-trade 30 --seed 1 --store "$T/g.h5"
expect_rc 0 "$F" generate --trades 3 --start-trade 5 --seed 9 --store "$T/g.h5"
expect_rc 0 "$F" export --store "$T/g.h5" --eyxml "$T/all2.xml"
expect_grep 'exported 35 trades' "$T/last.err"
"$F" export --store "$T/g.h5" --start-trade 5 --trade-window 3 --eyxml "$T/five.xml" 2> /dev/null
"$F" generate --trades 3 --start-trade 5 --seed 9 --eyxml "$T/five.ref"
cmp "$T/five.xml" "$T/five.ref" || { echo "FAIL: ids 5..7 were not replaced" >&2; exit 1; }
"$F" export --store "$T/g.h5" --start-trade 8 --trade-window 2 --eyxml "$T/eight.xml" 2> /dev/null
"$F" generate --trades 2 --start-trade 8 --seed 1 --eyxml "$T/eight.ref"
cmp "$T/eight.xml" "$T/eight.ref" || { echo "FAIL: ids 8..9 changed" >&2; exit 1; }
# an existing file that is not a trade file is never truncated
printf 'keep me\n' > "$T/notes.h5"
expect_rc 2 "$F" generate --trades 2 --store "$T/notes.h5"
expect_grep '^keep me$' "$T/notes.h5"

# ---- 3: no scheme, no trade file: refused, no file made
expect_rc 2 "$F" generate --trades 2 --store localhost:6379
expect_grep "store 'localhost:6379' has no URL scheme" "$T/last.err"
[ ! -e "$T/localhost:6379" ] || { echo "FAIL: generate made a file named localhost:6379" >&2; exit 1; }
expect_rc 2 "$F" run --store localhost:6379 --trade-window 2 --output "$T/x.h5"
expect_grep "has no URL scheme" "$T/last.err"
[ ! -e "$T/localhost:6379" ] || { echo "FAIL: run made a file named localhost:6379" >&2; exit 1; }
# a connection string with a key: refused, the key in no output or file
CS='finsim.redis.cache.windows.net:6380,password=S3cretKey0=,ssl=True,abortConnect=False'
printf 'trade_id,quote\n0,1.5\n' > "$T/q.csv"
for cmd in "generate --trades 2" "run --trade-window 2 --output $T/x.h5" "export --eyxml -" \
           "screen --quotes $T/q.csv"; do
  expect_rc 2 "$F" $cmd --store "$CS"
  expect_grep 'password=<redacted>' "$T/last.err"
  expect_no_grep 'S3cretKey0' "$T/last.err"
  expect_no_grep 'S3cretKey0' "$T/last.out"
done
expect_rc 0 "$F" config --store "$CS" --trade-window 2 --output "$T/x.h5"
expect_no_grep 'S3cretKey0' "$T/last.out"
ls "$T" | grep -q S3cret && { echo "FAIL: a file named after the key" >&2; exit 1; }
# a bare name of an existing trade file is fine; the command line recorded in
# the results file redacts a secret-looking argument
cp "$T/g.h5" "$T/trades"
expect_rc 0 "$F" run --store "$T/trades" --trade-window 2 --paths 100 --progress 0 --output "$T/ok.h5" \
  --events "$T/ev,sig=S3cretKey0"
h5dump -a /command_line "$T/ok.h5" > "$T/attr.txt"
expect_grep 'sig=<redacted>' "$T/attr.txt"
expect_no_grep 'S3cretKey0' "$T/attr.txt"
expect_no_grep 'S3cretKey0' "$T/last.out"

# ---- 4: length limits, from every source, before anything is written
redis_start
add_cleanup redis_stop
P295=$(printf 'p%.0s' $(seq 295))
expect_rc 2 "$F" generate --trades 3 --store "$REDIS_URL" --key-prefix "$P295"
expect_grep 'key-prefix: the key prefix is 295 bytes long; at most 256' "$T/last.err"
expect_rc 2 env FINSIM_KEY_PREFIX="$P295" "$F" generate --trades 3 --store "$REDIS_URL"
expect_grep 'FINSIM_KEY_PREFIX.*at most 256' "$T/last.err"
[ "$(redis_cli DBSIZE)" = 0 ] || { echo "FAIL: keys written with a refused prefix" >&2; redis_cli KEYS '*' | head -3 >&2; exit 1; }
CHECKS=$((CHECKS + 1))
# the longest prefix works, and every key is whole
P256=$(printf 'q%.0s' $(seq 256))
expect_rc 0 "$F" generate --trades 3 --store "$REDIS_URL" --key-prefix "$P256"
[ "$(redis_cli EXISTS "${P256}ey0000002.xml")" = 1 ] || { echo "FAIL: key with a 256-byte prefix missing" >&2; exit 1; }
[ "$(redis_cli DBSIZE)" = 3 ] || { echo "FAIL: expected 3 keys" >&2; exit 1; }
CHECKS=$((CHECKS + 1))
LONG=$T/$(printf 'd%.0s' $(seq 520)).h5
expect_rc 2 "$F" generate --trades 2 --store "$LONG"
expect_grep 'store: the store URL or path is 5[0-9][0-9] bytes long; at most 511' "$T/last.err"
finish
