#!/usr/bin/env bash
# Build finsim: Debian packages, hiredis 1.2 with TLS in .deps/, then CMake.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Environment: FINSIM_BUILD_TYPE (Release), FINSIM_NO_TLS=1 (build without TLS
# on purpose: no hiredis build, rediss:// refused). Without it a failed hiredis
# TLS build is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
shift || true
unset LIBRARY_PATH   # some hosts export a CUDA stub dir here; the build must not depend on it

bash scripts/install-deps.sh
PREFIX_ARGS=()
if [ "${FINSIM_NO_TLS:-0}" != 1 ]; then
  if bash scripts/build-hiredis.sh "$ROOT/.deps/hiredis"; then
    PREFIX_ARGS=(-DCMAKE_PREFIX_PATH="$ROOT/.deps/hiredis")
  else
    echo "build: hiredis with TLS could not be built; set FINSIM_NO_TLS=1 to build without TLS (rediss:// refused)" >&2
    exit 1
  fi
fi
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE="${FINSIM_BUILD_TYPE:-Release}" "${PREFIX_ARGS[@]}" "$@"
cmake --build "$BUILD" -j"$(nproc)"
echo "build: $BUILD/finsim ready ($("$BUILD"/finsim version))"
