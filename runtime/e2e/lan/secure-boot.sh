# shellcheck shell=bash
# Rows 13-14: Secure Boot on OVMF with only the test key in db (README.md's "Rows").
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
  # 0x7f04818f: iPXE's EACCES_SECURITY_VIOLATION, the firmware's LoadImage refusing it.
  check_serial 14 $g "Could not boot: Error 0x7f04818f" "the firmware refused the unsigned kernel (EFI_SECURITY_VIOLATION)"
  check_serial 14 $g "netbootc: $g: boot failed (error 0x7f04818f)" "the machine script reported the refusal"
  # The same fleet with that profile declared Secure Boot: check sees what the firmware saw.
  rm -rf "$fleet" && cp -r "$WORK/fleet" "$fleet"
  sed -i 's/^profile "linux-x86_64-unsigned" extends="linux-x86_64" {$/&\n    secure-boot #true/' "$fleet/profiles/linux.kdl"
  if out=$("$BIN/netbootc" check --config "$fleet" --format json 2>&1); then
    fail 14 "netbootc check passed a Secure Boot machine with an unsigned kernel"
  elif grep -qF "machine \`$g\`: with Secure Boot on, the firmware stage would refuse \`kernel\`: it has no Authenticode signature" <<<"$out"; then
    pass 14 "netbootc check refuses the kernel once the profile says secure-boot (secure-boot-refused, naming $g)"
  else fail 14 "netbootc check failed otherwise: $out"; fi
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
}
