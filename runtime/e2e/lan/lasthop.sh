# shellcheck shell=bash

# Rows 17-20: the last hop (docs/lan-security.md). A hostile host on home 1's switch
# (HOSTILE, its own namespace, made by hostile_up and removed with the rest by lan_down)
# asks the Pi for what a booted machine was given (row 19). Home 4 (row 17) is a LAN whose
# "Pi" is a hostile relay (lan/relay.py) that forwards everything to the real Pi on home 1
# and flips a byte of the arm64 kernel on the way:
#   <p>relay    eth0 = LAN_PI on br3: what home 4's machines take for the Pi; dnsmasq with
#               the site's `netbootc dhcp-config` part (home 1's file), the relay's listener
#   <p>relayup  eth0 = RELAY_IP on br0: the relay's cable to home 1, where it asks the Pi
NS_HOSTILE=${LAN_PREFIX}hostile HOSTILE_IP=192.168.77.250
NS_RELAY=${LAN_PREFIX}relay NS_RELAY_UP=${LAN_PREFIX}relayup RELAY_IP=192.168.77.251

# hostile_up: the hostile host, a cable to br0, a static address on the LAN (after lan_up).
hostile_up() {
  ns_add "$NS_HOSTILE" || return 1
  switch_port br0 "$NS_HOSTILE" || return 1
  ip -n "$NS_HOSTILE" addr add "$HOSTILE_IP/24" dev eth0
  ip -n "$NS_HOSTILE" link set eth0 up
}

