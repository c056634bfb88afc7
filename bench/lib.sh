# bench/lib.sh - the set-up the Redis benchmark scripts share (sourced).
#   bench_with_redis NAME BUILD_DIR
# From the repository root: sets ROOT, FINSIM (BUILD_DIR/finsim, which must
# exist), FINSIM_SRC and FINSIM_BIN for tests/lib/redis.sh, the Open MPI
# settings for root and oversubscription, a work directory W
# (/tmp/finsim-NAME.XXXXXX) and a fresh redis-server (REDIS_PORT,
# REDIS_URL); both are removed on exit.
bench_with_redis() {
  local name=$1 build=$2
  ROOT=$PWD
  case $build in /*) ;; *) build=$ROOT/$build ;; esac
  FINSIM=$build/finsim
  [ -x "$FINSIM" ] || { echo "$name: build first: bash scripts/build.sh $2" >&2; exit 2; }
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
  export FINSIM_SRC=$ROOT FINSIM_BIN=$FINSIM
  # shellcheck source=../tests/lib/redis.sh
  source "$ROOT/tests/lib/redis.sh"
  W=$(mktemp -d "/tmp/finsim-$name.XXXXXX")
  redis_start > /dev/null
  trap 'redis_stop; rm -rf "$W"' EXIT
}
