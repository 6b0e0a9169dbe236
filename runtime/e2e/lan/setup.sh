# shellcheck shell=bash
# Host setup for the matrix: Debian packages, cached kernels, the servers' binaries, the
# work directory, the iPXE builds. Sourced by ../lan-boot.sh.
APT_UPDATED=0
apt_update_once() { # the host's apt lists, refreshed at most once per run
  [ $APT_UPDATED = 1 ] && return 0
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && APT_UPDATED=1
}
install_packages() {
  local base=(ipxe-qemu ipxe ovmf qemu-efi-aarch64 dnsmasq-base busybox-static
    gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu gcc libc6-dev make perl liblzma-dev mtools
    curl python3 iproute2 openssl xz-utils binutils tcpdump sbsigntool shim-signed)
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


# setup_host: packages, firmware files, the binaries (BIN), the work directory (WORK, LOGS,
# RESULTS, GUEST_PIDS_DIR), kernels (KDIR, MODS_X64 with row 12) and iPXE builds.
setup_host() {
  install_packages
  for tool in qemu-system-x86_64 qemu-system-aarch64 dnsmasq busybox curl python3 mformat ip tcpdump; do
    command -v "$tool" >/dev/null || die "$tool not found after installing packages"
  done
  OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
  # Secure Boot (rows 13-14): Debian's SB-enforcing OVMF with only the test key in
  # PK/KEK/db, and that key (its password is in the ovmf package's README.Debian).
  OVMF_SB_CODE=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd OVMF_SB_VARS=/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd
  SB_KEY=/usr/share/ovmf/PkKek-1-snakeoil.key SB_CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem
  # Row 15: Microsoft's keys (OVMF_VARS_4M.ms.fd), Debian's Microsoft-signed shim.
  OVMF_MS_VARS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd SHIM_SIGNED=/usr/lib/shim/shimx64.efi.signed
  # Row 16: arm64, AAVMF with the test key in PK/KEK/db.
  AAVMF_SB_CODE=/usr/share/AAVMF/AAVMF_CODE.snakeoil.fd AAVMF_SB_VARS=/usr/share/AAVMF/AAVMF_VARS.snakeoil.fd
  AAVMF_CODE=/usr/share/AAVMF/AAVMF_CODE.fd AAVMF_VARS=/usr/share/AAVMF/AAVMF_VARS.fd
  ROM=/usr/lib/ipxe/qemu/efi-e1000.rom VIRTIO_ROM=/usr/lib/ipxe/qemu/efi-virtio.rom
  for f in "$OVMF_CODE" "$OVMF_VARS" "$OVMF_SB_CODE" "$OVMF_SB_VARS" "$SB_KEY" "$SB_CERT" "$OVMF_MS_VARS" "$SHIM_SIGNED" \
    "$AAVMF_SB_CODE" "$AAVMF_SB_VARS" \
    "$AAVMF_CODE" "$AAVMF_VARS" "$ROM" "$VIRTIO_ROM" \
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
}
