#!/usr/bin/env bash
# netboot-proxy's resident memory, on the machine this runs on (the figures in README.md
# beside this script are x86_64): idle once it serves a release, and the peak during 50
# concurrent TFTP downloads of a 10 MB boot file, warm (cached) and cold (every byte
# streamed from the origin while the proxy verifies it; the 50 share one download).
#
#   runtime/deploy/pi/measure-rss.sh [path/to/netboot-proxy]
#
# Default binary: $CARGO_TARGET_DIR/<host>/release/netboot-proxy (built if missing). The
# origin is the proxy tests' Python HTTPS server (client certificate required) serving a
# bundle written by common.sh's make_bundle; all of it on 127.0.0.1. Peaks are VmHWM,
# reset before each phase through /proc/<pid>/clear_refs.
#   CONC=50 SIZE_MB=10 BLKSIZE=1468
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

CONC=${CONC:-50}
SIZE_MB=${SIZE_MB:-10}
BLKSIZE=${BLKSIZE:-1468}

measure_start rss "${1:-}"

make_pki "$work/pki"
make_bundle "$work/bundle" big.bin $((SIZE_MB * 1000 * 1000)) >/dev/null
start_origin "$work/bundle" "$work/pki" "$work/origin.log"

"$bin" --origin "https://localhost:$ORIGIN_PORT" --cert "$work/pki/client.pem" \
  --key "$work/pki/client.key" --origin-ca "$work/pki/ca.pem" \
  --tftp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --cache-dir "$work/cache" \
  --tftp-max-transfers-per-client $((CONC + 8)) --log-level warn 2>"$work/proxy.log" &
proxy_pid=$!
# --log-level warn hides the ready line: find the ports in /proc instead.
http=
for _ in $(seq 100); do
  http=$(ss -Hltnp "( sport != :0 )" 2>/dev/null | awk -v p="pid=$proxy_pid," '$0 ~ p {print $4; exit}')
  [ -n "$http" ] && break
  sleep 0.1
done
tftp=$(ss -Hlunp 2>/dev/null | awk -v p="pid=$proxy_pid," '$0 ~ p {print $4; exit}')
[ -n "$http" ] && [ -n "$tftp" ] || { cat "$work/proxy.log"; die "the proxy did not start"; }
for _ in $(seq 300); do
  curl -sf "http://$http/healthz" | grep -q '^ok' && [ -n "$(find "$work/cache" -size +1M -print -quit)" ] && break
  sleep 0.1
done

kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$proxy_pid/status"; }
# The most threads the proxy had during a burst (tokio's workers plus its blocking pool,
# which does the file I/O): a thread's stack and malloc arena are what RSS grows with.
threads_max() {
  local max=0 n
  while [ -e "$work/burst" ]; do
    n=$(kib Threads)
    [ "${n:-0}" -gt "$max" ] && max=$n
    sleep 0.05
  done
  echo "$max" >"$work/threads"
}
burst() {
  local i pids=() failed=0
  touch "$work/burst"
  threads_max &
  for i in $(seq "$CONC"); do
    curl -s --max-time 120 --tftp-blksize "$BLKSIZE" -o "$work/dl.$i" "tftp://$tftp/big.bin" & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
  rm -f "$work/burst"
  wait
  for i in $(seq "$CONC"); do
    cmp -s "$work/dl.$i" "$work/bundle/objects/sha256/$(ls -S "$work/bundle/objects/sha256" | head -n1)" || failed=$((failed + 1))
  done
  rm -f "$work"/dl.*
  echo "$failed"
}

sleep 2
idle=$(kib VmRSS)
idle_threads=$(kib Threads)
echo 5 >"/proc/$proxy_pid/clear_refs"
start=$(date +%s.%N)
failed=$(burst)
warm_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
warm_peak=$(kib VmHWM)
warm_threads=$(cat "$work/threads")
after=$(kib VmRSS)
# Cold: drop the cached copy (the proxy notices on the next use and fetches it again).
rm -f "$work/cache/objects/sha256/"*
echo 5 >"/proc/$proxy_pid/clear_refs"
start=$(date +%s.%N)
cold_failed=$(burst)
cold_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
cold_peak=$(kib VmHWM)
cold_threads=$(cat "$work/threads")

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
echo "netboot-proxy $("$bin" --version | cut -d' ' -f2) on $(uname -m), $(nproc) cores; $CONC concurrent curl TFTP downloads of ${SIZE_MB} MB at blksize $BLKSIZE${MALLOC_ARENA_MAX:+; MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX}"
printf '%-44s %7s KiB (%s MiB)  %d threads\n' "RSS idle (release served, file cached)" "$idle" "$(mib "$idle")" "$idle_threads"
printf '%-44s %7s KiB (%s MiB)  %d failed, %.1f s, %d threads at most\n' "peak RSS, $CONC warm transfers" "$warm_peak" "$(mib "$warm_peak")" "$failed" "$warm_s" "$warm_threads"
printf '%-44s %7s KiB (%s MiB)\n' "RSS after the warm transfers" "$after" "$(mib "$after")"
printf '%-44s %7s KiB (%s MiB)  %d failed, %.1f s, %d threads at most\n' "peak RSS, $CONC cold transfers (from origin)" "$cold_peak" "$(mib "$cold_peak")" "$cold_failed" "$cold_s" "$cold_threads"
[ "$failed" = 0 ] && [ "$cold_failed" = 0 ]
