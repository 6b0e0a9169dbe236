# shellcheck shell=bash
# Rows 13-16: Secure Boot on OVMF and AAVMF (lan/README.md's "Rows").
# Sourced by ../lan-boot.sh.
check_row_13() {
  local g=r13-sb-x86_64 kernel
  say "row 13: Secure Boot x86_64: OVMF (test key in db) → signed iPXE 2.0.0 → autoexec.ipxe → signed kernel → Linux"
  kernel=$(sha "$IMAGES/vmlinuz-x86_64-sb")
  check_linux_via_proxy 13 $g "$kernel" "$INITRD_X64" x86_64 linux-x86_64-sb
  check_serial 13 $g "NBP filename is snponly-sb.efi" "OVMF's PXE was sent the Secure Boot first stage"
  check_serial 13 $g "iPXE 2.0.0" "the firmware ran the test-key-signed iPXE 2.0.0"
  check_dhcp 13 $g secure-boot-efi-x86_64 snponly-sb.efi "dhcp-config's part of the router sent the Secure Boot machine snponly-sb.efi by MAC"
  proxy_tftp 13 $g snponly-sb.efi "the proxy served snponly-sb.efi over TFTP"
  # A signed iPXE has no embedded script: it ran the bundle's autoexec.ipxe.
  check_serial 13 $g "autoexec.ipxe... ok" "the signed iPXE fetched autoexec.ipxe from its TFTP directory"
  proxy_tftp 13 $g autoexec.ipxe "the proxy served autoexec.ipxe over TFTP"
}
check_row_14() {
  local g=r14-sb-unsigned fleet=$WORK/sb/fleet-declared out
  say "row 14: Secure Boot x86_64: an unsigned kernel: check refuses it; booted anyway, the firmware does"
  check_boot 14 $g
  check_serial 14 $g "iPXE 2.0.0" "the firmware ran the test-key-signed iPXE 2.0.0"
  check_serial 14 $g "$PROXY_HTTP/objects/sha256/$(sha "$IMAGES/vmlinuz-x86_64-unsigned")... ok" "iPXE fetched the unsigned kernel"
  check_firmware_refusal 14 $g
  # The same fleet with that profile declared Secure Boot: check sees what the firmware saw.
  rm -rf "$fleet" && cp -r "$WORK/fleet" "$fleet"
  sed -i 's/^profile "linux-x86_64-unsigned" extends="linux-x86_64" {$/&\n    secure-boot #true/' "$fleet/profiles/linux.kdl"
  if out=$("$BIN/netbootc" check --config "$fleet" --format json 2>&1); then
    fail 14 "netbootc check passed a Secure Boot machine with an unsigned kernel"
  elif grep -qF "machine \`$g\`: with Secure Boot on, the firmware stage would refuse \`kernel\`: it has no Authenticode signature" <<<"$out"; then
    pass 14 "netbootc check refuses the kernel once the profile says secure-boot (secure-boot-refused, naming $g)"
  else fail 14 "netbootc check failed otherwise: $out"; fi
  # simulate predicts it on that fleet: the Pi's requests up to the refused route, a reboot.
  check_simulation 14 $g "$fleet"
}
check_row_15() {
  local g=r15-sb-distro
  say "row 15: Secure Boot x86_64, distribution path: OVMF (Microsoft's keys + test key) → signed iPXE → shim (Debian's, Microsoft-signed) → Debian-signed kernel → Linux"
  check_linux_via_proxy 15 $g "$KERNEL_X64" "$INITRD_X64" x86_64 linux-x86_64-distro
  check_serial 15 $g "NBP filename is snponly-sb.efi" "OVMF's PXE was sent the Secure Boot first stage"
  check_serial 15 $g "$PROXY_HTTP/objects/sha256/$(sha "$IMAGES/shimx64.efi")... ok" "iPXE fetched Debian's shim (the script's \`shim\`)"
  proxy_http 15 $g "objects/sha256/$(sha "$IMAGES/shimx64.efi")" "$(sha "$IMAGES/shimx64.efi")" "the proxy served the shim"
}
check_row_16() {
  local g=r16-sb-arm64
  say "row 16: Secure Boot arm64: AAVMF (test key in db) → signed iPXE 2.0.0 → signed arm64 kernel → Linux"
  check_linux_via_proxy 16 $g "$(sha "$IMAGES/vmlinuz-arm64-sb")" "$INITRD_ARM" arm64 linux-arm64-sb
  check_serial 16 $g "NBP filename is snp-arm64-sb.efi" "AAVMF's PXE was sent the arm64 Secure Boot first stage"
  check_dhcp 16 $g secure-boot-efi-arm64 snp-arm64-sb.efi "dhcp-config's part of the router sent it snp-arm64-sb.efi by MAC"
  check_serial 16 $g "aarch64; cmdline" "an arm64 kernel ran"
  g=r16-sb-arm64-unsigned
  say "row 16: Secure Boot arm64: an unsigned arm64 kernel, refused by AAVMF"
  check_boot 16 $g
  check_serial 16 $g "$PROXY_HTTP/objects/sha256/$(sha "$IMAGES/vmlinuz-arm64-unsigned")... ok" "iPXE fetched the unsigned arm64 kernel"
  check_firmware_refusal 16 $g
}
# check_firmware_refusal row guest: the firmware refused the guest's unsigned kernel at
# `boot`, its machine script said so and asked the Pi for refused/secure-boot/kernel, and
# the Pi's /status calls that boot refused.
check_firmware_refusal() {
  local row=$1 g=$2
  # 0x7f04818f: iPXE's EACCES_SECURITY_VIOLATION, the firmware's LoadImage refusing it.
  check_serial "$row" "$g" "Could not boot: Error 0x7f04818f" "the firmware refused the unsigned kernel (EFI_SECURITY_VIOLATION)"
  check_serial "$row" "$g" "netbootc: $g: boot failed (error 0x7f04818f)" "the machine script reported the error"
  check_serial "$row" "$g" "netbootc: $g: REFUSED by Secure Boot: the firmware would not run the kernel" "the machine script named it a Secure Boot refusal"
  if grep -qE "Linux version|$OS_MARK" <<<"$(serial_text "$LOGS/$g.serial")"; then fail "$row" "$g booted the unsigned kernel"
  else pass "$row" "$g did not boot the unsigned kernel"; fi
  if access_lines "$g" | grep -qE 'path=/refused/secure-boot/kernel .*status=404'; then
    pass "$row" "the script asked the Pi for refused/secure-boot/kernel (404: no bundle has it)"
  else fail "$row" "no request for /refused/secure-boot/kernel from $g in $(basename "$(proxy_log "$g")")"; fi
  check_refused_status "$row" "$g"
}
# check_refused_status row guest: the Pi's /status says the guest's last boot was refused
# (its newest boot asked for a `refused/…` route); polled: the request may still be in flight.
check_refused_status() {
  local row=$1 g=$2 ip state=absent
  ip=$(guest_ips "$g" | sed 's/[\\]//g; s/|.*//')
  for _ in $(seq 20); do
    state=$(in_ns "$NS_PI" curl -s --max-time 5 "$PROXY_ADMIN/status" | python3 -c '
import json, sys
client = next((c for c in json.load(sys.stdin)["clients"] if c["ip"] == sys.argv[1]), None)
print(client["boots"][0]["state"] if client and client["boots"] else "absent")' "$ip" 2>/dev/null || echo unreadable)
    [ "$state" != refused ] || break
    sleep 0.5
  done
  if [ "$state" = refused ]; then pass "$row" "the Pi's /status says $g's ($ip) boot was refused"
  else fail "$row" "the Pi's /status says $g's ($ip) last boot is '$state', not refused"; fi
}
