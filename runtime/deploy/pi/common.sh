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

# The emulated-run environment for one target: cargo runs test binaries through
# qemu-user (CARGO_TARGET_<TRIPLE>_RUNNER), and QEMU_LD_PREFIX lets the target's binaries
# that the tests start themselves (netboot-proxy, netboot-serve), which the kernel hands to
# qemu through binfmt_misc, find the target's dynamic loader and libc.
emulation_env() {
  local t=$1 up gnu qemu
  up=$(tr 'a-z-' 'A-Z_' <<<"$t")
  gnu=$(gnu_triple "$t")
  qemu=$(qemu_arch "$t")
  export "CARGO_TARGET_${up}_RUNNER=qemu-${qemu}-static -L /usr/${gnu}"
  export QEMU_LD_PREFIX=/usr/$gnu
}

# binfmt_misc registration of qemu-user for one target, so that a target binary started by
# an emulated test (execve) runs under qemu too. Debian's qemu-user-static ships the
# registrations (/usr/lib/binfmt.d, /usr/share/binfmts); systemd-binfmt loads them at boot
# where systemd runs, binfmt-support's update-binfmts otherwise. Needs root and a kernel
# with binfmt_misc (any Debian/Ubuntu kernel; a container needs --privileged).
binfmt_setup() {
  local qemu
  qemu=$(qemu_arch "$1")
  apt_install qemu-user-static binfmt-support
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || die "cannot mount binfmt_misc (an unprivileged container?): the proxy's integration tests start target binaries, which needs qemu-$qemu registered there"
  fi
  if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$qemu" ]; then
    log "registering qemu-$qemu with binfmt_misc"
    as_root update-binfmts --enable "qemu-$qemu" \
      || die "update-binfmts --enable qemu-$qemu failed"
  fi
  grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$qemu" \
    || die "binfmt_misc has qemu-$qemu but it is disabled (echo 1 > /proc/sys/fs/binfmt_misc/qemu-$qemu)"
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
