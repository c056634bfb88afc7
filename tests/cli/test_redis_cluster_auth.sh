# test_redis_cluster_auth.sh - credentials on a real Redis Cluster
# (tests/lib/rcluster.sh, --requirepass on every node, an ACL user on every
# node), real mpirun, HDF5 read back:
# - an ACL user with a password file works on every master; a wrong password
#   is exit 4; a user without the key rights is exit 4 naming the rule;
# - the password rotated during a run (new password on every node, the file
#   rewritten, the client connections killed): the run reconnects, reads the
#   file again and ends with results bitwise equal to a trade-file run;
# - a TLS-only cluster (rediss://, --tls-cluster yes) with the ACL user:
#   generate and run give the same results; the wrong CA is exit 5.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/rcluster.sh"
F=$FINSIM_BIN
N=160
rcluster_start 3 0 --requirepass "admin-$RANDOM$RANDOM"
add_cleanup rcluster_stop
for i in 0 1 2; do
  rcluster_cli $i ACL SETUSER finsim on '>tok-one' '~*' '&*' '+@all' > /dev/null
  rcluster_cli $i ACL SETUSER narrow on '>tok-one' '~other*' '+@all' > /dev/null
done
URL=redis://finsim@127.0.0.1:${RC_PORTS[1]}
printf 'tok-one\n' > "$T/pw"; chmod 600 "$T/pw"
printf 'wrong\n' > "$T/bad"; chmod 600 "$T/bad"
COMMON=(--algorithm synthetic --task-duration 25 --paths 200 --seed 11 --progress 0 --trade-window $N --batch 8)

expect_rc 0 "$F" generate --trades $N --seed 5 --store "$URL" --password-file "$T/pw"
for i in 0 1 2; do [ "$(rcluster_cli $i DBSIZE)" -gt 0 ] || { echo "FAIL: master $i holds no keys"; exit 1; }; done
expect_rc 4 "$F" generate --trades 10 --seed 5 --store "$URL" --password-file "$T/bad"
expect_rc 4 "$F" generate --trades 10 --seed 5 --store "redis://narrow@127.0.0.1:${RC_PORTS[0]}" --password-file "$T/pw"
expect_grep "user 'narrow' may not run" "$T/last.err"

# reference: the same trades from a trade file
"$F" generate --trades $N --seed 5 --store "$T/trades.h5" > /dev/null
expect_rc 0 MPIRUN -np 2 "$F" run --store "$T/trades.h5" "${COMMON[@]}" --task-duration 0 --output "$T/ref.h5" --no-mirror

# ---- rotation during a run ----
mirrored() {
  local i c=0
  for i in 0 1 2; do c=$((c + $(rcluster_cli $i --scan --pattern '*_result.xml' | wc -l))); done
  echo $c
}
MPIRUN -np 2 "$F" run --store "$URL" --password-file "$T/pw" "${COMMON[@]}" --output "$T/rot.h5" \
  > "$T/run.out" 2> "$T/run.err" &
RUN_PID=$!
for ((k = 0; k < 1200; k++)); do [ "$(mirrored)" -ge 16 ] && break; sleep 0.1; done
kill -0 $RUN_PID 2>/dev/null || { echo "FAIL: the run ended before the rotation"; cat "$T/run.err"; exit 1; }
for i in 0 1 2; do rcluster_cli $i ACL SETUSER finsim resetpass '>tok-two' > /dev/null; done
printf 'tok-two\n' > "$T/pw.new"; chmod 600 "$T/pw.new"; mv "$T/pw.new" "$T/pw"
for i in 0 1 2; do rcluster_cli $i CLIENT KILL USER finsim > /dev/null; done
rc=0; wait $RUN_PID || rc=$?
expect_status 0 "$rc" "run through a password rotation" "$T/run.out" "$T/run.err"
H5CHECK same "$T/ref.h5" "$T/rot.h5"
grep -q 'tok-' "$T/run.out" "$T/run.err" && { echo "FAIL: a password in the output"; exit 1; }
CHECKS=$((CHECKS + 1))
# ---- TLS on every node and on the cluster bus ----
rcluster_stop
RC_TLS=1
rcluster_start 3 0 --requirepass "admin-$RANDOM$RANDOM"
for i in 0 1 2; do rcluster_cli $i ACL SETUSER finsim on '>tok-two' '~*' '&*' '+@all' > /dev/null; done
TURL=rediss://finsim@127.0.0.1:${RC_PORTS[2]}
expect_rc 0 "$F" generate --trades $N --seed 5 --store "$TURL" --password-file "$T/pw" --tls-ca "$RC_CA"
for i in 0 1 2; do [ "$(rcluster_cli $i DBSIZE)" -gt 0 ] || { echo "FAIL: TLS master $i holds no keys"; exit 1; }; done
expect_rc 0 MPIRUN -np 2 "$F" run --store "$TURL" --password-file "$T/pw" --tls-ca "$RC_CA" "${COMMON[@]}" \
  --task-duration 0 --output "$T/tls.h5"
H5CHECK same "$T/ref.h5" "$T/tls.h5"
expect_rc 5 "$F" generate --trades 10 --seed 5 --store "$TURL" --password-file "$T/pw" --tls-ca "$RC_DIR/other-ca.crt"
echo "test_redis_cluster_auth: $CHECKS checks passed"
