# test_secrets.sh - the Redis password never shows: not in the command line
# of any finsim process, not in logs, not in HDF5 attributes, not in
# 'finsim config'; a password in a URL and a world-readable password file
# are refused; a wrong password fails with the auth exit code; TLS too.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
PW="s3cret-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
redis_start --requirepass "$PW"
add_cleanup redis_stop
export FINSIM_REDIS_PASSWORD=$PW

expect_rc 0 "$FINSIM_BIN" generate --trades 60 --seed 2 --store "$REDIS_URL"
cat "$T/last.out" "$T/last.err" > "$T/all.log"

# a run long enough to look at the processes while they work
MPIRUN -np 2 "$FINSIM_BIN" run --store "$REDIS_URL" --algorithm synthetic --task-duration 40 \
  --trade-window 60 --output "$T/r.h5" --progress 0.2 --events "$T/events.jsonl" -v \
  > "$T/run.out" 2> "$T/run.err" &
RUNPID=$!
# every rank (the processes under this mpirun that exec'd the finsim binary;
# not mpirun, not another job's finsim) is inspected while it works
declare -A seen=()
inspect() {
  local p
  for p in $(finsim_pids "$RUNPID"); do
    [ -z "${seen[$p]:-}" ] || continue
    if { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$PW"; then
      echo "FAIL: the password is on the command line of pid $p"; exit 1
    fi
    if { tr '\0' '\n' < "/proc/$p/environ"; } 2>/dev/null | grep -v '^FINSIM_REDIS_PASSWORD=' | grep -qF -- "$PW"; then
      echo "FAIL: the password is in another environment variable of pid $p"; exit 1
    fi
    { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -q -- ' run ' && seen[$p]=1
  done
  [ "${#seen[@]}" -ge 2 ]
}
wait_for 60 "two finsim ranks to inspect" inspect
# holding the password (read while the options are parsed, long before the
# ranks' second of work ends), a rank writes no core file: soft and hard
# RLIMIT_CORE 0 (the default here is 0 soft, unlimited hard)
no_core() {
  local p
  for p in "${!seen[@]}"; do grep -qsE '^Max core file size +0 +0 ' "/proc/$p/limits" || return 1; done
}
wait_for 30 "the ranks holding the password to drop core files" no_core
CHECKS=$((CHECKS + 1))
rc=0; wait $RUNPID || rc=$?
expect_status 0 "$rc" "the run that was inspected" "$T/run.out" "$T/run.err"
H5CHECK valid "$T/r.h5" 60 0
cat "$T/run.out" "$T/run.err" "$T/events.jsonl" >> "$T/all.log"
h5dump -A "$T/r.h5" > "$T/attrs.txt"
expect_grep 'redis_password=<redacted>' "$T/attrs.txt"
expect_no_grep "$PW" "$T/attrs.txt"

# finsim config shows where the password came from, never the password
expect_rc 0 "$FINSIM_BIN" config --store "$REDIS_URL"
expect_grep 'redis_password += <redacted> +# env FINSIM_REDIS_PASSWORD' "$T/last.out"
cat "$T/last.out" >> "$T/all.log"

# a password file: must be private to its owner
printf '%s\n' "$PW" > "$T/pw"
chmod 644 "$T/pw"
expect_rc 2 env -u FINSIM_REDIS_PASSWORD "$FINSIM_BIN" run --store "$REDIS_URL" --password-file "$T/pw" \
  --trade-window 2 --output "$T/p.h5"
expect_grep 'chmod 600' "$T/last.err"
# group-readable only (0640) is refused too, and so is group-writable (0620)
for mode in 640 620 604; do
  chmod "$mode" "$T/pw"
  expect_rc 2 env -u FINSIM_REDIS_PASSWORD "$FINSIM_BIN" run --store "$REDIS_URL" --password-file "$T/pw" \
    --trade-window 2 --output "$T/p.h5"
  expect_grep 'chmod 600' "$T/last.err"
  cat "$T/last.out" "$T/last.err" >> "$T/all.log"
done
chmod 600 "$T/pw"
expect_rc 0 env -u FINSIM_REDIS_PASSWORD "$FINSIM_BIN" run --store "$REDIS_URL" --password-file "$T/pw" \
  --trade-window 2 --output "$T/p.h5" --no-mirror
cat "$T/last.out" "$T/last.err" >> "$T/all.log"

# a password inside the URL is refused, and not echoed back
expect_rc 2 env -u FINSIM_REDIS_PASSWORD "$FINSIM_BIN" run --store "redis://:$PW@127.0.0.1:$REDIS_PORT" \
  --trade-window 2 --output "$T/u.h5"
cat "$T/last.out" "$T/last.err" >> "$T/all.log"
expect_grep 'password' "$T/last.err"
# a wrong password: the auth exit code, one clear line
expect_rc 4 env FINSIM_REDIS_PASSWORD=wrong "$FINSIM_BIN" run --store "$REDIS_URL" --trade-window 2 \
  --output "$T/w.h5"
cat "$T/last.out" "$T/last.err" >> "$T/all.log"
# no password at all
expect_rc 4 env -u FINSIM_REDIS_PASSWORD "$FINSIM_BIN" run --store "$REDIS_URL" --trade-window 2 \
  --output "$T/n.h5"
cat "$T/last.out" "$T/last.err" >> "$T/all.log"
# a secret in a config file is refused
printf '[store]\npassword = %s\n' "$PW" > "$T/bad.ini"
expect_rc 2 "$FINSIM_BIN" config --config "$T/bad.ini"
expect_grep 'secrets are not read from config files' "$T/last.err"
expect_no_grep "$PW" "$T/last.err"

# a password typed where an option is expected: an abbreviation of
# --password-file (getopt would take the prefix) is refused, and the value
# is never echoed; for every command that reads a store, and for the API key
for cmd in run generate export import screen; do
  for form in "--password $PW" "--password=$PW" "--passw $PW"; do
    # shellcheck disable=SC2086
    expect_rc 2 "$FINSIM_BIN" $cmd --store "$REDIS_URL" $form
    expect_grep "^finsim: error: $cmd: --passw(ord)? is not an option; secrets never go on the command line: give --password-file" "$T/last.err"
    cat "$T/last.out" "$T/last.err" >> "$T/all.log"
  done
done
expect_rc 2 "$FINSIM_BIN" screen --store "$REDIS_URL" --quotes q.csv --api-key "$PW"
expect_grep 'screen: --api-key is not an option; secrets never go on the command line: give --api-key-file' "$T/last.err"
cat "$T/last.out" "$T/last.err" >> "$T/all.log"

# the password percent-encoded into the URL's user info is refused as well,
# and neither the error nor the configuration listing shows it
EPW=$(printf '%s' "$PW" | sed 's/-/%2D/g')
expect_rc 2 "$FINSIM_BIN" run --store "redis://default%3A$EPW@127.0.0.1:$REDIS_PORT" --trade-window 1 \
  --output "$T/enc.h5"
expect_grep 'redis URL must not carry a password, encoded or not' "$T/last.err"
expect_no_grep "$EPW" "$T/last.err"
cat "$T/last.out" "$T/last.err" >> "$T/all.log"
expect_rc 0 "$FINSIM_BIN" config --store "redis://default%3A$EPW@127.0.0.1:$REDIS_PORT"
expect_grep 'redis://default:<redacted>@127' "$T/last.out"
expect_no_grep "$EPW" "$T/last.out"
cat "$T/last.out" "$T/last.err" >> "$T/all.log"

# nothing finsim printed anywhere holds the password
expect_no_grep "$PW" "$T/all.log"
redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" --scan --pattern '*_result.xml' | head -1 > "$T/k"
[ -s "$T/k" ] || { echo "FAIL: no result keys mirrored"; exit 1; }
finish