# check_row_19: row 12's machines got their provisioning files from their own addresses (row
# 12's checks); the hostile host asking for the same routes gets 403, and the file objects by
# digest 404; the Pi's boot status records the refusal under the hostile host's address.
check_row_19() {
  say "row 19: a booted machine's provisioning files only for that machine"
  local g route hex code status
  for g in r12-prov-ignition r12-prov-nocloud; do
    route=$(prov_lines "$g" | grep -oE "^NETBOOT-E2E: fetched $PROXY_HTTP/files/[0-9a-f]+/[a-z-]+ " | awk '{print $3}' | head -n1 || true)
    route=${route#"$PROXY_HTTP"/}
    if [ -z "$route" ] || ! hex=$(manifest_object "$WORK/out" "$route" 2>/dev/null); then
      fail 19 "$g fetched no provisioning file through the Pi (row 12's guest: its console has no fetched files/ line)"; continue
    fi
    pass 19 "$g's OS got /$route from its own address (200 in proxy.log: $(access_lines "$g" | grep -cF "path=/$route status=200") line(s))"
    code=$(in_ns "$NS_HOSTILE" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PROXY_HTTP/$route" || true)
    if [ "$code" = 403 ]; then pass 19 "the hostile host ($HOSTILE_IP) asking for $g's /$route: 403"
    else fail 19 "the hostile host asking for $g's /$route got $code, expected 403"; fi
    code=$(in_ns "$NS_HOSTILE" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PROXY_HTTP/objects/sha256/$hex" || true)
    if [ "$code" = 404 ]; then pass 19 "the hostile host asking for that file's object by digest: 404"
    else fail 19 "the hostile host asking for /objects/sha256/$hex got $code, expected 404"; fi
  done
  status=$(in_ns "$NS_PI" curl -s --max-time 5 "$PROXY_ADMIN/status" || true)
  if python3 -c '
import json, sys
client = next(c for c in json.load(sys.stdin)["clients"] if c["ip"] == sys.argv[1])
assert any(s["stage"] == "file" and s["status"] == 403 for b in client["boots"] for s in b["stages"])
' "$HOSTILE_IP" <<<"$status" 2>/dev/null; then
    pass 19 "the Pi's /status records the hostile host's refused file requests (stage file, 403)"
  else fail 19 "the Pi's /status has no 403 file stage for $HOSTILE_IP"; fi
}

# home4_up: home 4 (rows 17, 18; after start_servers: home 1's site DHCP part) and its DHCP.
home4_up() {
  say "home 4 (namespaces $NS_RELAY $NS_RELAY_UP): a host of its own in the Pi's place"
  ns_add "$NS_RELAY" "$NS_RELAY_UP" || die "home 4's namespaces"
  switch_add br3 && switch_port br3 "$NS_RELAY" && switch_port br0 "$NS_RELAY_UP" || die "home 4's switch"
  ip -n "$NS_RELAY" addr add "$LAN_PI/24" dev eth0
  ip -n "$NS_RELAY" link set eth0 up
  ip -n "$NS_RELAY_UP" addr add "$RELAY_IP/24" dev eth0
  ip -n "$NS_RELAY_UP" link set eth0 up
  {
    router_lan_conf eth0
    router_base_conf "$LAN_NET.100" "$LAN_NET.199" "$LAN_PI"
    echo "# ---- netboot site: written by \`netbootc dhcp-config --format dnsmasq\` ----"
    echo "conf-file=$SITE_CONF"
    guest_hosts 4 | router_hosts
  } >"$WORK/router/dnsmasq4.conf"
  router_dnsmasq "$NS_RELAY" "$WORK/router/dnsmasq4.conf" dnsmasq4
}

# start_row_17: the relay on home 4, which rewrites the body of the arm64 kernel's object.
start_row_17() {
  say "row 17: a hostile relay in the Pi's place on home 4"
  RELAY_FLIP=$(sha "$IMAGES/vmlinuz-arm64")
  ip netns exec "$NS_RELAY" python3 "$LAN_DIR/relay.py" --listen "$LAN_PI:8080" --upstream "$PROXY_HTTP" \
    --upstream-netns "/run/netns/$NS_RELAY_UP" --flip "$RELAY_FLIP" >"$LOGS/relay.log" 2>&1 &
  PIDS+=("$!")
  wait_log "$LOGS/relay.log" "relay: listening" 20 $! || { cat "$LOGS/relay.log"; die "row 17: the relay did not start"; }
}

# check_row_17: the relay flipped a byte of the kernel it relayed; the machine's script (iPXE
# 2.0, arm64) refused that kernel on its console, naming the digest compiled into it, and
# did not boot it; the Pi's boot status calls the relay's boot `refused`.
check_row_17() {
  say "row 17: a relay that rewrites the kernel"
  local g=r17-relay-arm64 serial status line
  serial=$(serial_text "$LOGS/$g.serial")
  if grep -qE "^relay: GET /objects/sha256/$RELAY_FLIP -> 200 .* relay: rewrote" "$LOGS/relay.log"; then
    pass 17 "the relay rewrote the arm64 kernel's bytes on their way to $g (relay.log)"
  else fail 17 "the relay did not relay and rewrite /objects/sha256/$RELAY_FLIP ($LOGS/relay.log)"; fi
  line=$(grep -oE "netbootc: $g: REFUSED kernel: its sha256 is [0-9a-f]{64}, not [0-9a-f]{64}" <<<"$serial" | head -n1 || true)
  if [ -n "$line" ] && [ "${line##* }" = "$RELAY_FLIP" ] && [[ $line != *"is $RELAY_FLIP,"* ]]; then
    pass 17 "$g's script refused the kernel: '$line'"
  else fail 17 "$g's console has no REFUSED line for the kernel naming $RELAY_FLIP"; fi
  if grep -qE "Linux version|$OS_MARK" <<<"$serial"; then fail 17 "$g booted the rewritten kernel"
  else pass 17 "$g did not boot the rewritten kernel"; fi
  status=$(in_ns "$NS_PI" curl -s --max-time 5 "$PROXY_ADMIN/status" || true)
  if python3 -c '
import json, sys
client = next(c for c in json.load(sys.stdin)["clients"] if c["ip"] == sys.argv[1])
assert any(b["state"] == "refused" for b in client["boots"])
' "$RELAY_IP" <<<"$status" 2>/dev/null; then
    pass 17 "the Pi's /status calls the boot through the relay ($RELAY_IP) refused"
  else fail 17 "the Pi's /status has no refused boot for $RELAY_IP"; fi
}

# Row 18: a site whose proxy= is the Pi's HTTPS listener (fleet-https: `ipxe-build "custom"`,
# its own bundle and origin port; a second netboot-proxy on home 1's Pi serves it with
# dev-certs' LAN certificate), booted by iPXE 2.0.0 x86_64 EFI built with the LAN CA
# (TRUST= and CERT=, no client certificate) and the site's `ipxe-bootstrap` script, on a
# "USB stick". The same stick on home 4 meets a netboot-proxy whose LAN certificate another
# CA signed (a second dev-certs run) at the same address, and must refuse it.
HTTPS_FLEET_PORT=11443 PROXY_HTTPS=https://$LAN_PI:8443

# make_row_18: fleet-https and the other CA's certificates (after make_fleets).
make_row_18() {
  local dir=$WORK/fleet-https
  mkdir -p "$dir/machines" "$dir/profiles/images"
  cp "$IMAGES/vmlinuz-x86_64" "$IMAGES/initrd-x86_64.cpio.gz" "$dir/profiles/images/"
  cat >"$dir/profiles/site.kdl" <<EOS
site {
    origin "https://$WAN_ORIGIN:$HTTPS_FLEET_PORT"
    chain "via-proxy" proxy="$PROXY_HTTPS"
    ipxe-build "custom"
}
EOS
  linux_profile x86_64 ttyS0 "$dir/profiles/images" >>"$dir/profiles/site.kdl"
  machine_stanzas https >"$dir/machines/https.kdl"
  "$BIN/netbootc" dev-certs "$WORK/certs-other" --lan-san "$LAN_PI" >"$LOGS/dev-certs-other.log" 2>&1 ||
    die "row 18: netbootc dev-certs (the other CA)"
}

# build_row_18: fleet-https's bundle in store-https, and the stick with the LAN CA's iPXE.
build_row_18() {
  "$BIN/netbootc" build --config "$WORK/fleet-https" -o "$WORK/out-https" >"$LOGS/build-https.log" 2>&1 ||
    { cat "$LOGS/build-https.log"; die "netbootc build (fleet-https)"; }
  "$BIN/netbootc" publish "file://$WORK/store-https" --from "$WORK/out-https" --yes >"$LOGS/publish-https.log" 2>&1 ||
    { cat "$LOGS/publish-https.log"; die "netbootc publish (fleet-https)"; }
  "$BIN/netbootc" ipxe-bootstrap --config "$WORK/fleet-https" -o "$WORK/https-bootstrap.ipxe" >"$LOGS/ipxe-bootstrap-https.log" 2>&1 ||
    { cat "$LOGS/ipxe-bootstrap-https.log"; die "netbootc ipxe-bootstrap (fleet-https)"; }
  # CERT= the CA too, as row 5's build: netboot-proxy sends no root.
  IPXE_TRUST=$CERTS/lan-ca.pem IPXE_CERT=$CERTS/lan-ca.pem IPXE_EMBED=$WORK/https-bootstrap.ipxe \
    ipxe_build direct-efi "$WORK/disks/lan-https-ipxe.efi" >/dev/null || die "row 18: the LAN CA's iPXE build"
  python3 "$LAN_DIR/make-disks.py" esp "$WORK/disks/lan-https.img" "$WORK/disks/lan-https-ipxe.efi" BOOTX64.EFI ||
    die "row 18: the EFI disk image"
}

# start_row_18 (after home4_up): fleet-https's origin, its proxy on home 1's Pi (HTTPS on
# :8443 with the LAN CA's certificate), and on home 4 a proxy with another CA's certificate.
start_row_18() {
  local pid
  say "row 18: the Pi's HTTPS listener ($PROXY_HTTPS), and another CA's on home 4"
  serve serve-https store-https "$HTTPS_FLEET_PORT" 11081
  pi_proxy_https() { # namespace log-name lan-cert-dir
    ip netns exec "$1" "$BIN/netboot-proxy" --origin "https://$WAN_ORIGIN:$HTTPS_FLEET_PORT" \
      --cert "$CERTS/client-ecdsa.pem" --key "$CERTS/client-ecdsa.key" --origin-ca "$CERTS/ca.pem" \
      --tftp-listen "$LAN_PI:1069" --http-listen "$LAN_PI:8081" --admin-listen 127.0.0.1:9181 \
      --https-listen "$LAN_PI:8443" --lan-cert "$3/lan-server.pem" --lan-key "$3/lan-server.key" \
      --cache-dir "$WORK/$2-cache" >"$LOGS/$2.log" 2>&1 &
  }
  pi_proxy_https "$NS_PI" proxy-https "$CERTS"
  pid=$!
  PIDS+=("$pid")
  wait_http "$NS_PI" "http://$LAN_PI:8081/healthz" 60 $pid || { tail -20 "$LOGS/proxy-https.log"; die "row 18: proxy-https did not become healthy"; }
  # Home 4's has no way to its origin: it never gets as far as a request.
  pi_proxy_https "$NS_RELAY" proxy-other-ca "$WORK/certs-other"
  pid=$!
  PIDS+=("$pid")
  wait_log "$LOGS/proxy-other-ca.log" "netboot-proxy ready" 20 $pid || { tail -20 "$LOGS/proxy-other-ca.log"; die "row 18: proxy-other-ca did not start"; }
}

# check_row_18: the LAN CA's build booted Linux from the Pi's HTTPS listener (its script,
# kernel and initrd over TLS, the plain listener unasked); the same build on home 4 refused
# the other CA's certificate on its console and asked that proxy nothing.
check_row_18() {
  say "row 18: HTTPS on the last hop"
  local g=r18-lan-https bad=r18-lan-https-other-ca ips route n line
  ips=$(guest_ips "$g")
  for route in boot.ipxe "machines/by-mac/$(tr : - <<<"${G_MAC[$g]}").ipxe" "objects/sha256/$(sha "$IMAGES/vmlinuz-x86_64")" \
    "objects/sha256/$(sha "$IMAGES/initrd-x86_64.cpio.gz")"; do
    n=$(grep -cE "path=/$route status=200 .*remote=($ips):" "$LOGS/proxy-https.log" || true)
    if [ "$n" -ge 1 ]; then pass 18 "$g fetched /$route from the Pi's HTTPS listener (proxy-https.log)"
    else fail 18 "$g did not fetch /$route from $PROXY_HTTPS ($LOGS/proxy-https.log)"; fi
  done
  if grep -q "https://$LAN_PI:8443/" "$WORK/out-https/manifest.json" 2>/dev/null ||
    grep -rqF "$PROXY_HTTPS/objects/sha256/" "$WORK/out-https/objects/sha256/"; then
    pass 18 "fleet-https's scripts name $PROXY_HTTPS"
  else fail 18 "fleet-https's scripts do not name $PROXY_HTTPS"; fi
  line=$(serial_text "$LOGS/$bad.serial" | grep -m1 -oE "$LAN_PI:8443/boot\.ipxe\.* Permission denied \(https://ipxe\.org/[0-9a-f]+\)" || true)
  if [ -n "$line" ]; then pass 18 "$bad refused the other CA's certificate: '$line'"
  else fail 18 "$bad's console has no refusal of $PROXY_HTTPS/boot.ipxe"; fi
  if grep -q "path=/" "$LOGS/proxy-other-ca.log"; then fail 18 "the other CA's proxy answered a request ($LOGS/proxy-other-ca.log)"
  else pass 18 "the other CA's proxy was asked nothing"; fi
}
