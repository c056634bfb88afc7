# test_acl.sh - the least-privileged Redis ACL users of docs/USAGE.md
# ("Redis ACL users"), against a real redis-server: each command succeeds
# with exactly the documented rules, and with one rule removed it stops at
# connect (before any pricing) with exit 4 and a message naming the rule to
# add. A user who may not run MULTI (so nothing can be checked at connect)
# still gets exit 4 and the rule named when the command is refused.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
redis_start
add_cleanup redis_stop
CLI() { redis-cli -p "$REDIS_PORT" "$@"; }
URL=redis://finsim@127.0.0.1:$REDIS_PORT
N=12
"$FINSIM_BIN" generate --trades $N --seed 3 --store "$REDIS_URL" > /dev/null
"$FINSIM_BIN" export --store "$REDIS_URL" --start-trade 0 --trade-window 3 --eyxml-dir "$T/docs" > /dev/null
"$FINSIM_BIN" screen --make-quotes "$T/q.csv" --store "$REDIS_URL" --paths 200 --seed 5 --quote-noise 0.05 2> /dev/null
export FINSIM_REDIS_PASSWORD=s3cret-acl
# the documented users (docs/USAGE.md), without the ACL SETUSER finsim prefix
RUN_MIRROR='reset on >s3cret-acl ~ey* +getrange +type +mset +multi +discard'
RUN_NOMIRROR='reset on >s3cret-acl ~ey* +getrange +type +multi +discard'
GENERATE='reset on >s3cret-acl ~ey* +mset +multi +discard'
EXPORT='reset on >s3cret-acl ~ey* +getrange +type +scan +multi +discard'
SCREEN='reset on >s3cret-acl ~ey* ~finsim:signals +getrange +type +scan +multi +discard +del +zadd +exec'
user() { CLI ACL SETUSER finsim $1 > /dev/null; }
# without RULES: the documented rules with one removed
without() { local r=" $1 "; echo "${r/ "$2" / }"; }  # $2 literal (~ey* is no glob)
RUN=(run --store "$URL" --algorithm pvonly --paths 50 --trade-window $N --progress 0)

# run, mirroring: succeeds with exactly the rules, the results mirrored
user "$RUN_MIRROR"
expect_rc 0 "$FINSIM_BIN" "${RUN[@]}" --output "$T/m.h5"
[ "$(CLI EXISTS ey0000000_result.xml)" = 1 ] || { echo "FAIL: no result mirrored"; exit 1; }
for rule in +getrange +type +mset '~ey*'; do
  CLI DEL ey0000000_result.xml > /dev/null
  user "$(without "$RUN_MIRROR" "$rule")"
  expect_rc 4 "$FINSIM_BIN" "${RUN[@]}" --output "$T/m-$rule.h5"
  case $rule in
    '~ey*') expect_grep "user 'finsim' may not run [A-Z]+ on ey\*(_result)?\.xml in redis://finsim@127\.0\.0\.1:$REDIS_PORT/0: add \+[a-z]+ and ~ey\*" "$T/last.err" ;;
    +mset) expect_grep "user 'finsim' may not run MSET on ey\*_result\.xml in .*: add \+mset and ~ey\*" "$T/last.err" ;;
    *) expect_grep "user 'finsim' may not run ${rule#+} on ey\*\.xml in .*: add \\$rule and ~ey\*" <(sed 's/run GETRANGE/run getrange/; s/run TYPE/run type/' "$T/last.err") ;;
  esac
  expect_no_grep 'rerun with --resume to keep' "$T/last.err"
  [ "$(CLI EXISTS ey0000000_result.xml)" = 0 ] || { echo "FAIL: a result mirrored by a refused user"; exit 1; }
  [ ! -e "$T/m-$rule.h5" ] || { echo "FAIL: an output after exit 4"; exit 1; }
done
# run --resume needs nothing more (the mirror is read with GETRANGE too);
# run --all-trades adds +scan
user "$RUN_MIRROR"
expect_rc 0 "$FINSIM_BIN" "${RUN[@]}" --output "$T/res.h5" --resume
expect_grep 'resumed [1-9]' "$T/last.out"
user "$(without "$RUN_MIRROR" +getrange)"
expect_rc 4 "$FINSIM_BIN" "${RUN[@]}" --output "$T/res2.h5" --resume
expect_grep "may not run GETRANGE on ey\*(_result)?\.xml in .*: add \+getrange and ~ey\*" "$T/last.err"
user "$RUN_MIRROR +scan"
expect_rc 0 "$FINSIM_BIN" run --store "$URL" --paths 50 --all-trades --progress 0 --output "$T/all.h5"
user "$RUN_MIRROR"
expect_rc 4 "$FINSIM_BIN" run --store "$URL" --paths 50 --all-trades --progress 0 --output "$T/all2.h5"
expect_grep "user 'finsim' may not run SCAN in .*: add \+scan" "$T/last.err"
# a database other than 0 needs +select
user "$RUN_MIRROR"
expect_rc 4 "$FINSIM_BIN" run --store "$URL/1" --paths 50 --trade-window 2 --output "$T/db.h5"
expect_grep "user 'finsim' may not run SELECT in .*: add \+select" "$T/last.err"

