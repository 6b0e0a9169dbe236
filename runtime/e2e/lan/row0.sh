# shellcheck shell=bash
# Row 0: the router's DHCP config. `netbootc dhcp-config --format dnsmasq` passes
# `dnsmasq --test` alone and inside the router's config, names the tags the test overrides
# use; a busybox udhcpc probe per client class gets the boot file and next-server it
# should; every file the router names is on the Pi with the bundle's digest. Sourced by
# ../lan-boot.sh.
# probe N DESC ARCH USERCLASS EXPECTED_FILE [EXPECTED LOG TEXT]: a DHCP client (busybox
# udhcpc, MAC 52:54:00:1a:01:N) sending option 93 = ARCH, the vendor class such firmware
# sends and, with USERCLASS iPXE, user-class "iPXE"; checks the boot file and next-server
# it is offered and, in dnsmasq's log for that MAC, an option the offer must carry.
probe() {
  local n=$1 desc=$2 arch=$3 uc=$4 want=$5 wantopt=${6:-} vendor args got mac file siaddr ns=${LAN_PREFIX}probe
  mac=52:54:00:1a:01:$n
  vendor=$([ "$arch" = 16 ] || [ "$arch" = 19 ] && echo HTTPClient || echo PXEClient):Arch:$(printf %05d "$arch"):UNDI:003000
  args=(-V "$vendor" -x "0x5d:$(printf %04x "$arch")")
  # iPXE also asks for its encapsulated options (175): dnsmasq sends only what is asked for.
  [ "$uc" = iPXE ] && args+=(-x 0x4d:69505845 -O 175)
  ip -n "$ns" link set eth0 down; ip -n "$ns" link set eth0 address "$mac"; ip -n "$ns" link set eth0 up
  got=$(in_ns "$ns" busybox udhcpc -f -q -n -t 5 -T 1 -i eth0 -s "$WORK/udhcpc.sh" "${args[@]}" 2>>"$LOGS/probe.log" | tail -n1 || true)
  echo "$desc ($mac): $got" >>"$LOGS/probe.log"
  file=${got#boot_file=}; file=${file%% siaddr=*}
  siaddr=${got##* siaddr=}
  if [ -z "$got" ]; then fail 0 "$desc: no DHCP offer (probe.log)"; return; fi
  if [ "$file" != "$want" ]; then fail 0 "$desc: DHCP boot file '$file', expected '$want'"; return; fi
  if [[ "$want" != http* ]] && [ "$siaddr" != "$LAN_PI" ]; then fail 0 "$desc: next-server $siaddr, expected the Pi $LAN_PI"; return; fi
  if [ -n "$wantopt" ] && ! dhcp_lines_mac "$mac" | grep -qF -- "$wantopt"; then
    fail 0 "$desc: dnsmasq sent no \"$wantopt\" to $mac"; return; fi
  pass 0 "$desc → $file$([[ "$want" == http* ]] || echo " (next-server $siaddr)")${wantopt:+; dnsmasq.log: ${wantopt/48:54:54:50:43:6c:69:65:6e:74/\"HTTPClient\"}}"
}
# Every file the router names is on the Pi, over TFTP (busybox tftp) and LAN HTTP, with
# the bundle's digest for that route.
fetch_sha() { # tftp NAME | http URL → sha256 of what the probe got, or "error: …"
  local out=$WORK/probe-fetch rc=0
  rm -f "$out"
  case $1 in
    tftp) (cd "$WORK" && in_ns "${LAN_PREFIX}probe" busybox tftp -g -b 1400 -r "$2" -l "$out" "$LAN_PI") >"$out.err" 2>&1 || rc=$? ;;
    http) in_ns "${LAN_PREFIX}probe" curl -fsS --max-time 30 -o "$out" "$2" >"$out.err" 2>&1 || rc=$? ;;
  esac
  if [ $rc = 0 ]; then sha "$out"; else echo "error: $(tr '\n' ' ' <"$out.err")"; fi
}

