# test_dockerfile.sh - the Dockerfile's invariants, checked without Docker:
#   multi-stage (debian:12 build stage, Debian 12 runtime stage), hiredis via
#   scripts/build-hiredis.sh, FINSIM_NATIVE=OFF, no build tools in the runtime
#   stage, a non-root USER, ENTRYPOINT ["finsim"], no ENV/ARG secrets, no
#   secret files copied, .dockerignore keeps build trees, results, local
#   configs and keys out but the sources in (tests/dockerfile_check.py);
#   every apt package named exists in Debian 12 (apt-cache show); and every
#   shared library the built finsim needs comes from a package the runtime
#   stage installs (or is hiredis, copied from the build stage): those it is
#   linked against (NEEDED) and those it loads when a command needs them
#   (dlopen: each `#define *_SONAME "lib..."` of src/, e.g. libcurl for
#   screen's HTTP(S) sources, which ldd does not show).
# Opt-in (slow, needs root, debootstrap and the Debian mirror):
#   FINSIM_TEST_CHROOT_BUILD=1 executes every stage for real in throwaway
#   debootstrap chroots of bookworm (tests/docker_build_chroot.py: RUN, COPY
#   through .dockerignore, --from=build, USER) and runs the resulting finsim
#   as the image's non-root user (generate, 2-rank mpirun).
source "$FINSIM_SRC/tests/lib/common.sh"
PY=${PY:-/usr/bin/python3}
CHECK=$FINSIM_SRC/tests/dockerfile_check.py

expect_rc 0 "$PY" "$CHECK" "$FINSIM_SRC"
cat "$T/last.out"

# the checker itself catches the mistakes it is there for
mkdir -p "$T/bad"
cp "$FINSIM_SRC/.dockerignore" "$T/bad/"
sed -e 's/^USER finsim$/USER root/' "$FINSIM_SRC/Dockerfile" > "$T/bad/Dockerfile"
expect_rc 1 "$PY" "$CHECK" "$T/bad"
expect_grep 'runs as root' "$T/last.out"
sed -e 's/^ENV OMPI_MCA_btl_vader_single_copy_mechanism=none$/ENV FINSIM_REDIS_PASSWORD=hunter2/' \
  "$FINSIM_SRC/Dockerfile" > "$T/bad/Dockerfile"
expect_rc 1 "$PY" "$CHECK" "$T/bad"
expect_grep 'FINSIM_REDIS_PASSWORD .*holds a value' "$T/last.out"
# an image only its own uid can use (docker run --user fails on /data)
sed -e 's/ && mkdir -p \/data && chmod 1777 \/data \\//' "$FINSIM_SRC/Dockerfile" > "$T/bad/Dockerfile"
expect_rc 1 "$PY" "$CHECK" "$T/bad"
expect_grep '/data writable by any uid' "$T/last.out"
sed -e 's/^ENV HOME=\/tmp$//' "$FINSIM_SRC/Dockerfile" > "$T/bad/Dockerfile"
expect_rc 1 "$PY" "$CHECK" "$T/bad"
expect_grep 'HOME=/tmp' "$T/last.out"
# the docs use --user with every bind mount
for f in README.md docs/SCHEDULERS.md docs/USAGE.md Dockerfile; do
  if grep -n 'docker run.* -v ' "$FINSIM_SRC/$f" | grep -v -- '--user' | grep -q .; then
    echo "FAIL: $f has a docker run with a bind mount and no --user" >&2; exit 1
  fi
done
CHECKS=$((CHECKS + 1))
cp "$FINSIM_SRC/Dockerfile" "$T/bad/Dockerfile"
grep -v 'secrets' "$FINSIM_SRC/.dockerignore" > "$T/bad/.dockerignore"
expect_rc 1 "$PY" "$CHECK" "$T/bad"
expect_grep 'lets .*secrets.* into the build context' "$T/last.out"

