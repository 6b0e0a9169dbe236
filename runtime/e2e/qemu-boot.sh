#!/usr/bin/env bash
# End-to-end boot test: a real iPXE (Debian's ipxe-qemu ROM in QEMU) boots through the
# whole chain on loopback:
#
#   netbootc build + publish (file store) → netboot-serve (mTLS, 127.0.0.1)
#     → netboot-proxy (client certificate; TFTP + LAN HTTP on 127.0.0.1)
#       → QEMU guest: DHCP (slirp) → TFTP boot.ipxe → HTTP machine script (via-proxy)
#         → HTTP kernel + initrd → Linux → /init prints a marker and powers off.
#
# A second guest with an unregistered MAC must get machines/unknown.ipxe.
#
# Usage: bash runtime/e2e/qemu-boot.sh [--fake-images] [--interactive] [--keep]
#   --fake-images  tiny stand-in kernel (an iPXE script) instead of a Debian kernel
#   --interactive  boot the registered guest with its serial console on this terminal
#                  (Ctrl-A X quits QEMU), then run the checks on what it printed
#   --keep         keep the work directory (logs, bundle, certificates) after a pass
# Environment: CARGO_TARGET_DIR (honoured), E2E_KERNEL=<bzImage> (skip the Debian kernel
# download), E2E_WORK=<dir> (an empty or new work directory, kept; default a new one under /tmp).
#
# Installs what it needs from Debian packages (root or sudo): qemu-system-x86 (from
# bookworm-backports on bookworm, so apt keeps the backports qemu-utils), ipxe-qemu,
# busybox-static, curl, python3. Exits non-zero if any check fails and prints where the
# logs are.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=common.sh
source "$REPO/runtime/e2e/common.sh"
FAKE_IMAGES=0 INTERACTIVE=0 KEEP=0
for arg in "$@"; do
  case "$arg" in
    --fake-images) FAKE_IMAGES=1 ;;
    --interactive) INTERACTIVE=1 ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "qemu-boot.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

KNOWN_MAC=52:54:00:e2:e0:01      # registered in the test fleet as e2e-guest
UNKNOWN_MAC=52:54:00:e2:e0:99    # in no machine definition
MACHINE=e2e-guest
PROFILE=e2e-linux

say() { printf '== %s\n' "$*"; }
FAILED=0
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; FAILED=1; }
die() { printf 'FAIL: %s\n' "$*"; FAILED=1; exit 1; }

# ---------------------------------------------------------------- packages
install_packages() {
  local wanted=(qemu-system-x86 ipxe-qemu busybox-static curl python3) missing=() pkg
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  local target=()
  read -r -a target <<<"$(qemu_apt_target)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${target[@]}" "${missing[@]}" >/dev/null
}

