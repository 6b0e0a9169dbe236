#!/usr/bin/env bash
# LAN boot matrix: QEMU guests (TCG) network-boot on a test LAN built from Linux network
# namespaces, through the real home-router DHCP (Debian's dnsmasq, configured by
# `netbootc dhcp-config`), netboot-proxy on a "Pi" and netboot-serve on an "origin" behind
# the router, with mutual TLS between them.
#
#   <p>origin  198.51.100.10  netboot-serve :8443 (via-proxy bundle), :9443 (direct bundle)
#      | wan
#   <p>router  198.51.100.1 / 192.168.77.1   dnsmasq: DHCP + the site's PXE options, RA
#      | home 1: bridge br0 in <p>lan, one tap per guest
#   <p>pi      192.168.77.2   netboot-proxy: TFTP :69, LAN HTTP :8080 (mTLS to the origin)
#   home 2 (rows 10, 11): bridge br1, <p>router2 192.168.77.1 (addresses only, no boot
#   options), <p>pi2 192.168.77.2: netboot-proxy with --proxy-dhcp (uplink to the origin)
#   guests     by DHCP: 192.168.77.20-… fixed per MAC, the pool 192.168.77.100-199 otherwise
#
# Rows (each checked on the guest's serial console and the servers' logs):
#   0  the router config: `netbootc dhcp-config --format dnsmasq` included by the router,
#      `dnsmasq --test`, a DHCP probe per client class (busybox udhcpc sending option 93 /
#      user-class like each firmware), and the files it names exist on the Pi
#   1  BIOS (SeaBIOS), the NIC's iPXE option ROM (Debian's ipxe-qemu) → Linux
#   2  BIOS, a PXE ROM that is not iPXE (stand-in, lan/standin-pxe.ipxe) → TFTP
#      undionly.kpxe (Debian's ipxe) → iPXE → Linux
#   3  UEFI x86_64 (OVMF), the firmware's PXE → TFTP snponly.efi (Debian) → Linux
#   4  UEFI arm64 (AAVMF), the firmware's PXE → TFTP snp-arm64.efi (iPXE 2.0.0 built here)
#      → arm64 Linux
#   5  direct: iPXE 2.0.0 x86_64 EFI with dev-certs' CA and RSA client certificate and the
#      `netbootc ipxe-bootstrap` script built in, on an EFI disk (a "USB stick"), boots from
#      netboot-serve over HTTPS with mutual TLS, no proxy
#   6  an unregistered MAC gets machines/unknown.ipxe
#   7  local disk: machines with `boot "local"` (netbootc's local.ipxe.j2) boot their disk:
#      sanboot on SeaBIOS (ROM and undionly.kpxe), OVMF (iPXE 2.0.0), AAVMF; on OVMF with
#      Debian's 2019 iPXE sanboot fails and `exit 1` hands the machine to the boot manager,
#      which reaches the disk after its other network entries
#   8  arch guard: an arm64 guest whose machine has an x86_64 profile gets netbootc's
#      console message, no kernel, and is sent back to the dispatcher 60 s later
#   9  UEFI HTTP Boot (PXE off): OVMF and AAVMF fetch snponly.efi / snp-arm64.efi from the
#      Pi's LAN HTTP (DHCP arch 16 / 19, option 60 HTTPClient) → iPXE → Linux
#  10  proxyDHCP, BIOS: home 2's router hands out addresses only; the stand-in PXE ROM gets
#      undionly.kpxe from netboot-proxy's proxyDHCP, iPXE gets boot.ipxe from it → Linux
#  11  proxyDHCP, UEFI x86_64: OVMF's PXE gets snponly.efi from proxyDHCP → iPXE → Linux
#  12  provisioning files: BIOS guests on virtio-net (Debian's efi-virtio.rom) boot Linux
#      through the Pi; its initramfs loads the kernel's virtio modules (from the kernel's own
#      Debian package), takes a lease and fetches the machine's own files from the Pi, as
#      the command line names them: an Ignition config (ignition.config.url=), a NoCloud
#      seed (ds=nocloud;s=: meta-data, user-data; network-config and vendor-data are 404)
# The simulator agrees with the real iPXE (rows 1-4, 6, 8-12): after the guests ran,
# `netbootc simulate <machine|MAC> --firmware <class> --ipxe <build> --bundle <out>` for each
# guest, with its firmware class and iPXE build (Debian's 2019 ROM, undionly.kpxe and
# snponly.efi: debian-2019; the arm64 snp.efi built here: 2.0); its fetches (path and
# status, in order) must be the requests the Pi logged from the guest, from its first
# GET /boot.ipxe to the kernel boot (the OS's own requests after it, row 12's, set aside as
# its console lists them), and its verdict the row's (Linux as configured; row 6: the loop
# through machines/unknown.ipxe; row 8: the arch guard's loop, exit 1); Linux's command line
# is the predicted one. No retry, duplicate or HEAD is forgiven (lan/README.md).
# Boot status (rows 1-4, 6, 9, 12): `netbootc status --proxy` (the Pi's GET /status joined
# with the fleet) says each guest that booted Linux is done, lists row 6's unregistered MAC
# with a KDL stanza to paste, and exits 1 because of it.
# --explore adds guests for `exit` as a local-boot method (see lan/README.md).
#
# Usage: bash runtime/e2e/lan-boot.sh [--rows 0,1,...] [--explore] [--jobs N] [--keep]
#   --rows LIST  only these rows (default: 0-12)
#   --explore    also run the `exit` experiments (slow on UEFI: several minutes)
#   --jobs N     guests booting at once (default 3; LAN_JOBS)
#   --keep       keep the work directory (logs, bundles, certificates) after a pass
# Environment: LAN_BIN_DIR (use netbootc, netboot-serve and netboot-proxy from there, no
# cargo build: .ci/test passes the test build's target/debug), else CARGO_TARGET_DIR is
# honoured (cargo build, binaries from its debug/); LAN_PREFIX (namespace name prefix,
# default nbl<pid>-), E2E_WORK (work directory, kept), IPXE_TARBALL (iPXE source; default
# ../shared/vendor/ipxe-2.0.0.tar.xz), XDG_CACHE_HOME.
#
# Run as root (namespaces, taps, DHCP and TFTP ports). Installs its Debian packages itself
# (one apt-get update first, QEMU from bookworm-backports on bookworm), caches kernels and
# iPXE builds under ${XDG_CACHE_HOME:-~/.cache}/netboot-e2e/, removes every namespace, link
# and process it made (also on failure and Ctrl-C), prints PASS/FAIL per check and a
# summary with each guest's boot time, and exits non-zero on any failure.
set -euo pipefail

E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E/../.." && pwd)
LAN_DIR=$E2E/lan
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/netboot-e2e
ROWS="0 1 2 3 4 5 6 7 8 9 10 11 12" EXPLORE=0 KEEP=0 JOBS=${LAN_JOBS:-3}
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$(tr ',' ' ' <<<"${2:?--rows needs a list}"); shift ;;
    --explore) EXPLORE=1 ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lan-boot.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
