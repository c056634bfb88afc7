#!/usr/bin/env bash
# build-hiredis.sh - build hiredis 1.2 with TLS (hiredis_ssl) into PREFIX.
#
# Debian 12 ships hiredis 0.14, which has no TLS, so rediss:// needs a newer
# hiredis. This fetches Debian trixie's hiredis *source* package through a
# private apt configuration (the system's apt sources and state are not
# touched), builds it with upstream CMake and ENABLE_SSL=ON, and installs it
# into PREFIX. Then configure finsim with -DCMAKE_PREFIX_PATH=PREFIX.
#
# Usage: scripts/build-hiredis.sh PREFIX
# Needs: build-essential cmake libssl-dev debian-archive-keyring, and access
# to the Debian mirror this system's apt sources name (or FINSIM_DEBIAN_MIRROR).
# Idempotent: does nothing when PREFIX/lib/cmake/hiredis_ssl exists.
# Environment: FINSIM_DEBIAN_MIRROR (default: the first Debian URI in /etc/apt),
#              FINSIM_HIREDIS_SUITE (default trixie), JOBS (default 2).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
mkdir -p "$1"
PREFIX=$(cd "$1" && pwd)
apt_mirror() {  # the first Debian archive URI of this system's apt sources
    { awk '/^URIs:/{print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null
      awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^https?:/){print $i; break}}' \
          /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null; } |
        grep -v -e security -e updates | head -n 1 || true
}
MIRROR=${FINSIM_DEBIAN_MIRROR:-$(apt_mirror)}
if [ -z "$MIRROR" ]; then
    echo "build-hiredis: no Debian mirror in /etc/apt; set FINSIM_DEBIAN_MIRROR" >&2
    exit 1
fi
SUITE=${FINSIM_HIREDIS_SUITE:-trixie}
JOBS=${JOBS:-2}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

say() { echo "build-hiredis: $*"; }

# Two builds may call this at once (e.g. two build dirs): serialise them.
if command -v flock >/dev/null; then
    exec 9>"$PREFIX/.build-hiredis.lock"
    flock 9
fi

if [ -d "$PREFIX/lib/cmake/hiredis_ssl" ] && [ -d "$PREFIX/lib/cmake/hiredis" ]; then
    say "hiredis with TLS already installed in $PREFIX (remove it to rebuild)"
    exit 0
fi

# This machine exports LIBRARY_PATH (CUDA stubs); hiredis' build must not
# see it, or libraries land in odd places / link against stubs.
unset LIBRARY_PATH

for tool in apt-get cmake cc tar; do
    command -v "$tool" >/dev/null || { say "missing tool '$tool' (apt-get install build-essential cmake)"; exit 1; }
done
if [ ! -r "$KEYRING" ]; then
    say "missing $KEYRING (apt-get install debian-archive-keyring)"
    exit 1
fi
if [ ! -e /usr/include/openssl/ssl.h ]; then
    say "missing OpenSSL headers (apt-get install libssl-dev)"
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/finsim-hiredis.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# A private apt configuration that only knows the deb-src line of $SUITE.
A=$WORK/apt
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/sources.list.d" "$A/preferences.d"
echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE main" > "$A/sources.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/sources.list.d"
          -o "Dir::Etc::PreferencesParts=$A/preferences.d" -o "Dir::State::Lists=$A/lists"
          -o "Dir::Cache=$A/cache" -o "APT::Sandbox::User=root")

say "fetching the $SUITE source index from $MIRROR (private apt dir $A)"
apt-get -q "${APT_OPTS[@]}" update
say "downloading the hiredis source package"
(cd "$WORK" && apt-get -q "${APT_OPTS[@]}" source --download-only hiredis)

ORIG=$(ls "$WORK"/hiredis_*.orig.tar.* 2>/dev/null | head -n 1 || true)
if [ -z "$ORIG" ]; then
    say "no hiredis_*.orig.tar.* was downloaded"
    exit 1
fi
say "unpacking $(basename "$ORIG")"
mkdir -p "$WORK/src"
tar xf "$ORIG" -C "$WORK/src" --strip-components=1

say "configuring (ENABLE_SSL=ON, prefix $PREFIX)"
cmake -S "$WORK/src" -B "$WORK/src/b" -DENABLE_SSL=ON -DDISABLE_TESTS=ON \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_INSTALL_RPATH="$PREFIX/lib" >"$WORK/configure.log" 2>&1 \
    || { cat "$WORK/configure.log" >&2; say "cmake configure failed"; exit 1; }
say "building with $JOBS jobs"
cmake --build "$WORK/src/b" -j "$JOBS" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log" >&2; say "build failed"; exit 1; }
say "installing into $PREFIX"
cmake --install "$WORK/src/b" >"$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log" >&2; say "install failed"; exit 1; }

if [ ! -d "$PREFIX/lib/cmake/hiredis_ssl" ]; then
    say "install finished but $PREFIX/lib/cmake/hiredis_ssl is missing"
    exit 1
fi
say "done: $(ls "$PREFIX"/lib/libhiredis*.so.* | tr '\n' ' ')"
say "configure finsim with: cmake -S . -B build-tls -DCMAKE_PREFIX_PATH=$PREFIX"
