# Sourced by the boot tests (lan-boot.sh, qemu-boot.sh): what both need.
# shellcheck shell=bash

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# qemu_apt_target: the apt-get flags to install QEMU with. bookworm's QEMU (7.2) would make
# apt remove the preinstalled backports qemu-utils, so on bookworm QEMU comes from
# bookworm-backports (`-t bookworm-backports`, adding that apt source if it is missing).
qemu_apt_target() {
  grep -qs '^VERSION_CODENAME=bookworm' /etc/os-release || return 0
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "== adding the bookworm-backports apt source" >&2
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
      'Suites: bookworm-backports' 'Components: main' \
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
      as_root tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
  fi
  echo "-t bookworm-backports"
}

# make_initramfs BUSYBOX OUT: /init prints the OS marker (kernel release, machine, the
# command line iPXE gave it) on the console and powers off, so QEMU exits.
make_initramfs() {
  local root
  root=$(mktemp -d)
  mkdir -p "$root/bin"
  cp "$1" "$root/bin/busybox"
  cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
echo "NETBOOT-E2E: the OS started: linux $(/bin/busybox uname -r) $(/bin/busybox uname -m); cmdline: $(/bin/busybox cat /proc/cmdline)"
/bin/busybox poweroff -f
EOF
  chmod 755 "$root/init" "$root/bin/busybox"
  (cd "$root" && find . | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9n >"$2"
  rm -rf "$root"
}