want_row() { [[ " $ROWS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- reporting
FAILED=0
declare -A ROW_FAILS=() ROW_CHECKS=()
say() { printf '== %s\n' "$*"; }
pass() { local row=$1; shift; ROW_CHECKS[$row]=$((${ROW_CHECKS[$row]:-0} + 1)); printf 'PASS [row %s] %s\n' "$row" "$*"; }
fail() {
  local row=$1; shift
  ROW_CHECKS[$row]=$((${ROW_CHECKS[$row]:-0} + 1)); ROW_FAILS[$row]=$((${ROW_FAILS[$row]:-0} + 1))
  FAILED=1; printf 'FAIL [row %s] %s\n' "$row" "$*"
}
die() { printf 'FAIL: %s\n' "$*"; FAILED=1; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: the test LAN needs network namespaces, taps and port 69"

# ---------------------------------------------------------------- cleanup
PIDS=()          # servers, by PID
WORK=""
GUEST_PIDS_DIR=""
source "$LAN_DIR/net.sh"
source "$LAN_DIR/router-dnsmasq.sh"
# shellcheck disable=SC2034 # read by ipxe-build.sh
IPXE_E2E_DIR=$LAN_DIR IPXE_CACHE_ROOT=$CACHE
source "$LAN_DIR/ipxe-build.sh"

stop_pids() { # PID...: TERM, up to 5 s to exit, then KILL (only these PIDs)
  local pid deadline
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 5))
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$? pids=() f
  trap - EXIT INT TERM HUP
  set +e
  # Guest runners and their QEMUs (each runner records its QEMU's PID), then the servers.
  if [ -n "$GUEST_PIDS_DIR" ] && [ -d "$GUEST_PIDS_DIR" ]; then
    for f in "$GUEST_PIDS_DIR"/*; do [ -f "$f" ] && pids+=($(cat "$f")); done
  fi
  pids+=("${RUNNER_PIDS[@]}" "${PIDS[@]}")
  [ ${#pids[@]} -eq 0 ] || stop_pids "${pids[@]}"
  lan_down
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$FAILED" = 0 ] && [ "$KEEP" = 0 ] && [ -z "${E2E_WORK:-}" ]; then rm -rf "$WORK"
    else echo "logs and work files: $WORK/logs (serial consoles, servers, dnsmasq), $WORK"; fi
  fi
  [ "$FAILED" = 0 ] || [ $rc -ne 0 ] || rc=1
  exit $rc
}
RUNNER_PIDS=()
trap cleanup EXIT
trap 'FAILED=1; echo "interrupted: cleaning up"; exit 130' INT TERM HUP

# ---------------------------------------------------------------- packages
APT_UPDATED=0
apt_update_once() { # the host's apt lists, refreshed at most once per run
  [ $APT_UPDATED = 1 ] && return 0
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && APT_UPDATED=1
}
install_packages() {
  local base=(ipxe-qemu ipxe ovmf qemu-efi-aarch64 dnsmasq-base busybox-static
    gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu gcc libc6-dev make perl liblzma-dev mtools
    curl python3 iproute2 openssl xz-utils binutils tcpdump)
  local qemu=(qemu-system-x86 qemu-system-arm) missing_base=() missing_qemu=() pkg
  installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
  for pkg in "${base[@]}"; do installed "$pkg" || missing_base+=("$pkg"); done
  for pkg in "${qemu[@]}"; do installed "$pkg" || missing_qemu+=("$pkg"); done
  [ ${#missing_base[@]} -eq 0 ] && [ ${#missing_qemu[@]} -eq 0 ] && return 0
  local target=()
  read -r -a target <<<"$(qemu_apt_target)"
  say "installing ${missing_base[*]} ${missing_qemu[*]}"
  apt_update_once
  if [ ${#missing_qemu[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${target[@]}" "${missing_qemu[@]}" >/dev/null
  fi
  if [ ${#missing_base[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing_base[@]}" >/dev/null
  fi
}

# ---------------------------------------------------------------- kernels (cached)
# Debian's cloud kernels: x86_64 from the host's apt; arm64 through a private apt state
# (its own sources list, lists, status and archive directories under the cache) with
# APT::Architecture=arm64, so the host's apt configuration and dpkg architectures are left
# untouched. Only ./boot/vmlinuz-* (and busybox from busybox-static) is extracted.
APT_ARM64=$CACHE/apt-arm64
apt_arm64() {
  apt-get -q -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
    -o Dir::State::Lists="$APT_ARM64/lists" -o Dir::State::status="$APT_ARM64/status" \
    -o Dir::Cache="$APT_ARM64/cache" -o Dir::Cache::archives="$APT_ARM64/archives" \
    -o Dir::Etc::SourceList="$APT_ARM64/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
    -o Dir::Etc::Preferences=/nonexistent -o Dir::Etc::PreferencesParts=/nonexistent \
    -o APT::Sandbox::User=root -o Acquire::Languages=none "$@"
}
apt_arm64_ready() {
  [ -f "$APT_ARM64/updated" ] && return 0
  mkdir -p "$APT_ARM64/lists/partial" "$APT_ARM64/cache" "$APT_ARM64/archives/partial"
  : >"$APT_ARM64/status"
  local suite
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  printf 'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' "$suite" \
    "$suite-updates" >"$APT_ARM64/sources.list"
  printf 'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security %s-security main\n' \
    "$suite" >>"$APT_ARM64/sources.list"
  say "arm64 package lists (once, private apt state in $APT_ARM64)" >&2
  apt_arm64 update >"$APT_ARM64/update.log" 2>&1 || { tail -5 "$APT_ARM64/update.log" >&2; return 1; }
  touch "$APT_ARM64/updated"
}
# fetch_from_deb ARCH META MEMBER OUT: extracts MEMBER (a tar wildcard) of the package META
# depends on (or of META itself) into OUT, once.
fetch_from_deb() {
  local arch=$1 meta=$2 member=$3 out=$4 pkg dir
  [ -s "$out" ] && return 0
  local aptc=(apt-cache) aptg=(apt-get -q -o APT::Sandbox::User=root)
  if [ "$arch" = arm64 ]; then apt_arm64_ready || return 1; aptc=(apt_arm64_cache); aptg=(apt_arm64); fi
  if [ "$arch" = amd64 ] && ! apt-cache show "$meta" >/dev/null 2>&1; then
    apt_update_once >&2 || return 1   # a machine whose apt lists were never fetched
  fi
  pkg=$("${aptc[@]}" depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$pkg" ] || pkg=$meta
  dir=$(mktemp -d "$CACHE/deb.XXXXXX")
  say "downloading $pkg ($arch; once, cached in $CACHE)" >&2
  (cd "$dir" && "${aptg[@]}" download "$pkg" >/dev/null 2>&1 &&
    dpkg-deb --fsys-tarfile ./*.deb | tar -x --wildcards -O "$member" >"$out.tmp") ||
    { rm -rf "$dir" "$out.tmp"; echo "cannot fetch $member from $pkg ($arch)" >&2; return 1; }
  rm -rf "$dir"
  [ -s "$out.tmp" ] && mv "$out.tmp" "$out"
}
# bzimage_release BZIMAGE → "<kernel release> <Debian package version>" from the version
# string in the bzImage's setup header ("6.1.0-57-cloud-amd64 (debian-kernel@…) #1 SMP …
# Debian 6.1.192-3 (…)"); the second word is empty if the string names no Debian version.
bzimage_release() {
  python3 - "$1" <<'EOF'
import re, struct, sys
d = open(sys.argv[1], "rb").read(0x10000)
if d[0x202:0x206] != b"HdrS":
    sys.exit(1)
s = d[struct.unpack_from("<H", d, 0x20E)[0] + 0x200:][:256].split(b"\0")[0].decode("ascii", "replace")
m = re.search(r" Debian (\S+) ", s)
print(s.split()[0], m.group(1) if m else "")
EOF
}
# The virtio NIC modules of the x86_64 kernel (row 12's guests load them from their
# initramfs), cached in $KDIR/modules-<release>_<version>/ with the sha256 of the vmlinuz of
# the same package, so they are only used with that very kernel:
#   <name>.ko          uncompressed (busybox insmod loads plain .ko)
#   modules.builtin    the package's list of built-in drivers
#   vmlinuz.sha256     the package's ./boot/vmlinuz-<release>
#   package            which package and version they came from
# kernel_deb_extract PKG[=VERSION] DIR: the package's vmlinuz (DIR/vmlinuz) and modules
# (NET_INITRAMFS_MODULES of common.sh, decompressed, DIR/<name>.ko) and modules.builtin,
# from one downloaded deb.
kernel_deb_extract() {
  local pkg=$1 dir=$2 tmp members re ko name
  tmp=$(mktemp -d "$CACHE/deb.XXXXXX")
  say "downloading $pkg (amd64; kernel and virtio modules, once, cached in $KDIR)" >&2
  if ! (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >"$tmp/apt.log" 2>&1); then
    echo "cannot download $pkg: $(tail -n1 "$tmp/apt.log")" >&2; rm -rf "$tmp"; return 1
  fi
  # bookworm's packages have ./lib/modules/, later ones ./usr/lib/modules/.
  re="^\./boot/vmlinuz-[^/]+\$|^\./(usr/)?lib/modules/[^/]+/(modules\.builtin|kernel/.*/($(tr ' ' '|' <<<"$NET_INITRAMFS_MODULES"))\.ko(\.xz|\.zst|\.gz)?)\$"
  mkdir -p "$tmp/x" "$dir"
  # shellcheck disable=SC2086 # $members: one path a word, none with blanks
  if ! members=$(dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -t | grep -E "$re") ||
    ! dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp/x" $members; then
    echo "cannot extract the kernel and modules from $pkg" >&2; rm -rf "$tmp"; return 1
  fi
  while read -r ko; do
    name=$(basename "$ko"); name=${name%%.ko*}
    case $ko in
      *.ko.xz) xz -dc "$tmp/x/$ko" ;;
      *.ko.zst) command -v zstd >/dev/null || { echo "$ko is zstd-compressed: install zstd" >&2; rm -rf "$tmp"; return 1; }
                zstd -qdc "$tmp/x/$ko" ;;
      *.ko.gz) gzip -dc "$tmp/x/$ko" ;;
      *) cat "$tmp/x/$ko" ;;
    esac >"$dir/$name.ko" || { rm -rf "$tmp"; return 1; }
  done < <(grep -E '\.ko(\.xz|\.zst|\.gz)?$' <<<"$members")
  if ! cp "$tmp"/x/boot/vmlinuz-* "$dir/vmlinuz" ||
    ! cp "$(find "$tmp/x" -path '*/modules/*/modules.builtin' | head -n1)" "$dir/modules.builtin"; then
    echo "no vmlinuz or modules.builtin in $pkg" >&2; rm -rf "$tmp"; return 1
  fi
  basename "$tmp"/*.deb >"$dir/package"
  rm -rf "$tmp"
}
# fetch_x64_modules: the modules directory for $KDIR/vmlinuz-cloud-amd64 (printed). The
# cached vmlinuz names its release and Debian version; the package of exactly that version
# gives the modules, and its vmlinuz must be the cached one byte for byte. If that cannot be
# established (an unversioned or unknown kernel, a version no longer in the archive), the
# kernel and the modules are both fetched again from the package linux-image-cloud-amd64
# depends on now, and vmlinuz-cloud-amd64 is replaced by that package's.
fetch_x64_modules() {
  local vmlinuz=$KDIR/vmlinuz-cloud-amd64 rel ver dir tmp pkg
  read -r rel ver <<<"$(bzimage_release "$vmlinuz" 2>/dev/null)" || true
  dir=$KDIR/modules-${rel}_$ver
  if [ -n "$rel" ] && [ -n "$ver" ]; then
    if [ -f "$dir/vmlinuz.sha256" ] && [ "$(cat "$dir/vmlinuz.sha256")" = "$(sha256sum "$vmlinuz" | cut -d' ' -f1)" ]; then
      echo "$dir"; return 0
    fi
    tmp=$(mktemp -d "$KDIR/modules.XXXXXX")
    if kernel_deb_extract "linux-image-$rel=$ver" "$tmp" && cmp -s "$tmp/vmlinuz" "$vmlinuz"; then
      sha256sum "$tmp/vmlinuz" | cut -d' ' -f1 >"$tmp/vmlinuz.sha256"; rm -f "$tmp/vmlinuz"
      rm -rf "$dir"; mv "$tmp" "$dir"; echo "$dir"; return 0
    fi
    rm -rf "$tmp"
  fi
  say "the cached vmlinuz-cloud-amd64 (${rel:-no release} ${ver:-no Debian version}) cannot be tied to a modules package: fetching the kernel and its modules again, from one package" >&2
  apt_update_once >&2 || return 1
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$pkg" ] || { echo "linux-image-cloud-amd64 depends on no linux-image-* package" >&2; return 1; }
  tmp=$(mktemp -d "$KDIR/modules.XXXXXX")
  kernel_deb_extract "$pkg" "$tmp" || { rm -rf "$tmp"; return 1; }
  read -r rel ver <<<"$(bzimage_release "$tmp/vmlinuz")" || true
  if [ -z "$rel" ] || [ -z "$ver" ]; then echo "$pkg's vmlinuz names no release and Debian version" >&2; rm -rf "$tmp"; return 1; fi
  dir=$KDIR/modules-${rel}_$ver
  sha256sum "$tmp/vmlinuz" | cut -d' ' -f1 >"$tmp/vmlinuz.sha256"
  mv "$tmp/vmlinuz" "$vmlinuz.tmp" && mv "$vmlinuz.tmp" "$vmlinuz"
  rm -rf "$dir"; mv "$tmp" "$dir"; echo "$dir"
}
apt_arm64_cache() {
  apt-cache -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
    -o Dir::State::Lists="$APT_ARM64/lists" -o Dir::State::status="$APT_ARM64/status" \
    -o Dir::Cache="$APT_ARM64/cache" -o Dir::Etc::SourceList="$APT_ARM64/sources.list" \
    -o Dir::Etc::SourceParts=/nonexistent "$@"
}

# shellcheck source=common.sh
source "$E2E/common.sh"

# ---------------------------------------------------------------- setup
START=$SECONDS
install_packages
for tool in qemu-system-x86_64 qemu-system-aarch64 dnsmasq busybox curl python3 mformat ip tcpdump; do
  command -v "$tool" >/dev/null || die "$tool not found after installing packages"
done
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
AAVMF_CODE=/usr/share/AAVMF/AAVMF_CODE.fd AAVMF_VARS=/usr/share/AAVMF/AAVMF_VARS.fd
ROM=/usr/lib/ipxe/qemu/efi-e1000.rom VIRTIO_ROM=/usr/lib/ipxe/qemu/efi-virtio.rom
for f in "$OVMF_CODE" "$OVMF_VARS" "$AAVMF_CODE" "$AAVMF_VARS" "$ROM" "$VIRTIO_ROM" \
  /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi; do
  [ -f "$f" ] || die "$f missing (packages ovmf, qemu-efi-aarch64, ipxe-qemu, ipxe)"
done

if [ -n "${LAN_BIN_DIR:-}" ]; then
  BIN=$(cd "$LAN_BIN_DIR" && pwd) || die "LAN_BIN_DIR=$LAN_BIN_DIR is not a directory"
else
  say "building netbootc, netboot-serve, netboot-proxy"
  (cd "$REPO" && nice -n 10 cargo build --locked -q -p netbootc -p netboot-serve -p netboot-proxy) ||
    die "cargo build"
  BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug"
  case "$BIN" in /*) ;; *) BIN="$REPO/$BIN" ;; esac
fi
for b in netbootc netboot-serve netboot-proxy; do [ -x "$BIN/$b" ] || die "$BIN/$b missing"; done

if [ -n "${E2E_WORK:-}" ]; then
  [ ! -e "$E2E_WORK" ] || [ -z "$(ls -A "$E2E_WORK")" ] || die "E2E_WORK=$E2E_WORK is not empty"
  mkdir -p "$E2E_WORK"; WORK=$(cd "$E2E_WORK" && pwd)
else WORK=$(mktemp -d /tmp/netboot-lan.XXXXXX); fi
LOGS=$WORK/logs GUEST_PIDS_DIR=$WORK/guest-pids RESULTS=$WORK/results
mkdir -p "$LOGS" "$GUEST_PIDS_DIR" "$RESULTS" "$WORK/vars" "$CACHE"

say "kernels and iPXE builds (cached in $CACHE)"
KDIR=$CACHE/kernels
mkdir -p "$KDIR"
fetch_from_deb amd64 linux-image-cloud-amd64 './boot/vmlinuz-*' "$KDIR/vmlinuz-cloud-amd64" || die "no x86_64 kernel"
fetch_from_deb arm64 linux-image-cloud-arm64 './boot/vmlinuz-*' "$KDIR/vmlinuz-cloud-arm64" || die "no arm64 kernel"
fetch_from_deb arm64 busybox-static './bin/busybox' "$KDIR/busybox-arm64" || die "no arm64 busybox"
if want_row 12; then
  MODS_X64=$(fetch_x64_modules) || die "no virtio modules for the x86_64 kernel"
  say "x86_64 kernel $(bzimage_release "$KDIR/vmlinuz-cloud-amd64"), modules from $(cat "$MODS_X64/package")"
fi
IPXE_ARM64=$(ipxe_build arm64-snp) || die "iPXE arm64 build"
IPXE_X64_NEW=$(ipxe_build x86_64-snponly) || die "iPXE x86_64 EFI build"
STANDIN_ROM=$(ipxe_build standin-rom) || die "stand-in PXE ROM build"
SETUP_DONE=$SECONDS

# ---------------------------------------------------------------- guests (declarations)
# One line per guest: name row firmware mac boot disk limit marker failure-marker [lan]
#   firmware: bios | ovmf | aavmf
#   boot:     the NIC's boot ROM: rom (Debian's iPXE option ROM), virtio-rom (BIOS only: a
#             virtio-net NIC, modern-only, with Debian's iPXE ROM for it), standin (the PXE stand-in),
#             pxe (the firmware's own PXE: romfile= empty), http (the firmware's UEFI HTTP
#             Boot: PXE switched off with OVMF's/AAVMF's fw_cfg knobs), none (disk only)
#   disk:     - | bios | efi-x86_64 | efi-arm64 | direct
#   limit:    seconds until the runner gives up waiting for the marker
#   lan:      1 (home 1: the router with PXE options, default) | 2 (home 2: proxyDHCP)
declare -A G_ROW G_FW G_MAC G_BOOT G_DISK G_LIMIT G_MARK G_FAILMARK G_TAP G_LAN G_COUNT
GUESTS=()
guest() {
  local n=$1
  GUESTS+=("$n"); G_ROW[$n]=$2 G_FW[$n]=$3 G_MAC[$n]=$4 G_BOOT[$n]=$5 G_DISK[$n]=$6 G_LIMIT[$n]=$7
  G_MARK[$n]=$8 G_FAILMARK[$n]=${9:-} G_LAN[$n]=${10:-1} G_COUNT[$n]=1
  G_TAP[$n]=tap${#GUESTS[@]}
}
OS_MARK="NETBOOT-E2E: the OS started"
BOOT_FAIL='boot failed \(error|Kernel panic|giving up after'
LOCAL_FAIL='the local disk did not boot'
PROV_MARK="NETBOOT-E2E: provisioning done" PROV_FAIL="NETBOOT-E2E: provisioning failed"
GUARD_MARK="netbootc: r8-guard-arm64: profile linux-x86_64 needs an x86_64 machine, but this iPXE is arm64 (efi)"
MAC_PROBE_OVERRIDE=52:54:00:1a:01:f0
# Longest first: the pool starts them in this order.
guest r7-local-ovmf-debian 7 ovmf 52:54:00:1a:00:75 pxe    efi-x86_64 300 "LOCAL-DISK-EFI: x86_64" ""
guest r8-guard-arm64     8 aavmf 52:54:00:1a:00:81 pxe     -          300 "$GUARD_MARK" "$BOOT_FAIL|netbootc: r8-guard-arm64: booting"
G_COUNT[r8-guard-arm64]=2   # the message again after the 60 s retry through the dispatcher
guest r4-uefi-arm64      4 aavmf 52:54:00:1a:00:04 pxe     -          420 "$OS_MARK" "$BOOT_FAIL"
guest r5-direct-https    5 ovmf  52:54:00:1a:00:05 none    direct     360 "$OS_MARK" "$BOOT_FAIL|cannot boot from https"
guest r3-uefi-x86_64     3 ovmf  52:54:00:1a:00:03 pxe     -          360 "$OS_MARK" "$BOOT_FAIL"
guest r11-pdhcp-uefi    11 ovmf  52:54:00:1a:00:b1 pxe     -          360 "$OS_MARK" "$BOOT_FAIL" 2
guest r9-http-arm64      9 aavmf 52:54:00:1a:00:92 http    -          420 "$OS_MARK" "$BOOT_FAIL"
guest r9-http-x86_64     9 ovmf  52:54:00:1a:00:91 http    -          360 "$OS_MARK" "$BOOT_FAIL"
guest r7-local-aavmf     7 aavmf 52:54:00:1a:00:74 pxe     efi-arm64  240 "LOCAL-DISK-EFI: arm64" "$LOCAL_FAIL"
guest r7-local-ovmf      7 ovmf  52:54:00:1a:00:73 pxe     efi-x86_64 240 "LOCAL-DISK-EFI: x86_64" "$LOCAL_FAIL"
guest r2-bios-undionly   2 bios  52:54:00:1a:00:02 standin -          240 "$OS_MARK" "$BOOT_FAIL"
guest r10-pdhcp-bios    10 bios  52:54:00:1a:00:a1 standin -          240 "$OS_MARK" "$BOOT_FAIL" 2
guest r1-bios-rom        1 bios  52:54:00:1a:00:01 rom     -          240 "$OS_MARK" "$BOOT_FAIL"
guest r12-prov-ignition 12 bios  52:54:00:1a:00:c1 virtio-rom -       240 "$PROV_MARK" "$BOOT_FAIL|$PROV_FAIL"
guest r12-prov-nocloud  12 bios  52:54:00:1a:00:c2 virtio-rom -       240 "$PROV_MARK" "$BOOT_FAIL|$PROV_FAIL"
guest r7-local-bios-undionly 7 bios 52:54:00:1a:00:72 standin bios    180 "LOCAL-DISK-BIOS" "$LOCAL_FAIL"
guest r7-local-bios-rom  7 bios  52:54:00:1a:00:71 rom     bios       180 "LOCAL-DISK-BIOS" "$LOCAL_FAIL"
guest r6-unknown-mac     6 bios  52:54:00:1a:00:99 rom     -          180 "netbootc: add it to machines" ""

if [ $EXPLORE = 1 ]; then
  # `exit` from a machine script, through the real dispatcher (bios: with --replace, iPXE
  # ends and SeaBIOS boots the disk); and `exit 1` / `exit` as the top-level script: the
  # router hands those MACs http://<pi>:8080/tftp/exit-1.ipxe (or exit-0.ipxe) instead of
  # boot.ipxe.
  guest x-exit-dispatcher-bios 7 bios 52:54:00:1a:00:e1 rom  bios       120 "LOCAL-DISK-BIOS" "netbootc: this machine is not registered"
  guest x-exit1-bios       7 bios  52:54:00:1a:00:e2 rom     bios       120 "LOCAL-DISK-BIOS" ""
  guest x-exit1-ovmf-debian 7 ovmf 52:54:00:1a:00:e3 pxe     efi-x86_64 400 "LOCAL-DISK-EFI: x86_64" ""
  guest x-exit1-ovmf       7 ovmf  52:54:00:1a:00:e4 pxe     efi-x86_64 400 "LOCAL-DISK-EFI: x86_64" ""
  guest x-exit1-aavmf      7 aavmf 52:54:00:1a:00:e5 pxe     efi-arm64  400 "LOCAL-DISK-EFI: arm64" ""
  guest x-exit0-ovmf-debian 7 ovmf 52:54:00:1a:00:e6 pxe     efi-x86_64 300 "UiApp" "LOCAL-DISK-EFI"
fi
SELECTED=()
for g in "${GUESTS[@]}"; do want_row "${G_ROW[$g]}" && SELECTED+=("$g"); done
LAN2=0
if want_row 10 || want_row 11; then LAN2=1; fi

# ---------------------------------------------------------------- images and disks
IMAGES=$WORK/fleet/profiles/images
mkdir -p "$WORK/fleet/machines" "$WORK/fleet/profiles/templates" "$IMAGES/boot" \
  "$WORK/fleet-direct/machines" "$WORK/fleet-direct/profiles/images" "$WORK/disks"
cp "$KDIR/vmlinuz-cloud-amd64" "$IMAGES/vmlinuz-x86_64"
cp "$KDIR/vmlinuz-cloud-arm64" "$IMAGES/vmlinuz-arm64"
make_initramfs "$(command -v busybox)" "$IMAGES/initrd-x86_64.cpio.gz"
make_initramfs "$KDIR/busybox-arm64" "$IMAGES/initrd-arm64.cpio.gz"
if want_row 12; then
  make_net_initramfs "$(command -v busybox)" "$MODS_X64" "$IMAGES/initrd-prov-x86_64.cpio.gz" 2>"$LOGS/initrd-prov.log" ||
    { cat "$LOGS/initrd-prov.log"; die "row 12's initramfs"; }
fi
cp /usr/lib/ipxe/undionly.kpxe "$IMAGES/boot/undionly.kpxe"
cp /usr/lib/ipxe/snponly.efi "$IMAGES/boot/snponly.efi"
cp "$IPXE_ARM64" "$IMAGES/boot/snp-arm64.efi"
cp "$IPXE_X64_NEW" "$IMAGES/boot/snponly-2.0.0.efi"
cat >"$IMAGES/boot/exit-1.ipxe" <<'EOS'
#!ipxe
# LAN boot matrix, --explore: the top-level script ends with an error, so iPXE gives up and
# returns an error to whatever loaded it (BIOS: the next boot device; UEFI: the boot
# manager goes on to the next Boot#### option).
echo LANTEST-LOCALBOOT ${mac:hexhyp}: exit 1 (top-level script)
exit 1
EOS
cat >"$IMAGES/boot/exit-0.ipxe" <<'EOS'
#!ipxe
# LAN boot matrix, --explore: the top-level script exits with success: UEFI's boot manager
# then shows its menu (UiApp) instead of trying the next boot option.
echo LANTEST-LOCALBOOT ${mac:hexhyp}: exit (top-level script)
exit
EOS
sha() { sha256sum "$1" | cut -d' ' -f1; }
python3 "$LAN_DIR/make-disks.py" bios "$WORK/disks/bios.img" "LOCAL-DISK-BIOS: the boot sector on the local disk ran" ||
  die "BIOS disk image"
python3 "$LAN_DIR/make-disks.py" efi-app x86_64 "$WORK/disks/local-x86_64.efi" "LOCAL-DISK-EFI: x86_64 app on the local disk ran" &&
  python3 "$LAN_DIR/make-disks.py" esp "$WORK/disks/efi-x86_64.img" "$WORK/disks/local-x86_64.efi" BOOTX64.EFI ||
  die "x86_64 EFI disk image"
python3 "$LAN_DIR/make-disks.py" efi-app arm64 "$WORK/disks/local-arm64.efi" "LOCAL-DISK-EFI: arm64 app on the local disk ran" &&
  python3 "$LAN_DIR/make-disks.py" esp "$WORK/disks/efi-arm64.img" "$WORK/disks/local-arm64.efi" BOOTAA64.EFI ||
  die "arm64 EFI disk image"

# ---------------------------------------------------------------- the fleets
ORIGIN_PORT=8443 DIRECT_PORT=9443 PROXY_HTTP=http://$LAN_PI:8080
# The proxy's admin listener (/status, /metrics): its default, loopback of the Pi's namespace.
PROXY_ADMIN=http://127.0.0.1:9180
"$BIN/netbootc" dev-certs "$WORK/certs" --san "$WAN_ORIGIN" >"$LOGS/dev-certs.log" 2>&1 || die "netbootc dev-certs"
CERTS=$WORK/certs
cat >"$WORK/fleet/profiles/site.kdl" <<EOS
site {
    origin "https://$WAN_ORIGIN:$ORIGIN_PORT"
    chain "via-proxy" proxy="$PROXY_HTTP"
    mirror #true
    // Served by the Pi over TFTP under these names (and over LAN HTTP at /tftp/<name>).
    // firmware=: the first-stage iPXE of that class (dhcp-config and proxyDHCP hand it out).
    boot-file "undionly.kpxe" path="images/boot/undionly.kpxe" sha256="$(sha "$IMAGES/boot/undionly.kpxe")" firmware="bios"
    boot-file "snponly.efi" path="images/boot/snponly.efi" sha256="$(sha "$IMAGES/boot/snponly.efi")" firmware="uefi-x86_64"
    boot-file "snp-arm64.efi" path="images/boot/snp-arm64.efi" sha256="$(sha "$IMAGES/boot/snp-arm64.efi")" firmware="uefi-arm64"
    // Test-only: iPXE 2.0.0 for x86_64 UEFI (a router override sends it to r7-local-ovmf),
    // and top-level exit scripts for --explore.
    boot-file "snponly-2.0.0.efi" path="images/boot/snponly-2.0.0.efi" sha256="$(sha "$IMAGES/boot/snponly-2.0.0.efi")"
    boot-file "exit-1.ipxe" path="images/boot/exit-1.ipxe" sha256="$(sha "$IMAGES/boot/exit-1.ipxe")"
    boot-file "exit-0.ipxe" path="images/boot/exit-0.ipxe" sha256="$(sha "$IMAGES/boot/exit-0.ipxe")"
}
EOS
cat >"$WORK/fleet/profiles/linux.kdl" <<EOS
profile "linux-x86_64" {
    arch "x86_64"
    kernel path="images/vmlinuz-x86_64" sha256="$(sha "$IMAGES/vmlinuz-x86_64")"
    initrd path="images/initrd-x86_64.cpio.gz" sha256="$(sha "$IMAGES/initrd-x86_64.cpio.gz")"
    cmdline "console=ttyS0 panic=1 netboot.machine={{ machine.name }}"
}
profile "linux-arm64" {
    arch "arm64"
    kernel path="images/vmlinuz-arm64" sha256="$(sha "$IMAGES/vmlinuz-arm64")"
    initrd path="images/initrd-arm64.cpio.gz" sha256="$(sha "$IMAGES/initrd-arm64.cpio.gz")"
    cmdline "console=ttyAMA0 panic=1 netboot.machine={{ machine.name }}"
}
EOS
cat >"$WORK/fleet/machines/matrix.kdl" <<EOS
machine "r1-bios-rom" { mac "${G_MAC[r1-bios-rom]}"; profile "linux-x86_64"; }
machine "r2-bios-undionly" { mac "${G_MAC[r2-bios-undionly]}"; profile "linux-x86_64"; }
machine "r3-uefi-x86_64" { mac "${G_MAC[r3-uefi-x86_64]}"; profile "linux-x86_64"; }
machine "r4-uefi-arm64" { mac "${G_MAC[r4-uefi-arm64]}"; profile "linux-arm64"; }
machine "r7-local-bios-rom" { mac "${G_MAC[r7-local-bios-rom]}"; profile "linux-x86_64"; boot "local"; }
machine "r7-local-bios-undionly" { mac "${G_MAC[r7-local-bios-undionly]}"; profile "linux-x86_64"; boot "local"; }
machine "r7-local-ovmf" { mac "${G_MAC[r7-local-ovmf]}"; profile "linux-x86_64"; boot "local"; }
machine "r7-local-ovmf-debian" { mac "${G_MAC[r7-local-ovmf-debian]}"; profile "linux-x86_64"; boot "local"; }
machine "r7-local-aavmf" { mac "${G_MAC[r7-local-aavmf]}"; profile "linux-arm64"; boot "local"; }
// An arm64 machine given an x86_64 profile by mistake: the built-in arch guard.
machine "r8-guard-arm64" { mac "${G_MAC[r8-guard-arm64]}"; profile "linux-x86_64"; }
machine "r9-http-x86_64" { mac "${G_MAC[r9-http-x86_64]}"; profile "linux-x86_64"; }
machine "r9-http-arm64" { mac "${G_MAC[r9-http-arm64]}"; profile "linux-arm64"; }
machine "r10-pdhcp-bios" { mac "${G_MAC[r10-pdhcp-bios]}"; profile "linux-x86_64"; }
machine "r11-pdhcp-uefi" { mac "${G_MAC[r11-pdhcp-uefi]}"; profile "linux-x86_64"; }
EOS
if [ $EXPLORE = 1 ]; then
  cat >>"$WORK/fleet/profiles/linux.kdl" <<EOS
// --explore: a machine script that just exits.
profile "exit" extends="linux-x86_64" {
    template "templates/exit.ipxe.j2"
}
EOS
  cat >"$WORK/fleet/profiles/templates/exit.ipxe.j2" <<'EOS'
#!ipxe
# LAN boot matrix, --explore: a machine script that hands the machine back with `exit`.
echo LANTEST-LOCALBOOT {{ machine.name }}: exit
exit
EOS
  echo "machine \"x-exit-dispatcher-bios\" { mac \"${G_MAC[x-exit-dispatcher-bios]}\"; profile \"exit\"; }" \
    >>"$WORK/fleet/machines/matrix.kdl"
fi
if want_row 12; then
  # Row 12: per-machine provisioning files, compiled into the bundle from templates and
  # named on the kernel command line; the OS (make_net_initramfs) fetches them through the
  # proxy like Ignition and cloud-init's NoCloud would.
  ssh_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEzWt530P6FU4+9TIWmofaNNLytnYbmljl1LmDEDg1Re e2e@lan-boot"
  cat >"$WORK/fleet/profiles/prov.kdl" <<EOS
profile "prov-ignition" {
    arch "x86_64"
    kernel path="images/vmlinuz-x86_64" sha256="$(sha "$IMAGES/vmlinuz-x86_64")"
    initrd path="images/initrd-prov-x86_64.cpio.gz" sha256="$(sha "$IMAGES/initrd-prov-x86_64.cpio.gz")"
    file "ignition" kind="ignition" template="templates/node.ign.j2"
    cmdline "console=ttyS0 panic=1 netboot.machine={{ machine.name }} ignition.config.url={{ files.ignition.url }}"
}
profile "prov-nocloud" {
    arch "x86_64"
    kernel path="images/vmlinuz-x86_64" sha256="$(sha "$IMAGES/vmlinuz-x86_64")"
    initrd path="images/initrd-prov-x86_64.cpio.gz" sha256="$(sha "$IMAGES/initrd-prov-x86_64.cpio.gz")"
    // NoCloud also asks for vendor-data and network-config: not declared, so 404.
    file "user-data" kind="cloud-config" template="templates/user-data.j2"
    file "meta-data" kind="meta-data" template="templates/meta-data.j2"
    cmdline "console=ttyS0 panic=1 netboot.machine={{ machine.name }} ds=nocloud;s={{ files_url }}"
}
EOS
  cat >"$WORK/fleet/profiles/templates/node.ign.j2" <<EOS
{
  "ignition": { "version": "3.4.0" },
  "passwd": {
    "users": [
      { "name": "core", "sshAuthorizedKeys": ["$ssh_key"] }
    ]
  },
  "storage": {
    "files": [
      {
        "path": "/etc/hostname",
        "mode": 420,
        "overwrite": true,
        "contents": { "source": "data:,{{ machine.name }}%0A" }
      }
    ]
  }
}
EOS
  cat >"$WORK/fleet/profiles/templates/user-data.j2" <<EOS
#cloud-config
hostname: {{ machine.name }}
ssh_authorized_keys:
  - $ssh_key
EOS
  cat >"$WORK/fleet/profiles/templates/meta-data.j2" <<'EOS'
instance-id: {{ machine.name }}
local-hostname: {{ machine.name }}
EOS
  cat >"$WORK/fleet/machines/prov.kdl" <<EOS
machine "r12-prov-ignition" { mac "${G_MAC[r12-prov-ignition]}"; profile "prov-ignition"; }
machine "r12-prov-nocloud" { mac "${G_MAC[r12-prov-nocloud]}"; profile "prov-nocloud"; }
EOS
fi
# The direct-mode site: another config (one site per config), its own bundle and origin port.
DIMAGES=$WORK/fleet-direct/profiles/images
cp "$IMAGES/vmlinuz-x86_64" "$IMAGES/initrd-x86_64.cpio.gz" "$DIMAGES/"
cat >"$WORK/fleet-direct/profiles/site.kdl" <<EOS
site {
    origin "https://$WAN_ORIGIN:$DIRECT_PORT"
    chain "direct"
}
profile "linux-x86_64" {
    arch "x86_64"
    kernel path="images/vmlinuz-x86_64" sha256="$(sha "$DIMAGES/vmlinuz-x86_64")"
    initrd path="images/initrd-x86_64.cpio.gz" sha256="$(sha "$DIMAGES/initrd-x86_64.cpio.gz")"
    cmdline "console=ttyS0 panic=1 netboot.machine={{ machine.name }}"
}
EOS
echo "machine \"r5-direct-https\" { mac \"${G_MAC[r5-direct-https]}\"; profile \"linux-x86_64\"; }" \
  >"$WORK/fleet-direct/machines/direct.kdl"

say "netbootc build + publish (via-proxy and direct)"
for f in fleet fleet-direct; do
  store=store${f#fleet}
  "$BIN/netbootc" build --config "$WORK/$f" -o "$WORK/out${f#fleet}" >"$LOGS/build${f#fleet}.log" 2>&1 ||
    { cat "$LOGS/build${f#fleet}.log"; die "netbootc build ($f)"; }
  "$BIN/netbootc" publish "file://$WORK/$store" --from "$WORK/out${f#fleet}" --yes \
    >"$LOGS/publish${f#fleet}.log" 2>&1 || { cat "$LOGS/publish${f#fleet}.log"; die "netbootc publish ($f)"; }
done

# The direct-mode iPXE: iPXE 2.0.0 x86_64 EFI with dev-certs' CA and RSA client certificate
# and key, and the site's bootstrap script built in; on an EFI disk. CERT= embeds the CA
# too: TRUST= builds in only the root's fingerprint, and netboot-serve sends no root, so
# without the CA's certificate iPXE cannot check the server's signature ("No usable
# certificates", error 0x0216eb8f). runtime/deploy/README.md has the same recipe. The
# server certificate is dev-certs' ECDSA P-256 one: iPXE 2.0.0 validates it.
if want_row 5; then
  "$BIN/netbootc" ipxe-bootstrap --config "$WORK/fleet-direct" -o "$WORK/direct-bootstrap.ipxe" \
    >"$LOGS/ipxe-bootstrap.log" 2>&1 || { cat "$LOGS/ipxe-bootstrap.log"; die "netbootc ipxe-bootstrap"; }
  IPXE_TRUST=$CERTS/ca.pem IPXE_CERT=$CERTS/ca.pem,$CERTS/client-rsa.pem IPXE_PRIVKEY=$CERTS/client-rsa.key \
    IPXE_EMBED=$WORK/direct-bootstrap.ipxe ipxe_build direct-efi "$WORK/disks/direct-ipxe.efi" >/dev/null ||
    die "iPXE direct-mode build"
  python3 "$LAN_DIR/make-disks.py" esp "$WORK/disks/direct.img" "$WORK/disks/direct-ipxe.efi" BOOTX64.EFI ||
    die "direct-mode EFI disk image"
fi

# ---------------------------------------------------------------- the LAN and its servers
say "test LAN: namespaces ${NS_LAN} ${NS_ROUTER} ${NS_PI} ${NS_ORIGIN}$([ $LAN2 = 0 ] || echo " ${NS_ROUTER2} ${NS_PI2}")"
lan_up || die "could not create the test LAN"
[ $LAN2 = 0 ] || lan2_up || die "could not create home 2's LAN"
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
wait_http() { # ns url seconds pid: until the URL answers 200 or the process dies
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$4" 2>/dev/null || return 1
    in_ns "$1" curl -fsS -o /dev/null --max-time 2 "$2" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
wait_log() { # file text seconds pid: until FILE has TEXT or the process dies
  local deadline=$((SECONDS + $3))
  until grep -qF -- "$2" "$1" 2>/dev/null; do
    kill -0 "$4" 2>/dev/null && [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
# Servers are started with `ip netns exec` itself in the background (not through a shell
# function), so that $! is the server's own PID, which the cleanup stops.
serve() { # name bundle port health-port
  local name=$1 bundle=$2 port=$3 health=$4
  ip netns exec "$NS_ORIGIN" "$BIN/netboot-serve" --bundle "file://$WORK/$bundle" --cache-dir "$WORK/$name-cache" \
    --listen "$WAN_ORIGIN:$port" --health-listen "127.0.0.1:$health" \
    --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
    --client-ca "$CERTS/ca.pem" --crl "$CERTS/crl.pem" >"$LOGS/$name.log" 2>&1 &
  PIDS+=($!)
  wait_http "$NS_ORIGIN" "http://127.0.0.1:$health/healthz" 60 $! ||
    { tail -20 "$LOGS/$name.log"; die "$name did not become healthy"; }
}
proxy() { # namespace log-name [more flags]: netboot-proxy on the Pi of that namespace
  local ns=$1 name=$2 pid; shift 2
  ip -n "$ns" link set lo up # the admin listener's loopback
  ip netns exec "$ns" "$BIN/netboot-proxy" --origin "https://$WAN_ORIGIN:$ORIGIN_PORT" \
    --cert "$CERTS/client-ecdsa.pem" --key "$CERTS/client-ecdsa.key" --origin-ca "$CERTS/ca.pem" \
    --tftp-listen "$LAN_PI:69" --http-listen "$LAN_PI:8080" --cache-dir "$WORK/$name-cache" \
    "$@" >"$LOGS/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "$ns" "$PROXY_HTTP/healthz" 60 $pid || { tail -20 "$LOGS/$name.log"; die "$name did not become healthy"; }
}
# dnsmasq as a home router's DHCP server: namespace config log-name
router_dnsmasq() {
  local ns=$1 conf=$2 name=$3 pid
  : >"$WORK/$name.leases"
  ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file="$conf" --log-facility=- \
    --dhcp-leasefile="$WORK/$name.leases" --pid-file="$WORK/$name.pid" >"$LOGS/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_log "$LOGS/$name.log" 'DHCP, IP range' 20 $pid || { cat "$LOGS/$name.log"; die "$name did not start"; }
}
serve serve store "$ORIGIN_PORT" 8081
serve serve-direct store-direct "$DIRECT_PORT" 9081
proxy "$NS_PI" proxy

# Home 1's router: its own LAN part, then the site's part exactly as `netbootc dhcp-config`
# writes it (included as a file, as a router includes a dnsmasq.d file), then the matrix's
# fixed addresses and test overrides.
mkdir -p "$WORK/router"
ROUTER_CONF=$WORK/router/dnsmasq.conf SITE_CONF=$WORK/router/netboot.conf
"$BIN/netbootc" dhcp-config --config "$WORK/fleet" --format dnsmasq -o "$SITE_CONF" >"$LOGS/dhcp-config.log" 2>&1 ||
  { cat "$LOGS/dhcp-config.log"; die "netbootc dhcp-config"; }
# Guests' fixed addresses: 192.168.77.20 + their index, on either LAN.
guest_hosts() { # lan → "MAC IP TAGS" lines of that LAN's guests (not the unknown MAC)
  local i g tags
  for i in "${!GUESTS[@]}"; do
    g=${GUESTS[$i]} tags=""
    [ "$g" != r6-unknown-mac ] && [ "${G_LAN[$g]}" = "$1" ] || continue
    case $g in
      r7-local-ovmf) tags=ipxe-2.0.0 ;;
      x-exit1-ovmf) tags="ipxe-2.0.0 exit-test" ;;
      x-exit1-*) tags=exit-test ;;
      x-exit0-*) tags=exit0-test ;;
    esac
    echo "${G_MAC[$g]} $LAN_NET.$((20 + i)) $tags"
  done
}
{
  router_lan_conf eth0
  router_base_conf "$LAN_NET.100" "$LAN_NET.199" "$LAN_ROUTER"
  echo "# ---- netboot site: written by \`netbootc dhcp-config --format dnsmasq\` ----"
  echo "conf-file=$SITE_CONF"
  echo "# ---- the matrix: fixed addresses, test tags ----"
  guest_hosts 1 | router_hosts
  echo "dhcp-host=$MAC_PROBE_OVERRIDE,set:ipxe-2.0.0"
  router_test_overrides "$LAN_PI" "$PROXY_HTTP"
} >"$ROUTER_CONF"
ip -n "$NS_ROUTER" -6 addr add fd77::1/64 dev eth0 nodad
ip netns exec "$NS_ROUTER" sysctl -q -w net.ipv6.conf.all.forwarding=1
router_dnsmasq "$NS_ROUTER" "$ROUTER_CONF" dnsmasq

if [ $LAN2 = 1 ]; then
  # Home 2: a router that hands out addresses and nothing else, and the Pi answering PXE
  # clients itself (proxyDHCP). tcpdump records every DHCP packet on home 2's switch (in
  # promiscuous mode the bridge hands it the unicast answers between ports too).
  ROUTER2_CONF=$WORK/router/dnsmasq2.conf
  {
    router_lan_conf eth0
    router_base_conf "$LAN_NET.100" "$LAN_NET.199" "$LAN_ROUTER"
    echo "# ---- fixed addresses; no boot options at all ----"
    guest_hosts 2 | router_hosts
  } >"$ROUTER2_CONF"
  ip -n "$NS_ROUTER2" -6 addr add fd77::1/64 dev eth0 nodad
  ip netns exec "$NS_ROUTER2" sysctl -q -w net.ipv6.conf.all.forwarding=1
  ip netns exec "$NS_LAN" tcpdump -i br1 -n -U -s 0 -w "$LOGS/lan2-dhcp.pcap" \
    'udp and (port 67 or port 68 or port 4011)' 2>"$LOGS/tcpdump.log" &
  TCPDUMP_PID=$!
  PIDS+=("$TCPDUMP_PID")
  wait_log "$LOGS/tcpdump.log" 'listening on' 20 $TCPDUMP_PID || { cat "$LOGS/tcpdump.log"; die "tcpdump did not start"; }
  router_dnsmasq "$NS_ROUTER2" "$ROUTER2_CONF" dnsmasq2
  proxy "$NS_PI2" proxy2 --proxy-dhcp eth0
  wait_log "$LOGS/proxy2.log" 'proxyDHCP answering PXE clients' 20 "${PIDS[-1]}" ||
    { tail -20 "$LOGS/proxy2.log"; die "proxy2: proxyDHCP did not start"; }
fi
say "servers up: netboot-serve :$ORIGIN_PORT and :$DIRECT_PORT on $WAN_ORIGIN, proxy on $LAN_PI, dnsmasq on $LAN_ROUTER$([ $LAN2 = 0 ] || echo "; home 2: dnsmasq (addresses only), proxy with proxyDHCP")"
T_SERVERS=$SECONDS

# ---------------------------------------------------------------- row 0: the router config
manifest_object() { # out-dir route → hex digest of the route's object
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]+"/manifest.json"))["routes"][sys.argv[2]]["object"].split(":")[1])' "$1" "$2"
}
dhcp_lines_mac() { # MAC [dnsmasq log] → that log's lines for the DHCP transactions of MAC
  local xids log=${2:-$LOGS/dnsmasq.log}
  xids=$({ grep -a "DHCP[A-Z]*(eth0) .*$1" "$log" || true; } | awk '{print $2}' | sort -u | paste -sd'|')
  [ -z "$xids" ] || grep -aE "\\]: ($xids) " "$log" || true
}
if want_row 0; then
  say "row 0: the router's DHCP config"
  if out=$(dnsmasq --test --conf-file="$SITE_CONF" 2>&1); then pass 0 "dnsmasq --test, the generated file alone: ${out##*: }"
  else fail 0 "dnsmasq --test on netbootc's output: $out"; fi
  if out=$(dnsmasq --test --conf-file="$ROUTER_CONF" 2>&1); then pass 0 "dnsmasq --test, the router's whole config (it includes the generated file): ${out##*: }"
  else fail 0 "dnsmasq --test: $out"; fi
  # The test overrides name the generated tags: they must exist, or the overrides match nobody.
  tags=$(sed -n 's/^dhcp-\(match\|userclass\)=set:\([^,]*\),.*/\2/p' "$SITE_CONF" | sort -u | paste -sd' ')
  if [ "$tags" = "bios efi-arm64 efi-arm64-http efi-x86_64 efi-x86_64-http ipxe" ]; then
    pass 0 "the generated classes are the tags the test overrides use: $tags"
  else fail 0 "generated tags '$tags', expected bios efi-arm64 efi-arm64-http efi-x86_64 efi-x86_64-http ipxe"; fi
  firmware=$(python3 -c 'import json,sys; print(" ".join(f"{k}={v}" for k, v in sorted(json.load(open(sys.argv[1]))["firmware"].items())))' "$WORK/out/manifest.json")
  if [ "$firmware" = "bios=tftp/undionly.kpxe uefi-arm64=tftp/snp-arm64.efi uefi-x86_64=tftp/snponly.efi" ]; then
    pass 0 "the manifest's firmware map: $firmware"
  else fail 0 "the manifest's firmware map is '$firmware'"; fi
  if [ $LAN2 = 1 ]; then
    if out=$(dnsmasq --test --conf-file="$ROUTER2_CONF" 2>&1) &&
      ! grep -qE '^(dhcp-boot|dhcp-option-force|dhcp-match|dhcp-userclass|dhcp-vendorclass|pxe-|conf-file|tftp)' "$ROUTER2_CONF" &&
      [ "$(grep -c '^dhcp-option' "$ROUTER2_CONF")" = 1 ]; then
      pass 0 "home 2's router config: dnsmasq --test ${out##*: }; no boot option in it (its one dhcp-option is the default route)"
    else fail 0 "home 2's router config: $out; or it has boot options ($ROUTER2_CONF)"; fi
  fi
  ip netns add "${LAN_PREFIX}probe" && LAN_CREATED+=("${LAN_PREFIX}probe")
  ip -n "$NS_LAN" link add port-probe type veth peer name eth0 netns "${LAN_PREFIX}probe"
  ip -n "$NS_LAN" link set port-probe master br0 up
  ip -n "${LAN_PREFIX}probe" link set lo up
  cat >"$WORK/udhcpc.sh" <<'EOS'
