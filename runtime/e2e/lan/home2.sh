# shellcheck shell=bash
# Rows 10 and 11: home 2, where the router hands out addresses only and the Pi's proxyDHCP
# names the boot files.
router2_sent_no_boot_options() { # row guest: router2's log of its answers to the guest
  local lines bad next
  lines=$(dhcp_lines "$2")
  if ! grep -q "DHCPACK(eth0) [0-9.]* ${G_MAC[$2]}" <<<"$lines"; then
    fail "$1" "$2: home 2's router acknowledged no address to it (dnsmasq2.log)"; return; fi
  # dnsmasq puts its own address in siaddr even with no dhcp-boot line: allowed, and said.
  bad=$(grep -aE 'bootfile name|option: ?(43|60|66|67|175) ' <<<"$lines" || true)
  bad+=$(grep -a 'next server: ' <<<"$lines" | grep -vF "next server: $LAN_ROUTER" || true)
  if [ -n "$bad" ]; then fail "$1" "$2: home 2's router sent boot options: $(head -n3 <<<"$bad")"; return; fi
  next=$(grep -ac "next server: $LAN_ROUTER" <<<"$lines" || true)
  pass "$1" "$2: home 2's router gave it $(grep -o "DHCPACK(eth0) [0-9.]*" <<<"$lines" | sort -u | awk '{print $2}' | paste -sd,) and no boot option (log-dhcp: no bootfile name, no option 43/60/66/67/175 among its $(grep -c ' sent size:' <<<"$lines") options sent; siaddr = the router itself in $next answers, dnsmasq's default)"
}
proxydhcp_answer() { # row what pattern: a "proxyDHCP answer" line in proxy2.log matching PATTERN
  local line
  line=$(grep -a 'proxyDHCP answer' "$LOGS/proxy2.log" | grep -E -- "$3" | head -n1 || true)
  if [ -n "$line" ]; then pass "$1" "$2 (proxy2.log: $(sed 's/.*proxyDHCP answer/proxyDHCP answer/' <<<"$line"))"
  else fail "$1" "$2: no \"proxyDHCP answer\" line matching /$3/ in proxy2.log"; fi
}
# The pcap from home 2's switch: every DHCP reply, one line each:
#   <source ip.port> mac=<chaddr> yiaddr=<address|-> siaddr=<next-server|-> file=<file|-> opts=<which of 43,60,66,67|->
pcap_replies() {
  tcpdump -r "$LOGS/lan2-dhcp.pcap" -n -vvv 2>/dev/null | awk '
    function flush() { if (src != "") print src, "mac=" mac, "yiaddr=" yi, "siaddr=" si, "file=" file, "opts=" (opts == "" ? "-" : substr(opts, 2)); src = "" }
    /^[0-9][0-9]:[0-9][0-9]:/ { flush(); next }
    / > .*BOOTP\/DHCP, Reply/ { src = $1; mac = "-"; yi = "-"; si = "-"; file = "-"; opts = "" }
    src == "" { next }
    /^[ \t]+Your-IP / { yi = $2 }
    /^[ \t]+Server-IP / { si = $2 }
    /^[ \t]+Client-Ethernet-Address / { mac = $2 }
    /^[ \t]+file "/ { file = $2; gsub(/"/, "", file) }
    /\((43|60|66|67)\), length/ { match($0, /\((43|60|66|67)\)/); opts = opts "," substr($0, RSTART + 1, RLENGTH - 2) }
    END { flush() }'
}
pcap_check() { # row guest what ERE: a DHCP reply on home 2's switch to the guest's MAC matches ERE
  local line
  line=$(grep -E " mac=${G_MAC[$2]} " <<<"$REPLIES" | grep -E -- "$4" | head -n1 || true)
  if [ -n "$line" ]; then pass "$1" "$3 (tcpdump on br1: $line)"
  else fail "$1" "$3: no reply to ${G_MAC[$2]} matching /$4/ (lan2-dhcp-replies.txt)"; fi
}
# check_pdhcp_row ROW: row 10's or 11's guest, its router's and the proxyDHCP's answers.
check_pdhcp_row() {
  local row=$1 g file kind r p n
  case $row in
    10) g=r10-pdhcp-bios file=undionly.kpxe kind='Pxe\(Bios\)'
        say "row 10: proxyDHCP, BIOS PXE ROM (not iPXE) → undionly.kpxe → iPXE → Linux" ;;
    11) g=r11-pdhcp-uefi file=snponly.efi kind='Pxe\(UefiX86_64\)'
        say "row 11: proxyDHCP, UEFI x86_64 firmware PXE → snponly.efi → iPXE → Linux" ;;
  esac
  check_linux_via_proxy $row $g "$KERNEL_X64" "$INITRD_X64" x86_64
  router2_sent_no_boot_options $row $g
  r=${LAN_ROUTER//./\\.} p=${LAN_PI//./\\.}
  n=$(grep -E "^$r\.67 mac=${G_MAC[$g]} " <<<"$REPLIES" | grep -c . || true)
  if [ "$n" -gt 0 ] && ! grep -E "^$r\.67 mac=${G_MAC[$g]} " <<<"$REPLIES" | grep -qvE " yiaddr=[0-9.]+ siaddr=$r file=- opts=-$"; then
    pass $row "tcpdump on br1: all $n of the router's replies to $g carry an address, no file name and none of options 43/60/66/67"
  else fail $row "tcpdump on br1: the router's replies to $g: $(grep -E "^$r\.67 mac=${G_MAC[$g]} " <<<"$REPLIES" | head -n3)"; fi
  pcap_check $row $g "proxyDHCP offered the firmware $file from the Pi, and no address" "^$p\.67 .* yiaddr=- siaddr=$p file=$file opts=43,60,67$"
  pcap_check $row $g "proxyDHCP offered iPXE the dispatcher" "^$p\.67 .* yiaddr=- siaddr=$p file=$PROXY_HTTP/boot\.ipxe "
  proxydhcp_answer $row "proxy2 logged the firmware's answer, with its MAC and file" "mac=${G_MAC[$g]} .*answer=$kind file=$file"
  if [ $row = 10 ]; then
    check_serial 10 $g "PXE-STANDIN: boot file undionly.kpxe from TFTP server $LAN_PI (proxyDHCP)" "the PXE ROM took its boot file and server from the proxyDHCP answer"
    check_serial 10 $g "tftp://$LAN_PI/undionly.kpxe... ok" "the PXE ROM fetched undionly.kpxe over TFTP from the Pi"
  else
    check_serial 11 $g "NBP filename is snponly.efi" "OVMF's PXE took the boot file from proxyDHCP"
  fi
  proxy_tftp $row $g $file "the Pi served $file over TFTP"
  check_simulation $row "$g"
}
check_rows_10_11() {
  REPLIES=$(pcap_replies)
  echo "$REPLIES" >"$LOGS/lan2-dhcp-replies.txt"
  for row in 10 11; do want_row $row && check_pdhcp_row $row; done
  say "rows 10, 11: proxyDHCP's log and metrics"
  row=$(first_wanted 10 11)
  want=0; for g in r10-pdhcp-bios r11-pdhcp-uefi; do want_row "${G_ROW[$g]}" && want=$((want + 1)); done
  n=$(grep -a 'proxyDHCP answer' "$LOGS/proxy2.log" | grep -c 'answer=Ipxe' || true)
  if [ "$n" -ge $want ]; then pass $row "proxy2 logged $n proxyDHCP answers to iPXE (the dispatcher), for $want guests"
  else fail $row "proxy2 logged $n proxyDHCP answers to iPXE, expected at least $want"; fi
  metrics=$(in_ns "$NS_PI2" curl -fsS --max-time 5 "$PROXY_ADMIN/metrics" 2>&1 || true)
  echo "$metrics" >"$LOGS/proxy2.metrics"
  for client in pxe ipxe; do
    n=$(sed -n "s/^netboot_proxy_dhcp_answers_total{client=\"$client\"} \([0-9]*\)$/\1/p" <<<"$metrics")
    if [ "${n:-0}" -ge $want ]; then pass $row "proxy2 /metrics: netboot_proxy_dhcp_answers_total{client=\"$client\"} $n"
    else fail $row "proxy2 /metrics: netboot_proxy_dhcp_answers_total{client=\"$client\"} is '${n:-missing}', expected at least $want (proxy2.metrics)"; fi
  done
  if grep -aq 'proxyDHCP' "$LOGS/proxy.log"; then fail $row "home 1's proxy (no --proxy-dhcp) logged proxyDHCP lines"
  else pass $row "home 1's proxy, without --proxy-dhcp, never spoke DHCP (proxy.log)"; fi
}
