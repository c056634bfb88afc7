#!/usr/bin/env bash
# Install the Debian 12 packages finsim needs to build, test and run.
# Runs apt-get update once, and only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libgsl-dev libexpat1-dev libinih-dev libfast-float-dev
  libcurl4-openssl-dev libjansson-dev
  libhiredis-dev redis-server redis-tools
  libssl-dev openssl ca-certificates debian-archive-keyring
  libcmocka-dev
  clang libclang-rt-dev
  python3 python3-numpy python3-h5py
  procps
  slurmctld slurmd slurm-client munge
  openssh-server iproute2 util-linux
  python3-matplotlib
)
PKGS+=("$@")

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
