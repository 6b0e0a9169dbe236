#!/usr/bin/env bash
# Debian packages of netboot-proxy for arm64, armhf and amd64, built with cargo-deb (pinned,
# installed with cargo install into $NETBOOT_PI_CACHE), checked with lintian, plus SHA256SUMS:
#
#   runtime/deploy/pi/build-deb.sh                              # all three
#   runtime/deploy/pi/build-deb.sh aarch64-unknown-linux-gnu    # arm64 only
#
# Output: $CARGO_TARGET_DIR/pi/dist/netboot-proxy_<version>-<rev>_<arch>.deb and SHA256SUMS.
# NETBOOT_PI_PROFILE=dev packages the debug build instead of the release one (CI checks
# the packaging with the binary its tests already built; releases use the default).
# What goes in the package is [package.metadata.deb] in runtime/proxy/Cargo.toml and the
# files in debian/ beside this script (unit, sysusers.d entry, maintainer scripts,
# conffile, changelog); README.md beside this script explains the choices. Lintian runs
# with the overrides in debian/netboot-proxy.lintian-overrides and fails the script on any error or
# warning (NETBOOT_PI_LINTIAN=0 skips it).
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

CARGO_DEB_VERSION=3.8.0

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${PI_TARGETS[@]}" x86_64-unknown-linux-gnu)

cross_setup "${targets[@]}"
# dpkg-shlibdeps (cargo-deb's $auto depends), help2man (the man page), lintian. (The ARM
# binaries' --help runs under the qemu-user that common.sh's qemu_select picks.)
apt_install dpkg-dev help2man lintian xz-utils

# cargo-deb, pinned, in the cache (not ~/.cargo/bin, so it never shadows another version).
cargo_deb=$PI_CACHE/cargo-deb-$CARGO_DEB_VERSION/bin/cargo-deb
if [ ! -x "$cargo_deb" ]; then
  log "cargo install cargo-deb $CARGO_DEB_VERSION into $PI_CACHE"
  heavy cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" \
    --root "$PI_CACHE/cargo-deb-$CARGO_DEB_VERSION"
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n1)
changelog_version=$(sed -n '1s/^netboot-proxy (\(.*\)) .*/\1/p' "$PI_DIR/debian/changelog")
[ "${changelog_version%-*}" = "$version" ] \
  || die "debian/changelog's first entry is $changelog_version but the workspace version is $version: add an entry for $version-1 at the top of $PI_DIR/debian/changelog"

packages=("${PI_PACKAGES[@]}")
[[ " ${packages[*]} " == *" netboot-proxy "* ]] || packages+=(netboot-proxy)
pkg_args=()
for p in "${packages[@]}"; do pkg_args+=(-p "$p"); done

profile=${NETBOOT_PI_PROFILE:-release}
profile_dir=$profile
[ "$profile" = dev ] && profile_dir=debug
dist=$CARGO_TARGET_DIR/pi/dist
mkdir -p "$dist"
cd "$REPO" || exit
debs=()
for t in "${targets[@]}"; do
  arch=$(deb_arch "$t")
  # The host's own build goes where `cargo build` puts it (so a test build is reused).
  target_args=(--target "$t")
  release=$CARGO_TARGET_DIR/$t/$profile_dir
  if [ "$t" = "$(host_triple)" ]; then
    target_args=()
    release=$CARGO_TARGET_DIR/$profile_dir
  fi
  (
    cross_env "$t"
    # The same command as build.sh's: nothing to do when it ran first.
    log "cargo build --profile $profile ${target_args[*]} ${pkg_args[*]}"
    heavy cargo build --locked --profile "$profile" "${target_args[@]}" "${pkg_args[@]}"
  )
  # The man page, from --help (the same on every architecture; the ARM binary runs under
  # qemu-user so that the page is the one of the binary packaged).
  run=$release/netboot-proxy
  if [ "$t" != "$(host_triple)" ]; then
    qemu_select "$t"
    run=$(mktemp -d)/netboot-proxy
    printf '#!/bin/sh\nexec %q -L /usr/%s %q "$@"\n' \
      "$QEMU_USER" "$(gnu_triple "$t")" "$release/netboot-proxy" >"$run"
    chmod +x "$run"
  fi
  help2man --no-info --section=1 --name="netbootc's LAN boot proxy (TFTP and HTTP, from the origin over mTLS)" \
    --version-string="$version" "$run" | gzip -9n >"$release/netboot-proxy.1.gz"
  log "cargo deb ${target_args[*]} --profile $profile ($arch)"
  out=$("$cargo_deb" -p netboot-proxy "${target_args[@]}" --profile "$profile" --no-build --locked --output "$dist" 2>&1) \
    || { printf '%s\n' "$out" >&2; die "cargo deb failed for $t"; }
  printf '%s\n' "$out" | grep -v '^$' >&2
  deb=$dist/netboot-proxy_${changelog_version}_${arch}.deb
  [ -f "$deb" ] || die "cargo-deb did not write $deb"
  debs+=("$deb")
done

if [ "${NETBOOT_PI_LINTIAN:-1}" != 0 ]; then
  lintian_failed=()
  for deb in "${debs[@]}"; do
    log "lintian $(basename "$deb")"
    # Errors and warnings fail the build; info tags are printed. The package's own
    # overrides (debian/netboot-proxy.lintian-overrides) apply.
    lintian --fail-on error,warning --display-info --tag-display-limit 0 "$deb" \
      || lintian_failed+=("$(basename "$deb")")
  done
  [ ${#lintian_failed[@]} -eq 0 ] || die "lintian: errors or warnings in ${lintian_failed[*]}"
  log "lintian: no errors or warnings"
fi

# Of this run's packages only (dist/ may hold older ones).
names=()
for deb in "${debs[@]}"; do names+=("$(basename "$deb")"); done
(cd "$dist" && sha256sum -- "${names[@]}" >SHA256SUMS)
for deb in "${debs[@]}"; do
  printf '%-44s %8d bytes  Depends: %s\n' "$(basename "$deb")" "$(stat -c %s "$deb")" \
    "$(dpkg-deb -f "$deb" Depends)"
done
log "packages and SHA256SUMS in $dist"
