# ref.sh - tests/ref/ref_tool.py for script tests (source after common.sh).
#   REF: the NumPy reference figures; TOOL ARGS...: run the tool;
#   tool_ok WHAT ARGS...: a ref_tool.py check that must pass.
REF=$FINSIM_SRC/tests/ref/mc_reference.json
TOOL() { "$PY" "$FINSIM_SRC/tests/ref/ref_tool.py" "$@"; }
tool_ok() {
  local what=$1; shift
  TOOL "$@" >"$T/tool.out" 2>&1 || { echo "FAIL: $what:" >&2; cat "$T/tool.out" >&2; exit 1; }
  CHECKS=$((CHECKS + 1))
}