# every package exists in Debian 12 (the apt lists of this bookworm machine)
BUILD_PKGS=$("$PY" "$CHECK" "$FINSIM_SRC" --packages build)
RUNTIME_PKGS=$("$PY" "$CHECK" "$FINSIM_SRC" --packages runtime)
[ -n "$BUILD_PKGS" ] && [ -n "$RUNTIME_PKGS" ] || { echo "FAIL: no packages found in the stages" >&2; exit 1; }
# shellcheck disable=SC2086  # one word per package
if ! apt-cache show --no-all-versions $BUILD_PKGS $RUNTIME_PKGS >/dev/null 2>&1; then
  for p in $BUILD_PKGS $RUNTIME_PKGS; do
    apt-cache show --no-all-versions "$p" >/dev/null 2>&1 ||
      { echo "FAIL: package '$p' is not known to apt (not in Debian 12, or run apt-get update)" >&2; exit 1; }
  done
fi
CHECKS=$((CHECKS + 1))
echo "dockerfile: all $(echo $BUILD_PKGS $RUNTIME_PKGS | wc -w) apt packages exist"
grep -q 'bookworm' /etc/os-release || echo "note: this is not bookworm; package names were checked against $(. /etc/os-release; echo "$PRETTY_NAME")"

# the libraries finsim links against, and those it loads at run time, come
# from the runtime packages
needed=$(readelf -d "$FINSIM_BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
loaded=$(grep -rhoE '^#define [A-Z0-9_]+_SONAME "[^"]+"' "$FINSIM_SRC/src" | sed 's/.*"\(.*\)"/\1/')
[ -n "$loaded" ] || { echo "FAIL: no *_SONAME in src/ (libcurl is loaded at run time)" >&2; exit 1; }
for lib in $loaded; do
  grep -qaF "$lib" "$FINSIM_BIN" || { echo "FAIL: $FINSIM_BIN does not name $lib, which src/ loads" >&2; exit 1; }
  if grep -qx "$lib" <<< "$needed"; then
    echo "FAIL: finsim is linked against $lib, which it is to load only when needed" >&2; exit 1
  fi
done
CHECKS=$((CHECKS + 1))
for lib in $needed $loaded; do
  case "$lib" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) continue ;;  # libc6, in every image
    libasan.so.*|libubsan.so.*) [ "$SANITIZED" = 1 ] && continue ;;  # this test build's sanitizers, not the image's
    libhiredis*.so*)                                                                     # built in the build stage
      grep -q "COPY --from=build .*$lib" "$FINSIM_SRC/Dockerfile" ||
        { echo "FAIL: finsim needs $lib but the runtime stage does not copy it from the build stage" >&2; exit 1; }
      CHECKS=$((CHECKS + 1)); continue ;;
  esac
  # read all of ldconfig's output: an early exit here would SIGPIPE it, and
  # pipefail would end the test without a word
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }')
  [ -n "$path" ] || { echo "FAIL: cannot resolve $lib" >&2; exit 1; }
  pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
  [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
  [ -n "$pkg" ] || { echo "FAIL: no Debian package owns $path ($lib)" >&2; exit 1; }
  if ! grep -qx "$pkg" <<< "$RUNTIME_PKGS"; then
    echo "FAIL: finsim needs $lib from package $pkg, which the runtime stage does not install" >&2
    exit 1
  fi
  CHECKS=$((CHECKS + 1))
done
echo "dockerfile: runtime packages cover every library finsim needs: $(echo $needed), and loads: $(echo $loaded)"

# ---- opt-in: the build stage for real, in a debootstrap chroot ----
if [ "${FINSIM_TEST_CHROOT_BUILD:-0}" = 1 ]; then
  command -v debootstrap >/dev/null ||
    { echo "FAIL: FINSIM_TEST_CHROOT_BUILD=1 needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  # /proc is mounted in each chroot: unmount before the temp dir is removed
  add_cleanup "findmnt -rn -o TARGET | grep '^$T/chroot/' | sort -r | xargs -r -n1 umount -l"
  "$PY" "$FINSIM_SRC/tests/docker_build_chroot.py" "$FINSIM_SRC" "$T/chroot"
  CHECKS=$((CHECKS + 1))
else
  echo "note: set FINSIM_TEST_CHROOT_BUILD=1 to build and run the image's stages in debootstrap chroots (slow)"
fi
finish
