# shellcheck shell=bash

# Rows 17-20: the last hop (docs/lan-security.md). A hostile host on home 1's switch
# (HOSTILE, its own namespace, made by hostile_up and removed with the rest by lan_down)
# asks the Pi for what a booted machine was given.
NS_HOSTILE=${LAN_PREFIX}hostile HOSTILE_IP=192.168.77.250

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
