#!/usr/bin/env bash
# iPXE builds for the LAN boot matrix, from the vendored iPXE source tarball, cached outside
# the repository. Sourced by ../lan-boot.sh; also runnable on its own:
#
#   bash runtime/e2e/lan/ipxe-build.sh arm64-snp          # prints the path of snp.efi
#   bash runtime/e2e/lan/ipxe-build.sh standin-rom        # the stand-in "vendor PXE" ROM
#
# Source: iPXE v2.0.0 (commit 12798ec29aa8a64d8675c4378b99f5fe28447afb), from $IPXE_TARBALL,
# else ../shared/vendor/ipxe-2.0.0.tar.xz beside the repository (the offline mirror; CI has
# it), else fetched from https://github.com/ipxe/ipxe; whichever it is, held to one pinned
# sha256 (runtime/testkit/pinned-source.sh). The tree is unpacked once into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/netboot-e2e/ipxe-<that sha256>/
# and every build runs there under a lock (flock), with `nice -n 10`, so a second run of the
# matrix reuses the objects and only relinks what changed (the embedded script or
# certificates of the direct-mode build). Finished binaries that do not depend on a run are
# kept under .../out/.
set -euo pipefail

IPXE_E2E_DIR=${IPXE_E2E_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
IPXE_CACHE_ROOT=${IPXE_CACHE_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/netboot-e2e}
# shellcheck source=../../testkit/pinned-source.sh
source "$IPXE_E2E_DIR/../../testkit/pinned-source.sh"

# ipxe_tree: unpacks the verified source once (keyed by its sha256) and prints the build
# directory.
ipxe_tree() {
  local tarball dir
  tarball=$(pinned_source ipxe) || return 1
  dir=$IPXE_CACHE_ROOT/ipxe-$(basename "$tarball" .tar | sed 's/.*-//')
  mkdir -p "$dir"
  (
    flock 9
    if [ ! -f "$dir/.unpacked" ]; then
      rm -rf "$dir/tree" && mkdir -p "$dir/tree"
      tar -xf "$tarball" -C "$dir/tree" --strip-components=1
      [ -f "$dir/tree/src/Makefile" ] || { echo "ipxe-build: $tarball has no src/Makefile" >&2; exit 1; }
      touch "$dir/.unpacked"
    fi
  ) 9>"$dir/.lock"
  echo "$dir"
}

# ipxe_make DIR LOG TARGET [VAR=VALUE ...]: one make in the cached tree, under the lock.
ipxe_make() {
  local dir=$1 log=$2 target=$3; shift 3
  (
    flock 9
    cd "$dir/tree/src"
    nice -n 10 make -j"$(nproc)" "$target" "$@" >>"$log" 2>&1
  ) 9>"$dir/.lock"
}

# ipxe_build NAME [OUT]: builds one of the binaries below and prints its path.
#   arm64-snp     bin-arm64-efi/snp.efi (CROSS=aarch64-linux-gnu-): the arm64 iPXE the
#                 AAVMF firmware's PXE fetches over TFTP (Debian ships no arm64 iPXE)
#   x86_64-snponly  bin-x86_64-efi/snponly.efi: iPXE 2.0.0 for x86_64 UEFI (Debian's is 2019,
#                 whose EFI build can neither sanboot a local disk nor return an error to the
#                 firmware; see row 7)
#   standin-rom   bin/8086100e.rom (e1000) with lan/standin-pxe.ipxe embedded: a BIOS
#                 "vendor PXE" ROM whose DHCP user-class is not "iPXE" (see that script)
#   direct-efi    bin-x86_64-efi/ipxe.efi with TRUST/CERT/PRIVKEY/EMBED from the environment
#                 (IPXE_TRUST, IPXE_CERT, IPXE_PRIVKEY, IPXE_EMBED; CERT and PRIVKEY may be
#                 unset): per run, written to OUT
ipxe_build() {
  local name=$1 out=${2:-} dir log
  dir=$(ipxe_tree) || return 1
  mkdir -p "$dir/out"
  log=$dir/build.log
  case "$name" in
    arm64-snp)
      local dest=$dir/out/snp-arm64.efi
      if [ ! -s "$dest" ]; then
        echo "ipxe-build: building bin-arm64-efi/snp.efi (about 1.5 min on 2 cores; log $log)" >&2
        ipxe_make "$dir" "$log" bin-arm64-efi/snp.efi CROSS=aarch64-linux-gnu- || { tail -30 "$log" >&2; return 1; }
        cp "$dir/tree/src/bin-arm64-efi/snp.efi" "$dest.tmp" && mv "$dest.tmp" "$dest"
      fi
      echo "$dest" ;;
    x86_64-snponly)
      local dest=$dir/out/snponly-x86_64.efi
      if [ ! -s "$dest" ]; then
        echo "ipxe-build: building bin-x86_64-efi/snponly.efi (log $log)" >&2
        ipxe_make "$dir" "$log" bin-x86_64-efi/snponly.efi || { tail -30 "$log" >&2; return 1; }
        cp "$dir/tree/src/bin-x86_64-efi/snponly.efi" "$dest.tmp" && mv "$dest.tmp" "$dest"
      fi
      echo "$dest" ;;
    standin-rom)
      local script=$IPXE_E2E_DIR/standin-pxe.ipxe key dest
      key=$(sha256sum "$script" | cut -c1-16)
      dest=$dir/out/standin-8086100e-$key.rom
      if [ ! -s "$dest" ]; then
        echo "ipxe-build: building the stand-in PXE ROM bin/8086100e.rom (log $log)" >&2
        # A content-addressed copy: make notices a changed script by its path.
        mkdir -p "$dir/embed" && cp "$script" "$dir/embed/standin-$key.ipxe"
        ipxe_make "$dir" "$log" bin/8086100e.rom EMBED="$dir/embed/standin-$key.ipxe" ||
          { tail -30 "$log" >&2; return 1; }
        cp "$dir/tree/src/bin/8086100e.rom" "$dest.tmp" && mv "$dest.tmp" "$dest"
      fi
      echo "$dest" ;;
    direct-efi)
      [ -n "$out" ] || { echo "ipxe-build: direct-efi needs an output path" >&2; return 1; }
      local f args=()
      mkdir -p "$dir/embed"
      for f in IPXE_TRUST:TRUST IPXE_CERT:CERT IPXE_PRIVKEY:PRIVKEY IPXE_EMBED:EMBED; do
        local var=${f%%:*} arg=${f##*:} src key copy list=""
        if [ -z "${!var:-}" ]; then
          # A build without a client certificate (row 18) has no CERT/PRIVKEY of its own.
          [ "$arg" = CERT ] || [ "$arg" = PRIVKEY ] && continue
          echo "ipxe-build: $var is not set" >&2; return 1
        fi
        # Each a comma-separated list of files (CERT=ca.pem,client.pem).
        local IFS=,
        for src in ${!var}; do
          key=$(sha256sum "$src" | cut -c1-16)
          # Content-addressed names: make rebuilds exactly when a file's bytes change.
          copy=$dir/embed/$key-$(basename "$src")
          [ -f "$copy" ] || { cp "$src" "$copy.tmp" && mv "$copy.tmp" "$copy"; }
          list+=${list:+,}$copy
        done
        unset IFS
        args+=("$arg=$list")
      done
      echo "ipxe-build: building bin-x86_64-efi/ipxe.efi with $(printf '%s ' "${args[@]}" | sed 's|[^ ,=]*/||g')(log $log)" >&2
      ipxe_make "$dir" "$log" bin-x86_64-efi/ipxe.efi "${args[@]}" || { tail -30 "$log" >&2; return 1; }
      cp "$dir/tree/src/bin-x86_64-efi/ipxe.efi" "$out"
      echo "$out" ;;
    *) echo "ipxe-build: unknown build $name" >&2; return 1 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ipxe_build "$@"
fi