# run --no-mirror: reads only
user "$RUN_NOMIRROR"
expect_rc 0 "$FINSIM_BIN" "${RUN[@]}" --no-mirror --output "$T/n.h5"
user "$(without "$RUN_NOMIRROR" +type)"
expect_rc 4 "$FINSIM_BIN" "${RUN[@]}" --no-mirror --output "$T/n2.h5"
expect_grep "may not run TYPE on ey\*\.xml in .*: add \+type and ~ey\*" "$T/last.err"

# generate and import: writes only
user "$GENERATE"
expect_rc 0 "$FINSIM_BIN" generate --trades 3 --start-trade 50 --store "$URL"
user "$(without "$GENERATE" +mset)"
expect_rc 4 "$FINSIM_BIN" generate --trades 3 --start-trade 50 --store "$URL"
expect_grep "may not run MSET on ey\*\.xml in .*: add \+mset and ~ey\*" "$T/last.err"
user "$GENERATE"
expect_rc 0 "$FINSIM_BIN" import --eyxml-dir "$T/docs" --store "$URL"
user "$(without "$GENERATE" '~ey*')"
expect_rc 4 "$FINSIM_BIN" import --eyxml-dir "$T/docs" --store "$URL"
expect_grep "may not run MSET on ey\*\.xml in .*: add \+mset and ~ey\*" "$T/last.err"

# export (every trade: SCAN lists them)
user "$EXPORT"
expect_rc 0 "$FINSIM_BIN" export --store "$URL" --eyxml "$T/all.xml"
user "$(without "$EXPORT" +scan)"
expect_rc 4 "$FINSIM_BIN" export --store "$URL" --eyxml "$T/all2.xml"
expect_grep "user 'finsim' may not run SCAN in .*: add \+scan" "$T/last.err"

# screen, publishing the signals to the store's sorted set
SCR=(screen --store "$URL" --quotes "$T/q.csv" --paths 200 --seed 5 --min-edge -1e9 --min-z -1e300)
user "$SCREEN"
expect_rc 0 "$FINSIM_BIN" "${SCR[@]}" --output "$T/s.h5"
[ "$(CLI ZCARD finsim:signals)" -gt 0 ] || { echo "FAIL: no signals published"; exit 1; }
# every rule screen needs is checked at connect, publishing's too (DEL,
# ZADD on the ranking's key, EXEC by an empty transaction): exit 4 naming
# it, before any pricing (no signals file written, nothing published)
CLI DEL finsim:signals > /dev/null
for rule in +getrange +type +scan '~ey*' +del +zadd '~finsim:signals' +exec; do
  user "$(without "$SCREEN" "$rule")"
  out=$T/s-${rule//[^a-z]/_}.h5
  expect_rc 4 "$FINSIM_BIN" "${SCR[@]}" --output "$out"
  case $rule in
    +getrange|+type) want="may not run ${rule#+} on ey\*\.xml in .*: add \\$rule and ~ey\*" ;;
    +scan|+exec) want="may not run ${rule#+} in .*: add \\$rule" ;;
    +del|+zadd) want="may not run ${rule#+} on finsim:signals in .*: add \\$rule and ~finsim:signals" ;;
    '~ey*') want="may not run [a-z]+ on ey\*\.xml in .*: add \+[a-z]+ and ~ey\*" ;;
    *) want="may not run (del|zadd) on finsim:signals in .*: add \+(del|zadd) and ~finsim:signals" ;;
  esac
  tr 'A-Z' 'a-z' < "$T/last.err" > "$T/last.lc"
  expect_grep "user 'finsim' $want" "$T/last.lc"
  [ ! -e "$out" ] || { echo "FAIL: screen without $rule wrote $out before stopping" >&2; exit 1; }
  [ "$(CLI EXISTS finsim:signals)" = 0 ] || { echo "FAIL: screen without $rule published" >&2; exit 1; }
  expect_no_grep 'signals in the sorted set' "$T/last.err"
done

# no +multi: nothing is checked at connect, but a refused command is still
# exit 4 naming the rule (here after the first batch is priced)
user "$(without "$(without "$RUN_MIRROR" +multi)" +mset)"
expect_rc 4 "$FINSIM_BIN" "${RUN[@]}" --output "$T/x.h5"
expect_grep "may not run MSET on ey\*_result\.xml in .*: add \+mset and ~ey\*" "$T/last.err"
finish
