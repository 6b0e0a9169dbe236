#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/lan
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
#   home 4 (rows 17, 18): bridge br3, <p>relay 192.168.77.2 (DHCP, the relay, another CA's
#   proxy), its cable to br0: <p>relayup 192.168.77.251 (lan/lasthop.sh)
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
#  13  Secure Boot: OVMF enforcing it with only the test key in db; dhcp-config sends the
#      machine the site's secure-boot=#true first stage by MAC: iPXE 2.0.0 signed with the
#      test key runs the bundle's autoexec.ipxe → dispatcher → a signed kernel → Linux
#  14  Secure Boot, an unsigned kernel in a profile not declared secure-boot: the firmware
#      refuses it at `boot` (0x7f04818f on the console); the script asks the Pi for
#      refused/secure-boot/kernel and the Pi's /status calls the boot refused; declared,
#      `check` refuses it and `simulate` predicts the Pi's requests
#  15  Secure Boot, the distribution path: OVMF with Microsoft's keys and the test key in db
#      (virt-fw-vars) → test-key-signed iPXE → `shim` with Debian's Microsoft-signed shim →
#      Debian's own signed kernel (which db alone would refuse) → Linux
#  16  Secure Boot, arm64: AAVMF's snakeoil build (the test key in PK/KEK/db) → the arm64
#      iPXE 2.0.0 signed with the test key → an arm64 kernel signed with it → Linux; and
#      an unsigned arm64 kernel, refused by AAVMF at `boot` as in row 14
#  24  docs/getting-started.md's marked blocks run as written (init with the guest's MAC,
#      pki, build, publish, dhcp-config; the origin's netboot-serve and the Pi's proxy) on
#      home 3, whose router serves the page's dnsmasq file: a BIOS PXE ROM boots Linux
#      through it, and the page's `netbootc status` block says done (lan/row24.sh)
# The simulator agrees with the real iPXE (rows 1-4, 6, 8-12, 14): after the guests ran,
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
# Row 17 (lan/lasthop.sh, lan/relay.py): home 4 (br3) has a hostile relay in the Pi's place
# (<p>relay, 192.168.77.2, with dnsmasq serving home 1's site DHCP part) that forwards every
# request to home 1's Pi (from <p>relayup, 192.168.77.251) and flips a byte of the arm64
# kernel; AAVMF + iPXE 2.0.0 refuses it: the REFUSED console line with the compiled-in
# digest, no Linux, a `refused` boot in the Pi's /status.
# Row 18: fleet-https (proxy= the Pi's https://192.168.77.2:8443, its own bundle on the
# origin's :11443, a second netboot-proxy on home 1's Pi with dev-certs' LAN certificate);
# iPXE 2.0.0 x86_64 EFI built with the LAN CA and the site's bootstrap script boots Linux
# over it; the same build on home 4 refuses a proxy whose LAN certificate another CA signed.
# Row 19 (lan/lasthop.sh): a hostile host on home 1's switch asks for row 12's machines'
# provisioning files: 403 (their objects by digest: 404), recorded in the Pi's /status;
# the machines' own OS got them (row 12). Selecting row 19 selects row 12.
# --explore adds guests for `exit` as a local-boot method (see lan/README.md).
#
# Usage: bash runtime/e2e/lan-boot.sh [--rows 0,1,...] [--explore] [--jobs N] [--keep]
#   --rows LIST  only these rows (default: every row of lan/rows.tsv)
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
#
# The matrix is data, lan/rows.tsv (the rows) and lan/guests.tsv (the guests: firmware, NIC
# ROM, disk, markers, machine, expectations), run by the modules in lan/ that this script
# sources: report.sh (PASS/FAIL, cleanup, summary), setup.sh (packages, kernels, binaries),
# table.sh (reads the tables), fleet.sh (images, fleets, bundles), net.sh and servers.sh
# (the LAN and its servers), qemu.sh (the guests), checks.sh, simulate.sh, row0.sh,
# rows.sh, home2.sh, row12.sh, secure-boot.sh, lasthop.sh (with relay.py), status.sh and
# row24.sh (the checks).
set -euo pipefail

