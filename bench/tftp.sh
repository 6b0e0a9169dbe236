#!/usr/bin/env bash
# Benchmark netboot-proxy's TFTP server against tftpd-hpa (Debian's in.tftpd), side by
# side on loopback, with the same real clients for both: curl (blksize 512 and 1468,
# lockstep), tftp-hpa's client (no options), atftp (windowsize 8 and 16, RFC 7440) and 50
# concurrent curls. Every download is compared with the file.
#
#   bench/tftp.sh                          # RUNS=5, a 10 MB file
#   RUNS=3 SIZE_MB=20 CONC=50 bench/tftp.sh
#
# By default "ours" is the tftp-dir example (netboot-tftp over a plain directory). To
# measure the real proxy, set OURS_CMD to a command line with @PORT@ (the UDP port to
# listen on) and @DIR@ (a directory holding the test file as $FILE), e.g. a cold or warm
# netboot-proxy whose TFTP root serves the same bytes:
#   OURS_CMD='netboot-proxy --tftp-listen 127.0.0.1:@PORT@ ...' FILE=tftp-name bench/tftp.sh
# (the script still writes @DIR@/$FILE with the bytes it compares against). All clients
# come from 127.0.0.1, so give it --tftp-max-transfers-per-client above CONC.
#
# PROXY=1 makes "ours" the real netboot-proxy (release build): $FILE becomes a site
# boot-file (bundle route tftp/$FILE) built by netbootc and served by netboot-serve over
# mutual TLS, and the proxy fetches it with its client certificate. Warm: the proxy has it
# cached (it prefetches TFTP files). COLD=1 deletes the proxy's cache copy before every
# "ours" download (before each batch of concurrent ones), so every transfer streams from
# the origin while the proxy verifies it. Both modes also time the first DATA packet of a
# request (RRQ without options -> DATA 1), cold and warm.
#   PROXY=1 bench/tftp.sh; PROXY=1 COLD=1 bench/tftp.sh
#
# Needs: curl, tftp-hpa, atftp, tftpd-hpa (installed here with apt-get when missing and
# running as root). Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-5}
SIZE_MB=${SIZE_MB:-10}
CONC=${CONC:-50}
FILE=${FILE:-bench.bin}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
T=$CARGO_TARGET_DIR/release

need=()
command -v curl >/dev/null || need+=(curl)
command -v tftp >/dev/null || need+=(tftp-hpa)
command -v atftp >/dev/null || need+=(atftp)
[ -x /usr/sbin/in.tftpd ] || need+=(tftpd-hpa)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        # tftpd-hpa's postinst tries to start a system service; we run our own in.tftpd.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        echo "bench: needs ${need[*]} (apt-get install)" >&2; exit 2
    fi
fi

PROXY=${PROXY:-0}
COLD=${COLD:-0}
if [ "$PROXY" = 1 ]; then
    cargo build --release -q -p netbootc -p netboot-serve -p netboot-proxy
elif [ -z "${OURS_CMD:-}" ]; then
    cargo build --release -q -p netboot-tftp --example tftp-dir
    # All clients come from 127.0.0.1: lift the per-client cap (default 8) above CONC.
    OURS_CMD="$T/examples/tftp-dir @DIR@ 127.0.0.1:@PORT@ --log-level warn --tftp-max-transfers-per-client $((CONC + 8))"
fi

W=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

mkdir -p "$W/root" "$W/out"
head -c $((SIZE_MB * 1000 * 1000)) /dev/urandom >"$W/root/$FILE"
BYTES=$(stat -c %s "$W/root/$FILE")

BASE=$((20000 + RANDOM % 20000))
OURS_PORT=$BASE; HPA_PORT=$((BASE + 1))
if [ "$PROXY" = 1 ]; then
    SERVE_PORT=$((BASE + 2)); PROXY_HTTP=$((BASE + 3))
    HEX=$(sha256sum "$W/root/$FILE" | cut -d' ' -f1)
    mkdir -p "$W/fleet/machines" "$W/fleet/profiles"
    cp "$W/root/$FILE" "$W/fleet/profiles/$FILE"
    head -c 1000 /dev/urandom >"$W/fleet/profiles/vmlinuz"
    cat >"$W/fleet/profiles/site.kdl" <<EOF
