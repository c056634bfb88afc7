# test_common.sh - the helpers of tests/lib/common.sh fail on what they exist
# to catch: each is run in a subshell on a bad input and must exit non-zero
# (and pass on a good one, so the bad case is not failing for another reason).
source "$FINSIM_SRC/tests/lib/common.sh"

# must_fail WHAT cmd...: cmd (a helper call, run in a subshell) must exit non-zero
must_fail() {
  local what=$1; shift
  local rc=0
  ( "$@" ) >"$T/sub.out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then echo "FAIL: helper passed on bad input: $what" >&2; cat "$T/sub.out" >&2; exit 1; fi
  CHECKS=$((CHECKS + 1))
}
# must_pass WHAT cmd...: the same helper on a good input exits 0
must_pass() {
  local what=$1; shift
  local rc=0
  ( "$@" ) >"$T/sub.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then echo "FAIL: helper failed on good input: $what" >&2; cat "$T/sub.out" >&2; exit 1; fi
  CHECKS=$((CHECKS + 1))
}

crash() { kill -SEGV $BASHPID; }
asan_report() { echo "==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1" >&2; return "${1:-0}"; }
ubsan_report() { echo "src/mc.c:10:5: runtime error: signed integer overflow"; }
lsan_report() { echo "==1==ERROR: LeakSanitizer: detected memory leaks" >&2; exit 1; }

# expect_rc: exact code only; a crash is not "some failure"; sanitizer reports fail
must_pass "expect_rc 0 true" expect_rc 0 true
must_pass "expect_rc 3 exit 3" expect_rc 3 sh -c 'exit 3'
must_fail "expect_rc 0 on exit 1" expect_rc 0 false
must_fail "expect_rc 1 on exit 2" expect_rc 1 sh -c 'exit 2'
must_fail "expect_rc 2 on a segfault" expect_rc 2 crash
must_fail "expect_rc 1 on a child's segfault" expect_rc 1 sh -c 'kill -SEGV $$'
must_fail "expect_rc with no code" expect_rc '' false
must_fail "expect_rc with a pattern for a code" expect_rc '[1-9]' false
must_fail "expect_rc 0, ASan report on stderr" expect_rc 0 asan_report 0
must_fail "expect_rc 1, LeakSanitizer report with the wanted code" expect_rc 1 lsan_report
must_fail "expect_rc 0, UBSan report on stdout" expect_rc 0 ubsan_report

# expect_status: the same for a status collected by hand
echo ok > "$T/clean.log"
asan_report 2>"$T/asan.log"
must_pass "expect_status 9 9" expect_status 9 9 what "$T/clean.log"
must_fail "expect_status 9 1" expect_status 9 1 what "$T/clean.log"
must_fail "expect_status 0 0 with a report" expect_status 0 0 what "$T/asan.log"
must_fail "expect_no_sanitizer on a report" expect_no_sanitizer "$T/clean.log" "$T/asan.log"
must_pass "expect_no_sanitizer on clean output" expect_no_sanitizer "$T/clean.log"

# expect_grep / expect_no_grep: a missing file proves nothing either way
printf 'alpha\nbeta\n' > "$T/f.txt"
must_pass "expect_grep match" expect_grep '^beta$' "$T/f.txt"
must_fail "expect_grep no match" expect_grep gamma "$T/f.txt"
must_fail "expect_grep missing file" expect_grep alpha "$T/none.txt"
must_pass "expect_no_grep no match" expect_no_grep gamma "$T/f.txt"
must_fail "expect_no_grep match" expect_no_grep alpha "$T/f.txt"
must_fail "expect_no_grep missing file" expect_no_grep alpha "$T/none.txt"
printf -- '-x\n' > "$T/dash.txt"
must_fail "expect_no_grep option-like pattern" expect_no_grep '-x' "$T/dash.txt"

# wait_for: fails at its ceiling when the event never comes
must_pass "wait_for an existing file" wait_for 5 "file" test -e "$T/f.txt"
must_fail "wait_for an event that never comes" wait_for 1 "event" test -e "$T/never"

# H5CHECK: fails on a file that is not HDF5
must_fail "H5CHECK valid on a text file" H5CHECK valid "$T/f.txt" 1 0

# finish: a test that checked nothing has failed
sh_finish_zero() { CHECKS=0; finish; }
must_fail "finish with no checks" sh_finish_zero
must_pass "finish after a check" finish

# FINSIM_TEST_SIZE: full or small picks sized's argument; anything else is refused
size_of() { FINSIM_TEST_SIZE=$1 bash -c 'source "$FINSIM_SRC/tests/lib/common.sh"; sized 30000 6000'; }
[ "$(size_of full)" = 30000 ] && [ "$(size_of small)" = 6000 ] && [ "$(size_of '')" = 30000 ] ||
  { echo "FAIL: sized: full '$(size_of full)', small '$(size_of small)', unset '$(size_of '')'" >&2; exit 1; }
CHECKS=$((CHECKS + 1))
must_fail "FINSIM_TEST_SIZE=tiny" size_of tiny

# skip: exits 77 (ctest's SKIP_RETURN_CODE), prints its reason, runs the cleanups
skip_case() { T=$(mktemp -d "${TMPDIR:-/tmp}/finsim-skip.XXXXXX"); echo "$T" > "$1"; _cleanups=(); skip "no widget here"; }
rc=0
( skip_case "$T/skipdir" ) >"$T/skip.out" 2>&1 || rc=$?
[ "$rc" -eq 77 ] || { echo "FAIL: skip exited $rc, not 77" >&2; exit 1; }
expect_grep '^SKIP: no widget here$' "$T/skip.out"
[ ! -e "$(cat "$T/skipdir")" ] || { echo "FAIL: skip left its temp dir" >&2; exit 1; }
finish