#!/bin/sh
[ "$1" = bound ] || exit 0
echo "boot_file=${boot_file:-} siaddr=${siaddr:-}"
EOS
  chmod 755 "$WORK/udhcpc.sh"
  # probe N DESC ARCH USERCLASS EXPECTED_FILE [EXPECTED LOG TEXT]: a DHCP client (busybox
  # udhcpc, MAC 52:54:00:1a:01:N) sending option 93 = ARCH, the vendor class such firmware
  # sends and, with USERCLASS iPXE, user-class "iPXE"; checks the boot file and next-server
  # it is offered and, in dnsmasq's log for that MAC, an option the offer must carry.
  probe() {
    local n=$1 desc=$2 arch=$3 uc=$4 want=$5 wantopt=${6:-} vendor args got mac file siaddr ns=${LAN_PREFIX}probe
    mac=52:54:00:1a:01:$n
    vendor=$([ "$arch" = 16 ] || [ "$arch" = 19 ] && echo HTTPClient || echo PXEClient):Arch:$(printf %05d "$arch"):UNDI:003000
    args=(-V "$vendor" -x "0x5d:$(printf %04x "$arch")")
    # iPXE also asks for its encapsulated options (175): dnsmasq sends only what is asked for.
    [ "$uc" = iPXE ] && args+=(-x 0x4d:69505845 -O 175)
    ip -n "$ns" link set eth0 down; ip -n "$ns" link set eth0 address "$mac"; ip -n "$ns" link set eth0 up
    got=$(in_ns "$ns" busybox udhcpc -f -q -n -t 5 -T 1 -i eth0 -s "$WORK/udhcpc.sh" "${args[@]}" 2>>"$LOGS/probe.log" | tail -n1 || true)
    echo "$desc ($mac): $got" >>"$LOGS/probe.log"
    file=${got#boot_file=}; file=${file%% siaddr=*}
    siaddr=${got##* siaddr=}
    if [ -z "$got" ]; then fail 0 "$desc: no DHCP offer (probe.log)"; return; fi
    if [ "$file" != "$want" ]; then fail 0 "$desc: DHCP boot file '$file', expected '$want'"; return; fi
    if [[ "$want" != http* ]] && [ "$siaddr" != "$LAN_PI" ]; then fail 0 "$desc: next-server $siaddr, expected the Pi $LAN_PI"; return; fi
    if [ -n "$wantopt" ] && ! dhcp_lines_mac "$mac" | grep -qF -- "$wantopt"; then
      fail 0 "$desc: dnsmasq sent no \"$wantopt\" to $mac"; return; fi
    pass 0 "$desc → $file$([[ "$want" == http* ]] || echo " (next-server $siaddr)")${wantopt:+; dnsmasq.log: ${wantopt/48:54:54:50:43:6c:69:65:6e:74/\"HTTPClient\"}}"
  }
  probe 01 "BIOS PXE ROM (arch 0)" 0 - undionly.kpxe
  probe 02 "x86_64 UEFI PXE (arch 7)" 7 - snponly.efi
  probe 03 "x86_64 UEFI PXE (arch 9)" 9 - snponly.efi
  probe 04 "arm64 UEFI PXE (arch 11)" 11 - snp-arm64.efi
  probe 05 "x86_64 UEFI HTTP Boot (arch 16)" 16 - "$PROXY_HTTP/tftp/snponly.efi" "option: 60 vendor-class  48:54:54:50:43:6c:69:65:6e:74"
  probe 06 "arm64 UEFI HTTP Boot (arch 19)" 19 - "$PROXY_HTTP/tftp/snp-arm64.efi" "option: 60 vendor-class  48:54:54:50:43:6c:69:65:6e:74"
  probe 07 "iPXE on BIOS (user-class iPXE, arch 0)" 0 iPXE "$PROXY_HTTP/boot.ipxe" "option:175   b0:01:01"
  probe 08 "iPXE on x86_64 UEFI (user-class iPXE, arch 7)" 7 iPXE "$PROXY_HTTP/boot.ipxe" "option:175   b0:01:01"
  probe 09 "iPXE on arm64 UEFI (user-class iPXE, arch 11)" 11 iPXE "$PROXY_HTTP/boot.ipxe" "option:175   b0:01:01"
  probe f0 "a test override written after the site part wins (last matching dhcp-boot)" 7 - snponly-2.0.0.efi
  ip -n "${LAN_PREFIX}probe" addr add "$LAN_NET.250/24" dev eth0
  # Every file the router names is on the Pi, over TFTP (busybox tftp) and LAN HTTP, with
  # the bundle's digest for that route.
  fetch_sha() { # tftp NAME | http URL → sha256 of what the probe got, or "error: …"
    local out=$WORK/probe-fetch rc=0
    rm -f "$out"
    case $1 in
      tftp) (cd "$WORK" && in_ns "${LAN_PREFIX}probe" busybox tftp -g -b 1400 -r "$2" -l "$out" "$LAN_PI") >"$out.err" 2>&1 || rc=$? ;;
      http) in_ns "${LAN_PREFIX}probe" curl -fsS --max-time 30 -o "$out" "$2" >"$out.err" 2>&1 || rc=$? ;;
    esac
    if [ $rc = 0 ]; then sha "$out"; else echo "error: $(tr '\n' ' ' <"$out.err")"; fi
  }
  for name in undionly.kpxe snponly.efi snp-arm64.efi snponly-2.0.0.efi; do
    want=$(manifest_object "$WORK/out" "tftp/$name")
    got=$(fetch_sha tftp "$name")
    [ "$got" = "$want" ] && pass 0 "TFTP $name from the Pi: sha256 $got = bundle route tftp/$name" ||
      fail 0 "TFTP $name from the Pi: got '$got', bundle route tftp/$name is $want"
    got=$(fetch_sha http "$PROXY_HTTP/tftp/$name")
    [ "$got" = "$want" ] && pass 0 "HTTP $PROXY_HTTP/tftp/$name: sha256 $got" ||
      fail 0 "HTTP $PROXY_HTTP/tftp/$name: got '$got', bundle says $want"
  done
  want=$(manifest_object "$WORK/out" boot.ipxe)
  got=$(fetch_sha http "$PROXY_HTTP/boot.ipxe")
  [ "$got" = "$want" ] && pass 0 "HTTP $PROXY_HTTP/boot.ipxe (what iPXE clients are sent): sha256 $got" ||
    fail 0 "HTTP $PROXY_HTTP/boot.ipxe: got '$got', bundle says $want"