site {
    origin "https://127.0.0.1:$SERVE_PORT"
    chain "via-proxy" proxy="http://127.0.0.1:$PROXY_HTTP"
    boot-file "$FILE" path="$FILE" sha256="$HEX"
}
profile "bench" {
    kernel path="vmlinuz" sha256="$(sha256sum "$W/fleet/profiles/vmlinuz" | cut -d' ' -f1)"
}
EOF
    echo 'machine "bench-01" { mac "52:54:00:00:00:01"; profile "bench"; }' >"$W/fleet/machines/bench.kdl"
    "$T/netbootc" build --config "$W/fleet" -o "$W/out-bundle" >/dev/null
    "$T/netbootc" dev-certs "$W/certs" >/dev/null
    "$T/netboot-serve" --bundle "$W/out-bundle" --listen 127.0.0.1:$SERVE_PORT \
        --cert "$W/certs/server.pem" --key "$W/certs/server.key" --client-ca "$W/certs/ca.pem" \
        --log-level warn 2>"$W/serve.log" &
    PIDS+=($!)
    CACHE=$W/proxy-cache
    OURS_CMD="$T/netboot-proxy --origin https://localhost:$SERVE_PORT --cert $W/certs/client-ecdsa.pem --key $W/certs/client-ecdsa.key --origin-ca $W/certs/ca.pem --tftp-listen 127.0.0.1:@PORT@ --http-listen 127.0.0.1:$PROXY_HTTP --admin-listen 127.0.0.1:0 --cache-dir $CACHE --poll-interval 1h --log-level warn --tftp-max-transfers-per-client $((CONC + 8))"
    sleep 0.5
fi
cmd=${OURS_CMD//@PORT@/$OURS_PORT}; cmd=${cmd//@DIR@/$W/root}
# shellcheck disable=SC2086
$cmd 2>"$W/ours.log" &
PIDS+=($!)
if [ "$PROXY" = 1 ]; then
    # Ready once the prefetch has cached the file.
    for _ in $(seq 1 100); do [ -f "$CACHE/objects/sha256/$HEX" ] && break; sleep 0.1; done
    [ -f "$CACHE/objects/sha256/$HEX" ] || { echo "bench: the proxy never cached $FILE" >&2; cat "$W/ours.log" >&2; exit 1; }
fi

# uncache PORT: with COLD=1, drop the proxy's copy so the next request goes to the origin.
uncache() {
    if [ "$COLD" = 1 ] && [ "$1" = "$OURS_PORT" ]; then rm -f "$CACHE/objects/sha256/$HEX"; fi
}
# -L foreground, -s chroot to the root; as root it must drop to a user that can read it.
/usr/sbin/in.tftpd -L -a 127.0.0.1:$HPA_PORT -s "$W/root" -u "$(id -un)" 2>"$W/hpa.log" &
PIDS+=($!)
sleep 1

now() { date +%s.%N; }

# client NAME PORT OUT: one download with client NAME.
client() {
    local name=$1 port=$2 out=$3
    case $name in
        curl-512) curl -sS --tftp-blksize 512 -o "$out" "tftp://127.0.0.1:$port/$FILE" ;;
        curl-1468) curl -sS --tftp-blksize 1468 -o "$out" "tftp://127.0.0.1:$port/$FILE" ;;
        tftp-hpa) tftp 127.0.0.1 "$port" -m binary -c get "$FILE" "$out" ;;
        atftp-w8) atftp --get -r "$FILE" -l "$out" --option "blksize 1468" \
            --option "windowsize 8" 127.0.0.1 "$port" >/dev/null 2>&1 ;;
        atftp-w16) atftp --get -r "$FILE" -l "$out" --option "blksize 1468" \
            --option "windowsize 16" 127.0.0.1 "$port" >/dev/null 2>&1 ;;
    esac
}

