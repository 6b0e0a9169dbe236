#!/usr/bin/env bash
# netboot-proxy's resident memory under spoofed TFTP clients (issue 23's reproduction): TFTP
# read requests for ~490-byte names no release has, 16 per source address from 4,096
# loopback addresses (127.3.x.y: Linux lets a socket bind any 127/8 address, so each is a
# client of its own to the proxy), then three concurrent readers of the whole `GET /status`
# (every page, following `next_after`). Prints VmRSS idle and after the flood, and VmHWM
# while the status is read (reset through /proc/<pid>/clear_refs before).
#
#   runtime/deploy/pi/measure-status-rss.sh [path/to/netboot-proxy]
#
# Default binary: $CARGO_TARGET_DIR/<host>/release/netboot-proxy (built if missing). An
# older binary that serves /status on its LAN listener is measured the same way (whichever
# of its TCP listeners answers /status is read). All of it on loopback.
#   ADDRESSES=4096 NAMES=16
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

ADDRESSES=${ADDRESSES:-4096}
NAMES=${NAMES:-16}

measure_start status-rss "${1:-}"

make_pki "$work/pki" >/dev/null
make_bundle "$work/bundle" small.bin 1000 >/dev/null
start_origin "$work/bundle" "$work/pki" "$work/origin.log"

admin=()
"$bin" --help | grep -q -- --admin-listen && admin=(--admin-listen 127.0.0.1:0)
"$bin" --origin "https://localhost:$ORIGIN_PORT" --cert "$work/pki/client.pem" \
  --key "$work/pki/client.key" --origin-ca "$work/pki/ca.pem" \
  --tftp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 "${admin[@]}" --cache-dir "$work/cache" \
  --log-level warn 2>"$work/proxy.log" &
proxy_pid=$!
status=
for _ in $(seq 100); do
  for addr in $(ss -Hltnp 2>/dev/null | awk -v p="pid=$proxy_pid," '$0 ~ p {print $4}'); do
    curl -sf "http://$addr/status" -o /dev/null && status=$addr
  done
  [ -n "$status" ] && break
  sleep 0.1
done
tftp=$(ss -Hlunp 2>/dev/null | awk -v p="pid=$proxy_pid," '$0 ~ p {print $4; exit}')
[ -n "$status" ] && [ -n "$tftp" ] || { cat "$work/proxy.log"; die "the proxy did not start"; }

kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$proxy_pid/status"; }
sleep 1
idle=$(kib VmRSS)
answered=$(python3 - "$tftp" "$ADDRESSES" "$NAMES" <<'PY'
import concurrent.futures, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
addresses, names = int(sys.argv[2]), int(sys.argv[3])
def client(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((f"127.3.{n >> 8}.{n & 255}", 0))
    s.settimeout(2)
    answers = 0
    for k in range(names):
        name = f"{k:02d}-" + "n" * 487
        s.sendto(b"\0\1" + name.encode() + b"\0octet\0", (host, int(port)))
        try:
            s.recvfrom(2048)
            answers += 1
        except socket.timeout:
            pass
    return answers
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    print(sum(pool.map(client, range(addresses))))
PY
)
flooded=$(kib VmRSS)

read_status() { # n: every page, one after another; prints "pages bytes"
  local after='' pages=0 bytes=0 page=$work/page.$1
  while :; do
    curl -sf "http://$status/status${after:+?after=$after}" -o "$page" || die "GET /status failed"
    pages=$((pages + 1)) bytes=$((bytes + $(stat -c %s "$page")))
    after=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("next_after") or "")' "$page")
    [ -z "$after" ] && break
  done
  echo "$pages $bytes" >"$work/read.$1"
}
echo 5 >"/proc/$proxy_pid/clear_refs"
pids=()
for i in 1 2 3; do read_status "$i" & pids+=($!); done
wait "${pids[@]}"
peak=$(kib VmHWM)
read -r pages bytes <"$work/read.1"

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
echo "netboot-proxy $("$bin" --version | cut -d' ' -f2): $ADDRESSES spoofed TFTP sources x $NAMES not-found names of ~490 bytes ($answered answered)"
printf '%-52s %s MiB\n' "RSS idle (release served)" "$(mib "$idle")"
printf '%-52s %s MiB\n' "RSS after the flood" "$(mib "$flooded")"
printf '%-52s %s MiB  (%s pages, %s bytes each read)\n' "peak RSS, 3 concurrent readers of all of /status" "$(mib "$peak")" "$pages" "$bytes"