fi

# ---------------------------------------------------------------- guests (running)
# Serial text for matching: no CR/LF/BS (iPXE wraps at 80 columns), no ANSI escapes (UEFI
# consoles), and iPXE's download progress ("... 42%") collapsed to "... ".
serial_text() {
  [ -f "$1" ] || return 0
  LC_ALL=C tr -d '\r\n\b' <"$1" | LC_ALL=C sed -E 's/\x1b\[[0-9;=?]*[A-Za-z]//g; s/\x1b[c()][0-9A-Za-z]?//g; s/\.\.\.( |[0-9]+%)*/... /g'
}
qemu_cmd() { # guest → QEMU_CMD
  local g=$1 fw=${G_FW[$1]} mac=${G_MAC[$1]} boot=${G_BOOT[$1]} disk=${G_DISK[$1]} romopt bootidx=",bootindex=1"
  local serial=$LOGS/$g.serial netdev="tap,id=n0,ifname=${G_TAP[$1]},script=no,downscript=no"
  case "$boot" in
    rom) romopt=",romfile=$ROM" ;;
    # SeaBIOS runs a ROM only if its PCI ids are the device's; QEMU patches the device id
    # into its default ROM only, not into a romfile= one. Debian's efi-virtio.rom says
    # 1af4:1041, virtio-net without legacy (a transitional virtio-net-pci is 1af4:1000).
    virtio-rom) romopt=",disable-legacy=on,romfile=$VIRTIO_ROM" ;;
    standin) romopt=",romfile=$STANDIN_ROM" ;;
    pxe | http) romopt=",romfile=" ;;
    none) romopt=",romfile=" bootidx="" ;;
  esac
  local diskfile="" bios_nic=e1000
  [ "$boot" != virtio-rom ] || bios_nic=virtio-net-pci
  case "$disk" in
    bios) diskfile=$WORK/disks/bios.img ;;
    efi-x86_64) diskfile=$WORK/disks/efi-x86_64.img ;;
    efi-arm64) diskfile=$WORK/disks/efi-arm64.img ;;
    direct) diskfile=$WORK/disks/direct.img ;;
  esac
  local common=(-accel tcg -m 512 -nographic -display none -monitor none -serial "file:$serial" -netdev "$netdev")
  case "$fw" in
    bios)
      QEMU_CMD=(qemu-system-x86_64 -M pc "${common[@]}" -no-reboot
        -device "$bios_nic,netdev=n0,mac=$mac$romopt$bootidx"
        -device isa-debug-exit,iobase=0xf4,iosize=0x04)
      [ -z "$diskfile" ] || QEMU_CMD+=(-drive "if=none,id=d0,format=raw,snapshot=on,file=$diskfile" -device "ide-hd,drive=d0,bootindex=2") ;;
    ovmf)
      cp "$OVMF_VARS" "$WORK/vars/$g.fd"
      QEMU_CMD=(qemu-system-x86_64 -M q35 "${common[@]}"
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
        -drive "if=pflash,format=raw,unit=1,file=$WORK/vars/$g.fd"
        -device "virtio-net-pci,netdev=n0,mac=$mac$romopt$bootidx") ;;
    aavmf)
      cp "$AAVMF_VARS" "$WORK/vars/$g.fd"
      QEMU_CMD=(qemu-system-aarch64 -M virt -cpu cortex-a72 "${common[@]}"
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=$AAVMF_CODE"
        -drive "if=pflash,format=raw,unit=1,file=$WORK/vars/$g.fd"
        -device "virtio-net-pci,netdev=n0,mac=$mac$romopt$bootidx") ;;
  esac
  if [ "$boot" = http ]; then
    # EDK2 (OVMF and ArmVirtQemu) reads these: no PXE boot options, so the NIC's first
    # boot option is UEFI HTTP Boot over IPv4.
    QEMU_CMD+=(-fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n
      -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n)
  fi
  if [ -n "$diskfile" ] && [ "$fw" != bios ]; then
    local di=2; [ "$boot" = none ] && di=1
    QEMU_CMD+=(-drive "if=none,id=d0,format=raw,snapshot=on,file=$diskfile" -device "virtio-blk-pci,drive=d0,bootindex=$di")
  fi
}
# run_guest NAME: boots it, waits (polling its serial log) for its marker (G_COUNT times), a
# failure marker, QEMU's exit or the deadline; writes "<ok|fail> <seconds to the marker>
# <how it ended>".
run_guest() {
  local g=$1 serial=$LOGS/$1.serial t0 now text status=fail how=deadline elapsed pid
  qemu_cmd "$g"
  printf '%q ' "${QEMU_CMD[@]}" >"$LOGS/$g.cmd"
  t0=$EPOCHREALTIME
  nice -n 10 ip netns exec "$NS_LAN" "${QEMU_CMD[@]}" </dev/null >"$LOGS/$g.qemu.log" 2>&1 &
  pid=$!
  echo "$pid" >"$GUEST_PIDS_DIR/$g"
  local deadline=$((SECONDS + G_LIMIT[$g]))
  marked() { [ "$(grep -oF -- "${G_MARK[$g]}" <<<"$text" | wc -l)" -ge "${G_COUNT[$g]}" ]; }
  while :; do
    text=$(serial_text "$serial")
    if marked; then status=ok how=marker; break; fi
    if [ -n "${G_FAILMARK[$g]}" ] && grep -qE -- "${G_FAILMARK[$g]}" <<<"$text"; then how="failure marker"; break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      text=$(serial_text "$serial")
      marked && status=ok how=marker || how="QEMU exited"
      break
    fi
    [ $SECONDS -lt $deadline ] || break
    sleep 0.5
  done
  now=$EPOCHREALTIME
  elapsed=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
  # A guest that reached its marker may be powering off: give it a moment to exit by itself.
  if [ $status = ok ]; then
    local until=$((SECONDS + 4))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $until ]; do sleep 0.2; done
  fi
  kill -0 "$pid" 2>/dev/null && { how="$how, QEMU stopped"; kill "$pid" 2>/dev/null; } || how="$how, QEMU exited"
  wait "$pid" 2>/dev/null || true
  rm -f "$GUEST_PIDS_DIR/$g"
  echo "$status $elapsed $how" >"$RESULTS/$g"
  printf '   %-26s %-4s %6ss  (%s)\n' "$g" "$status" "$elapsed" "$how"
}
T_GUESTS=$SECONDS
if [ ${#SELECTED[@]} -gt 0 ]; then
  say "booting ${#SELECTED[@]} guests, $JOBS at a time: ${SELECTED[*]}"
  for g in "${SELECTED[@]}"; do lan_tap "${G_TAP[$g]}" "br$((G_LAN[$g] - 1))" || die "tap for $g"; done
  running=0
  for g in "${SELECTED[@]}"; do
    if [ $running -ge "$JOBS" ]; then wait -n "${RUNNER_PIDS[@]}" 2>/dev/null || true; running=$((running - 1)); fi
    run_guest "$g" &
    RUNNER_PIDS+=($!)
    running=$((running + 1))
  done
  for pid in "${RUNNER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  RUNNER_PIDS=()
fi
T_CHECKS=$SECONDS

# ---------------------------------------------------------------- checks
result() { cat "$RESULTS/$1" 2>/dev/null || echo "fail - never ran"; }
has() { serial_text "$LOGS/$1.serial" | grep -qF -- "$2"; }
check_serial() { # row guest text what
  if has "$2" "$3"; then pass "$1" "$4 ($2 serial: \"$3\")"; else fail "$1" "$4 ($2 serial lacks \"$3\")"; fi
}
check_boot() { # row guest: reached its marker
  local st el how
  read -r st el how <<<"$(result "$2")"
  if [ "$st" = ok ]; then pass "$1" "$2 reached \"${G_MARK[$2]}\"$([ "${G_COUNT[$2]}" = 1 ] || echo " ${G_COUNT[$2]} times") in $el s"
  else fail "$1" "$2 did not reach \"${G_MARK[$2]}\" ($how; serial: $LOGS/$2.serial)"; fi
}
# Each guest's home: its router's log and its Pi's log.
dns_log() { [ "${G_LAN[$1]}" = 2 ] && echo "$LOGS/dnsmasq2.log" || echo "$LOGS/dnsmasq.log"; }
proxy_log() { [ "${G_LAN[$1]}" = 2 ] && echo "$LOGS/proxy2.log" || echo "$LOGS/proxy.log"; }
guest_ips() { # guest → the addresses its router acknowledged to its MAC, as an ERE alternation
  { grep -a "DHCPACK(eth0) [0-9.]* ${G_MAC[$1]}" "$(dns_log "$1")" || true; } |
    awk '{print $4}' | sort -u | sed 's/\./\\./g' | paste -sd'|'
}
dhcp_lines() { dhcp_lines_mac "${G_MAC[$1]}" "$(dns_log "$1")"; } # guest → its router's lines of its transactions
check_dhcp() { # row guest tag bootfile what: one transaction of the guest had TAG and got BOOTFILE
  local lines xid tx tags
  lines=$(dhcp_lines "$2")
  for xid in $(awk '/ tags: / {print $2}' <<<"$lines" | sort -u); do
    tx=$(grep -aF "]: $xid " <<<"$lines")
    tags=$(grep -a -m1 ' tags: ' <<<"$tx" | sed 's/.* tags: //; s/ //g')
    if [[ ",$tags," == *",$3,"* ]] && grep -aqE "bootfile name: $4\$|bootfile-name  $4\$" <<<"$tx"; then
      pass "$1" "$5 (dnsmasq: ${G_MAC[$2]} tags $tags → $4)"; return
    fi
  done
  fail "$1" "$5 (no DHCP transaction of ${G_MAC[$2]} with tag $3 got $4; see $(basename "$(dns_log "$2")"))"
}
access_lines() { # guest → its Pi's access lines for requests from the guest's addresses
  local ips
  ips=$(guest_ips "$1")
  [ -n "$ips" ] || return 0
  grep -a 'access' "$(proxy_log "$1")" | grep -E "remote=($ips):" || true
}
proxy_http() { # row guest route sha what: the guest's Pi served ROUTE to it, object SHA, 200
  local line log
  log=$(basename "$(proxy_log "$2")")
  line=$(access_lines "$2" | grep -E "path=/$3 " | grep -F "status=200" | head -n1 || true)
  if [ -z "$line" ]; then fail "$1" "$5: no 200 for /$3 to $2 ($(guest_ips "$2")) in $log"; return; fi
  if [ -n "$4" ] && ! grep -qF "object=$4 " <<<"$line"; then fail "$1" "$5: the proxy served another object: $line"; return; fi
  pass "$1" "$5 ($log: $(grep -o 'path=.*' <<<"$line"))"
}
proxy_tftp() { # row guest file what: a complete TFTP transfer of FILE to the guest
  local ips line want bytes size log
  ips=$(guest_ips "$2") log=$(proxy_log "$2")
  line=$(grep -a 'tftp' "$log" | grep -E "client=($ips):" | grep -E "file=$3 " | grep -E 'outcome="?complete' | head -n1 || true)
  if [ -z "$ips" ] || [ -z "$line" ]; then fail "$1" "$4: no complete TFTP transfer of $3 to $2 (${ips:-no address}) in $(basename "$log")"; return; fi
  want=$(manifest_object "$WORK/out" "tftp/$3")
  size=$(stat -c %s "$WORK/out/objects/sha256/$want")
  bytes=$(grep -o 'bytes=[0-9]*' <<<"$line" | cut -d= -f2)
  if [ "$bytes" != "$size" ]; then fail "$1" "$4: TFTP sent $bytes bytes, object $want has $size"; return; fi
  pass "$1" "$4 ($(basename "$log"): $(grep -o 'client=.*' <<<"$line" | cut -c1-110); the bundle's tftp/$3 is sha256:$want, $size bytes)"
}
check_serve() { # row log route what [ips]: the origin served ROUTE (or its object) over mTLS
  local hex line lines out=$WORK/out bytes size
  [ "$2" = serve-direct.log ] && out=$WORK/out-direct
  hex=$(manifest_object "$out" "$3") || { fail "$1" "$4: $3 is not a route"; return; }
  lines=$(grep -a 'access' "$LOGS/$2" | grep -E "path=/($3|objects/sha256/$hex) " | grep -F "status=200" | grep -F 'client="CN=' || true)
  [ -z "${5:-}" ] || lines=$(grep -E "remote=($5):" <<<"$lines" || true)
  line=$(head -n1 <<<"$lines")
  if [ -z "$line" ]; then fail "$1" "$4: no 200 for /$3 or /objects/sha256/$hex to a client certificate${5:+ from $5} in $2"; return; fi
  bytes=$(grep -o 'bytes=[0-9]*' <<<"$line" | cut -d= -f2)
  size=$(stat -c %s "$out/objects/sha256/$hex")
  if [ "$bytes" != "$size" ]; then fail "$1" "$4: $bytes bytes, not the object's $size: $line"; return; fi
  pass "$1" "$4 ($2: $(grep -o 'path=[^ ]*' <<<"$line" | cut -c1-40) sha256:${hex:0:16}… $(grep -oE 'status=[0-9]+ bytes=[0-9]+( complete=[a-z]+)?' <<<"$line") $(grep -o 'remote=[^ ]*' <<<"$line") $(grep -o 'tls=[^ ]*' <<<"$line") $(grep -o 'client=.*' <<<"$line"))"
}
no_images() { # row guest: the guest fetched no kernel or initrd (nothing under /objects/)
  if access_lines "$2" | grep -qF "path=/objects/"; then fail "$1" "$2 fetched an image although it should not"
  else pass "$1" "$2 fetched no kernel or initrd ($(basename "$(proxy_log "$2")"))"; fi
}
KERNEL_X64=$(sha "$IMAGES/vmlinuz-x86_64") INITRD_X64=$(sha "$IMAGES/initrd-x86_64.cpio.gz")
KERNEL_ARM=$(sha "$IMAGES/vmlinuz-arm64") INITRD_ARM=$(sha "$IMAGES/initrd-arm64.cpio.gz")
DISPATCHER=$(manifest_object "$WORK/out" boot.ipxe)
hyp() { tr ':' '-' <<<"${G_MAC[$1]}"; }
script_of() { manifest_object "$WORK/out" "machines/by-mac/$(hyp "$1").ipxe"; }
# A netboot through a Pi to Linux: row guest kernel-sha initrd-sha arch [profile]
check_linux_via_proxy() {
  local row=$1 g=$2 k=$3 i=$4 arch=$5 profile=${6:-linux-$5}
  check_boot "$row" "$g"
  check_serial "$row" "$g" "$PROXY_HTTP/boot.ipxe... ok" "iPXE fetched the dispatcher from the Pi's LAN HTTP"
  check_serial "$row" "$g" "$PROXY_HTTP/machines/by-mac/$(hyp "$g").ipxe... ok" "the dispatcher chain-loaded the machine script by MAC"
  check_serial "$row" "$g" "netbootc: $g: booting $profile" "the machine script ran"
  check_serial "$row" "$g" "$PROXY_HTTP/objects/sha256/$k... ok" "iPXE fetched the kernel through the proxy"
  check_serial "$row" "$g" "$PROXY_HTTP/objects/sha256/$i... ok" "iPXE fetched the initrd through the proxy"
  check_serial "$row" "$g" "netboot.machine=$g" "Linux got the machine's command line"
  [ "${G_LAN[$g]}" = 2 ] || check_dhcp "$row" "$g" ipxe "$PROXY_HTTP/boot.ipxe" "the router sent iPXE to the dispatcher URL"
  proxy_http "$row" "$g" boot.ipxe "$DISPATCHER" "the proxy served the dispatcher"
  proxy_http "$row" "$g" "machines/by-mac/$(hyp "$g").ipxe" "$(script_of "$g")" "the proxy served $g's script"
  proxy_http "$row" "$g" "objects/sha256/$k" "$k" "the proxy served the $arch kernel"
  proxy_http "$row" "$g" "objects/sha256/$i" "$i" "the proxy served the $arch initrd"
}

# The simulator agrees with the real iPXE (issue 15, part 3): `netbootc simulate` predicts
# each guest's boot against the bundle the Pi serves ($WORK/out), with the guest's firmware
# class and iPXE build, and its fetches must be the HTTP requests the Pi logged from the
# guest's addresses, in order, status included; its verdict must be the row's.
#   predicted: every fetch of the trace as "GET <path> <status>" (200 for a route or object
#     of the bundle, 404 for "404: no route"; upstream or unfetchable URLs never reach the
#     Pi, so they stay in the list as such and cannot match a logged request)
#   logged: the guest's access lines ("<method> <path> <status>") from its first
#     `GET /boot.ipxe` on: the firmware's own fetches of the iPXE binary (TFTP, or HTTP Boot's
#     GET /tftp/<file>) come before iPXE runs a script. The OS's own requests come after
#     the kernel boot: the ones its console reports (make_net_initramfs: "fetched",
#     "optional", "fetch failed" lines, row 12) must be the last logged requests, in that
#     order, and are set aside; any other request is iPXE's.
#   nothing is forgiven: a HEAD (iPXE sends none), a retried or repeated request, a request
#     out of order or with another status is a disagreement. A trace that ends in a loop
#     (rows 6, 8: the machine waits and chains the dispatcher again) is one pass of the
#     loop, the last fetch being the first of the next pass; the logged requests must cover
#     at least that pass, and whatever follows must continue the loop (the runner stops
#     such guests at their marker, anywhere in the next pass).
SIM_DIR=$WORK/simulate
sim_predicted() { # simulate-output → "GET <path> <status>" per fetch
  awk -v base="$PROXY_HTTP" '
    /^ +→ / {
      if (url != "") {
        r = $0; sub(/^ +→ /, "", r)
        st = r ~ /^404: / ? "404" : r ~ /^upstream/ ? "upstream" : r ~ /^cannot fetch/ ? "unfetchable" : "200"
        p = url; if (index(p, base "/") == 1) p = substr(p, length(base) + 1)
        print "GET", p, st
      }
      url = ""; next
    }
    /^  [a-z]+ +[a-z]+:\/\/[^ ]*$/ { url = $2; next }
    { url = "" }' "$1"
}
sim_logged() { # guest → "<method> <path> <status>" of its Pi's access lines, from its first GET /boot.ipxe
  access_lines "$1" | sed -n 's/.* method=\([A-Z]*\) path=\([^ ]*\) status=\([0-9]*\) .*/\1 \2 \3/p' |
    awk 'on || ($1 == "GET" && $2 == "/boot.ipxe") { on = 1; print }'
}
sim_os_paths() { # guest → the path of each request its OS reported on the console, in order
  tr -d '\r' <"$LOGS/$1.serial" | grep -a '^NETBOOT-E2E: \(fetched\|optional\|fetch failed:\) ' |
    awk -v base="$PROXY_HTTP" '{ u = $2 == "fetch" ? $4 : $3; if (index(u, base "/") == 1) u = substr(u, length(base) + 1); print u }' || true
}
sim_short() { sed -E 's#/objects/sha256/([0-9a-f]{12})[0-9a-f]*#/objects/sha256/\1…#'; }
sim_list() { # lines → "a, b, c" (digests shortened)
  if [ $# -eq 0 ]; then echo "(none)"; else printf '%s\n' "$@" | sim_short | paste -sd',' | sed 's/,/, /g'; fi
}
# check_simulation row guest class build [client]: CLIENT (default: the guest's machine name;
# row 6: its MAC) simulated on firmware CLASS with iPXE BUILD (debian-2019 | 2.0).
check_simulation() {
  local row=$1 g=$2 class=$3 build=$4 client=${5:-$2} out rc=0 kind=once what verdict=ok
  local -a P=() R=() O=()
  mkdir -p "$SIM_DIR"
  out=$SIM_DIR/$g.txt
  "$BIN/netbootc" simulate "$client" --firmware "$class" --ipxe "$build" --bundle "$WORK/out" \
    --config "$WORK/fleet" >"$out" 2>&1 || rc=$?
  what="netbootc simulate $client --firmware $class --ipxe $build"
  # The verdict.
  case ${G_ROW[$g]} in
    6) kind=loop
       if [ $rc = 0 ] && grep -q '^          → machines/unknown\.ipxe ' "$out" &&
         grep -q '^  end     it waits and retries for ever .*last message: "netbootc: add it to machines' "$out"; then
         pass "$row" "$what: exit 0, the unknown machine gets machines/unknown.ipxe and waits and retries for ever, as $g does"
       else verdict=fail; fi ;;
    8) kind=loop
       if [ $rc = 1 ] && grep -qxF "  echo    $GUARD_MARK" "$out" && grep -q '^  end     it waits and retries for ever' "$out" &&
         grep -q '^  FAILS   ' "$out" && ! grep -q '^  \(kernel\|initrd\) ' "$out"; then
         pass "$row" "$what: exit 1 (not as configured), the arch guard's message, no kernel, and the loop through the dispatcher, as $g does"
       else verdict=fail; fi ;;
    *) if [ $rc = 0 ] && grep -q '^  end     boots kernel ' "$out" && grep -q '^  ok      as configured: profile ' "$out"; then
         pass "$row" "$what: exit 0, $(sed -n 's/^  ok      //p' "$out"); $(sed -n 's/^  end     //p' "$out" | sim_short | sed -E 's/sha256:([0-9a-f]{12})[0-9a-f]*/sha256:\1…/g')"
       else verdict=fail; fi ;;
  esac
  [ $verdict = ok ] || fail "$row" "$what: exit $rc, not the verdict row $row expects ($out: $(grep -E '^  (end|ok|FAILS) ' "$out" | head -n2 | paste -sd' '))"
  # The fetches.
  mapfile -t P < <(sim_predicted "$out")
  mapfile -t R < <(sim_logged "$g")
  mapfile -t O < <(sim_os_paths "$g")
  if [ ${#O[@]} -gt 0 ]; then
    local i j=$((${#R[@]} - ${#O[@]})) tail_ok=1
    if [ $j -lt 0 ]; then tail_ok=0; else
      for i in "${!O[@]}"; do [ "$(cut -d' ' -f2 <<<"${R[j + i]}")" = "${O[i]}" ] || tail_ok=0; done
    fi
    if [ $tail_ok = 0 ]; then
      fail "$row" "$g: the OS's own requests (its console) are not the last ones the Pi logged from it"
      printf '      the OS reported:  %s\n      the Pi logged:     %s\n' "$(sim_list "${O[@]}")" "$(sim_list "${R[@]}")"
      return
    fi
    R=("${R[@]:0:j}")
  fi
  local n=${#P[@]} k=-1 i e agree=1 cyc=0
  if [ $kind = loop ] && [ "$n" -ge 2 ]; then
    for i in $(seq 0 $((n - 2))); do [ "${P[i]}" = "${P[n - 1]}" ] && { k=$i; break; }; done
  fi
  if [ "$k" -ge 0 ]; then
    cyc=$((n - 1 - k))
    [ ${#R[@]} -ge $((n - 1)) ] || agree=0
    for i in "${!R[@]}"; do
      if [ "$i" -lt "$k" ]; then e=${P[i]}; else e=${P[k + (i - k) % cyc]}; fi
      [ "${R[i]}" = "$e" ] || agree=0
    done
  else
    [ "${P[*]}" = "${R[*]}" ] && [ ${#P[@]} = ${#R[@]} ] || agree=0
  fi
  if [ $agree = 1 ] && [ "$k" -ge 0 ]; then
    pass "$row" "$g: the simulator's loop agrees with the real iPXE: one pass of ${cyc} fetches ($(sim_list "${P[@]:k:cyc}")), the Pi logged ${#R[@]} requests, that pass and $((${#R[@]} - cyc - k)) more of the next"
  elif [ $agree = 1 ]; then
    local os=""
    [ ${#O[@]} = 0 ] || os="; then the OS's own ($(sim_list "${O[@]}" | sed -E 's#/files/([0-9a-f]{12})[0-9a-f]*/#/files/\1…/#g'))"
    pass "$row" "$g: the simulator agrees with the real iPXE: the Pi logged the ${#R[@]} requests it predicts, in order ($(sim_list "${R[@]}"))$os"
  else
    fail "$row" "$g: the simulator's fetches ($class, iPXE $build) are not the requests the Pi logged from $g ($out; $(basename "$(proxy_log "$g")"))"
    printf '      predicted%s: %s\n      the Pi logged:  %s\n' "$([ "$k" -lt 0 ] || echo " (a loop from #$((k + 1)))")" \
      "$(sim_list "${P[@]}")" "$(sim_list "${R[@]}")"
  fi
  # What Linux was given: the predicted command line is the one on the OS's console. iPXE's
  # EFI image loader puts the kernel image's name first (efi_image.c); BIOS (bzImage) does not.
  [ "${G_ROW[$g]}" = 6 ] || [ "${G_ROW[$g]}" = 8 ] || {
    local want got name
    want=$(sed -n 's/^          cmdline: //p' "$out")
    name=$(awk '/^  kernel / { u = $2 } END { n = split(u, a, "/"); print a[n] }' "$out")
    got=$(tr -d '\r' <"$LOGS/$g.serial" | grep -a "^$OS_MARK" | head -n1 | sed 's/.*; cmdline: //' || true)
    if [ -n "$want" ] && [ "$got" = "$want" ]; then pass "$row" "$g: Linux's command line is the predicted one"
    elif [ -n "$want" ] && [ "$class" != bios ] && [ "$got" = "$name $want" ]; then
      pass "$row" "$g: Linux's command line is the predicted one, after the kernel image's name that iPXE's EFI loader puts first"
    else fail "$row" "$g: Linux's command line '$got', predicted '$want'"; fi
  }
}

if want_row 1; then
  say "row 1: BIOS, iPXE option ROM → Linux"
  check_linux_via_proxy 1 r1-bios-rom "$KERNEL_X64" "$INITRD_X64" x86_64
  check_serial 1 r1-bios-rom "iPXE 1.0.0+git-20190125" "the NIC's ROM is Debian's iPXE"
  check_simulation 1 r1-bios-rom bios debian-2019
fi
if want_row 2; then
  say "row 2: BIOS, PXE ROM (not iPXE) → TFTP undionly.kpxe → iPXE → Linux"
  check_linux_via_proxy 2 r2-bios-undionly "$KERNEL_X64" "$INITRD_X64" x86_64
  check_serial 2 r2-bios-undionly "PXE-STANDIN: vendor PXE stand-in ROM" "the stand-in PXE ROM ran"
  check_dhcp 2 r2-bios-undionly bios undionly.kpxe "the router sent the PXE ROM (user-class PXE-STANDIN, arch 0) to undionly.kpxe"
  if dhcp_lines r2-bios-undionly | grep -q 'user class: PXE-STANDIN'; then
    pass 2 "the stand-in's DHCP user-class was PXE-STANDIN, not iPXE (dnsmasq.log)"
  else fail 2 "dnsmasq never saw user-class PXE-STANDIN from ${G_MAC[r2-bios-undionly]}"; fi
  check_serial 2 r2-bios-undionly "tftp://$LAN_PI/undionly.kpxe... ok" "the PXE ROM fetched undionly.kpxe over TFTP from the Pi"
  check_serial 2 r2-bios-undionly "undionly on" "undionly.kpxe drove the NIC through the ROM's UNDI"
  proxy_tftp 2 r2-bios-undionly undionly.kpxe "the proxy served undionly.kpxe over TFTP"
  check_simulation 2 r2-bios-undionly bios debian-2019
fi
if want_row 3; then
  say "row 3: UEFI x86_64, firmware PXE → TFTP snponly.efi → Linux"
  check_linux_via_proxy 3 r3-uefi-x86_64 "$KERNEL_X64" "$INITRD_X64" x86_64
  check_serial 3 r3-uefi-x86_64 "NBP filename is snponly.efi" "OVMF's PXE was sent snponly.efi"
  check_serial 3 r3-uefi-x86_64 "iPXE 1.0.0+git-20190125" "Debian's snponly.efi ran"
  check_dhcp 3 r3-uefi-x86_64 efi-x86_64 snponly.efi "the router sent x86_64 UEFI PXE (arch 7) to snponly.efi"
  proxy_tftp 3 r3-uefi-x86_64 snponly.efi "the proxy served snponly.efi over TFTP"
  check_simulation 3 r3-uefi-x86_64 uefi-x86_64 debian-2019
fi
if want_row 4; then
  say "row 4: UEFI arm64, firmware PXE → TFTP snp-arm64.efi → arm64 Linux"
  check_linux_via_proxy 4 r4-uefi-arm64 "$KERNEL_ARM" "$INITRD_ARM" arm64
  check_serial 4 r4-uefi-arm64 "NBP filename is snp-arm64.efi" "AAVMF's PXE was sent snp-arm64.efi"
  check_serial 4 r4-uefi-arm64 "iPXE 2.0.0" "the iPXE 2.0.0 arm64 build ran"
  check_serial 4 r4-uefi-arm64 "aarch64; cmdline" "an arm64 kernel ran"
  check_dhcp 4 r4-uefi-arm64 efi-arm64 snp-arm64.efi "the router sent arm64 UEFI PXE (arch 11) to snp-arm64.efi"
  proxy_tftp 4 r4-uefi-arm64 snp-arm64.efi "the proxy served snp-arm64.efi over TFTP"
  check_simulation 4 r4-uefi-arm64 uefi-arm64 2.0
fi
if want_row 5; then
  say "row 5: direct: iPXE with dev-certs' CA and RSA client certificate built in → netboot-serve over HTTPS (mTLS)"
  g=r5-direct-https D="https://$WAN_ORIGIN:$DIRECT_PORT"
  check_boot 5 $g
  check_serial 5 $g "iPXE 2.0.0" "the iPXE 2.0.0 build on the EFI disk ran"
  check_serial 5 $g "$D/boot.ipxe... ok" "iPXE fetched the dispatcher from the origin over HTTPS"
  check_serial 5 $g "$D/machines/by-mac/$(hyp $g).ipxe... ok" "the machine script came from the origin"
  check_serial 5 $g "$D/objects/sha256/$KERNEL_X64... ok" "the kernel came from the origin over HTTPS"
  check_serial 5 $g "$D/objects/sha256/$INITRD_X64... ok" "the initrd came from the origin over HTTPS"
  check_serial 5 $g "netboot.machine=$g" "Linux got the machine's command line"
  ips=$(guest_ips $g)
  for route in boot.ipxe "machines/by-mac/$(hyp $g).ipxe" images/linux-x86_64/kernel images/linux-x86_64/initrd; do
    check_serve 5 serve-direct.log "$route" "the origin served $route to the guest itself over mTLS" "$ips"
  done
  # The client certificate iPXE presented is dev-certs' client-rsa.pem.
  cn=$(openssl x509 -in "$CERTS/client-rsa.pem" -noout -subject -nameopt RFC2253 | grep -o 'CN=[^,]*')
  if grep -a 'access' "$LOGS/serve-direct.log" | grep -E "remote=($ips):" | grep -qE "client=\"$cn[,\"]"; then
    pass 5 "the guest presented dev-certs' client-rsa.pem ($cn)"
  else fail 5 "no access line from the guest with client=\"$cn\" in serve-direct.log"; fi
  if grep -a 'access' "$LOGS/proxy.log" | grep -qE "remote=($ips):"; then fail 5 "the direct guest also used the proxy"
  else pass 5 "no request from the direct guest ($ips) reached the proxy"; fi
  if grep -a 'access' "$LOGS/serve-direct.log" | grep -E "remote=($ips):" | grep -qE 'tls="?TLSv1_2'; then
    pass 5 "iPXE spoke TLS 1.2 ($(grep -a 'access' "$LOGS/serve-direct.log" | grep -E "remote=($ips):" | grep -o 'tls=[^ ]*' | sort -u | paste -sd,))"
  else fail 5 "no TLS 1.2 access line from the guest in serve-direct.log"; fi
fi
if want_row 6; then
  say "row 6: an unregistered MAC"
  g=r6-unknown-mac
  check_boot 6 $g
  check_serial 6 $g "$PROXY_HTTP/machines/unknown.ipxe... ok" "the dispatcher fell back to machines/unknown.ipxe"
  check_serial 6 $g "netbootc: this machine is not registered" "unknown.ipxe ran"
  check_serial 6 $g "netbootc: mac $(hyp $g)" "unknown.ipxe printed the MAC to register"
  proxy_http 6 $g machines/unknown.ipxe "$(manifest_object "$WORK/out" machines/unknown.ipxe)" "the proxy served machines/unknown.ipxe"
  if access_lines $g | grep -F "path=/machines/by-mac/$(hyp $g).ipxe " | grep -q "status=404"; then
    pass 6 "the proxy answered 404 for the unknown MAC's script"
  else fail 6 "no 404 for /machines/by-mac/$(hyp $g).ipxe in proxy.log"; fi
  check_simulation 6 $g bios debian-2019 "${G_MAC[$g]}"
fi
if want_row 7; then
  say "row 7: local disk (boot \"local\": netbootc's local.ipxe.j2)"
  for g in r7-local-bios-rom r7-local-bios-undionly r7-local-ovmf r7-local-aavmf r7-local-ovmf-debian; do
    check_boot 7 $g
    proxy_http 7 $g "machines/by-mac/$(hyp $g).ipxe" "$(script_of $g)" "the proxy served $g's local-boot script"
    check_serial 7 $g "netbootc: $g: booting the local disk" "$g's script is the local-boot one"
    no_images 7 $g
  done
  check_serial 7 r7-local-bios-undionly "tftp://$LAN_PI/undionly.kpxe... ok" "r7-local-bios-undionly came through undionly.kpxe"
  check_serial 7 r7-local-ovmf "NBP filename is snponly-2.0.0.efi" "r7-local-ovmf ran iPXE 2.0.0 (router override)"
  # Debian's 2019 EFI iPXE cannot sanboot a local disk; the script's `exit 1` hands the
  # machine back to OVMF's boot manager, which goes on through its other entries to the disk.
  g=r7-local-ovmf-debian
  check_serial 7 $g "NBP filename is snponly.efi" "$g ran Debian's 2019 snponly.efi"
  check_serial 7 $g "Boot from SAN device 0x80 failed" "$g: Debian's 2019 EFI iPXE cannot sanboot the local disk"
  check_serial 7 $g "netbootc: $g: the local disk did not boot" "$g: local.ipxe.j2 noticed and took its UEFI way out (exit 1)"
  text=$(serial_text "$LOGS/$g.serial")
  before=${text%%"netbootc: $g: the local disk did not boot"*}
  after=${text#"$before"}
  if [[ "$after" == *"LOCAL-DISK-EFI: x86_64"* ]]; then
    pass 7 "$g: after exit 1 the boot manager reached the disk (iPXE's local-boot script ran $(grep -oF "netbootc: $g: the local disk did not boot" <<<"$text" | wc -l) times before: PXE, then HTTP Boot)"
  else fail 7 "$g: the disk's marker does not follow the failed sanboot"; fi
  if access_lines $g | grep -qF "path=/machines/unknown.ipxe"; then
    fail 7 "$g was sent machines/unknown.ipxe after its script exited (the dispatcher did not --replace)"
  else pass 7 "$g: no machines/unknown.ipxe after its script exited (the dispatcher chain-loads with --replace)"; fi
fi
if want_row 8; then
  say "row 8: arch guard (netbootc's machine.ipxe.j2)"
  g=r8-guard-arm64
  check_boot 8 $g
  check_serial 8 $g "iPXE 2.0.0" "the arm64 iPXE build ran"
  # The message's lines as the console shows them (the guard prints two, then waits).
  lines=$(tr -d '\r' <"$LOGS/$g.serial" | grep -a "^netbootc: " || true)
  if grep -q "^netbootc: not booting it; fix the machine's profile" <<<"$lines"; then
    pass 8 "the guard's second line is a line of its own (\"netbootc: not booting it; fix the machine's profile …\")"
  else fail 8 "the guard's second line is not on the console as a line of its own: $(grep -a "^$GUARD_MARK" <<<"$lines" | head -n1)"; fi
  if grep "^$GUARD_MARK" <<<"$lines" | grep -q "without 64-bit mode"; then
    fail 8 "the guard tells an arm64 iPXE it runs \"on a CPU without 64-bit mode\": $(grep "^$GUARD_MARK" <<<"$lines" | head -n1 | cut -c1-160)"
  else pass 8 "the guard's message does not blame an arm64 CPU for lacking 64-bit mode"; fi
  no_images 8 $g
  n=$(access_lines $g | grep -F "path=/machines/by-mac/$(hyp $g).ipxe " | grep -c "status=200" || true)
  if [ "$n" -ge 2 ]; then pass 8 "$g went back to the dispatcher after 60 s: its script was fetched $n times (proxy.log)"
  else fail 8 "$g: its script was fetched $n times, expected a second fetch after the guard's 60 s"; fi
  check_simulation 8 $g uefi-arm64 2.0
fi
if want_row 9; then
  say "row 9: UEFI HTTP Boot (no PXE) → the Pi's LAN HTTP → iPXE → Linux"
  for g in r9-http-x86_64 r9-http-arm64; do
    case $g in
      *x86_64) arch=x86_64 file=snponly.efi k=$KERNEL_X64 i=$INITRD_X64 tag=efi-x86_64-http ;;
      *) arch=arm64 file=snp-arm64.efi k=$KERNEL_ARM i=$INITRD_ARM tag=efi-arm64-http ;;
    esac
    check_linux_via_proxy 9 $g "$k" "$i" $arch
    check_serial 9 $g "Start HTTP Boot over IPv4" "$g: the firmware's HTTP Boot ran (no PXE)"
    check_serial 9 $g "URI: $PROXY_HTTP/tftp/$file" "$g: the firmware was sent the iPXE binary's URL"
    check_dhcp 9 $g $tag "$PROXY_HTTP/tftp/$file" "the router sent the HTTP Boot client (arch $([ $arch = arm64 ] && echo 19 || echo 16)) to $file on the Pi"
    if dhcp_lines $g | grep -qF "option: 60 vendor-class  48:54:54:50:43:6c:69:65:6e:74"; then
      pass 9 "the router answered $g with option 60 \"HTTPClient\" (dnsmasq.log)"
    else fail 9 "no option 60 HTTPClient to $g in dnsmasq.log"; fi
    proxy_http 9 $g "tftp/$file" "$(manifest_object "$WORK/out" "tftp/$file")" "the proxy served $file over LAN HTTP to the firmware"
    if [ $arch = arm64 ]; then check_simulation 9 $g uefi-arm64 2.0; else check_simulation 9 $g uefi-x86_64 debian-2019; fi
  done
fi
# Rows 10 and 11: home 2, where the router hands out addresses only and the Pi's proxyDHCP
# names the boot files.
router2_sent_no_boot_options() { # row guest: router2's log of its answers to the guest
  local lines bad next
  lines=$(dhcp_lines "$2")
  if ! grep -q "DHCPACK(eth0) [0-9.]* ${G_MAC[$2]}" <<<"$lines"; then
    fail "$1" "$2: home 2's router acknowledged no address to it (dnsmasq2.log)"; return; fi
  # dnsmasq puts its own address in siaddr even with no dhcp-boot line: allowed, and said.
  bad=$(grep -aE 'bootfile name|option: ?(43|60|66|67|175) ' <<<"$lines" || true)
  bad+=$(grep -a 'next server: ' <<<"$lines" | grep -vF "next server: $LAN_ROUTER" || true)
  if [ -n "$bad" ]; then fail "$1" "$2: home 2's router sent boot options: $(head -n3 <<<"$bad")"; return; fi
  next=$(grep -ac "next server: $LAN_ROUTER" <<<"$lines" || true)
  pass "$1" "$2: home 2's router gave it $(grep -o "DHCPACK(eth0) [0-9.]*" <<<"$lines" | sort -u | awk '{print $2}' | paste -sd,) and no boot option (log-dhcp: no bootfile name, no option 43/60/66/67/175 among its $(grep -c ' sent size:' <<<"$lines") options sent; siaddr = the router itself in $next answers, dnsmasq's default)"
}
proxydhcp_answer() { # row what pattern: a "proxyDHCP answer" line in proxy2.log matching PATTERN
  local line
  line=$(grep -a 'proxyDHCP answer' "$LOGS/proxy2.log" | grep -E -- "$3" | head -n1 || true)
  if [ -n "$line" ]; then pass "$1" "$2 (proxy2.log: $(sed 's/.*proxyDHCP answer/proxyDHCP answer/' <<<"$line"))"
  else fail "$1" "$2: no \"proxyDHCP answer\" line matching /$3/ in proxy2.log"; fi
}
# The pcap from home 2's switch: every DHCP reply, one line each:
#   <source ip.port> mac=<chaddr> yiaddr=<address|-> siaddr=<next-server|-> file=<file|-> opts=<which of 43,60,66,67|->
pcap_replies() {
  tcpdump -r "$LOGS/lan2-dhcp.pcap" -n -vvv 2>/dev/null | awk '
    function flush() { if (src != "") print src, "mac=" mac, "yiaddr=" yi, "siaddr=" si, "file=" file, "opts=" (opts == "" ? "-" : substr(opts, 2)); src = "" }
    /^[0-9][0-9]:[0-9][0-9]:/ { flush(); next }
    / > .*BOOTP\/DHCP, Reply/ { src = $1; mac = "-"; yi = "-"; si = "-"; file = "-"; opts = "" }
    src == "" { next }
    /^[ \t]+Your-IP / { yi = $2 }
    /^[ \t]+Server-IP / { si = $2 }
    /^[ \t]+Client-Ethernet-Address / { mac = $2 }
    /^[ \t]+file "/ { file = $2; gsub(/"/, "", file) }
    /\((43|60|66|67)\), length/ { match($0, /\((43|60|66|67)\)/); opts = opts "," substr($0, RSTART + 1, RLENGTH - 2) }
    END { flush() }'
}
if want_row 10 || want_row 11; then
  REPLIES=$(pcap_replies)
  echo "$REPLIES" >"$LOGS/lan2-dhcp-replies.txt"
fi
pcap_check() { # row guest what ERE: a DHCP reply on home 2's switch to the guest's MAC matches ERE
  local line
  line=$(grep -E " mac=${G_MAC[$2]} " <<<"$REPLIES" | grep -E -- "$4" | head -n1 || true)
  if [ -n "$line" ]; then pass "$1" "$3 (tcpdump on br1: $line)"
  else fail "$1" "$3: no reply to ${G_MAC[$2]} matching /$4/ (lan2-dhcp-replies.txt)"; fi
}
for row in 10 11; do
  want_row $row || continue
  case $row in
    10) g=r10-pdhcp-bios file=undionly.kpxe kind='Pxe\(Bios\)'
        say "row 10: proxyDHCP, BIOS PXE ROM (not iPXE) → undionly.kpxe → iPXE → Linux" ;;
    11) g=r11-pdhcp-uefi file=snponly.efi kind='Pxe\(UefiX86_64\)'
        say "row 11: proxyDHCP, UEFI x86_64 firmware PXE → snponly.efi → iPXE → Linux" ;;
  esac
  check_linux_via_proxy $row $g "$KERNEL_X64" "$INITRD_X64" x86_64
  router2_sent_no_boot_options $row $g
  r=${LAN_ROUTER//./\\.} p=${LAN_PI//./\\.}
  n=$(grep -E "^$r\.67 mac=${G_MAC[$g]} " <<<"$REPLIES" | grep -c . || true)
  if [ "$n" -gt 0 ] && ! grep -E "^$r\.67 mac=${G_MAC[$g]} " <<<"$REPLIES" | grep -qvE " yiaddr=[0-9.]+ siaddr=$r file=- opts=-$"; then
    pass $row "tcpdump on br1: all $n of the router's replies to $g carry an address, no file name and none of options 43/60/66/67"
  else fail $row "tcpdump on br1: the router's replies to $g: $(grep -E "^$r\.67 mac=${G_MAC[$g]} " <<<"$REPLIES" | head -n3)"; fi
  pcap_check $row $g "proxyDHCP offered the firmware $file from the Pi, and no address" "^$p\.67 .* yiaddr=- siaddr=$p file=$file opts=43,60,67$"
  pcap_check $row $g "proxyDHCP offered iPXE the dispatcher" "^$p\.67 .* yiaddr=- siaddr=$p file=$PROXY_HTTP/boot\.ipxe "
  proxydhcp_answer $row "proxy2 logged the firmware's answer, with its MAC and file" "mac=${G_MAC[$g]} .*answer=$kind file=$file"
  if [ $row = 10 ]; then
    check_serial 10 $g "PXE-STANDIN: boot file undionly.kpxe from TFTP server $LAN_PI (proxyDHCP)" "the PXE ROM took its boot file and server from the proxyDHCP answer"
    check_serial 10 $g "tftp://$LAN_PI/undionly.kpxe... ok" "the PXE ROM fetched undionly.kpxe over TFTP from the Pi"
  else
    check_serial 11 $g "NBP filename is snponly.efi" "OVMF's PXE took the boot file from proxyDHCP"
  fi
  proxy_tftp $row $g $file "the Pi served $file over TFTP"
  if [ $row = 10 ]; then check_simulation 10 "$g" bios debian-2019; else check_simulation 11 "$g" uefi-x86_64 debian-2019; fi
done
if want_row 10 || want_row 11; then
  say "rows 10, 11: proxyDHCP's log and metrics"
  for row in 10 11; do want_row $row && break; done
  want=0; for g in r10-pdhcp-bios r11-pdhcp-uefi; do want_row "${G_ROW[$g]}" && want=$((want + 1)); done
  n=$(grep -a 'proxyDHCP answer' "$LOGS/proxy2.log" | grep -c 'answer=Ipxe' || true)
  if [ "$n" -ge $want ]; then pass $row "proxy2 logged $n proxyDHCP answers to iPXE (the dispatcher), for $want guests"
  else fail $row "proxy2 logged $n proxyDHCP answers to iPXE, expected at least $want"; fi
  metrics=$(in_ns "$NS_PI2" curl -fsS --max-time 5 "$PROXY_ADMIN/metrics" 2>&1 || true)
  echo "$metrics" >"$LOGS/proxy2.metrics"
  for client in pxe ipxe; do
    n=$(sed -n "s/^netboot_proxy_dhcp_answers_total{client=\"$client\"} \([0-9]*\)$/\1/p" <<<"$metrics")
    if [ "${n:-0}" -ge $want ]; then pass $row "proxy2 /metrics: netboot_proxy_dhcp_answers_total{client=\"$client\"} $n"
    else fail $row "proxy2 /metrics: netboot_proxy_dhcp_answers_total{client=\"$client\"} is '${n:-missing}', expected at least $want (proxy2.metrics)"; fi
  done
  if grep -aq 'proxyDHCP' "$LOGS/proxy.log"; then fail $row "home 1's proxy (no --proxy-dhcp) logged proxyDHCP lines"
  else pass $row "home 1's proxy, without --proxy-dhcp, never spoke DHCP (proxy.log)"; fi
fi
if [ $EXPLORE = 1 ]; then
  say "explore: \`exit\` as the local-boot method"
  g=x-exit-dispatcher-bios
  check_boot 7 $g
  check_serial 7 $g "LANTEST-LOCALBOOT $g: exit" "the machine script ran exit"
  if access_lines $g | grep -qF "path=/machines/unknown.ipxe"; then fail 7 "$g got machines/unknown.ipxe after its script exited"
  else pass 7 "$g: after the machine script's exit iPXE ended (no unknown.ipxe) and SeaBIOS booted the disk"; fi
  for g in x-exit1-bios x-exit1-ovmf-debian x-exit1-ovmf x-exit1-aavmf; do
    check_boot 7 $g
    check_serial 7 $g "LANTEST-LOCALBOOT $(hyp $g): exit 1 (top-level script)" "$g: the top-level script ran exit 1"
  done
  for g in x-exit1-ovmf-debian x-exit1-ovmf x-exit1-aavmf; do
    if has $g 'Start HTTP Boot over IPv4' || has $g 'PXEv6'; then
      pass 7 "$g: after exit 1 the firmware tried its other network boot options (PXEv6/HTTP) before the disk"
    else pass 7 "$g: after exit 1 the firmware went straight to the disk"; fi
  done
  check_boot 7 x-exit0-ovmf-debian
  check_serial 7 x-exit0-ovmf-debian "LANTEST-LOCALBOOT $(hyp x-exit0-ovmf-debian): exit (top-level script)" "the top-level script ran exit (status 0)"
fi

# Row 12: the OS's own fetches, as its console reports them (make_net_initramfs), against
# the bundle, the proxy's and the origin's logs.
manifest_field() { # out-dir route field → that field of the route's manifest entry ("" if none)
  python3 -c 'import json,sys; print((json.load(open(sys.argv[1]+"/manifest.json"))["routes"].get(sys.argv[2]) or {}).get(sys.argv[3], ""))' "$1" "$2" "$3"
}
prov_lines() { tr -d '\r' <"$LOGS/$1.serial" | grep -a '^NETBOOT-E2E: \(fetched\|optional\|fetch failed\) ' || true; }
# check_prov_file row guest name content-type: the guest fetched its file NAME from the Pi,
# the bundle's object for that route, with CONTENT-TYPE, from its own set. PROV_SET_OF: the
# set's hex ("" if not found).
check_prov_file() {
  local row=$1 g=$2 name=$3 want_ct=$4 line url route set hex sha ct mct
  PROV_SET_OF=""
  line=$(prov_lines "$g" | grep -E "^NETBOOT-E2E: fetched $PROXY_HTTP/files/[0-9a-f]+/$name " | head -n1 || true)
  if [ -z "$line" ]; then
    fail "$row" "$g fetched no $PROXY_HTTP/files/<set>/$name (its console: $(prov_lines "$g" | grep -F "/$name" | head -n1))"; return
  fi
  url=$(awk '{print $3}' <<<"$line") route=${url#"$PROXY_HTTP"/}
  set=${route#files/} set=${set%/*}
  sha=$(grep -o ' sha256=[0-9a-f]*' <<<"$line" | cut -d= -f2)
  ct=${line##* type=}
  if ! hex=$(manifest_object "$WORK/out" "$route" 2>/dev/null); then
    fail "$row" "$g fetched $url, but the bundle has no route $route"; return
  fi
  PROV_SET_OF=$set
  if [ "$sha" = "$hex" ]; then pass "$row" "$g fetched $name through the Pi: sha256 $sha, as the bundle's route $route ($(grep -o 'bytes=[0-9]*' <<<"$line"))"
  else fail "$row" "$g fetched $url: sha256 $sha, the bundle's route $route is $hex"; fi
  proxy_http "$row" "$g" "$route" "$hex" "the proxy served $g's $name"
  mct=$(manifest_field "$WORK/out" "$route" content_type)
  if [ "$ct" = "$want_ct" ] && [ "$mct" = "$want_ct" ]; then pass "$row" "$g saw Content-Type $ct for $name (the manifest's content_type too)"
  else fail "$row" "$name for $g: Content-Type $ct on the guest, $mct in the manifest, expected $want_ct"; fi
  if grep -qF -- "$g" "$WORK/out/objects/sha256/$hex" && grep -q ' own=yes ' <<<"$line"; then
    pass "$row" "$g's $name is its own: it names $g (objects/sha256/${hex:0:16}…, and the guest found its name in it)"
  else fail "$row" "$g's $name (objects/sha256/$hex) does not name $g, or the guest did not find its name in it ($line)"; fi
  check_serve "$row" serve.log "$route" "the origin served $g's $name to the proxy over mTLS"
}
# prov_content row guest name python-check what: the bundle's object for the guest's file
# NAME passes CHECK (python: `text` is the file, `g` the machine; raises or is false to fail).
prov_content() {
  local row=$1 g=$2 name=$3 route hex out
  route=$(prov_lines "$g" | grep -oE "^NETBOOT-E2E: fetched $PROXY_HTTP/files/[0-9a-f]+/$name " | awk '{print $3}' | head -n1 || true)
  route=${route#"$PROXY_HTTP"/}
  hex=$(manifest_object "$WORK/out" "$route" 2>/dev/null) || { fail "$row" "$5: no route for $g's $name"; return; }
  if out=$(python3 - "$WORK/out/objects/sha256/$hex" "$g" "$4" <<'EOF' 2>&1
import json, sys
text = open(sys.argv[1]).read(); g = sys.argv[2]
try:
    import yaml
except ImportError:
    yaml = None
ok = eval(sys.argv[3])
if not ok:
    sys.exit("check is false")
EOF
  ); then pass "$row" "$5"; else fail "$row" "$5: $(tail -n1 <<<"$out") (objects/sha256/$hex)"; fi
}
if want_row 12; then
  say "row 12: the OS fetches its own provisioning files through the proxy"
  INITRD_PROV=$(sha "$IMAGES/initrd-prov-x86_64.cpio.gz")
  declare -A PROV_SET=()
  for g in r12-prov-ignition r12-prov-nocloud; do
    check_linux_via_proxy 12 $g "$KERNEL_X64" "$INITRD_PROV" x86_64 "prov-${g#r12-prov-}"
    line=$(tr -d '\r' <"$LOGS/$g.serial" | grep -a '^NETBOOT-E2E: modules loaded: ' | head -n1 || true)
    if [[ "$line" == *" virtio_net "* ]]; then pass 12 "$g: the OS loaded the virtio NIC modules of its kernel's package (${line#NETBOOT-E2E: })"
    else fail 12 "$g: the OS did not load virtio_net (${line:-no \"modules loaded\" line})"; fi
    lease=$(tr -d '\r' <"$LOGS/$g.serial" | grep -a '^NETBOOT-E2E: lease ' | head -n1 | awk '{print $3}' || true)
    if [ -n "$lease" ] && grep -qE "^($(guest_ips $g))/" <<<"$lease"; then
      pass 12 "$g: the OS got the lease $lease on eth0 (busybox udhcpc), its MAC's fixed address"
    else fail 12 "$g: the OS's lease '${lease:-none}' is not the router's address for its MAC ($(guest_ips $g))"; fi
    if prov_lines $g | grep -q '^NETBOOT-E2E: fetch failed '; then fail 12 "$g: a required fetch failed: $(prov_lines $g | grep '^NETBOOT-E2E: fetch failed ' | head -n1)"; fi
    check_simulation 12 $g bios debian-2019
  done
  g=r12-prov-ignition
  check_serial 12 $g "ignition.config.url=$PROXY_HTTP/files/" "the command line names the Ignition config on the Pi (files.ignition.url)"
  check_prov_file 12 $g ignition application/vnd.coreos.ignition+json; PROV_SET[$g]=$PROV_SET_OF
  prov_content 12 $g ignition '(c := json.loads(text))["ignition"]["version"] == "3.4.0" and any(f["path"] == "/etc/hostname" and g in f["contents"]["source"] for f in c["storage"]["files"]) and c["passwd"]["users"][0]["sshAuthorizedKeys"][0].startswith("ssh-ed25519 ")' \
    "$g's ignition is an Ignition 3.4.0 config: /etc/hostname = $g, a user with an ssh key"
  g=r12-prov-nocloud
  check_serial 12 $g "ds=nocloud;s=$PROXY_HTTP/files/" "the command line names the NoCloud seed on the Pi (files_url)"
  check_prov_file 12 $g meta-data application/yaml; PROV_SET[$g]=$PROV_SET_OF
  check_prov_file 12 $g user-data text/cloud-config; set2=$PROV_SET_OF
  if [ -n "${PROV_SET[$g]}" ] && [ "${PROV_SET[$g]}" = "$set2" ]; then pass 12 "$g's meta-data and user-data share one set: files/${set2:0:16}…/"
  else fail 12 "$g's meta-data and user-data are in sets '${PROV_SET[$g]}' and '$set2'"; fi
  prov_content 12 $g meta-data 'yaml.safe_load(text)["instance-id"] == g if yaml else ("instance-id: " + g + "\n") in text' \
    "$g's meta-data is a YAML mapping with instance-id: $g"
  prov_content 12 $g user-data 'text.split("\n", 1)[0] == "#cloud-config" and (yaml.safe_load(text)["hostname"] == g if yaml else ("hostname: " + g + "\n") in text)' \
    "$g's user-data starts with #cloud-config and sets hostname: $g"
  # NoCloud also asks for vendor-data and network-config; none is declared: 404, and the
  # boot goes on.
  set=${PROV_SET[$g]} n404=0
  for name in network-config vendor-data; do
    if prov_lines $g | grep -qF "NETBOOT-E2E: optional $PROXY_HTTP/files/$set/$name status=404 (not required)" &&
      access_lines $g | grep -F "path=/files/$set/$name " | grep -q 'status=404'; then
      pass 12 "$g's optional $name (not declared): 404 on its console and in proxy.log"; n404=$((n404 + 1))
    else fail 12 "$g's optional $name: no 404 on its console and in proxy.log ($(prov_lines $g | grep -F "/$name" | head -n1 || true))"; fi
  done
  if [ $n404 = 2 ] && [ "$(result $g | cut -d' ' -f1)" = ok ]; then pass 12 "$g went on after the 404s to \"$PROV_MARK\""
  elif [ $n404 = 2 ]; then fail 12 "$g did not reach \"$PROV_MARK\" after the 404s"; fi
  # The sets are per machine and not named after it.
  if [ -n "${PROV_SET[r12-prov-ignition]}" ] && [ -n "$set" ] && [ "${PROV_SET[r12-prov-ignition]}" != "$set" ]; then
    pass 12 "the two machines' files are in different sets (${PROV_SET[r12-prov-ignition]:0:12}…, ${set:0:12}…)"
  else fail 12 "the machines' sets: '${PROV_SET[r12-prov-ignition]}' and '$set'"; fi
  for g in r12-prov-ignition r12-prov-nocloud; do
    n=$([ $g = r12-prov-ignition ] && echo ignition || echo user-data)
    code=$(in_ns "$NS_PI" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PROXY_HTTP/files/$g/$n" || true)
    if [ "$code" = 404 ]; then pass 12 "$PROXY_HTTP/files/$g/$n (a set named after the machine): 404"
    else fail 12 "$PROXY_HTTP/files/$g/$n answered $code, expected 404"; fi
  done
fi

# The origin's side of the via-proxy rows: the proxy fetched every file over mTLS.
if want_row 1 || want_row 2 || want_row 3 || want_row 4 || want_row 9; then
  say "the origin: what the proxy fetched (mTLS, client certificate)"
  for row in 1 2 3 4 9; do want_row $row && break; done
  check_serve $row serve.log boot.ipxe "the proxy fetched the dispatcher"
  check_serve $row serve.log images/linux-x86_64/kernel "the proxy fetched the x86_64 kernel"
  check_serve $row serve.log images/linux-x86_64/initrd "the proxy fetched the x86_64 initrd"
  want_row 2 && check_serve 2 serve.log tftp/undionly.kpxe "the proxy fetched undionly.kpxe"
  want_row 3 && check_serve 3 serve.log tftp/snponly.efi "the proxy fetched snponly.efi"
  if want_row 4; then
    check_serve 4 serve.log tftp/snp-arm64.efi "the proxy fetched snp-arm64.efi"
    check_serve 4 serve.log images/linux-arm64/kernel "the proxy fetched the arm64 kernel"
    check_serve 4 serve.log images/linux-arm64/initrd "the proxy fetched the arm64 initrd"
  fi
fi
if [ $LAN2 = 1 ]; then
  for row in 10 11; do want_row $row && break; done
  check_serve $row serve.log images/linux-x86_64/kernel "home 2's Pi fetched the x86_64 kernel over its uplink" "${PI2_UPLINK//./\\.}"
fi

# Boot status: the Pi's GET /status joined with the fleet by `netbootc status` (home 1's
# guests; home 2 has its own Pi): every guest that booted Linux is done, the unregistered
# MAC is listed with a stanza to paste, and the command exits 1 because of it.
if want_row 1 || want_row 2 || want_row 3 || want_row 4 || want_row 6 || want_row 9 || want_row 12; then
  say "boot status: netbootc status --proxy $PROXY_ADMIN --config fleet"
  status_rc=0
  in_ns "$NS_PI" "$BIN/netbootc" status --proxy "$PROXY_ADMIN" --config "$WORK/fleet" --format json \
    >"$LOGS/status.json" 2>"$LOGS/status.err" || status_rc=$?
  in_ns "$NS_PI" "$BIN/netbootc" status --proxy "$PROXY_ADMIN" --config "$WORK/fleet" >"$LOGS/status.txt" 2>&1 || true
  machine_state() { # name → its state in status.json ("absent" if not listed)
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(next((m["state"] for m in r["machines"] if m["name"] == sys.argv[2]), "absent"))' "$LOGS/status.json" "$1" 2>/dev/null || echo unreadable
  }
  for g in r1-bios-rom r2-bios-undionly r3-uefi-x86_64 r4-uefi-arm64 r9-http-x86_64 r9-http-arm64 r12-prov-ignition r12-prov-nocloud; do
    want_row "${G_ROW[$g]}" || continue
    st=$(machine_state "$g")
    if [ "$st" = done ]; then pass "${G_ROW[$g]}" "netbootc status: $g is done (the Pi saw its script, kernel and initrd; status.txt)"
    else fail "${G_ROW[$g]}" "netbootc status: $g is '$st', not done ($LOGS/status.txt)"; fi
  done
  if want_row 6; then
    mac=${G_MAC[r6-unknown-mac]}
    if python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
u = [m for m in r["unknown_macs"] if m["mac"] == sys.argv[2]]
sys.exit(0 if u and ("mac \"%s\"" % sys.argv[2]) in u[0]["stanza"] and "profile" in u[0]["stanza"] else 1)' "$LOGS/status.json" "$mac"; then
      pass 6 "netbootc status lists the unknown MAC $mac with a KDL stanza to paste (status.txt)"
    else fail 6 "netbootc status does not list $mac with its stanza ($LOGS/status.json)"; fi
    if [ $status_rc = 1 ]; then pass 6 "netbootc status exits 1: an unknown MAC asked"
    else fail 6 "netbootc status exited $status_rc, expected 1 (an unknown MAC asked; $LOGS/status.err)"; fi
  fi
fi

# ---------------------------------------------------------------- summary
say "summary"
declare -A ROW_NAME=([0]="router DHCP config (probe)" [1]="BIOS, iPXE ROM" [2]="BIOS, PXE ROM -> undionly.kpxe"
  [3]="UEFI x86_64 PXE -> snponly.efi" [4]="UEFI arm64 PXE -> snp-arm64.efi" [5]="direct HTTPS (mTLS)"
  [6]="unknown MAC" [7]="local disk (boot \"local\")" [8]="arch guard" [9]="UEFI HTTP Boot (x86_64, arm64)"
  [10]="proxyDHCP: BIOS PXE ROM" [11]="proxyDHCP: UEFI x86_64 PXE" [12]="provisioning files via proxy")
for row in $ROWS; do
  times=""
  for g in "${SELECTED[@]}"; do
    [ "${G_ROW[$g]}" = "$row" ] || continue
    read -r st el _ <<<"$(result "$g")"
    times+=" $g=${el}s"
  done
  status=PASS
  [ "${ROW_FAILS[$row]:-0}" = 0 ] || status=FAIL
  [ "${ROW_CHECKS[$row]:-0}" != 0 ] || status="----"
  printf '%-4s row %-2s %-32s %3s checks%s\n' "$status" "$row" "${ROW_NAME[$row]:-?}" "${ROW_CHECKS[$row]:-0}" "${times:+ | boot:$times}"
done
total_checks=0 total_fails=0
for row in "${!ROW_CHECKS[@]}"; do total_checks=$((total_checks + ROW_CHECKS[$row])); total_fails=$((total_fails + ${ROW_FAILS[$row]:-0})); done
say "timings: setup (packages, builds, kernels) $((SETUP_DONE - START)) s; fleet, certs, bundles, servers $((T_SERVERS - SETUP_DONE)) s;" \
  "row 0 $((T_GUESTS - T_SERVERS)) s; guests $((T_CHECKS - T_GUESTS)) s; checks $((SECONDS - T_CHECKS)) s; total $((SECONDS - START)) s"
echo "$((total_checks - total_fails)) passed, $total_fails failed"
if [ "$FAILED" != 0 ]; then echo "FAIL: LAN boot matrix"; exit 1; fi
echo "PASS: LAN boot matrix (rows: $ROWS)"
