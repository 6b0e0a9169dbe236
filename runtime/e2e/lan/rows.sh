# shellcheck shell=bash
# Rows 1-9 and the --explore guests: what each guest's console and the servers' logs must
# show (README.md's "Rows"). Sourced by ../lan-boot.sh.
check_row_1() {
  say "row 1: BIOS, iPXE option ROM → Linux"
  check_linux_via_proxy 1 r1-bios-rom "$KERNEL_X64" "$INITRD_X64" x86_64
  check_serial 1 r1-bios-rom "iPXE 1.0.0+git-20190125" "the NIC's ROM is Debian's iPXE"
  check_simulation 1 r1-bios-rom
}
check_row_2() {
  say "row 2: BIOS, PXE ROM (not iPXE) → TFTP undionly.kpxe → iPXE → Linux"
  check_linux_via_proxy 2 r2-bios-undionly "$KERNEL_X64" "$INITRD_X64" x86_64
  check_serial 2 r2-bios-undionly "PXE-STANDIN: vendor PXE stand-in ROM" "the stand-in PXE ROM ran"
  check_dhcp 2 r2-bios-undionly bios undionly.kpxe "the router sent the PXE ROM (user-class PXE-STANDIN, arch 0) to undionly.kpxe"
  if dhcp_lines r2-bios-undionly | grep -q 'user class: PXE-STANDIN'; then
    pass 2 "the stand-in's DHCP user-class was PXE-STANDIN, not iPXE (dnsmasq.log)"
  else fail 2 "dnsmasq never saw user-class PXE-STANDIN from ${G_MAC[r2-bios-undionly]}"; fi
  check_serial 2 r2-bios-undionly "tftp://$LAN_PI/undionly.kpxe... ok" "the PXE ROM fetched undionly.kpxe over TFTP from the Pi"
  check_serial 2 r2-bios-undionly "undionly on" "undionly.kpxe drove the NIC through the ROM's UNDI"
  proxy_tftp 2 r2-bios-undionly undionly.kpxe "the proxy served undionly.kpxe over TFTP"
  check_simulation 2 r2-bios-undionly
}
# check_firmware_pxe ROW GUEST ARCH FIRMWARE FILE BANNER WHAT DHCP-ARCH: the UEFI
# firmware's own PXE was sent FILE (an iPXE whose console shows BANNER), then Linux.
check_firmware_pxe() {
  local row=$1 g=$2 arch=$3 file=$5
  if [ "$arch" = arm64 ]; then check_linux_via_proxy "$row" "$g" "$KERNEL_ARM" "$INITRD_ARM" arm64
  else check_linux_via_proxy "$row" "$g" "$KERNEL_X64" "$INITRD_X64" x86_64; fi
  check_serial "$row" "$g" "NBP filename is $file" "$4's PXE was sent $file"
  check_serial "$row" "$g" "$6" "$7 ran"
  check_dhcp "$row" "$g" "efi-$arch" "$file" "the router sent $arch UEFI PXE (arch $8) to $file"
  proxy_tftp "$row" "$g" "$file" "the proxy served $file over TFTP"
  check_simulation "$row" "$g"
}
check_row_3() {
  say "row 3: UEFI x86_64, firmware PXE → TFTP snponly.efi → Linux"
  check_firmware_pxe 3 r3-uefi-x86_64 x86_64 OVMF snponly.efi "iPXE 1.0.0+git-20190125" "Debian's snponly.efi" 7
}
check_row_4() {
  say "row 4: UEFI arm64, firmware PXE → TFTP snp-arm64.efi → arm64 Linux"
  check_firmware_pxe 4 r4-uefi-arm64 arm64 AAVMF snp-arm64.efi "iPXE 2.0.0" "the iPXE 2.0.0 arm64 build" 11
  check_serial 4 r4-uefi-arm64 "aarch64; cmdline" "an arm64 kernel ran"
}
check_row_5() {
  say "row 5: direct: iPXE with dev-certs' CA and RSA client certificate built in → netboot-serve over HTTPS (mTLS)"
  g=r5-direct-https D="https://$WAN_ORIGIN:$DIRECT_PORT"
  check_boot 5 $g
  check_serial 5 $g "iPXE 2.0.0" "the iPXE 2.0.0 build on the EFI disk ran"
  check_serial 5 $g "$D/boot.ipxe... ok" "iPXE fetched the dispatcher from the origin over HTTPS"
  check_serial 5 $g "$D/machines/by-mac/$(hyp $g).ipxe... ok" "the machine script came from the origin"
  check_serial 5 $g "$D/objects/sha256/$KERNEL_X64... ok" "the kernel came from the origin over HTTPS"
  check_serial 5 $g "$D/objects/sha256/$INITRD_X64... ok" "the initrd came from the origin over HTTPS"
  check_serial 5 $g "netboot.machine=$g" "Linux got the machine's command line"
  ips=$(guest_ips $g)
  for route in boot.ipxe "machines/by-mac/$(hyp $g).ipxe" images/linux-x86_64/kernel images/linux-x86_64/initrd; do
    check_serve 5 serve-direct.log "$route" "the origin served $route to the guest itself over mTLS" "$ips"
  done
  # The client certificate iPXE presented is dev-certs' client-rsa.pem.
  cn=$(openssl x509 -in "$CERTS/client-rsa.pem" -noout -subject -nameopt RFC2253 | grep -o 'CN=[^,]*')
  if grep -a 'access' "$LOGS/serve-direct.log" | grep -E "remote=($ips):" | grep -qE "client=\"${cn}[,\"]"; then
    pass 5 "the guest presented dev-certs' client-rsa.pem ($cn)"
  else fail 5 "no access line from the guest with client=\"$cn\" in serve-direct.log"; fi
  if grep -a 'access' "$LOGS/proxy.log" | grep -qE "remote=($ips):"; then fail 5 "the direct guest also used the proxy"
  else pass 5 "no request from the direct guest ($ips) reached the proxy"; fi
  if grep -a 'access' "$LOGS/serve-direct.log" | grep -E "remote=($ips):" | grep -qE 'tls="?TLSv1_2'; then
    pass 5 "iPXE spoke TLS 1.2 ($(grep -a 'access' "$LOGS/serve-direct.log" | grep -E "remote=($ips):" | grep -o 'tls=[^ ]*' | sort -u | paste -sd,))"
  else fail 5 "no TLS 1.2 access line from the guest in serve-direct.log"; fi
}
check_row_6() {
  say "row 6: an unregistered MAC"
  g=r6-unknown-mac
  check_boot 6 $g
  check_serial 6 $g "$PROXY_HTTP/machines/unknown.ipxe... ok" "the dispatcher fell back to machines/unknown.ipxe"
  check_serial 6 $g "netbootc: this machine is not registered" "unknown.ipxe ran"
  check_serial 6 $g "netbootc: mac $(hyp $g)" "unknown.ipxe printed the MAC to register"
  proxy_http 6 $g machines/unknown.ipxe "$(manifest_object "$WORK/out" machines/unknown.ipxe)" "the proxy served machines/unknown.ipxe"
  if access_lines $g | grep -F "path=/machines/by-mac/$(hyp $g).ipxe " | grep -q "status=404"; then
    pass 6 "the proxy answered 404 for the unknown MAC's script"
  else fail 6 "no 404 for /machines/by-mac/$(hyp $g).ipxe in proxy.log"; fi
  check_simulation 6 $g
}
check_row_7() {
  say "row 7: local disk (boot \"local\": netbootc's local.ipxe.j2)"
  for g in r7-local-bios-rom r7-local-bios-undionly r7-local-ovmf r7-local-aavmf r7-local-ovmf-debian; do
    check_boot 7 $g
    proxy_http 7 $g "machines/by-mac/$(hyp $g).ipxe" "$(script_of $g)" "the proxy served $g's local-boot script"
    check_serial 7 $g "netbootc: $g: booting the local disk" "$g's script is the local-boot one"
    no_images 7 $g
  done
  check_serial 7 r7-local-bios-undionly "tftp://$LAN_PI/undionly.kpxe... ok" "r7-local-bios-undionly came through undionly.kpxe"
  check_serial 7 r7-local-ovmf "NBP filename is snponly-2.0.0.efi" "r7-local-ovmf ran iPXE 2.0.0 (router override)"
  # Debian's 2019 EFI iPXE cannot sanboot a local disk; the script's `exit 1` hands the
  # machine back to OVMF's boot manager, which goes on through its other entries to the disk.
  g=r7-local-ovmf-debian
  check_serial 7 $g "NBP filename is snponly.efi" "$g ran Debian's 2019 snponly.efi"
  check_serial 7 $g "Boot from SAN device 0x80 failed" "$g: Debian's 2019 EFI iPXE cannot sanboot the local disk"
  check_serial 7 $g "netbootc: $g: the local disk did not boot" "$g: local.ipxe.j2 noticed and took its UEFI way out (exit 1)"
  text=$(serial_text "$LOGS/$g.serial")
  before=${text%%"netbootc: $g: the local disk did not boot"*}
  after=${text#"$before"}
  if [[ "$after" == *"LOCAL-DISK-EFI: x86_64"* ]]; then
    pass 7 "$g: after exit 1 the boot manager reached the disk (iPXE's local-boot script ran $(grep -oF "netbootc: $g: the local disk did not boot" <<<"$text" | wc -l) times before: PXE, then HTTP Boot)"
  else fail 7 "$g: the disk's marker does not follow the failed sanboot"; fi
  if access_lines $g | grep -qF "path=/machines/unknown.ipxe"; then
    fail 7 "$g was sent machines/unknown.ipxe after its script exited (the dispatcher did not --replace)"
  else pass 7 "$g: no machines/unknown.ipxe after its script exited (the dispatcher chain-loads with --replace)"; fi
}
check_row_8() {
  say "row 8: arch guard (netbootc's machine.ipxe.j2)"
  g=r8-guard-arm64
  check_boot 8 $g
  check_serial 8 $g "iPXE 2.0.0" "the arm64 iPXE build ran"
  # The message's lines as the console shows them (the guard prints two, then waits).
  lines=$(tr -d '\r' <"$LOGS/$g.serial" | grep -a "^netbootc: " || true)
  if grep -q "^netbootc: not booting it; fix the machine's profile" <<<"$lines"; then
    pass 8 "the guard's second line is a line of its own (\"netbootc: not booting it; fix the machine's profile …\")"
  else fail 8 "the guard's second line is not on the console as a line of its own: $(grep -a "^$GUARD_MARK" <<<"$lines" | head -n1)"; fi
  if grep "^$GUARD_MARK" <<<"$lines" | grep -q "without 64-bit mode"; then
    fail 8 "the guard tells an arm64 iPXE it runs \"on a CPU without 64-bit mode\": $(grep "^$GUARD_MARK" <<<"$lines" | head -n1 | cut -c1-160)"
  else pass 8 "the guard's message does not blame an arm64 CPU for lacking 64-bit mode"; fi
  no_images 8 $g
  n=$(access_lines $g | grep -F "path=/machines/by-mac/$(hyp $g).ipxe " | grep -c "status=200" || true)
  if [ "$n" -ge 2 ]; then pass 8 "$g went back to the dispatcher after 60 s: its script was fetched $n times (proxy.log)"
  else fail 8 "$g: its script was fetched $n times, expected a second fetch after the guard's 60 s"; fi
  check_simulation 8 $g
}
check_row_9() {
  say "row 9: UEFI HTTP Boot (no PXE) → the Pi's LAN HTTP → iPXE → Linux"
  for g in r9-http-x86_64 r9-http-arm64; do
    case $g in
      *x86_64) arch=x86_64 file=snponly.efi k=$KERNEL_X64 i=$INITRD_X64 tag=efi-x86_64-http ;;
      *) arch=arm64 file=snp-arm64.efi k=$KERNEL_ARM i=$INITRD_ARM tag=efi-arm64-http ;;
    esac
    check_linux_via_proxy 9 $g "$k" "$i" $arch
    check_serial 9 $g "Start HTTP Boot over IPv4" "$g: the firmware's HTTP Boot ran (no PXE)"
    check_serial 9 $g "URI: $PROXY_HTTP/tftp/$file" "$g: the firmware was sent the iPXE binary's URL"
    check_dhcp 9 $g $tag "$PROXY_HTTP/tftp/$file" "the router sent the HTTP Boot client (arch $([ $arch = arm64 ] && echo 19 || echo 16)) to $file on the Pi"
    if dhcp_lines $g | grep -qF "option: 60 vendor-class  48:54:54:50:43:6c:69:65:6e:74"; then
      pass 9 "the router answered $g with option 60 \"HTTPClient\" (dnsmasq.log)"
    else fail 9 "no option 60 HTTPClient to $g in dnsmasq.log"; fi
    proxy_http 9 $g "tftp/$file" "$(manifest_object "$WORK/out" "tftp/$file")" "the proxy served $file over LAN HTTP to the firmware"
    check_simulation 9 $g
  done
}
check_explore() {
  say "explore: \`exit\` as the local-boot method"
  g=x-exit-dispatcher-bios
  check_boot 7 $g
  check_serial 7 $g "LANTEST-LOCALBOOT $g: exit" "the machine script ran exit"
  if access_lines $g | grep -qF "path=/machines/unknown.ipxe"; then fail 7 "$g got machines/unknown.ipxe after its script exited"
  else pass 7 "$g: after the machine script's exit iPXE ended (no unknown.ipxe) and SeaBIOS booted the disk"; fi
  for g in x-exit1-bios x-exit1-ovmf-debian x-exit1-ovmf x-exit1-aavmf; do
    check_boot 7 $g
    check_serial 7 $g "LANTEST-LOCALBOOT $(hyp $g): exit 1 (top-level script)" "$g: the top-level script ran exit 1"
  done
  for g in x-exit1-ovmf-debian x-exit1-ovmf x-exit1-aavmf; do
    if has $g 'Start HTTP Boot over IPv4' || has $g 'PXEv6'; then
      pass 7 "$g: after exit 1 the firmware tried its other network boot options (PXEv6/HTTP) before the disk"
    else pass 7 "$g: after exit 1 the firmware went straight to the disk"; fi
  done
  check_boot 7 x-exit0-ovmf-debian
  check_serial 7 x-exit0-ovmf-debian "LANTEST-LOCALBOOT $(hyp x-exit0-ovmf-debian): exit (top-level script)" "the top-level script ran exit (status 0)"
}