# A Debian kernel (bzImage) for the guest, cached: only ./boot/vmlinuz-* is extracted from
# the package, nothing is installed.
debian_kernel() {
  if [ -n "${E2E_KERNEL:-}" ]; then echo "$E2E_KERNEL"; return; fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/netboot-e2e" pkg
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$pkg" ] || die "cannot resolve linux-image-amd64 (apt-get update?)"
  local kernel="$cache/$pkg/vmlinuz"
  if [ ! -s "$kernel" ]; then
    say "downloading $pkg (once; cached in $cache)" >&2
    mkdir -p "$cache/$pkg"
    (cd "$cache/$pkg" && apt-get download -q "$pkg" >/dev/null 2>&1 \
      && dpkg-deb --fsys-tarfile ./*.deb | tar -x --wildcards -O './boot/vmlinuz-*' >vmlinuz.tmp \
      && mv vmlinuz.tmp vmlinuz && rm -f ./*.deb) || die "could not fetch the kernel from $pkg"
  fi
  echo "$kernel"
}

free_ports() { # N free TCP ports and one free UDP port on 127.0.0.1
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for kind in [socket.SOCK_STREAM] * int(sys.argv[1]) + [socket.SOCK_DGRAM]:
    s = socket.socket(socket.AF_INET, kind); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# ---------------------------------------------------------------- processes
PIDS=()
WORK=""
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$FAILED" = 0 ] && [ "$KEEP" = 0 ] && [ -z "${E2E_WORK:-}" ]; then rm -rf "$WORK"
    else echo "logs and work files: $WORK/logs (serial consoles, servers), $WORK"; fi
  fi
}
trap cleanup EXIT
trap 'FAILED=1; exit 130' INT TERM

wait_http() { # url seconds pid: until the URL answers 200 or the process dies
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$3" 2>/dev/null || return 1
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# ---------------------------------------------------------------- setup
START=$SECONDS
install_packages
for tool in qemu-system-x86_64 curl python3 sha256sum busybox; do
  command -v "$tool" >/dev/null || die "$tool not found after installing packages"
done
ROM=/usr/lib/ipxe/qemu/efi-e1000.rom
[ -f "$ROM" ] || die "iPXE ROM $ROM missing (package ipxe-qemu)"

say "building netbootc, netboot-serve, netboot-proxy"
(cd "$REPO" && cargo build --locked -q -p netbootc -p netboot-serve -p netboot-proxy)
BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug"
case "$BIN" in /*) ;; *) BIN="$REPO/$BIN" ;; esac

if [ -n "${E2E_WORK:-}" ]; then
  [ ! -e "$E2E_WORK" ] || [ -z "$(ls -A "$E2E_WORK")" ] || die "E2E_WORK=$E2E_WORK is not empty"
  mkdir -p "$E2E_WORK"; WORK=$(cd "$E2E_WORK" && pwd)
else WORK=$(mktemp -d /tmp/netboot-e2e.XXXXXX); fi
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/fleet/machines" "$WORK/fleet/profiles/images"

# Images: a Debian kernel and a busybox initramfs whose /init prints a marker on ttyS0
# and powers off (QEMU then exits), or with --fake-images an iPXE script as the "kernel".
IMAGES=$WORK/fleet/profiles/images
if [ $FAKE_IMAGES = 1 ]; then
  cat >"$IMAGES/vmlinuz" <<'EOF'
#!ipxe
echo NETBOOT-E2E: the fake kernel ran; images loaded:
imgstat
echo NETBOOT-E2E: fake kernel done
sleep 3600
EOF
  head -c 300000 /dev/urandom >"$IMAGES/initrd.cpio.gz"
  OS_MARKER="NETBOOT-E2E: fake kernel done"
else
  kernel=$(debian_kernel) || die "no kernel for the guest"
  cp "$kernel" "$IMAGES/vmlinuz"
  make_initramfs "$(command -v busybox)" "$IMAGES/initrd.cpio.gz"
  OS_MARKER="NETBOOT-E2E: the OS started"
fi
KERNEL_SHA=$(sha256sum "$IMAGES/vmlinuz" | cut -d' ' -f1)
INITRD_SHA=$(sha256sum "$IMAGES/initrd.cpio.gz" | cut -d' ' -f1)
KERNEL_SIZE=$(stat -c %s "$IMAGES/vmlinuz")
INITRD_SIZE=$(stat -c %s "$IMAGES/initrd.cpio.gz")

read -r SERVE_PORT SERVE_HEALTH_PORT PROXY_HTTP_PORT PROXY_TFTP_PORT < <(free_ports 3)

# ---------------------------------------------------------------- the fleet
cat >"$WORK/fleet/profiles/site.kdl" <<EOF
site {
    origin "https://127.0.0.1:$SERVE_PORT"
    // QEMU's user network reaches the host's loopback at 10.0.2.2.
    chain "via-proxy" proxy="http://10.0.2.2:$PROXY_HTTP_PORT"
    mirror #true
}
EOF
cat >"$WORK/fleet/profiles/$PROFILE.kdl" <<EOF
profile "$PROFILE" {
    arch "x86_64"
    kernel path="images/vmlinuz" sha256="$KERNEL_SHA"
    initrd path="images/initrd.cpio.gz" sha256="$INITRD_SHA"
    cmdline "console=ttyS0 panic=1 netboot.machine={{ machine.name }}"
}
EOF
cat >"$WORK/fleet/machines/e2e.kdl" <<EOF
machine "$MACHINE" {
    mac "$KNOWN_MAC"
    profile "$PROFILE"
}
EOF

"$BIN/netbootc" dev-certs "$WORK/certs" >"$LOGS/dev-certs.log" 2>&1 || die "netbootc dev-certs"
CERTS=$WORK/certs

T0=$SECONDS
say "netbootc build + publish"
"$BIN/netbootc" build --config "$WORK/fleet" -o "$WORK/out" >"$LOGS/build.log" 2>&1 ||
  { cat "$LOGS/build.log"; die "netbootc build"; }
"$BIN/netbootc" publish "file://$WORK/store" --from "$WORK/out" --yes >"$LOGS/publish.log" 2>&1 ||
  { cat "$LOGS/publish.log"; die "netbootc publish"; }
pass "netbootc build and publish file://$WORK/store"

# ---------------------------------------------------------------- servers
say "netboot-serve on 127.0.0.1:$SERVE_PORT (mTLS), health on :$SERVE_HEALTH_PORT"
"$BIN/netboot-serve" --bundle "file://$WORK/store" --cache-dir "$WORK/serve-cache" \
  --listen "127.0.0.1:$SERVE_PORT" --health-listen "127.0.0.1:$SERVE_HEALTH_PORT" \
  --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
  --client-ca "$CERTS/ca.pem" --crl "$CERTS/crl.pem" >"$LOGS/serve.log" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_http "http://127.0.0.1:$SERVE_HEALTH_PORT/healthz" 30 "$SERVE_PID" ||
  { tail -20 "$LOGS/serve.log"; die "netboot-serve did not become healthy"; }

proxy_args=(--origin "https://127.0.0.1:$SERVE_PORT"
  --cert "$CERTS/client-ecdsa.pem" --key "$CERTS/client-ecdsa.key" --origin-ca "$CERTS/ca.pem"
  --tftp-listen "127.0.0.1:$PROXY_TFTP_PORT" --http-listen "127.0.0.1:$PROXY_HTTP_PORT"
  --admin-listen 127.0.0.1:0 --cache-dir "$WORK/proxy-cache")
say "netboot-proxy: TFTP :$PROXY_TFTP_PORT, HTTP :$PROXY_HTTP_PORT"
"$BIN/netboot-proxy" "${proxy_args[@]}" >"$LOGS/proxy.log" 2>&1 &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
wait_http "http://127.0.0.1:$PROXY_HTTP_PORT/healthz" 30 "$PROXY_PID" ||
  { tail -20 "$LOGS/proxy.log"; die "the proxy did not become healthy"; }
pass "servers up: netboot-serve (pid $SERVE_PID), proxy (pid $PROXY_PID)"

# ---------------------------------------------------------------- guests
# boot_guest NAME MAC MARKER SECONDS: boots a guest, waits for MARKER in its serial log
# (or QEMU's exit), then kills QEMU by its PID. Serial log: $LOGS/NAME.serial.
boot_guest() {
  local name=$1 mac=$2 marker=$3 limit=$4 serial=$LOGS/$1.serial started=$SECONDS
  local qemu=(qemu-system-x86_64 -accel tcg -nographic -no-reboot -boot n -m 256
    -netdev "user,id=n0,bootfile=tftp://10.0.2.2:$PROXY_TFTP_PORT/boot.ipxe"
    -device "e1000,netdev=n0,mac=$mac,romfile=$ROM")
  if [ $INTERACTIVE = 1 ]; then
    say "$name: serial console follows; Ctrl-A X quits QEMU"
    "${qemu[@]}" -chardev "stdio,id=s0,mux=on,signal=off,logfile=$serial" \
      -serial chardev:s0 -mon chardev=s0 || true
    return
  fi
  "${qemu[@]}" -display none -monitor none -serial "file:$serial" </dev/null >"$LOGS/$name.qemu.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local deadline=$((SECONDS + limit)) exited=0
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$pid" 2>/dev/null; then exited=1; break; fi
    grep -qF "$marker" "$serial" 2>/dev/null && break
    sleep 0.5
  done
  if [ $exited = 0 ] && grep -qF "$marker" "$serial" 2>/dev/null; then
    # Let a powering-off kernel finish on its own for a moment.
    for _ in 1 2 3 4 5 6; do kill -0 "$pid" 2>/dev/null || { exited=1; break; }; sleep 0.5; done
  fi
  if kill -0 "$pid" 2>/dev/null; then kill "$pid"; fi
  wait "$pid" 2>/dev/null || true
  say "$name: $((SECONDS - started)) s$([ $exited = 1 ] && echo ', QEMU exited by itself' || echo ', QEMU killed')"
}
# iPXE wraps its console at 80 columns and draws a download's progress ("... 78%" and
# backspaces): match against the log without line breaks and without progress.
serial_has() {
  tr -d '\r\n\b' <"$LOGS/$1.serial" | sed -E 's/\.\.\.( |[0-9]+%)*/... /g' | grep -qF -- "$2"
}
check_serial() { # guest text what
  if serial_has "$1" "$2"; then pass "$3 ($1 serial: \"$2\")"; else fail "$3 ($1 serial lacks \"$2\")"; fi
}

T1=$SECONDS
say "guest 1: $KNOWN_MAC (registered as $MACHINE)"
boot_guest known "$KNOWN_MAC" "$OS_MARKER" 110
T2=$SECONDS

check_serial known "tftp://10.0.2.2:$PROXY_TFTP_PORT/boot.ipxe... ok" "iPXE fetched the dispatcher over TFTP from the proxy"
check_serial known "netbootc: looking up ${KNOWN_MAC//:/-}" "the dispatcher ran"
check_serial known "http://10.0.2.2:$PROXY_HTTP_PORT/machines/by-mac/${KNOWN_MAC//:/-}.ipxe... ok" "the machine script was chain-loaded over the proxy's LAN HTTP (via-proxy)"
check_serial known "netbootc: $MACHINE: booting $PROFILE" "the right machine script ran"
check_serial known "http://10.0.2.2:$PROXY_HTTP_PORT/objects/sha256/$KERNEL_SHA... ok" "iPXE fetched the kernel through the proxy"
check_serial known "http://10.0.2.2:$PROXY_HTTP_PORT/objects/sha256/$INITRD_SHA... ok" "iPXE fetched the initrd through the proxy"
if [ $FAKE_IMAGES = 1 ]; then
  check_serial known "NETBOOT-E2E: the fake kernel ran" "boot executed the fake kernel"
else
  check_serial known "NETBOOT-E2E: the OS started" "Linux started and ran the initramfs's /init"
  check_serial known "netboot.machine=$MACHINE" "the kernel got the profile's command line"
fi
if serial_has known "boot failed"; then fail "the machine script reported a failed boot"; fi

if [ $INTERACTIVE = 0 ]; then
  say "guest 2: $UNKNOWN_MAC (not registered)"
  boot_guest unknown "$UNKNOWN_MAC" "netbootc: add it to machines" 60
  check_serial unknown "netbootc: looking up ${UNKNOWN_MAC//:/-}" "the dispatcher ran for the unknown guest"
  check_serial unknown "http://10.0.2.2:$PROXY_HTTP_PORT/machines/unknown.ipxe... ok" "the unknown guest was sent machines/unknown.ipxe"
  check_serial unknown "netbootc: this machine is not registered" "unknown.ipxe ran"
  check_serial unknown "netbootc: mac ${UNKNOWN_MAC//:/-}" "unknown.ipxe printed the MAC to register"
fi
T3=$SECONDS

# ---------------------------------------------------------------- server logs
# netboot-serve: one access line per request, with the client certificate's subject. The
# proxy may ask the origin for a route or for the object it names: either counts.
route_object() { # route → the hex digest of its object in the published manifest
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["routes"][sys.argv[2]]["object"].split(":")[1])' \
    "$WORK/out/manifest.json" "$1"
}
check_serve() { # route bytes what
  local hex line
  hex=$(route_object "$1") || { fail "$3: $1 is not a route of the manifest"; return; }
  line=$(grep -a 'access' "$LOGS/serve.log" | grep -E "path=/($1|objects/sha256/$hex) " |
    grep -F "status=200 " | grep -F 'client="CN=' | head -n1 || true)
  if [ -z "$line" ]; then
    fail "$3: no 200 for /$1 or /objects/sha256/$hex to a client certificate in serve.log"; return
  fi
  if [ -n "$2" ] && ! grep -qF "bytes=$2 " <<<"$line"; then fail "$3: not $2 bytes: $line"; return; fi
  pass "$3 (serve.log: $(grep -o 'path=[^ ]*' <<<"$line" | cut -c1-40)… status=200 $(grep -o 'tls=[^ ]*' <<<"$line") $(grep -o 'client=.*' <<<"$line"))"
}
check_serve "tftp/boot.ipxe" "" "the proxy fetched the dispatcher from the origin over mTLS"
check_serve "machines/by-mac/${KNOWN_MAC//:/-}.ipxe" "" "the proxy fetched $MACHINE's script from the origin over mTLS"
check_serve "images/$PROFILE/kernel" "$KERNEL_SIZE" "the proxy fetched the kernel ($KERNEL_SIZE bytes) from the origin over mTLS"
check_serve "images/$PROFILE/initrd" "$INITRD_SIZE" "the proxy fetched the initrd ($INITRD_SIZE bytes) from the origin over mTLS"
[ $INTERACTIVE = 1 ] || check_serve "machines/unknown.ipxe" "" "the proxy fetched machines/unknown.ipxe from the origin over mTLS"

