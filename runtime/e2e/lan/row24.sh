# shellcheck shell=bash
# Row 24: docs/getting-started.md as a newcomer runs it, on home 3, with its guest as the
# real machine. Every block the page marks (../page-blocks.sh) runs as written: the
# workstation's on this host in $WORK/gs (Debian's ipxe package, `netbootc init` with the
# guest's MAC and the matrix's x86_64 kernel and initramfs, `pki`, build, publish, the
# router's `dhcp-config`), the origin's netboot-serve in the origin's namespace (its own
# port, the page's certificates), the Pi's netboot-proxy on pi3. Home 3's router serves the
# page's dnsmasq file as written. The guest (a BIOS PXE ROM that is not iPXE) must boot Linux
# through it, and the page's `netbootc status` block must then say it is done.
# Sourced by ../lan-boot.sh.
#
#   <p>router3  eth0 = LAN_ROUTER on br2: dnsmasq with the page's dhcp-config output
#   <p>pi3      eth0 = LAN_PI on br2; eth1 = PI3_UPLINK, a cable to the origin's eth2
NS_ROUTER3=${LAN_PREFIX}router3 NS_PI3=${LAN_PREFIX}pi3
PI3_UPLINK=198.51.102.2 ORIGIN_UPLINK3=198.51.102.10 GS_ORIGIN_PORT=10443
# shellcheck source=../page-blocks.sh
source "$E2E/page-blocks.sh"

# lan3_up: home 3, like home 2 (bridge br2, router3, pi3; the origin's end of its uplink eth2).
lan3_up() { home_up br2 "$NS_ROUTER3" "$NS_PI3" "$PI3_UPLINK" "$ORIGIN_UPLINK3" eth2; }

