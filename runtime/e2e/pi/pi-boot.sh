#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# Raspberry Pi 4 and 5 as netboot clients, proven (needs root; .ci/test runs it):
#
# 1. A fleet of a Pi 4 and a Pi 5 (Debian's generic arm64 kernel, its
#    bcm2711-rpi-4-b.dtb, a busybox initramfs) is checked, built and published;
#    `netbootc dhcp-config --format dnsmasq` is the router's DHCP config.
# 2. On a test LAN of network namespaces (../lan/net.sh): netboot-serve on the origin,
#    netboot-proxy on the Pi with --proxy-dhcp, dnsmasq on the router with the generated
#    config. replay.py, in a namespace of its own on the LAN switch, replays each board's
#    bootloader: DISCOVER with the Pi's vendor class from a Raspberry Pi MAC, option 43
#    ("Raspberry Pi Boot") and 66 from the router and from the proxyDHCP, the router's
#    lease, then the documented TFTP file order under the serial from the proxy, every
#    file's bytes against the bundle; a PC with the same vendor class gets no Pi menu; an
#    unknown serial's config.txt is refused.
# 3. The Pi 4's kernel, device tree, initramfs and cmdline.txt, as fetched, boot in
#    `qemu-system-aarch64 -M raspi4b` to Linux's userspace, whose /proc/cmdline must be
#    cmdline.txt's line.
#
# Stand-ins, test only: Raspberry Pi's firmware (start4.elf, fixup4.dat) is not in Debian
# main and Debian 12's kernel has no Pi 5 device tree, so those files are labelled
# stand-ins (the bootloader's fetch of them is what is tested; QEMU's raspi4b loads the
# kernel itself). The profile's command line adds what QEMU's raspi4b lacks for Debian's
# generic kernel (no brcmstb L2 interrupt controller or I2C, unreadable clock gates):
# initcall_blacklist=brcmstb_l2_driver_init,brcmstb_i2c_driver_init clk_ignore_unused.
#
# Env: PI_BIN_DIR (netbootc, netboot-serve, netboot-proxy; default
# ${CARGO_TARGET_DIR:-target}/debug), LAN_PREFIX (namespace prefix, default npi<pid>-).
set -euo pipefail
PI_DIR=$(cd "$(dirname "$0")" && pwd)
E2E=$(cd "$PI_DIR/.." && pwd)
REPO=$(cd "$E2E/../.." && pwd)
LAN_DIR=$E2E/lan
BIN=${PI_BIN_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/debug}
case "$BIN" in /*) ;; *) BIN=$REPO/$BIN ;; esac
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/netboot-e2e
LAN_PREFIX=${LAN_PREFIX:-npi$$-}
say() { echo "== pi-boot: $*" >&2; }
die() { echo "pi-boot: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for b in netbootc netboot-serve netboot-proxy; do [ -x "$BIN/$b" ] || die "$BIN/$b missing"; done
START=$SECONDS

# shellcheck source=lan/net.sh
source "$LAN_DIR/net.sh"
# shellcheck source=lan/setup.sh
source "$LAN_DIR/setup.sh"
# shellcheck source=common.sh
source "$E2E/common.sh"
NS_CLIENT=${LAN_PREFIX}board
WORK=$(mktemp -d /tmp/netboot-pi.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  LAN_CREATED+=("$NS_CLIENT")
  lan_down
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. the fleet
install_packages # the LAN matrix's packages (QEMU from backports, dnsmasq); a no-op once there
say "kernel and device tree (Debian's linux-image-arm64; cached in $CACHE)"
KDIR=$CACHE/kernels
mkdir -p "$KDIR"
fetch_from_deb arm64 linux-image-arm64 './boot/vmlinuz-*' "$KDIR/vmlinuz-arm64" || die "no arm64 kernel"
fetch_from_deb arm64 linux-image-arm64 './usr/lib/linux-image-*/broadcom/bcm2711-rpi-4-b.dtb' \
  "$KDIR/bcm2711-rpi-4-b.dtb" || die "no bcm2711-rpi-4-b.dtb"
fetch_from_deb arm64 busybox-static './bin/busybox' "$KDIR/busybox-arm64" || die "no arm64 busybox"