# measure NAME PORT: prints MB/s (decimal MB) of one run, checking the bytes.
measure() {
    local name=$1 port=$2 t0 t1 i
    uncache "$port"
    if [ "$name" = "conc" ]; then
        local pids=()
        t0=$(now)
        for i in $(seq 1 "$CONC"); do
            client curl-1468 "$port" "$W/out/c$i" &
            pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i"; done
        t1=$(now)
        for i in $(seq 1 "$CONC"); do
            cmp -s "$W/out/c$i" "$W/root/$FILE" || { echo "bench: conc $i differs" >&2; exit 1; }
        done
        rm -f "$W"/out/c*
        awk -v b="$BYTES" -v n="$CONC" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.1f", b * n / 1e6 / (t1 - t0) }'
    else
        rm -f "$W/out/one"
        t0=$(now)
        client "$name" "$port" "$W/out/one"
        t1=$(now)
        cmp -s "$W/out/one" "$W/root/$FILE" || { echo "bench: $name from port $port differs" >&2; exit 1; }
        awk -v b="$BYTES" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.1f", b / 1e6 / (t1 - t0) }'
    fi
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "file: $BYTES bytes; runs: $RUNS; concurrent clients: $CONC; nproc: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ours: $OURS_CMD"
echo "baseline: in.tftpd -L -a 127.0.0.1:PORT -s DIR ($(dpkg-query -W -f='${Version}' tftpd-hpa 2>/dev/null || echo '?'))"
echo
printf '%-12s %14s %14s %8s   %s\n' client "ours MB/s" "tftpd-hpa MB/s" ratio "runs ours | tftpd-hpa"
for name in curl-512 curl-1468 tftp-hpa atftp-w8 atftp-w16 conc; do
    ours=(); hpa=()
    for run in $(seq 1 "$RUNS"); do
        # Alternate which server goes first.
        if [ $((run % 2)) = 1 ]; then
            ours+=("$(measure $name $OURS_PORT)"); hpa+=("$(measure $name $HPA_PORT)")
        else
            hpa+=("$(measure $name $HPA_PORT)"); ours+=("$(measure $name $OURS_PORT)")
        fi
    done
    mo=$(echo "${ours[*]}" | median); mh=$(echo "${hpa[*]}" | median)
    label=$name; [ "$name" = conc ] && label="conc-$CONC"
    printf '%-12s %14s %14s %8s   %s | %s\n' "$label" "$mo" "$mh" \
        "$(awk -v a="$mo" -v b="$mh" 'BEGIN { printf "%.2f", a / b }')" "${ours[*]}" "${hpa[*]}"
done
echo
echo "(conc: aggregate MB/s of $CONC simultaneous curl --tftp-blksize 1468 downloads)"

# first_data PORT: milliseconds from a plain RRQ to the first DATA packet.
first_data() {
    python3 - "$1" "$FILE" <<'EOF'
import socket, sys, time
port, name = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
t0 = time.perf_counter()
s.sendto(b"\x00\x01" + name.encode() + b"\x00octet\x00", ("127.0.0.1", port))
data, peer = s.recvfrom(70000)
t1 = time.perf_counter()
assert data[:4] == b"\x00\x03\x00\x01", data[:4]
s.sendto(b"\x00\x05\x00\x00measured\x00", peer)  # end the transfer
print(f"{(t1 - t0) * 1000:.2f}")
EOF
}
if [ "$PROXY" = 1 ]; then
    cold=(); warm=(); hpa=()
    for run in $(seq 1 "$RUNS"); do
        rm -f "$CACHE/objects/sha256/$HEX"; cold+=("$(first_data $OURS_PORT)")
        sleep 1  # let the download finish into the cache
        warm+=("$(first_data $OURS_PORT)"); hpa+=("$(first_data $HPA_PORT)")
    done
    echo "first DATA packet, ms (median; runs): proxy cold $(echo "${cold[*]}" | median) (${cold[*]});" \
        "proxy warm $(echo "${warm[*]}" | median) (${warm[*]}); tftpd-hpa $(echo "${hpa[*]}" | median) (${hpa[*]})"
fi
