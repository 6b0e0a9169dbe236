# Sourced by the boot tests (lan-boot.sh, qemu-boot.sh): the guests' initramfs.
# shellcheck shell=bash

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