check_row_0() {
  say "row 0: the router's DHCP config"
  if out=$(dnsmasq --test --conf-file="$SITE_CONF" 2>&1); then pass 0 "dnsmasq --test, the generated file alone: ${out##*: }"
  else fail 0 "dnsmasq --test on netbootc's output: $out"; fi
  if out=$(dnsmasq --test --conf-file="$ROUTER_CONF" 2>&1); then pass 0 "dnsmasq --test, the router's whole config (it includes the generated file): ${out##*: }"
  else fail 0 "dnsmasq --test: $out"; fi
  # The test overrides name the generated tags: they must exist, or the overrides match nobody.
  tags=$(sed -n 's/^dhcp-\(match\|userclass\)=set:\([^,]*\),.*/\2/p' "$SITE_CONF" | sort -u | paste -sd' ')
  local want="bios efi-arm64 efi-arm64-http efi-x86_64 efi-x86_64-http ipxe"
  # With rows 13-16 the fleet has Secure Boot machines: their PXE classes, matched by MAC.
  if first_wanted 13 14 15 16 >/dev/null; then want+=" secure-boot-efi-arm64-pxe secure-boot-efi-x86_64-pxe"; fi
  if [ "$tags" = "$want" ]; then
    pass 0 "the generated classes are the tags the test overrides use: $tags"
  else fail 0 "generated tags '$tags', expected $want"; fi
  firmware=$(python3 -c 'import json,sys; print(" ".join(f"{k}={v}" for k, v in sorted(json.load(open(sys.argv[1]))["firmware"].items())))' "$WORK/out/manifest.json")
  if [ "$firmware" = "bios=tftp/undionly.kpxe uefi-arm64=tftp/snp-arm64.efi uefi-x86_64=tftp/snponly.efi" ]; then
    pass 0 "the manifest's firmware map: $firmware"
  else fail 0 "the manifest's firmware map is '$firmware'"; fi
  if [ $LAN2 = 1 ]; then
    if out=$(dnsmasq --test --conf-file="$ROUTER2_CONF" 2>&1) &&
      ! grep -qE '^(dhcp-boot|dhcp-option-force|dhcp-match|dhcp-userclass|dhcp-vendorclass|pxe-|conf-file|tftp)' "$ROUTER2_CONF" &&
      [ "$(grep -c '^dhcp-option' "$ROUTER2_CONF")" = 1 ]; then
      pass 0 "home 2's router config: dnsmasq --test ${out##*: }; no boot option in it (its one dhcp-option is the default route)"
    else fail 0 "home 2's router config: $out; or it has boot options ($ROUTER2_CONF)"; fi
  fi
  ns_add "${LAN_PREFIX}probe" && switch_port br0 "${LAN_PREFIX}probe" || die "row 0's probe namespace"
  cat >"$WORK/udhcpc.sh" <<'EOS'
#!/bin/sh
[ "$1" = bound ] || exit 0
echo "boot_file=${boot_file:-} siaddr=${siaddr:-}"
EOS
  chmod 755 "$WORK/udhcpc.sh"
  probe 01 "BIOS PXE ROM (arch 0)" 0 - undionly.kpxe
  probe 02 "x86_64 UEFI PXE (arch 7)" 7 - snponly.efi
  probe 03 "x86_64 UEFI PXE (arch 9)" 9 - snponly.efi
  probe 04 "arm64 UEFI PXE (arch 11)" 11 - snp-arm64.efi
  probe 05 "x86_64 UEFI HTTP Boot (arch 16)" 16 - "$PROXY_HTTP/tftp/snponly.efi" "option: 60 vendor-class  48:54:54:50:43:6c:69:65:6e:74"
  probe 06 "arm64 UEFI HTTP Boot (arch 19)" 19 - "$PROXY_HTTP/tftp/snp-arm64.efi" "option: 60 vendor-class  48:54:54:50:43:6c:69:65:6e:74"
  probe 07 "iPXE on BIOS (user-class iPXE, arch 0)" 0 iPXE "$PROXY_HTTP/boot.ipxe" "option:175   b0:01:01"
  probe 08 "iPXE on x86_64 UEFI (user-class iPXE, arch 7)" 7 iPXE "$PROXY_HTTP/boot.ipxe" "option:175   b0:01:01"
  probe 09 "iPXE on arm64 UEFI (user-class iPXE, arch 11)" 11 iPXE "$PROXY_HTTP/boot.ipxe" "option:175   b0:01:01"
  probe f0 "a test override written after the site part wins (last matching dhcp-boot)" 7 - snponly-2.0.0.efi
  ip -n "${LAN_PREFIX}probe" addr add "$LAN_NET.250/24" dev eth0
  for name in undionly.kpxe snponly.efi snp-arm64.efi snponly-2.0.0.efi; do
    want=$(manifest_object "$WORK/out" "tftp/$name")
    got=$(fetch_sha tftp "$name")
    [ "$got" = "$want" ] && pass 0 "TFTP $name from the Pi: sha256 $got = bundle route tftp/$name" ||
      fail 0 "TFTP $name from the Pi: got '$got', bundle route tftp/$name is $want"
    got=$(fetch_sha http "$PROXY_HTTP/tftp/$name")
    [ "$got" = "$want" ] && pass 0 "HTTP $PROXY_HTTP/tftp/$name: sha256 $got" ||
      fail 0 "HTTP $PROXY_HTTP/tftp/$name: got '$got', bundle says $want"
  done
  want=$(manifest_object "$WORK/out" boot.ipxe)
  got=$(fetch_sha http "$PROXY_HTTP/boot.ipxe")
  [ "$got" = "$want" ] && pass 0 "HTTP $PROXY_HTTP/boot.ipxe (what iPXE clients are sent): sha256 $got" ||
    fail 0 "HTTP $PROXY_HTTP/boot.ipxe: got '$got', bundle says $want"
}
