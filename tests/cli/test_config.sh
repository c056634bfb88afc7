# test_config.sh - layered configuration: defaults < INI file < FINSIM_* env
# < command line, 'finsim config' sources, errors, and the shipped inputs/.
source "$FINSIM_SRC/tests/lib/common.sh"
cd "$T"
cat > a.ini <<'INI'
[store]
store = trades.h5
batch = 50
[run]
algorithm = deltavega
seed = 5
resume = true
trade_window = 30
output = from-file.h5
INI
expect_rc 0 env FINSIM_SEED=6 "$FINSIM_BIN" config --config a.ini --batch 20 --no-resume
expect_grep '^store += trades.h5 +# file a.ini' last.out
expect_grep '^batch += 20 +# command line' last.out
expect_grep '^seed += 6 +# env FINSIM_SEED' last.out
expect_grep '^algorithm += deltavega +# file a.ini' last.out
expect_grep '^resume += false +# command line' last.out
expect_grep '^kernel += fast +# default' last.out
# FINSIM_CONFIG names the file when --config is absent
expect_rc 0 env FINSIM_CONFIG=a.ini "$FINSIM_BIN" config
expect_grep '^output += from-file.h5' last.out
# errors: unknown key, wrong section, bad boolean, unreadable file, bad syntax
# (each error names the file it is in)
printf '[run]\nalgoritm = pvonly\n' > typo.ini
expect_rc 2 "$FINSIM_BIN" config --config typo.ini
expect_grep 'unknown setting \[run\] algoritm' last.err
expect_grep 'typo\.ini' last.err
printf '[run]\nstore = x.h5\n' > sect.ini
expect_rc 2 "$FINSIM_BIN" config --config sect.ini
expect_grep 'belongs in section \[store\]' last.err
expect_grep 'sect\.ini' last.err
printf '[run]\nresume = maybe\n' > bool.ini
expect_rc 2 "$FINSIM_BIN" config --config bool.ini
expect_grep 'bool\.ini' last.err
expect_rc 2 "$FINSIM_BIN" config --config missing.ini
expect_grep 'missing\.ini' last.err
printf '[run\nseed = 1\n' > syntax.ini
expect_rc 2 "$FINSIM_BIN" config --config syntax.ini
expect_grep 'syntax\.ini' last.err
# the same through FINSIM_CONFIG and through finsim run
expect_rc 2 env FINSIM_CONFIG=typo.ini "$FINSIM_BIN" run --store trades.h5 --trade-window 1 --output t.h5
expect_grep 'typo\.ini' last.err
expect_rc 2 env FINSIM_SEED=abc "$FINSIM_BIN" run --config a.ini
# a run driven by the file, with the env and the command line on top
"$FINSIM_BIN" generate --trades 40 --seed 2 --store trades.h5 > /dev/null
expect_rc 0 env FINSIM_PATHS=500 mpirun --oversubscribe -np 2 "$FINSIM_BIN" run --config a.ini --output cli.h5 --progress 0
expect_grep 'algorithm +: deltavega, kernel fast, seed 5, paths 500' last.out
H5CHECK valid cli.h5 30 0
[ ! -e from-file.h5 ] || { echo "FAIL: the command line did not override the file's output"; exit 1; }
# every shipped config parses
for f in "$FINSIM_SRC"/inputs/*.ini; do
  expect_rc 0 "$FINSIM_BIN" config --config "$f"
done
# the quickstart config runs as documented
cp "$FINSIM_SRC/inputs/quickstart.ini" .
"$FINSIM_BIN" generate --trades 2000 --seed 1 --store trades.h5 > /dev/null
expect_rc 0 MPIRUN -np 2 "$FINSIM_BIN" run --config quickstart.ini --trade-window 20 --paths 500 --progress 0
H5CHECK valid results.h5 20 0
finish