E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E/../.." && pwd)
LAN_DIR=$E2E/lan
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/netboot-e2e
source "$LAN_DIR/report.sh"
source "$LAN_DIR/table.sh"
ROWS=$ALL_ROWS EXPLORE=0 KEEP=0 JOBS=${LAN_JOBS:-3}
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$(tr ',' ' ' <<<"${2:?--rows needs a list}"); shift ;;
    --explore) EXPLORE=1 ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lan-boot.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
want_row() { [[ " $ROWS " == *" $1 "* ]]; }
first_wanted() { # ROW...: the first of them that is selected; fails if none is
  local row
  for row; do want_row "$row" && { echo "$row"; return 0; }; done
  return 1
}
# Row 19 checks row 12's machines.
if want_row 19 && ! want_row 12; then ROWS="$ROWS 12"; fi

[ "$(id -u)" = 0 ] || die "run as root: the test LAN needs network namespaces, taps and port 69"

PIDS=() RUNNER_PIDS=() WORK="" GUEST_PIDS_DIR="" # what the cleanup stops and removes
source "$LAN_DIR/net.sh"
source "$LAN_DIR/router-dnsmasq.sh"
# shellcheck disable=SC2034 # read by ipxe-build.sh
IPXE_E2E_DIR=$LAN_DIR IPXE_CACHE_ROOT=$CACHE
source "$LAN_DIR/ipxe-build.sh"
trap cleanup EXIT
trap 'FAILED=1; echo "interrupted: cleaning up"; exit 130' INT TERM HUP
# shellcheck source=common.sh
source "$E2E/common.sh"
source "$LAN_DIR/setup.sh"
source "$LAN_DIR/fleet.sh"
source "$LAN_DIR/servers.sh"
source "$LAN_DIR/qemu.sh"
source "$LAN_DIR/checks.sh"
source "$LAN_DIR/simulate.sh"
source "$LAN_DIR/row0.sh"
source "$LAN_DIR/rows.sh"
source "$LAN_DIR/home2.sh"
source "$LAN_DIR/row12.sh"
source "$LAN_DIR/secure-boot.sh"
source "$LAN_DIR/lasthop.sh"
source "$LAN_DIR/status.sh"
source "$LAN_DIR/row24.sh"

START=$SECONDS
setup_host
load_guests $EXPLORE
SELECTED=()
for g in "${GUESTS[@]}"; do want_row "${G_ROW[$g]}" && SELECTED+=("$g"); done
LAN2=0
if want_row 10 || want_row 11; then LAN2=1; fi

make_images
make_fleets
if want_row 18; then make_row_18; fi
build_bundles
if want_row 18; then build_row_18; fi
start_servers
if want_row 17 || want_row 18; then home4_up; fi
if want_row 17; then start_row_17; fi
if want_row 18; then start_row_18; fi
if want_row 24; then start_row_24; fi
T_SERVERS=$SECONDS
if want_row 0; then check_row_0; fi
if want_row 19; then hostile_up || die "the hostile host's namespace"; fi

T_GUESTS=$SECONDS
[ ${#SELECTED[@]} -eq 0 ] || boot_guests
T_CHECKS=$SECONDS

read_digests
for row in 1 2 3 4 5 6 7 8 9; do
  if want_row $row; then "check_row_$row"; fi
done
if want_row 10 || want_row 11; then check_rows_10_11; fi
if [ $EXPLORE = 1 ]; then check_explore; fi
if want_row 12; then check_row_12; fi
for row in 13 14 15 16; do
  if want_row $row; then "check_row_$row"; fi
done
if want_row 17; then check_row_17; fi
if want_row 18; then check_row_18; fi
if want_row 19; then check_row_19; fi
if want_row 24; then check_row_24; fi
if row=$(first_wanted 1 2 3 4 9); then check_origin "$row"; fi
if [ $LAN2 = 1 ]; then check_home2_uplink "$(first_wanted 10 11)"; fi
if first_wanted 1 2 3 4 6 9 12 >/dev/null; then check_boot_status; fi
summary
