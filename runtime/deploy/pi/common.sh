# Shared by the scripts in runtime/deploy/pi/ (sourced, not run): where things are, what to
# install, and the cross-compilation environment. Debian or Ubuntu, as root (or with sudo).
#
# Environment the scripts honour:
#   CARGO_TARGET_DIR     cargo's target directory (default: <repo>/target)
#   NETBOOT_PI_CACHE     downloads kept between runs: cargo-deb, the debootstrap root
#                        (default: ${XDG_CACHE_HOME:-~/.cache}/netboot-pi)
#   NETBOOT_PI_NICE      niceness of the heavy commands (default 10; 0 to turn it off)

# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
set -euo pipefail

PI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$PI_DIR/../../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
PI_CACHE=${NETBOOT_PI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netboot-pi}
PI_NICE=${NETBOOT_PI_NICE:-10}

# The two Raspberry Pi targets: 64-bit Raspberry Pi OS / Debian arm64 (Pi 3, 4, 5, Zero 2 W)
# and 32-bit Raspberry Pi OS armhf (Pi 2 and later; not the ARMv6 Pi 1 / Zero W).
PI_TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)

# What build.sh and build-deb.sh build, in one cargo invocation (so both get the same
# artifacts and the second finds them built): NETBOOT_PI_PACKAGES, default all three
# servers. build-deb.sh adds netboot-proxy if it is missing.
read -r -a PI_PACKAGES <<<"${NETBOOT_PI_PACKAGES:-netboot-proxy netboot-serve netboot-sink}"