CONF=$WORK/fleet IMG=$WORK/fleet/profiles/images
mkdir -p "$CONF/machines" "$IMG/overlays"
cp "$KDIR/vmlinuz-arm64" "$IMG/vmlinuz-arm64"
cp "$KDIR/bcm2711-rpi-4-b.dtb" "$IMG/bcm2711-rpi-4-b.dtb"
make_initramfs "$KDIR/busybox-arm64" "$IMG/initramfs-arm64.cpio.gz"
for f in start4.elf fixup4.dat bcm2712-rpi-5-b.dtb overlays/netboot-test.dtbo; do
  echo "TEST STAND-IN for $f: not Raspberry Pi's file (runtime/e2e/pi/pi-boot.sh)" >"$IMG/$f"
done
echo "TEST STAND-IN for undionly.kpxe" >"$IMG/undionly.kpxe"
sha() { sha256sum "$1" | cut -d' ' -f1; }
pin() { echo "path=\"images/$1\" sha256=\"$(sha "$IMG/$1")\""; }
cat >"$CONF/profiles/site.kdl" <<EOS
site {
    origin "https://$WAN_ORIGIN:8443"
    chain "via-proxy" proxy="http://$LAN_PI:8080"
    boot-file "undionly.kpxe" $(pin undionly.kpxe) firmware="bios"
}
profile "pi-linux" {
    arch "arm64"
    kernel $(pin vmlinuz-arm64)
    initrd $(pin initramfs-arm64.cpio.gz)
    cmdline "console=ttyAMA0,115200 panic=-1 netboot.machine={{ machine.name }} initcall_blacklist=brcmstb_l2_driver_init,brcmstb_i2c_driver_init clk_ignore_unused"
    pi-file "bcm2711-rpi-4-b.dtb" $(pin bcm2711-rpi-4-b.dtb)
    pi-file "start4.elf" $(pin start4.elf)
    pi-file "fixup4.dat" $(pin fixup4.dat)
    pi-file "bcm2712-rpi-5-b.dtb" $(pin bcm2712-rpi-5-b.dtb)
    pi-file "overlays/netboot-test.dtbo" $(pin overlays/netboot-test.dtbo)
    pi-config "dtoverlay=netboot-test"
}
EOS
PI4_MAC=dc:a6:32:00:00:04 PI4_SERIAL=c0ffee04 PI5_MAC=d8:3a:dd:00:00:05 PI5_SERIAL=c0ffee05
cat >"$CONF/machines/pis.kdl" <<EOS
machine "pi4-a" {
    mac "$PI4_MAC"
    pi "pi4" serial="10000000$PI4_SERIAL"
    profile "pi-linux"
}
machine "pi5-a" {
    mac "$PI5_MAC"
    pi "pi5" serial="$PI5_SERIAL"
    profile "pi-linux"
}
EOS
say "netbootc check, build, publish, dev-certs, dhcp-config"
"$BIN/netbootc" check --config "$CONF" --deny-warnings >"$WORK/check.log" 2>&1 || { cat "$WORK/check.log"; die "netbootc check"; }
"$BIN/netbootc" build --config "$CONF" -o "$WORK/out" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "netbootc build"; }
"$BIN/netbootc" publish "file://$WORK/store" --from "$WORK/out" --yes >"$WORK/publish.log" 2>&1 || { cat "$WORK/publish.log"; die "netbootc publish"; }
"$BIN/netbootc" dev-certs "$WORK/certs" --san "$WAN_ORIGIN" >"$WORK/certs.log" 2>&1 || die "netbootc dev-certs"
"$BIN/netbootc" dhcp-config --config "$CONF" --format dnsmasq >"$WORK/netboot.dnsmasq" 2>"$WORK/dhcp-config.log" ||
  { cat "$WORK/dhcp-config.log"; die "netbootc dhcp-config"; }