# The proxy: its log has a 200 line for each image the guest fetched (access lines
# `path=/<route> status=200 bytes=… object=<hex>`) naming the route's digest, and the bytes
# it serves for that route hash to that digest.
check_proxy() { # route sha256 what
  local line got
  line=$(grep -a -E "path=/$1 .*status=200" "$LOGS/proxy.log" | head -n1 || true)
  if [ -z "$line" ]; then fail "$3: no 200 for $1 in proxy.log"; return; fi
  if ! grep -qF "object=$2 " <<<"$line"; then
    fail "$3: the proxy logged another object: $line"; return
  fi
  got=$(curl -fsS --max-time 30 "http://127.0.0.1:$PROXY_HTTP_PORT/$1" | sha256sum | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then fail "$3: GET /$1 from the proxy hashes to $got, not $2"; return; fi
  pass "$3 (proxy.log: ${line#*INFO }; sha256 of the proxy's bytes: $got)"
}
line=$(grep -a -E 'file=boot\.ipxe .*outcome="?complete' "$LOGS/proxy.log" | head -n1 || true)
if [ -n "$line" ]; then pass "the proxy served boot.ipxe over TFTP (proxy.log: ${line#*INFO })"
else fail "no complete TFTP transfer of boot.ipxe in proxy.log"; fi
check_proxy "objects/sha256/$KERNEL_SHA" "$KERNEL_SHA" "the kernel fetch returned 200 with the right digest"
check_proxy "objects/sha256/$INITRD_SHA" "$INITRD_SHA" "the initrd fetch returned 200 with the right digest"

say "timings: setup (packages, cargo build, images) $((T0 - START)) s; fleet + servers $((T1 - T0)) s;" \
  "guest 1 $((T2 - T1)) s; guest 2 $((T3 - T2)) s; test total $((SECONDS - T0)) s"
if [ "$FAILED" != 0 ]; then
  echo "FAIL: end-to-end boot test"
  exit 1
fi
echo "PASS: end-to-end boot test (netboot-proxy, $([ $FAKE_IMAGES = 1 ] && echo fake images || echo Debian kernel + busybox initramfs))"
