# shellcheck shell=bash
# The checks every row uses: the guest's serial console, its router's DHCP log, its Pi's
# access and TFTP log lines, the origin's mTLS access lines, and a whole netboot through a
# Pi to Linux (check_linux_via_proxy). Sourced by ../lan-boot.sh.
manifest_object() { # out-dir route → hex digest of the route's object
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]+"/manifest.json"))["routes"][sys.argv[2]]["object"].split(":")[1])' "$1" "$2"
}
dhcp_lines_mac() { # MAC [dnsmasq log] → that log's lines for the DHCP transactions of MAC
  local xids log=${2:-$LOGS/dnsmasq.log}
  xids=$({ grep -a "DHCP[A-Z]*(eth0) .*$1" "$log" || true; } | awk '{print $2}' | sort -u | paste -sd'|')
  [ -z "$xids" ] || grep -aE "\\]: ($xids) " "$log" || true
}
result() { cat "$RESULTS/$1" 2>/dev/null || echo "fail - never ran"; }
has() { serial_text "$LOGS/$1.serial" | grep -qF -- "$2"; }
check_serial() { # row guest text what
  if has "$2" "$3"; then pass "$1" "$4 ($2 serial: \"$3\")"; else fail "$1" "$4 ($2 serial lacks \"$3\")"; fi
}
check_boot() { # row guest: reached its marker
  local st el how
  read -r st el how <<<"$(result "$2")"
  if [ "$st" = ok ]; then pass "$1" "$2 reached \"${G_MARK[$2]}\"$([ "${G_COUNT[$2]}" = 1 ] || echo " ${G_COUNT[$2]} times") in $el s"
  else fail "$1" "$2 did not reach \"${G_MARK[$2]}\" ($how; serial: $LOGS/$2.serial)"; fi
}
# Each guest's home: its router's log and its Pi's log.
dns_log() { case ${G_LAN[$1]} in 1) echo "$LOGS/dnsmasq.log" ;; *) echo "$LOGS/dnsmasq${G_LAN[$1]}.log" ;; esac; }
proxy_log() { [ "${G_LAN[$1]}" = 2 ] && echo "$LOGS/proxy2.log" || echo "$LOGS/proxy.log"; }
guest_ips() { # guest → the addresses its router acknowledged to its MAC, as an ERE alternation
  { grep -a "DHCPACK(eth0) [0-9.]* ${G_MAC[$1]}" "$(dns_log "$1")" || true; } |
    awk '{print $4}' | sort -u | sed 's/\./\\./g' | paste -sd'|'
}
dhcp_lines() { dhcp_lines_mac "${G_MAC[$1]}" "$(dns_log "$1")"; } # guest → its router's lines of its transactions
check_dhcp() { # row guest tag bootfile what: one transaction of the guest had TAG and got BOOTFILE
  local lines xid tx tags
  lines=$(dhcp_lines "$2")
  for xid in $(awk '/ tags: / {print $2}' <<<"$lines" | sort -u); do
    tx=$(grep -aF "]: $xid " <<<"$lines")
    # Every tags line: two OVMF guests started together can draw the same xid.
    for tags in $(grep -a ' tags: ' <<<"$tx" | sed 's/.* tags: //; s/ //g'); do
      if [[ ",$tags," == *",$3,"* ]] && grep -aqE "bootfile name: $4\$|bootfile-name  $4\$" <<<"$tx"; then
        pass "$1" "$5 (dnsmasq: ${G_MAC[$2]} tags $tags → $4)"; return
      fi
    done
  done
  fail "$1" "$5 (no DHCP transaction of ${G_MAC[$2]} with tag $3 got $4; see $(basename "$(dns_log "$2")"))"
}
access_lines() { # guest → its Pi's access lines for requests from the guest's addresses
  local ips
  ips=$(guest_ips "$1")
  [ -n "$ips" ] || return 0
  grep -a 'access' "$(proxy_log "$1")" | grep -E "remote=($ips):" || true
}
proxy_http() { # row guest route sha what: the guest's Pi served ROUTE to it, object SHA, 200
  local line log
  log=$(basename "$(proxy_log "$2")")
  line=$(access_lines "$2" | grep -E "path=/$3 " | grep -F "status=200" | head -n1 || true)
  if [ -z "$line" ]; then fail "$1" "$5: no 200 for /$3 to $2 ($(guest_ips "$2")) in $log"; return; fi
  if [ -n "$4" ] && ! grep -qF "object=$4 " <<<"$line"; then fail "$1" "$5: the proxy served another object: $line"; return; fi
  pass "$1" "$5 ($log: $(grep -o 'path=.*' <<<"$line"))"
}
proxy_tftp() { # row guest file what: a complete TFTP transfer of FILE to the guest
  local ips line want bytes size log
  ips=$(guest_ips "$2") log=$(proxy_log "$2")
  line=$(grep -a 'tftp' "$log" | grep -E "client=($ips):" | grep -E "file=$3 " | grep -E 'outcome="?complete' | head -n1 || true)
  if [ -z "$ips" ] || [ -z "$line" ]; then fail "$1" "$4: no complete TFTP transfer of $3 to $2 (${ips:-no address}) in $(basename "$log")"; return; fi
  want=$(manifest_object "$WORK/out" "tftp/$3")
  size=$(stat -c %s "$WORK/out/objects/sha256/$want")
  bytes=$(grep -o 'bytes=[0-9]*' <<<"$line" | cut -d= -f2)
  if [ "$bytes" != "$size" ]; then fail "$1" "$4: TFTP sent $bytes bytes, object $want has $size"; return; fi
  pass "$1" "$4 ($(basename "$log"): $(grep -o 'client=.*' <<<"$line" | cut -c1-110); the bundle's tftp/$3 is sha256:$want, $size bytes)"
}
check_serve() { # row log route what [ips]: the origin served ROUTE (or its object) over mTLS
  local hex line lines out=$WORK/out bytes size
  [ "$2" = serve-direct.log ] && out=$WORK/out-direct
  hex=$(manifest_object "$out" "$3") || { fail "$1" "$4: $3 is not a route"; return; }
  lines=$(grep -a 'access' "$LOGS/$2" | grep -E "path=/($3|objects/sha256/$hex) " | grep -F "status=200" | grep -F 'client="CN=' || true)
  [ -z "${5:-}" ] || lines=$(grep -E "remote=($5):" <<<"$lines" || true)
  line=$(head -n1 <<<"$lines")
  if [ -z "$line" ]; then fail "$1" "$4: no 200 for /$3 or /objects/sha256/$hex to a client certificate${5:+ from $5} in $2"; return; fi
  bytes=$(grep -o 'bytes=[0-9]*' <<<"$line" | cut -d= -f2)
  size=$(stat -c %s "$out/objects/sha256/$hex")
  if [ "$bytes" != "$size" ]; then fail "$1" "$4: $bytes bytes, not the object's $size: $line"; return; fi
  pass "$1" "$4 ($2: $(grep -o 'path=[^ ]*' <<<"$line" | cut -c1-40) sha256:${hex:0:16}… $(grep -oE 'status=[0-9]+ bytes=[0-9]+( complete=[a-z]+)?' <<<"$line") $(grep -o 'remote=[^ ]*' <<<"$line") $(grep -o 'tls=[^ ]*' <<<"$line") $(grep -o 'client=.*' <<<"$line"))"
}
no_images() { # row guest: the guest fetched no kernel or initrd (nothing under /objects/)
  if access_lines "$2" | grep -qF "path=/objects/"; then fail "$1" "$2 fetched an image although it should not"
  else pass "$1" "$2 fetched no kernel or initrd ($(basename "$(proxy_log "$2")"))"; fi
}
# read_digests: the kernels', initrds' and dispatcher's digests the checks look for.
read_digests() {
  KERNEL_X64=$(sha "$IMAGES/vmlinuz-x86_64") INITRD_X64=$(sha "$IMAGES/initrd-x86_64.cpio.gz")
  KERNEL_ARM=$(sha "$IMAGES/vmlinuz-arm64") INITRD_ARM=$(sha "$IMAGES/initrd-arm64.cpio.gz")
  DISPATCHER=$(manifest_object "$WORK/out" boot.ipxe)
}
hyp() { tr ':' '-' <<<"${G_MAC[$1]}"; }
script_of() { manifest_object "$WORK/out" "machines/by-mac/$(hyp "$1").ipxe"; }
# A netboot through a Pi to Linux: row guest kernel-sha initrd-sha arch [profile]
check_linux_via_proxy() {
  local row=$1 g=$2 k=$3 i=$4 arch=$5 profile=${6:-linux-$5}
  check_boot "$row" "$g"
  check_serial "$row" "$g" "$PROXY_HTTP/boot.ipxe... ok" "iPXE fetched the dispatcher from the Pi's LAN HTTP"
  check_serial "$row" "$g" "$PROXY_HTTP/machines/by-mac/$(hyp "$g").ipxe... ok" "the dispatcher chain-loaded the machine script by MAC"
  check_serial "$row" "$g" "netbootc: $g: booting $profile" "the machine script ran"
  check_serial "$row" "$g" "$PROXY_HTTP/objects/sha256/$k... ok" "iPXE fetched the kernel through the proxy"
  check_serial "$row" "$g" "$PROXY_HTTP/objects/sha256/$i... ok" "iPXE fetched the initrd through the proxy"
  check_serial "$row" "$g" "netboot.machine=$g" "Linux got the machine's command line"
  [ "${G_LAN[$g]}" = 2 ] || check_dhcp "$row" "$g" ipxe "$PROXY_HTTP/boot.ipxe" "the router sent iPXE to the dispatcher URL"
  proxy_http "$row" "$g" boot.ipxe "$DISPATCHER" "the proxy served the dispatcher"
  proxy_http "$row" "$g" "machines/by-mac/$(hyp "$g").ipxe" "$(script_of "$g")" "the proxy served $g's script"
  proxy_http "$row" "$g" "objects/sha256/$k" "$k" "the proxy served the $arch kernel"
  proxy_http "$row" "$g" "objects/sha256/$i" "$i" "the proxy served the $arch initrd"
}