# ---------------------------------------------------------------- 2. the LAN and the replay
say "test LAN ${LAN_PREFIX}*: origin, proxy (proxyDHCP), router dnsmasq, the board's namespace"
lan_up || die "could not create the test LAN"
ip netns add "$NS_CLIENT"
ip -n "$NS_CLIENT" link set lo up
switch_port br0 "$NS_CLIENT" || die "the board's cable"
ip -n "$NS_CLIENT" link set eth0 up
C=$WORK/certs
ip netns exec "$NS_ORIGIN" "$BIN/netboot-serve" --bundle "file://$WORK/store" --cache-dir "$WORK/serve-cache" \
  --listen "$WAN_ORIGIN:8443" --health-listen "127.0.0.1:8081" --cert "$C/server.pem" --key "$C/server.key" \
  --client-ca "$C/ca.pem" --crl "$C/crl.pem" >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NS_PI" "$BIN/netboot-proxy" --origin "https://$WAN_ORIGIN:8443" \
  --cert "$C/client-ecdsa.pem" --key "$C/client-ecdsa.key" --origin-ca "$C/ca.pem" \
  --tftp-listen "$LAN_PI:69" --http-listen "$LAN_PI:8080" --cache-dir "$WORK/proxy-cache" \
  --proxy-dhcp eth0 >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
PROXY_PID=$!
deadline=$((SECONDS + 60))
until ip netns exec "$NS_PI" curl -fsS -o /dev/null --max-time 2 "http://$LAN_PI:8080/healthz" 2>/dev/null; do
  kill -0 "$PROXY_PID" 2>/dev/null && [ $SECONDS -lt $deadline ] || { tail -20 "$WORK/proxy.log" "$WORK/serve.log"; die "the proxy did not become healthy"; }
  sleep 0.2
done
ip netns exec "$NS_ROUTER" dnsmasq --keep-in-foreground --port=0 --user=root --log-facility=- --log-dhcp \
  --interface=eth0 --bind-interfaces --dhcp-range=192.168.77.100,192.168.77.200,255.255.255.0 \
  --dhcp-leasefile="$WORK/router.leases" --pid-file="$WORK/router.pid" \
  --conf-file="$WORK/netboot.dnsmasq" >"$WORK/router.log" 2>&1 &
PIDS+=($!)
wait_log "$WORK/router.log" 'DHCP, IP range' 20 $! || { cat "$WORK/router.log"; die "the router's dnsmasq did not start"; }

failed=0
replay() { # model mac serial [more replay.py flags]
  local model=$1 mac=$2 serial=$3; shift 3
  say "replaying the $model bootloader ($mac, serial $serial)"
  ip netns exec "$NS_CLIENT" python3 "$PI_DIR/replay.py" --bundle "$WORK/out" --model "$model" \
    --mac "$mac" --serial "$serial" --router "$LAN_ROUTER" --tftp "$LAN_PI" --iface eth0 \
    --save "$WORK/fetched-$model" "$@" | tee -a "$WORK/replay.log" || failed=1
}
replay pi4 "$PI4_MAC" "$PI4_SERIAL" --pc-mac 52:54:00:77:00:99 --unknown-serial 0badc0de
replay pi5 "$PI5_MAC" "$PI5_SERIAL"
want4="ORDER pi4 $PI4_SERIAL: config.txt start4.elf fixup4.dat config.txt bcm2711-rpi-4-b.dtb overlays/netboot-test.dtbo cmdline.txt kernel8.img initramfs8"
want5="ORDER pi5 $PI5_SERIAL: config.txt bcm2712-rpi-5-b.dtb overlays/netboot-test.dtbo cmdline.txt kernel8.img initramfs8"
for want in "$want4" "$want5"; do
  grep -qxF "$want" "$WORK/replay.log" && echo "PASS the bootloader's whole order was served: ${want#ORDER }" ||
    { echo "FAIL not served in full: ${want#ORDER }"; failed=1; }
done
# The proxy's own log: each transfer, from the board's leased address.
for f in config.txt start4.elf kernel8.img initramfs8; do
  grep -q "$PI4_SERIAL/$f" "$WORK/proxy.log" && echo "PASS the proxy logged serving $PI4_SERIAL/$f" ||
    { echo "FAIL the proxy's log does not show $PI4_SERIAL/$f"; failed=1; }