# Rust target triple -> Debian architecture, GNU triple (the cross gcc's prefix), qemu-user.
deb_arch() {
  case "$1" in
    aarch64-unknown-linux-gnu) echo arm64 ;;
    armv7-unknown-linux-gnueabihf) echo armhf ;;
    x86_64-unknown-linux-gnu) echo amd64 ;;
    *) echo "unknown target $1" >&2; return 1 ;;
  esac
}
gnu_triple() {
  case "$1" in
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu ;;
    armv7-unknown-linux-gnueabihf) echo arm-linux-gnueabihf ;;
    x86_64-unknown-linux-gnu) echo x86_64-linux-gnu ;;
    *) echo "unknown target $1" >&2; return 1 ;;
  esac
}
qemu_arch() {
  case "$1" in
    aarch64-unknown-linux-gnu) echo aarch64 ;;
    armv7-unknown-linux-gnueabihf) echo arm ;;
    *) echo "no qemu-user for $1" >&2; return 1 ;;
  esac
}
host_triple() { rustc -vV | sed -n 's/^host: //p'; }

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
heavy() { if [ "$PI_NICE" != 0 ]; then nice -n "$PI_NICE" "$@"; else "$@"; fi; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages named, only those missing (`apt-get update` once per run,
# and only if something is missing).
APT_UPDATED=
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# rustup targets, only those missing.
rustup_targets() {
  local installed t missing=()
  installed=$(rustup target list --installed)
  for t in "$@"; do
    grep -qx "$t" <<<"$installed" || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "rustup target add ${missing[*]}"
  rustup target add "${missing[@]}"
}

# Everything a cross build for the given targets needs: the target's std, and Debian's cross
# gcc (linker, and C compiler for ring's C and assembly) with the target's libc.
cross_setup() {
  local t pkgs=()
  for t in "$@"; do
    [ "$t" = "$(host_triple)" ] && continue
    pkgs+=("gcc-$(gnu_triple "$t")" "libc6-dev-$(deb_arch "$t")-cross")
  done
  apt_install "${pkgs[@]}"
  rustup_targets "$@"
}

# The cross-compilation environment for one target, passed as variables (no committed
# .cargo/config.toml: a developer's own config and `cargo build` for the host stay as they
# are). Cargo reads CARGO_TARGET_<TRIPLE>_LINKER; the cc crate (ring) reads CC_<triple> and
# AR_<triple>. (cargo-deb finds /usr/bin/<gnu triple>-strip by itself.)
cross_env() {
  local t=$1 up low gnu
  [ "$t" = "$(host_triple)" ] && return 0
  up=$(tr 'a-z-' 'A-Z_' <<<"$t")
  low=${t//-/_}
  gnu=$(gnu_triple "$t")
  export "CARGO_TARGET_${up}_LINKER=${gnu}-gcc"
  export "CC_${low}=${gnu}-gcc" "AR_${low}=${gnu}-ar"
}

# --- qemu-user ------------------------------------------------------------------------
# The emulator the ARM programs run under is pinned, and checked by what it does rather
# than by which qemu package (or version, or install order) the machine has: a small program
# that starts threads, as every tokio test does, must run under it within
# QEMU_PROBE_SECONDS (default 20). Known: bookworm's qemu-user-static 7.2 passes;
# bookworm-backports' QEMU 10.0.2 qemu-aarch64 was seen to hang at the first thread spawn.
# Candidates, the first that passes:
#   $NETBOOT_QEMU_<ARCH> (NETBOOT_QEMU_AARCH64, NETBOOT_QEMU_ARM) if set: only that one
#   bookworm's qemu-user-static (QEMU_USER_PINNED), fetched with `apt-get download` and
#     unpacked into the cache: nothing installed or removed, so whatever qemu packages the
#     LAN matrix or anyone else installed stay as they are, and the tests do not depend on
#     them
#   qemu-<arch>-static, then qemu-<arch>, on PATH (a machine without a bookworm apt source)
QEMU_USER_PINNED=qemu-user-static/bookworm

# qemu_select TARGET: sets QEMU_USER to the path of an emulator for TARGET that passes the
# probe, or dies naming each candidate and what it did.
qemu_select() {
  local t=$1 arch var candidate tried=() path
  [ "${QEMU_USER_TARGET:-}" = "$t" ] && return 0
  arch=$(qemu_arch "$t")
  var=NETBOOT_QEMU_$(tr '[:lower:]' '[:upper:]' <<<"$arch")
  qemu_probe_build "$t"
  if [ -n "${!var:-}" ]; then
    qemu_probe "$t" "${!var}" || die "$var=${!var} does not run a threaded $arch program: $QEMU_PROBE_RESULT"
    QEMU_USER=${!var} QEMU_USER_TARGET=$t
    return 0
  fi
  for candidate in pinned "qemu-$arch-static" "qemu-$arch"; do
    if [ "$candidate" = pinned ]; then
      path=$(qemu_pinned "$arch") || { tried+=("$QEMU_USER_PINNED: $path"); continue; }
    else
      path=$(command -v "$candidate") || continue
    fi
    if qemu_probe "$t" "$path"; then
      log "qemu-user for $t: $path ($("$path" --version | head -n1))"
      QEMU_USER=$path QEMU_USER_TARGET=$t
      return 0
    fi
    tried+=("$path: $QEMU_PROBE_RESULT")
  done
  die "no qemu-user here runs a threaded $arch program (the tests need one):
$(printf '  %s\n' "${tried[@]}")
  Set $var to a qemu-$arch that does (Debian bookworm's qemu-user-static 7.2 does), or
  make '$QEMU_USER_PINNED' downloadable with apt-get (a bookworm apt source)."
}

# qemu_probe_build TARGET: the probe program for TARGET, built with the cross gcc into the
# cache (QEMU_PROBE).
qemu_probe_build() {
  local t=$1 gnu src
  gnu=$(gnu_triple "$t")
  apt_install "gcc-$gnu" "libc6-dev-$(deb_arch "$t")-cross"
  src=$(cat <<'C'
#include <pthread.h>
#include <stdio.h>
static void *echo_arg(void *arg) { return arg; }
int main(void) {
  pthread_t threads[4];
  long sum = 0;
  for (long i = 0; i < 4; i++)
    if (pthread_create(&threads[i], NULL, echo_arg, (void *)(i + 1)) != 0) return 2;
  for (int i = 0; i < 4; i++) {
    void *result;
    pthread_join(threads[i], &result);
    sum += (long)result;
  }
  printf("netboot-qemu-probe: threads joined, sum %ld\n", sum);
  return sum == 10 ? 0 : 1;
}
C
)
  QEMU_PROBE=$PI_CACHE/qemu-probe/$t-$(sha256sum <<<"$src" | cut -c1-16)
  if [ ! -x "$QEMU_PROBE" ]; then
    mkdir -p "${QEMU_PROBE%/*}"
    "$gnu-gcc" -O2 -pthread -x c -o "$QEMU_PROBE.tmp" - <<<"$src" || die "cannot build the qemu probe with $gnu-gcc"
    mv "$QEMU_PROBE.tmp" "$QEMU_PROBE"
  fi
}

# qemu_probe TARGET [EMULATOR]: runs the probe under EMULATOR, or, without one, as the
# kernel runs it (binfmt_misc). Sets QEMU_PROBE_RESULT to what went wrong.
qemu_probe() {
  local t=$1 gnu out rc=0
  gnu=$(gnu_triple "$t")
  out=$(QEMU_LD_PREFIX=/usr/$gnu timeout -k 2 "${QEMU_PROBE_SECONDS:-20}" ${2:+"$2" -L "/usr/$gnu"} "$QEMU_PROBE" 2>&1) || rc=$?
  if [ "$rc" = 0 ] && grep -qx 'netboot-qemu-probe: threads joined, sum 10' <<<"$out"; then
    return 0
  fi
  case "$rc" in
    124 | 137) QEMU_PROBE_RESULT="hung (no exit within ${QEMU_PROBE_SECONDS:-20} s)" ;;
    *) QEMU_PROBE_RESULT="exit $rc: $(tail -n2 <<<"$out" | tr '\n' ' ')" ;;
  esac
  return 1
}

# qemu_pinned ARCH: bookworm's qemu-<arch>-static, unpacked from its package into the
# cache. Prints its path, or what failed.
qemu_pinned() {
  local arch=$1 dl deb dir
  dir=$(find "$PI_CACHE" -maxdepth 1 -name 'qemu-user-static-*' -type d 2>/dev/null | sort -V | tail -n1)
  if [ -z "$dir" ] || [ ! -x "$dir/usr/bin/qemu-$arch-static" ]; then
    dl=$(mktemp -d)
    # apt's download sandbox user must be able to write there.
    chmod 755 "$dl" && { chown _apt "$dl" 2>/dev/null || true; }
    log "apt-get download $QEMU_USER_PINNED (unpacked into $PI_CACHE, not installed)"
    if ! (cd "$dl" && apt-get download -qq "$QEMU_USER_PINNED" >/dev/null 2>&1); then
      # The package lists may be older than the mirror: once more after an update.
      as_root apt-get update -qq >/dev/null 2>&1
      (cd "$dl" && apt-get download -qq "$QEMU_USER_PINNED" 2>&1) >"$dl/err" \
        || { echo "apt-get download failed: $(tail -n1 "$dl/err")"; rm -rf "$dl"; return 1; }
    fi
    deb=$(ls "$dl"/*.deb)
    dir=$PI_CACHE/qemu-user-static-$(dpkg-deb -f "$deb" Version | tr ':~' '__')
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir.tmp" ./usr/bin/qemu-aarch64-static ./usr/bin/qemu-arm-static
    rm -rf "$dl" "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/usr/bin/qemu-$arch-static"
}

# The emulated-run environment for one target: cargo runs test binaries through the
# selected qemu-user (CARGO_TARGET_<TRIPLE>_RUNNER), and QEMU_LD_PREFIX lets the target's
# binaries that the tests start themselves (netboot-proxy, netboot-serve), which the kernel
# hands to qemu through binfmt_misc (binfmt_setup), find the target's dynamic loader and libc.
emulation_env() {
  local t=$1 up gnu
  qemu_select "$t"
  up=$(tr 'a-z-' 'A-Z_' <<<"$t")
  gnu=$(gnu_triple "$t")
  export "CARGO_TARGET_${up}_RUNNER=$QEMU_USER -L /usr/${gnu}"
  export QEMU_LD_PREFIX=/usr/$gnu
}

# binfmt_setup TARGET: registers the selected qemu-user with binfmt_misc under a name of
# its own (netboot-qemu-<arch>), so that a target binary started by an emulated test or in
# a foreign root (execve) runs under it too. Written directly to
# /proc/sys/fs/binfmt_misc/register (no update-binfmts, no systemd-binfmt, no package's
# registration files), with flag F: the kernel opens the emulator now, so it also serves
# in chroots. Registered afresh each run: the kernel tries the newest registration first,
# so a qemu-<arch> a package registered, before or after, does not take over. Then the
# probe runs as the kernel runs it. Needs root and binfmt_misc (a container: privileged).
binfmt_setup() {
  local t=$1 arch magic mask name entry
  qemu_select "$t"
  arch=$(qemu_arch "$t")
  # ELF header of the architecture's executables (magic/mask as in QEMU's
  # scripts/qemu-binfmt-conf.sh): class, data, version, then e_type 2/3 and e_machine.
  case "$arch" in
    aarch64) magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00' ;;
    arm) magic='\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00' ;;
  esac
  mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
  name=netboot-qemu-$arch
  entry=/proc/sys/fs/binfmt_misc/$name
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || die "cannot mount binfmt_misc (an unprivileged container?): the proxy's integration tests start target binaries, which needs qemu-$arch registered there"
  fi
  if [ -e "$entry" ]; then echo -1 | as_root tee "$entry" >/dev/null; fi
  log "registering $QEMU_USER with binfmt_misc as $name"
  printf ':%s:M::%s:%s:%s:F' "$name" "$magic" "$mask" "$QEMU_USER" | as_root tee /proc/sys/fs/binfmt_misc/register >/dev/null \
    || die "writing $name to /proc/sys/fs/binfmt_misc/register failed"
  qemu_probe "$t" || die "an $arch program started directly (binfmt_misc) does not run: $QEMU_PROBE_RESULT.
  Registrations for it: $(grep -l "^interpreter" /proc/sys/fs/binfmt_misc/* 2>/dev/null | xargs -r grep -H '^interpreter' | tr '\n' ' ')
  (one disabled, or registered after $name, may be in the way: echo 0 > /proc/sys/fs/binfmt_misc/NAME disables one)"
}

# --- a dummy origin, for test-deb.sh and measure-rss.sh ---------------------------------
# make_pki DIR: ca.pem/.key, server.pem/.key (localhost, 127.0.0.1), client.pem/.key
# (ECDSA P-256), with openssl.
make_pki() {
  mkdir -p "$1"
  (
    cd "$1"
    ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "$@" 2>/dev/null; }
    ec -x509 -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    ec -subj /CN=localhost -keyout server.key -out server.csr
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out server.pem \
      -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') 2>/dev/null
    ec -subj /CN=test-pi -keyout client.key -out client.csr
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem \
      -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
    rm -f ./*.csr ./*.srl
  )
}

# make_bundle DIR [NAME SIZE_BYTES]: a bundle in the netboot-bundle/1 format (runtime/bundle;
# canonical JSON, objects named by sha256) whose dispatcher is routes boot.ipxe and
# tftp/boot.ipxe, plus, if given, a TFTP file tftp/NAME of SIZE pseudo-random bytes.
# Prints the manifest digest.
make_bundle() {
  python3 - "$@" <<'PY'
import hashlib, json, os, random, sys
root = sys.argv[1]
os.makedirs(f"{root}/objects/sha256", exist_ok=True)
def canonical(v): return (json.dumps(v, sort_keys=True, separators=(",", ":")) + "\n").encode()
def store(data):
    hexd = hashlib.sha256(data).hexdigest()
    with open(f"{root}/objects/sha256/{hexd}", "wb") as f: f.write(data)
    return "sha256:" + hexd
def entry(data, ctype):
    return {"object": store(data), "size": len(data), "content_type": ctype}
script = entry(b"#!ipxe\necho netboot-proxy package test\n", "text/plain; charset=utf-8")
routes = {"boot.ipxe": script, "tftp/boot.ipxe": script}
if len(sys.argv) > 3:
    routes["tftp/" + sys.argv[2]] = entry(random.Random(1).randbytes(int(sys.argv[3])), "application/octet-stream")
manifest = store(canonical({"format": "netboot-bundle/1", "machines": {}, "profiles": {}, "routes": routes}))
with open(f"{root}/current", "wb") as f:
    f.write(canonical({"format": "netboot-bundle/1", "manifest": manifest}))
print(manifest)
PY
}

# start_origin BUNDLE PKI LOG: the proxy tests' Python HTTPS origin (runtime/proxy/tests/
# fake_origin.py: serves BUNDLE's files, requires a client certificate from PKI's CA) on
# 127.0.0.1; sets ORIGIN_PID and ORIGIN_PORT.
start_origin() {
  python3 "$REPO/runtime/proxy/tests/fake_origin.py" "$1" "$2/server.pem" "$2/server.key" "$2/ca.pem" 2>"$3" &
  ORIGIN_PID=$!
  local _
  for _ in $(seq 100); do grep -q 'fake origin ready' "$3" && break; sleep 0.1; done
  ORIGIN_PORT=$(sed -n 's/.*listen=127.0.0.1:\([0-9]*\).*/\1/p' "$3")
  [ -n "$ORIGIN_PORT" ] || { cat "$3" >&2; die "the dummy origin did not start"; }
}

# measure_start NAME [BINARY]: the memory measurements' start. The netboot-proxy to measure
# is BINARY, else a release build for this host (built if missing); sets bin, a fresh work
# directory /tmp/netboot-NAME.* in work, and a trap that stops the proxy (proxy_pid) and
# the origin (ORIGIN_PID) and removes the work directory on exit.
measure_start() {
  apt_install curl openssl python3
  bin=${2:-$CARGO_TARGET_DIR/$(host_triple)/release/netboot-proxy}
  if [ ! -x "$bin" ]; then
    (cd "$REPO" && heavy cargo build --locked --release --target "$(host_triple)" -p netboot-proxy)
  fi
  work=$(mktemp -d "/tmp/netboot-$1.XXXXXX")
  proxy_pid=
  ORIGIN_PID=
  trap measure_cleanup EXIT
}

measure_cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  [ -n "$ORIGIN_PID" ] && kill "$ORIGIN_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
