# shellcheck shell=bash
# The test LAN's servers: netboot-serve twice on the origin, netboot-proxy on the Pi, home
# 1's router (dnsmasq: its LAN part, `netbootc dhcp-config`'s site part, the guests' fixed
# addresses and test tags); with rows 10 or 11 home 2: its router (addresses only),
# tcpdump on its switch, and pi2's netboot-proxy with proxyDHCP. Sourced by ../lan-boot.sh.
MAC_PROBE_OVERRIDE=52:54:00:1a:01:f0 # row 0's probe f0: the router's test override must win
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
wait_http() { # ns url seconds pid: until the URL answers 200 or the process dies
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$4" 2>/dev/null || return 1
    in_ns "$1" curl -fsS -o /dev/null --max-time 2 "$2" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
# Servers are started with `ip netns exec` itself in the background (not through a shell
# function), so that $! is the server's own PID, which the cleanup stops.
serve() { # name bundle port health-port
  local name=$1 bundle=$2 port=$3 health=$4
  ip netns exec "$NS_ORIGIN" "$BIN/netboot-serve" --bundle "file://$WORK/$bundle" --cache-dir "$WORK/$name-cache" \
    --listen "$WAN_ORIGIN:$port" --health-listen "127.0.0.1:$health" \
    --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
    --client-ca "$CERTS/ca.pem" --crl "$CERTS/crl.pem" >"$LOGS/$name.log" 2>&1 &
  PIDS+=($!)
  wait_http "$NS_ORIGIN" "http://127.0.0.1:$health/healthz" 60 $! ||
    { tail -20 "$LOGS/$name.log"; die "$name did not become healthy"; }
}
proxy() { # namespace log-name [more flags]: netboot-proxy on the Pi of that namespace
  local ns=$1 name=$2 pid; shift 2
  ip -n "$ns" link set lo up # the admin listener's loopback
  ip netns exec "$ns" "$BIN/netboot-proxy" --origin "https://$WAN_ORIGIN:$ORIGIN_PORT" \
    --cert "$CERTS/client-ecdsa.pem" --key "$CERTS/client-ecdsa.key" --origin-ca "$CERTS/ca.pem" \
    --tftp-listen "$LAN_PI:69" --http-listen "$LAN_PI:8080" --cache-dir "$WORK/$name-cache" \
    "$@" >"$LOGS/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "$ns" "$PROXY_HTTP/healthz" 60 $pid || { tail -20 "$LOGS/$name.log"; die "$name did not become healthy"; }
}
# dnsmasq as a home router's DHCP server: namespace config log-name
router_dnsmasq() {
  local ns=$1 conf=$2 name=$3 pid
  : >"$WORK/$name.leases"
  ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file="$conf" --log-facility=- \
    --dhcp-leasefile="$WORK/$name.leases" --pid-file="$WORK/$name.pid" >"$LOGS/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_log "$LOGS/$name.log" 'DHCP, IP range' 20 $pid || { cat "$LOGS/$name.log"; die "$name did not start"; }
}
# guest_hosts LAN: "MAC IP TAGS" lines of that LAN's guests (not the unknown MAC); the fixed
# address is 192.168.77.20 + the guest's index, on either LAN.
guest_hosts() {
  local i g
  for i in "${!GUESTS[@]}"; do
    g=${GUESTS[$i]}
    [ "$g" != r6-unknown-mac ] && [ "${G_LAN[$g]}" = "$1" ] || continue
    echo "${G_MAC[$g]} $LAN_NET.$((20 + i)) ${G_TAGS[$g]}"
  done
}

# start_servers: the LAN (and home 2's with LAN2=1), then every server on it.
start_servers() {
  say "test LAN: namespaces ${NS_LAN} ${NS_ROUTER} ${NS_PI} ${NS_ORIGIN}$([ $LAN2 = 0 ] || echo " ${NS_ROUTER2} ${NS_PI2}")"
  lan_up || die "could not create the test LAN"
  [ $LAN2 = 0 ] || lan2_up || die "could not create home 2's LAN"
  serve serve store "$ORIGIN_PORT" 8081
  serve serve-direct store-direct "$DIRECT_PORT" 9081
  proxy "$NS_PI" proxy

  # Home 1's router: its own LAN part, then the site's part exactly as `netbootc dhcp-config`
  # writes it (included as a file, as a router includes a dnsmasq.d file), then the matrix's
  # fixed addresses and test overrides.
  mkdir -p "$WORK/router"
  ROUTER_CONF=$WORK/router/dnsmasq.conf SITE_CONF=$WORK/router/netboot.conf
  "$BIN/netbootc" dhcp-config --config "$WORK/fleet" --format dnsmasq -o "$SITE_CONF" >"$LOGS/dhcp-config.log" 2>&1 ||
    { cat "$LOGS/dhcp-config.log"; die "netbootc dhcp-config"; }
  # Guests' fixed addresses: 192.168.77.20 + their index, on either LAN.
  {
    router_lan_conf eth0
    router_base_conf "$LAN_NET.100" "$LAN_NET.199" "$LAN_ROUTER"
    echo "# ---- netboot site: written by \`netbootc dhcp-config --format dnsmasq\` ----"
    echo "conf-file=$SITE_CONF"
    echo "# ---- the matrix: fixed addresses, test tags ----"
    guest_hosts 1 | router_hosts
    echo "dhcp-host=$MAC_PROBE_OVERRIDE,set:ipxe-2.0.0"
    router_test_overrides "$LAN_PI" "$PROXY_HTTP"
  } >"$ROUTER_CONF"
  ip -n "$NS_ROUTER" -6 addr add fd77::1/64 dev eth0 nodad
  ip netns exec "$NS_ROUTER" sysctl -q -w net.ipv6.conf.all.forwarding=1
  router_dnsmasq "$NS_ROUTER" "$ROUTER_CONF" dnsmasq

  if [ $LAN2 = 1 ]; then
    # Home 2: a router that hands out addresses and nothing else, and the Pi answering PXE
    # clients itself (proxyDHCP). tcpdump records every DHCP packet on home 2's switch (in
    # promiscuous mode the bridge hands it the unicast answers between ports too).
    ROUTER2_CONF=$WORK/router/dnsmasq2.conf
    {
      router_lan_conf eth0
      router_base_conf "$LAN_NET.100" "$LAN_NET.199" "$LAN_ROUTER"
      echo "# ---- fixed addresses; no boot options at all ----"
      guest_hosts 2 | router_hosts
    } >"$ROUTER2_CONF"
    ip -n "$NS_ROUTER2" -6 addr add fd77::1/64 dev eth0 nodad
    ip netns exec "$NS_ROUTER2" sysctl -q -w net.ipv6.conf.all.forwarding=1
    ip netns exec "$NS_LAN" tcpdump -i br1 -n -U -s 0 -w "$LOGS/lan2-dhcp.pcap" \
      'udp and (port 67 or port 68 or port 4011)' 2>"$LOGS/tcpdump.log" &
    TCPDUMP_PID=$!
    PIDS+=("$TCPDUMP_PID")
    wait_log "$LOGS/tcpdump.log" 'listening on' 20 $TCPDUMP_PID || { cat "$LOGS/tcpdump.log"; die "tcpdump did not start"; }
    router_dnsmasq "$NS_ROUTER2" "$ROUTER2_CONF" dnsmasq2
    proxy "$NS_PI2" proxy2 --proxy-dhcp eth0
    wait_log "$LOGS/proxy2.log" 'proxyDHCP answering PXE clients' 20 "${PIDS[-1]}" ||
      { tail -20 "$LOGS/proxy2.log"; die "proxy2: proxyDHCP did not start"; }
  fi
  say "servers up: netboot-serve :$ORIGIN_PORT and :$DIRECT_PORT on $WAN_ORIGIN, proxy on $LAN_PI, dnsmasq on $LAN_ROUTER$([ $LAN2 = 0 ] || echo "; home 2: dnsmasq (addresses only), proxy with proxyDHCP")"

}