done
grep -q 'raspberry_pi' <(ip netns exec "$NS_PI" curl -fsS "http://127.0.0.1:9180/metrics" 2>/dev/null) &&
  echo "PASS the proxy counts its Raspberry Pi answers" || { echo "FAIL no raspberry_pi answer counter in the proxy's metrics"; failed=1; }
# The proxy's boot status: each board's boot done, stage by stage; the unknown serial listed.
ip netns exec "$NS_PI" curl -fsS "http://127.0.0.1:9180/status" >"$WORK/status.json" 2>/dev/null || echo '{}' >"$WORK/status.json"
python3 - "$WORK/status.json" "$PI4_SERIAL" "$PI5_SERIAL" <<'EOF' || failed=1
import json, sys
status, serials = json.load(open(sys.argv[1])), sys.argv[2:]
boots = [b for c in status.get("clients", []) for b in c["boots"]]
ok = True
for serial in serials:
    done = [b for b in boots if b["state"] == "done"
            and [s["stage"] for s in b["stages"] if s["route"].startswith(f"tftp/{serial}/")][-2:] == ["kernel", "initrd"]]
    print(("PASS" if done else "FAIL") + f" the proxy's status has {serial}'s boot done, its kernel and initrd last")
    ok &= bool(done)
unknown = [u["serial"] for u in status.get("unknown_serials", [])]
print(("PASS" if unknown == ["0badc0de"] else "FAIL") + f" the proxy's status lists the unknown serial: {unknown}")
sys.exit(0 if ok and unknown == ["0badc0de"] else 1)
EOF
REPLAY_DONE=$SECONDS

# ---------------------------------------------------------------- 3. the kernel boots
say "qemu-system-aarch64 -M raspi4b with the Pi 4's fetched kernel, device tree, initramfs, cmdline.txt"
F=$WORK/fetched-pi4
[ -s "$F/kernel8.img" ] && [ -s "$F/initramfs8" ] && [ -s "$F/cmdline.txt" ] || die "the replay fetched no tree to boot"
cmdline=$(cat "$F/cmdline.txt")
qemu-system-aarch64 -M raspi4b -accel tcg -nographic -no-reboot -serial mon:stdio \
  -kernel "$F/kernel8.img" -dtb "$F/bcm2711-rpi-4-b.dtb" -initrd "$F/initramfs8" \
  -append "$cmdline" </dev/null >"$WORK/qemu.log" 2>&1 &
QEMU_PID=$!
PIDS+=("$QEMU_PID")
# The initramfs prints its marker and powers off; the generic kernel cannot power a
# raspi4b off, so QEMU is stopped once the marker (or a panic) is on the console.
deadline=$((SECONDS + 180))
until grep -aq 'NETBOOT-E2E: the OS started\|Kernel panic' "$WORK/qemu.log"; do
  kill -0 "$QEMU_PID" 2>/dev/null && [ $SECONDS -lt $deadline ] || break
  sleep 0.5
done
kill "$QEMU_PID" 2>/dev/null || true
if grep -aq 'Machine model: Raspberry Pi 4 Model B' "$WORK/qemu.log"; then echo "PASS Linux saw a Raspberry Pi 4 Model B (the fetched device tree)"
else echo "FAIL no 'Machine model: Raspberry Pi 4 Model B' on the console"; failed=1; fi
line=$(tr -d '\r' <"$WORK/qemu.log" | grep -a '^NETBOOT-E2E: the OS started' | head -n1 || true)
if [ "${line#*; cmdline: }" = "$cmdline" ] && [ -n "$line" ]; then
  echo "PASS the Pi 4's initramfs ran with cmdline.txt's command line: $cmdline"
else
  echo "FAIL the OS's command line is not cmdline.txt's: '${line:-no marker}' (cmdline.txt: $cmdline)"
  tr -d '\r' <"$WORK/qemu.log" | grep -av warning | tail -15
  failed=1
fi
say "times: setup+replay $((REPLAY_DONE - START)) s, QEMU $((SECONDS - REPLAY_DONE)) s, total $((SECONDS - START)) s"
[ $failed = 0 ] || { KEEP_WORK=1; die "see above"; }
echo "pi-boot: all passed"
