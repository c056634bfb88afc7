#!/usr/bin/env bash
# Build finsim and run the whole test suite (ctest): unit tests, real
# redis-server (plain, unix socket, ACL, TLS), real mpirun, HDF5 read back.
#   scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh build
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd build
ctest --output-on-failure --timeout 600 "$@"