# start_row_24: home 3, then the page's blocks in order; the status block is kept for later.
start_row_24() {
  local g=r24-getting-started role kind file log
  GS=$WORK/gs
  say "row 24: docs/getting-started.md's blocks, as written (home 3: namespaces $NS_ROUTER3 $NS_PI3)"
  lan3_up || die "could not create home 3's LAN"
  mkdir -p "$GS"
  PAGE_ENV=(PATH="$BIN:$PATH" "ORIGIN_HOST=$WAN_ORIGIN" "ORIGIN_PORT=$GS_ORIGIN_PORT" "PI=$LAN_PI"
    "MAC=${G_MAC[$g]}" "SITE=$GS/site" "KERNEL=$IMAGES/vmlinuz-x86_64" "INITRD=$IMAGES/initrd-x86_64.cpio.gz")
  page_blocks "$REPO/docs/getting-started.md" "$GS/blocks" >"$GS/blocks.tsv"
  GS_STATUS=""
  while IFS=$'\t' read -r role kind file; do
    log=$LOGS/gs-$(basename "$file" .sh).log
    case $role/$kind in
      workstation/run)
        page_run "$GS" "$file" >"$log" 2>&1 || { cat "$log"; die "row 24: the page's block $(basename "$file") failed"; } ;;
      origin/service)
        page_service "$GS" "$file" "$log" ip netns exec "$NS_ORIGIN"
        PIDS+=("$!")
        # Up when it serves `current` to the Pi's certificate, from the Pi's side.
        wait_mtls "$NS_PI3" "https://$WAN_ORIGIN:$GS_ORIGIN_PORT/current" "$GS/pki" $! ||
          { tail -20 "$log"; die "row 24: the page's netboot-serve did not come up"; } ;;
      pi/service)
        ip -n "$NS_PI3" link set lo up
        page_service "$GS" "$file" "$log" ip netns exec "$NS_PI3"
        PIDS+=("$!")
        wait_http "$NS_PI3" "$PROXY_HTTP/healthz" 60 $! || { tail -20 "$log"; die "row 24: the page's netboot-proxy did not come up"; } ;;
      pi/run) GS_STATUS=$file ;;
      *) die "row 24: a block for $role/$kind, which this row does not know" ;;
    esac
  done <"$GS/blocks.tsv"
  [ -n "$GS_STATUS" ] || die "row 24: the page has no block for the Pi's netbootc status"
  {
    router_lan_conf eth0
    router_base_conf "$LAN_NET.100" "$LAN_NET.199" "$LAN_ROUTER"
    echo "# ---- the page's file, as \`netbootc dhcp-config\` wrote it ----"
    echo "conf-file=$GS/netboot-dnsmasq.conf"
    guest_hosts 3 | router_hosts
  } >"$WORK/router/dnsmasq3.conf"
  router_dnsmasq "$NS_ROUTER3" "$WORK/router/dnsmasq3.conf" dnsmasq3
  say "row 24: the page's origin on $WAN_ORIGIN:$GS_ORIGIN_PORT, its Pi and router on home 3"
}
wait_mtls() { # ns url pki-dir pid: until URL answers 200 to the Pi's certificate
  local deadline=$((SECONDS + 60))
  until in_ns "$1" curl -fsS -o /dev/null --max-time 2 --cacert "$3/ca.pem" --cert "$3/pi.pem" --key "$3/pi.key" "$2" 2>/dev/null; do
    kill -0 "$4" 2>/dev/null && [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

check_row_24() {
  local g=r24-getting-started out kernel initrd
  say "row 24: the getting-started page: a BIOS PXE machine boots its profile through the page's Pi"
  kernel=$(sha "$IMAGES/vmlinuz-x86_64") initrd=$(sha "$IMAGES/initrd-x86_64.cpio.gz")
  check_boot 24 $g
  check_serial 24 $g "PXE-STANDIN: boot file undionly.kpxe from TFTP server $LAN_PI" "the router (the page's dnsmasq file) named the Pi and undionly.kpxe"
  check_serial 24 $g "$PROXY_HTTP/boot.ipxe... ok" "iPXE fetched the dispatcher from the page's Pi"
  check_serial 24 $g "$PROXY_HTTP/machines/by-mac/$(hyp $g).ipxe... ok" "the dispatcher chain-loaded the script init wrote for its MAC"
  check_serial 24 $g "netbootc: machine-01: booting linux" "the page's machine and profile"
  check_serial 24 $g "$PROXY_HTTP/objects/sha256/$kernel... ok" "the kernel init pinned, through the Pi"
  check_serial 24 $g "$PROXY_HTTP/objects/sha256/$initrd... ok" "the initrd init pinned, through the Pi"
  check_serial 24 $g "cmdline: initrd=initrd console=tty0 console=ttyS0,115200n8" "Linux got init's command line"
  if grep -a 'tftp' "$LOGS/gs-"*-pi.log | grep -F 'file=undionly.kpxe' | grep -qE 'outcome="?complete'; then
    pass 24 "the page's Pi sent undionly.kpxe over TFTP (Debian's package, pinned by init)"
  else fail 24 "no complete TFTP transfer of undionly.kpxe in the page's Pi's log"; fi
  if grep -a 'access' "$LOGS/gs-"*-origin.log | grep -F 'status=200' | grep -qF 'client="CN=pi'; then
    pass 24 "the page's origin served the Pi over mutual TLS with the certificate \`pki client pki pi\` issued"
  else fail 24 "no 200 to CN=pi in the page's origin log"; fi
  out=$(page_run "$GS" "$GS_STATUS" ip netns exec "$NS_PI3" 2>&1)
  echo "$out" >"$LOGS/gs-status.log"
  if grep -qE '^ *machine-01 .*done|done.*machine-01' <<<"$out" || grep -A3 -E '^done' <<<"$out" | grep -q machine-01; then
    pass 24 "the page's status block: machine-01 done"
  else fail 24 "the page's status block does not say machine-01 is done (gs-status.log): $(head -c 400 <<<"$out")"; fi
}
