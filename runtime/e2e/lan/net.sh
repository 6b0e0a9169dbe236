# shellcheck shell=bash
# The test LAN of the boot matrix, in network namespaces. Sourced by ../lan-boot.sh.
#
#   <prefix>lan     the switches: bridge br0 (home 1) and br1 (home 2, lan2_up), one tap per
#                   guest (QEMU runs in here), and the switch ends of the routers' and the
#                   Pis' cables. No addresses.
#   <prefix>router  home 1's router: eth0 on br0 (LAN_ROUTER), wan0 towards the "cloud"
#                   (WAN_ROUTER), forwarding between them; runs dnsmasq (DHCP with the PXE
#                   options `netbootc dhcp-config` writes).
#   <prefix>pi      home 1's Raspberry Pi: eth0 = LAN_PI on br0; netboot-proxy (TFTP 69, HTTP 8080).
#   <prefix>origin  the cloud: eth0 = WAN_ORIGIN; runs netboot-serve (mTLS).
#   lan2_up adds home 2, a LAN whose router hands out addresses only (the proxyDHCP rows):
#   <prefix>router2 eth0 on br1, the same address plan as home 1 (LAN_ROUTER); dnsmasq with
#                   no boot options at all. No WAN: nothing on this LAN needs one but the Pi.
#   <prefix>pi2     eth0 = LAN_PI on br1 (the address the bundle's scripts name), netboot-proxy
#                   with --proxy-dhcp eth0; eth1 = PI2_UPLINK, a cable straight to the origin's
#                   eth1 (ORIGIN_UPLINK). It stands in for home 2's router NAT: both homes
#                   use 192.168.77.0/24, so without NAT the origin could not route answers
#                   back through a router, and this machine has no NAT tools.
#
# Nothing is created in the namespace the script was started from: every link is made
# directly inside the namespaces, so no packet can reach the host's interfaces, and deleting
# the namespaces removes every bridge, tap and veth.
LAN_PREFIX=${LAN_PREFIX:-nbl$$-}
NS_LAN=${LAN_PREFIX}lan NS_ROUTER=${LAN_PREFIX}router NS_PI=${LAN_PREFIX}pi NS_ORIGIN=${LAN_PREFIX}origin
LAN_NET=192.168.77 LAN_ROUTER=192.168.77.1 LAN_PI=192.168.77.2
WAN_NET=198.51.100 WAN_ROUTER=198.51.100.1 WAN_ORIGIN=198.51.100.10
NS_ROUTER2=${LAN_PREFIX}router2 NS_PI2=${LAN_PREFIX}pi2
PI2_UPLINK=198.51.101.2 ORIGIN_UPLINK=198.51.101.10
LAN_CREATED=()

# ns_add NS...: namespaces, each with its loopback up (removed again by lan_down).
ns_add() {
  local ns
  for ns in "$@"; do
    ip netns add "$ns" || return 1
    LAN_CREATED+=("$ns")
    ip -n "$ns" link set lo up
  done
}
# switch_add BRIDGE: a switch in the lan namespace.
switch_add() {
  ip -n "$NS_LAN" link add "$1" type bridge stp_state 0 forward_delay 0 || return 1
  ip -n "$NS_LAN" link set "$1" up
}
# switch_port BRIDGE NS: a cable from the switch (port-<NS without the prefix>, in the lan
# namespace) to eth0 in NS.
switch_port() {
  local port=port-${2#"$LAN_PREFIX"}
  ip -n "$NS_LAN" link add "$port" type veth peer name eth0 netns "$2" || return 1
  ip -n "$NS_LAN" link set "$port" master "$1" up
}

lan_up() {
  ns_add "$NS_LAN" "$NS_ROUTER" "$NS_PI" "$NS_ORIGIN" || return 1
  switch_add br0 || return 1
  switch_port br0 "$NS_ROUTER" && switch_port br0 "$NS_PI" || return 1
  # The router's WAN cable straight to the origin.
  ip -n "$NS_ROUTER" link add wan0 type veth peer name eth0 netns "$NS_ORIGIN" || return 1
  ip -n "$NS_ROUTER" addr add "$LAN_ROUTER/24" dev eth0
  ip -n "$NS_ROUTER" addr add "$WAN_ROUTER/24" dev wan0
  ip -n "$NS_ROUTER" link set eth0 up
  ip -n "$NS_ROUTER" link set wan0 up
  ip netns exec "$NS_ROUTER" sysctl -q -w net.ipv4.ip_forward=1 || return 1
  ip -n "$NS_PI" addr add "$LAN_PI/24" dev eth0
  ip -n "$NS_PI" link set eth0 up
  ip -n "$NS_PI" route add default via "$LAN_ROUTER"
  ip -n "$NS_ORIGIN" addr add "$WAN_ORIGIN/24" dev eth0
  ip -n "$NS_ORIGIN" link set eth0 up
  ip -n "$NS_ORIGIN" route add default via "$WAN_ROUTER"
}

# home_up BRIDGE ROUTER PI PI_UPLINK ORIGIN_UPLINK IF: another home (after lan_up), with
# its own switch BRIDGE, router and Pi on it (home 1's LAN addresses), and the Pi's uplink
# to the origin: a veth whose ends are IF in PI and in the origin (each home its own IF).
home_up() {
  local bridge=$1 router=$2 pi=$3 pi_uplink=$4 origin_uplink=$5 dev=$6
  ns_add "$router" "$pi" || return 1
  switch_add "$bridge" || return 1
  switch_port "$bridge" "$router" && switch_port "$bridge" "$pi" || return 1
  ip -n "$router" addr add "$LAN_ROUTER/24" dev eth0
  ip -n "$router" link set eth0 up
  ip -n "$pi" addr add "$LAN_PI/24" dev eth0
  ip -n "$pi" link set eth0 up
  # The uplink: the Pi reaches the origin's address through the origin's end, from its own
  # uplink address, so the origin's answers go back the same cable.
  ip -n "$pi" link add eth1 type veth peer name "$dev" netns "$NS_ORIGIN" || return 1
  ip -n "$pi" addr add "$pi_uplink/24" dev eth1
  ip -n "$NS_ORIGIN" addr add "$origin_uplink/24" dev "$dev"
  ip -n "$pi" link set eth1 up
  ip -n "$NS_ORIGIN" link set "$dev" up
  ip -n "$pi" route add "$WAN_ORIGIN/32" via "$origin_uplink" src "$pi_uplink"
}

# lan2_up: home 2: bridge br1, router2 and pi2 on it, pi2's uplink (the origin's eth1).
lan2_up() { home_up br1 "$NS_ROUTER2" "$NS_PI2" "$PI2_UPLINK" "$ORIGIN_UPLINK" eth1; }

# lan_tap NAME [BRIDGE]: a tap for one guest, on the switch br0 (or BRIDGE); QEMU opens it
# from inside NS_LAN.
lan_tap() {
  ip -n "$NS_LAN" tuntap add dev "$1" mode tap || return 1
  ip -n "$NS_LAN" link set "$1" master "${2:-br0}" up
}

# lan_down: stops whatever still runs inside the namespaces this run created (only this
# run's processes can be in them: servers, dnsmasq, tcpdump, QEMU), then deletes the
# namespaces and with them every link in them. (A namespace with a process left in it would
# outlive its name: `ip netns del` only unmounts it.)
lan_down() {
  local ns pids=() pid deadline
  for ns in "${LAN_CREATED[@]}"; do
    mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null)
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  for ns in "${LAN_CREATED[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  LAN_CREATED=()
}
