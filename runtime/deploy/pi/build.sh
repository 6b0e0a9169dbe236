#!/usr/bin/env bash
# Release binaries for the Raspberry Pi: netboot-proxy (and netboot-serve, netboot-sink)
# cross-compiled on a Debian/Ubuntu x86_64 machine for
#   aarch64-unknown-linux-gnu      (Debian arm64: 64-bit Raspberry Pi OS, Pi 3/4/5, Zero 2 W)
#   armv7-unknown-linux-gnueabihf  (Debian armhf: 32-bit Raspberry Pi OS, Pi 2 and later)
# linked by Debian's cross gcc against Debian's glibc (the binaries need glibc >= 2.34,
# i.e. bookworm or later). Installs what is missing (rustup targets, gcc-*-linux-gnu*),
# builds with `cargo build --locked --release`, runs each binary's --version under the
# qemu-user common.sh's qemu_select picks, and writes stripped copies to
# $CARGO_TARGET_DIR/pi/<target>/ with their sizes.
#
#   runtime/deploy/pi/build.sh                      # both ARM targets, all three binaries
#   runtime/deploy/pi/build.sh aarch64-unknown-linux-gnu
#   NETBOOT_PI_PACKAGES="netboot-proxy" runtime/deploy/pi/build.sh   # the proxy only
#
# Also takes x86_64-unknown-linux-gnu (the host: no cross tools). See README.md beside
# this file; the environment variables are in common.sh.
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

packages=("${PI_PACKAGES[@]}")
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${PI_TARGETS[@]}")

cross_setup "${targets[@]}"

pkg_args=()
for p in "${packages[@]}"; do pkg_args+=(-p "$p"); done

cd "$REPO" || exit
for t in "${targets[@]}"; do
  (
    cross_env "$t"
    log "cargo build --release --target $t ${pkg_args[*]}"
    start=$(date +%s)
    heavy cargo build --locked --release --target "$t" "${pkg_args[@]}"
    log "$t built in $(( $(date +%s) - start )) s"
  )
  out=$CARGO_TARGET_DIR/pi/$t
  mkdir -p "$out"
  gnu=$(gnu_triple "$t")
  strip="strip"
  [ "$t" = "$(host_triple)" ] || strip=$gnu-strip
  for p in "${packages[@]}"; do
    bin=$CARGO_TARGET_DIR/$t/release/$p
    "$strip" -o "$out/$p" "$bin"
    # Does it run at all (right architecture, loader, libc)?
    if [ "$t" = "$(host_triple)" ]; then
      version=$("$out/$p" --version)
    else
      qemu_select "$t"
      version=$("$QEMU_USER" -L "/usr/$gnu" "$out/$p" --version)
    fi
    printf '%-32s %-14s %9d bytes stripped (%d unstripped)  %s\n' "$t" "$p" \
      "$(stat -c %s "$out/$p")" "$(stat -c %s "$bin")" "$version"
  done
done
log "stripped binaries: $CARGO_TARGET_DIR/pi/<target>/"
