# shellcheck shell=bash
# The home routers' DHCP configuration for the LAN boot matrix (dnsmasq). Sourced by
# ../lan-boot.sh, which writes these parts one after the other into each router's
# dnsmasq.conf and checks the result with `dnsmasq --test`:
#
#   home 1 (router):  router_lan_conf + router_base_conf + router_site_conf (the product:
#                     `netbootc dhcp-config --format dnsmasq`) + router_test_overrides
#   home 2 (router2): router_lan_conf + router_base_conf + fixed addresses, nothing else:
#                     a router that cannot be told about network boot (the proxyDHCP rows)

# router_lan_conf IFACE: the test LAN's router itself (not the netboot site's business).
router_lan_conf() {
  cat <<CONF
# ---- the test LAN's home router: DHCP only (no DNS), on the LAN interface ----
port=0
interface=$1
bind-interfaces
no-resolv
no-hosts
log-dhcp
# IPv6 like a home router: router advertisements only (SLAAC, no DHCPv6), from fd77::1/64.
# Without any RA, iPXE's "Configuring (net0 …)" waits ~16 s for IPv6 before every DHCP.
enable-ra
dhcp-range=::,constructor:$1,ra-only,64,1h
CONF
}

# router_base_conf START END ROUTER_ADDR: the addresses every home router hands out.
router_base_conf() {
  cat <<CONF
dhcp-range=$1,$2,255.255.255.0,1h
dhcp-option=option:router,$3
dhcp-authoritative
CONF
}

# router_site_conf NETBOOTC CONFIG_DIR: the site's part, exactly as the product writes it.
router_site_conf() {
  echo "# ---- netboot site: \`netbootc dhcp-config --format dnsmasq\` ----"
  "$1" dhcp-config --config "$2" --format dnsmasq
}

# router_hosts < "MAC IP [TAG...]" lines: one dhcp-host line each (fixed address, test tags).
#   A fixed address per test guest: with the pool alone, guests that DHCP at the same moment
#   are offered the same free address (dnsmasq does not hold an offered address); the slower
#   one's REQUEST is NAKed ("address in use"), and neither Debian's 2019 iPXE (it re-sends
#   the REQUEST until DHCP times out: "Nothing to boot") nor EDK2's PXE (PXE-E07, the boot
#   option fails) recovers.
router_hosts() {
  local mac ip tags
  while read -r mac ip tags; do
    [ -n "$mac" ] || continue
    tags=${tags:+,set:${tags// /,set:}}
    echo "dhcp-host=$mac$tags${ip:+,$ip}"
  done
}

# router_test_overrides PI_ADDR PROXY_HTTP_URL: per-machine exceptions for the matrix,
# written AFTER the site part (when two dhcp-boot lines match, dnsmasq 2.90 uses the one
# written last; row 0 checks that). Not part of what netbootc generates; the tag names
# (ipxe, efi-x86_64) are the generated ones.
#   - tag ipxe-2.0.0: that x86_64 UEFI guest is sent iPXE 2.0.0 (snponly-2.0.0.efi) instead
#     of the site's Debian 2019 snponly.efi (row 7 on OVMF; the probe's last-match check).
#   - tag secure-boot: that UEFI guest (Secure Boot on, in a profile not declared
#     secure-boot, so dhcp-config does not know) is sent its class's Secure Boot first
#     stage, snponly-sb.efi or snp-arm64-sb.efi, as a hand-written router entry would (rows
#     14 and 16's unsigned guests; rows 13, 16's machines are declared, and the site part
#     sends them by MAC).
#   - tags exit-test / exit0-test (--explore): that guest's iPXE is sent a top-level script
#     that runs `exit 1` / `exit`.
router_test_overrides() {
  local pi=$1 http=$2
  echo "# ---- test-only overrides (LAN boot matrix), after the site part: the last match wins ----"
  echo "dhcp-boot=tag:!ipxe,tag:efi-x86_64,tag:ipxe-2.0.0,snponly-2.0.0.efi,,$pi"
  echo "dhcp-boot=tag:!ipxe,tag:efi-x86_64,tag:secure-boot,snponly-sb.efi,,$pi"
  echo "dhcp-boot=tag:!ipxe,tag:efi-arm64,tag:secure-boot,snp-arm64-sb.efi,,$pi"
  echo "dhcp-boot=tag:ipxe,tag:exit-test,$http/tftp/exit-1.ipxe"
  echo "dhcp-boot=tag:ipxe,tag:exit0-test,$http/tftp/exit-0.ipxe"
}
