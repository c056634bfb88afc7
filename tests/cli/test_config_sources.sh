# test_config_sources.sh - every command's settings table: a bad value names
# where it came from (command line, FINSIM_* environment, INI file and line),
# --batch has one range everywhere, generate/export/import take the store
# password from FINSIM_PASSWORD_FILE and their store settings from --config,
# and each --help lists every option of its table.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
cd "$T"
printf '[store]\nbatch = 0\n' > bad.ini

# the arguments each command needs besides --batch (they are checked after
# the values, so a bad value fails first)
declare -A ARGS=(
  [generate]="--trades 1 --eyxml g.xml"
  [run]="--store x.h5 --trade-window 1 --output o.h5"
  [config]=""
  [export]="--store x.h5 --eyxml e.xml"
  [import]="--store x.h5 --eyxml e.xml"
  [screen]="--store x.h5 --quotes q.csv"
)
for cmd in generate run config export import screen; do
  # shellcheck disable=SC2086
  expect_rc 2 "$FINSIM_BIN" "$cmd" ${ARGS[$cmd]} --batch 0
  expect_grep "error: --batch expects an integer in \[1, 5000\], got '0'" last.err
  # shellcheck disable=SC2086
  expect_rc 2 env FINSIM_BATCH=0 "$FINSIM_BIN" "$cmd" ${ARGS[$cmd]}
  expect_grep 'error: FINSIM_BATCH=0 \(environment\): --batch expects an integer in \[1, 5000\]$' last.err
  # shellcheck disable=SC2086
  expect_rc 2 "$FINSIM_BIN" "$cmd" ${ARGS[$cmd]} --config bad.ini
  expect_grep 'error: bad.ini line 2 \[store\] batch = 0: --batch expects an integer in \[1, 5000\]$' last.err
  # shellcheck disable=SC2086
  expect_rc 2 "$FINSIM_BIN" "$cmd" ${ARGS[$cmd]} --batch 5001
  expect_grep "\[1, 5000\], got '5001'" last.err
  # every row of the table is in the help
  expect_rc 0 "$FINSIM_BIN" "$cmd" --help
done
# run's help names all of finsim run's settings, as the listing does
expect_rc 0 "$FINSIM_BIN" run --help
cp last.out run-help.txt
expect_rc 0 "$FINSIM_BIN" config
for key in $(sed -n 's/^\([a-z0-9_]*\) *= .*/\1/p' last.out); do
  [ "$key" = redis_password ] && continue
  expect_grep "(--|--no-)${key//_/-}\b" run-help.txt
done
# the largest batch is taken everywhere
expect_rc 0 "$FINSIM_BIN" config --batch 5000
expect_grep '^batch += 5000 +# command line' last.out
# other sources for other types: an enum from the file, a flag from the environment
printf '[run]\nschedule = sometimes\n' > enum.ini
expect_rc 2 "$FINSIM_BIN" config --config enum.ini
expect_grep 'enum.ini line 2 \[run\] schedule = sometimes: --schedule must be static or dynamic$' last.err
expect_rc 2 env FINSIM_TLS_INSECURE=maybe "$FINSIM_BIN" export --store x.h5 --eyxml e.xml
expect_grep 'FINSIM_TLS_INSECURE=maybe \(environment\): tls_insecure expects true or false' last.err
expect_rc 2 env FINSIM_MIN_Z=abc "$FINSIM_BIN" screen --store x.h5 --quotes q.csv
expect_grep 'FINSIM_MIN_Z=abc \(environment\): --min-z expects a number' last.err
# the listing gives the file and line of a value
printf '[store]\n\nbatch = 70\n' > line.ini
expect_rc 0 "$FINSIM_BIN" config --config line.ini
expect_grep '^batch += 70 +# file line.ini line 3$' last.out
# a file may hold the settings of other commands: each takes its own
printf '[store]\nbatch = 30\nmirror = false\n[run]\nseed = 4\n[screen]\nmin_z = 3\n' > shared.ini
expect_rc 0 "$FINSIM_BIN" config --config shared.ini
expect_grep '^seed += 4 +# file shared.ini line 5$' last.out
expect_rc 0 "$FINSIM_BIN" generate --config shared.ini --trades 3 --eyxml s.xml
# price reads no file and no environment
expect_rc 0 env FINSIM_SEED=abc FINSIM_CONFIG=bad.ini "$FINSIM_BIN" price s.xml
expect_rc 2 "$FINSIM_BIN" price --seed -1 s.xml
expect_grep "error: --seed expects a non-negative integer, got '-1'" last.err

# the store password from a file, named by FINSIM_PASSWORD_FILE or [store]
# password_file, for generate, export and import
PW="pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
redis_start --requirepass "$PW"
add_cleanup redis_stop
printf '%s\n' "$PW" > pw
chmod 600 pw
unset FINSIM_REDIS_PASSWORD
expect_rc 4 "$FINSIM_BIN" generate --trades 20 --seed 3 --store "$REDIS_URL"
expect_rc 0 env FINSIM_PASSWORD_FILE=pw "$FINSIM_BIN" generate --trades 20 --seed 3 --store "$REDIS_URL"
printf '[store]\nstore = %s\npassword_file = pw\nbatch = 7\n' "$REDIS_URL" > store.ini
expect_rc 0 "$FINSIM_BIN" export --config store.ini --eyxml out.xml
[ "$(grep -c '<trade ' out.xml)" = 20 ] || { echo "FAIL: export wrote $(grep -c '<trade ' out.xml) trades"; exit 1; }
expect_rc 4 "$FINSIM_BIN" import --store "$REDIS_URL" --key-prefix b: --eyxml out.xml
expect_rc 0 env FINSIM_PASSWORD_FILE=pw "$FINSIM_BIN" import --store "$REDIS_URL" --key-prefix b: --eyxml out.xml
expect_grep 'imported 20 trades' last.err
expect_rc 0 "$FINSIM_BIN" export --config store.ini --key-prefix b: --eyxml b.xml
cmp out.xml b.xml || { echo "FAIL: the copy under b: differs"; exit 1; }
# a password file others can read is refused, naming the fix
chmod 644 pw
expect_rc 2 env FINSIM_PASSWORD_FILE=pw "$FINSIM_BIN" import --store "$REDIS_URL" --eyxml out.xml
expect_grep 'chmod 600' last.err
expect_no_grep "$PW" last.err
# "-h" as an option's value is a value, not a help request: the command
# runs (main.c skips MPI_Init for what looks like help; the command starts
# MPI itself) and the key prefix "-h" is used
chmod 600 pw
expect_rc 0 env FINSIM_PASSWORD_FILE=pw "$FINSIM_BIN" generate --trades 3 --seed 3 --store "$REDIS_URL" --key-prefix -h
redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" --scan --pattern '-hey*' > hkeys
[ "$(wc -l < hkeys)" = 3 ] || { echo "FAIL: keys under the prefix -h: $(cat hkeys)"; exit 1; }
expect_rc 0 env FINSIM_PASSWORD_FILE=pw "$FINSIM_BIN" run --store "$REDIS_URL" --key-prefix -h --trade-window 3 \
  --output h.h5 --no-mirror
expect_grep 'RESULT: OK' last.out
expect_rc 0 "$FINSIM_BIN" run --store "$REDIS_URL" -h
expect_grep '^usage: .*finsim run' last.out
finish
