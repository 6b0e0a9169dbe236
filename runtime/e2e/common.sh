# Sourced by the boot tests (lan-boot.sh, qemu-boot.sh, pi/pi-boot.sh): what they all need.
# shellcheck shell=bash

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# qemu_apt_target: the apt-get flags to install QEMU with. bookworm's QEMU (7.2) would make
# apt remove the preinstalled backports qemu-utils, so on bookworm QEMU comes from
# bookworm-backports (`-t bookworm-backports`, adding that apt source if it is missing).
# A log may hold binary bytes (a guest's serial console): grep -a.
wait_log() { # file text seconds pid: until FILE has TEXT or the process dies
  local deadline=$((SECONDS + $3))
  until grep -aqF -- "$2" "$1" 2>/dev/null; do
    kill -0 "$4" 2>/dev/null && [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
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

# make_net_initramfs BUSYBOX MODDIR OUT: an initramfs for an OS that provisions itself from
# the network (lan-boot.sh row 12). MODDIR holds the kernel's virtio NIC modules as plain
# <name>.ko and its modules.builtin (lan-boot.sh fetch_x64_modules); they are loaded in the
# order below, skipping ones the kernel has built in; virtio_net must be one or the other.
# /init loads them, gets a lease on eth0 (busybox udhcpc), then fetches what /proc/cmdline
# names: ignition.config.url=URL, or ds=nocloud;s=SEED → SEED meta-data and user-data
# (required), network-config and vendor-data (optional: a 404 is reported, not a failure).
# Each fetch is one console line, printk quietened so that kernel messages do not split it:
#   NETBOOT-E2E: fetched <url> sha256=<hex> bytes=<n> own=<yes|no> type=<Content-Type, to the end>
#   NETBOOT-E2E: optional <url> status=<code> (not required)
# own=yes: the file names the machine (netboot.machine= on the command line). Then
#   NETBOOT-E2E: provisioning done: <n> files in <s> s since boot    (or "provisioning failed: …")
# and poweroff.
NET_INITRAMFS_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net"
make_net_initramfs() {
  local busybox=$1 moddir=$2 out=$3 root m loaded=() builtin=()
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/lib/modules"
  for m in $NET_INITRAMFS_MODULES; do
    if [ -f "$moddir/$m.ko" ]; then cp "$moddir/$m.ko" "$root/lib/modules/"; loaded+=("$m")
    elif grep -qE "(^|/)$m\.ko$" "$moddir/modules.builtin" 2>/dev/null; then builtin+=("$m")
    elif [ "$m" = virtio_net ]; then
      echo "make_net_initramfs: virtio_net is neither a module in $moddir nor built in (modules.builtin)" >&2
      rm -rf "$root"; return 1
    fi
  done
  echo "make_net_initramfs: modules ${loaded[*]:-none}; built in: ${builtin[*]:-none}" >&2
  printf '%s\n' "${loaded[@]}" >"$root/etc/modules"
  cp "$busybox" "$root/bin/busybox"
  cat >"$root/etc/udhcpc.script" <<'EOF'
#!/bin/busybox sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -z "$router" ] || ip route replace default via "${router%% *}" dev "$interface"
    echo "NETBOOT-E2E: lease $ip/${mask:-24} on $interface from ${serverid:-?}, router ${router:-none}" ;;
esac
EOF
  cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
say() { echo "NETBOOT-E2E: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
failed() { say "provisioning failed: $*"; dmesg | tail -n 20; poweroff -f; }
say "the OS started: linux $(uname -r) $(uname -m); cmdline: $(cat /proc/cmdline)"
echo 1 >/proc/sys/kernel/printk
set -f
machine=""
for arg in $(cat /proc/cmdline); do case $arg in netboot.machine=*) machine=${arg#*=} ;; esac; done
for m in $(cat /etc/modules); do insmod "/lib/modules/$m.ko" || failed "insmod $m"; done
say "modules loaded: $(cat /etc/modules | tr '\n' ' ')at $(uptime_s) s"
i=0
until [ -e /sys/class/net/eth0 ]; do
  i=$((i + 1)); [ $i -le 100 ] || failed "no eth0 after 10 s"; sleep 0.1
done
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -s /etc/udhcpc.script -f -q -n -t 10 -T 2 || failed "no DHCP lease on eth0"
fetched=0 failures=0 n=0
fetch() { # URL required(1|0)
  n=$((n + 1))
  local f=/tmp/f$n h=/tmp/h$n st ct own=no
  if wget -S -O "$f" "$1" 2>"$h"; then
    ct=$(sed -n 's/^ *[Cc]ontent-[Tt]ype: *//p' "$h" | tr -d '\r' | tail -n1)
    [ -z "$machine" ] || ! grep -qF -- "$machine" "$f" || own=yes
    say "fetched $1 sha256=$(sha256sum "$f" | cut -d' ' -f1) bytes=$(wc -c <"$f") own=$own type=${ct:-none}"
    fetched=$((fetched + 1))
  else
    st=$(sed -n 's/.*HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$h" | tail -n1)
    if [ "$2" = 1 ]; then
      say "fetch failed: $1 status=${st:-none}: $(tail -n1 "$h")"; failures=$((failures + 1))
    else say "optional $1 status=${st:-none} (not required)"; fi
  fi
}
sources=0
for arg in $(cat /proc/cmdline); do
  case $arg in
    ignition.config.url=*) sources=$((sources + 1)); fetch "${arg#*=}" 1 ;;
    ds=nocloud\;s=* | ds=nocloud-net\;s=*)
      sources=$((sources + 1)); seed=${arg#*;s=}
      fetch "${seed}meta-data" 1; fetch "${seed}user-data" 1
      fetch "${seed}vendor-data" 0; fetch "${seed}network-config" 0 ;;
  esac
done
[ $sources -gt 0 ] || failed "no ignition.config.url= or ds=nocloud;s= on the command line"
[ $failures = 0 ] || failed "$failures required files not fetched"
say "provisioning done: $fetched files in $(uptime_s) s since boot"
poweroff -f
EOF
  chmod 755 "$root/init" "$root/bin/busybox" "$root/etc/udhcpc.script"
  (cd "$root" && find . | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9n >"$out"
  rm -rf "$root"
}
