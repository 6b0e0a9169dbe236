#!/usr/bin/env bash
# Benchmark netboot-serve and netboot-sink against nginx (Debian package), side by side,
# on loopback, with one load generator (netboot-loadgen: hyper + rustls, client cert).
#
#   bench/serve.sh                 # DURATION=10 s per run
#   DURATION=5 CONC=32 bench/serve.sh
#
# Every run is bounded by DURATION; everything listens on 127.0.0.1 only and is stopped on
# exit. Needs: nginx (apt-get install nginx), curl, a release build (done here).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10}
CONC=${CONC:-32}          # workers for the small-object and sink runs
BIG_CONC=${BIG_CONC:-8}   # workers for the 20 MB object
HS_CONC=${HS_CONC:-16}    # workers for the handshake run
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
T=$CARGO_TARGET_DIR/release

command -v nginx >/dev/null || { echo "bench: needs nginx (apt-get install nginx)" >&2; exit 2; }
cargo build --release -q -p netboot-serve -p netboot-sink -p netboot-loadgen
# The sink as shipped: the size-optimised profile.
cargo build --profile release-small -q -p netboot-sink
SINK_BIN=$CARGO_TARGET_DIR/release-small/netboot-sink
cargo build --release -q -p netboot-devcerts --example dev-certs

W=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

"$T/examples/dev-certs" "$W/certs" >/dev/null
C=$W/certs
mapfile -t LINES < <("$T/netboot-loadgen" make-bundle "$W/bundle")
SMALL=$(echo "${LINES[0]}" | awk '{print $2}')
BIG=$(echo "${LINES[1]}" | awk '{print $2}')

BASE=$((20000 + RANDOM % 20000))
SERVE_PORT=$BASE; NGINX_PORT=$((BASE + 1)); SINK_PORT=$((BASE + 2)); NGINX503_PORT=$((BASE + 3))

"$T/netboot-serve" --bundle "$W/bundle" --listen 127.0.0.1:$SERVE_PORT \
    --cert "$C/server.pem" --key "$C/server.key" --client-ca "$C/ca.pem" --crl "$C/crl.pem" \
    --log-level warn 2>"$W/serve.log" &
SERVE_PID=$!; PIDS+=("$SERVE_PID")

mkdir -p "$W/nginx/logs"
cat >"$W/nginx/nginx.conf" <<CONF
user root;
worker_processes auto;
pid $W/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $W/nginx/body;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    uwsgi_temp_path $W/nginx/uwsgi;
    scgi_temp_path $W/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        server_name localhost;
        ssl_certificate $C/server.pem;
        ssl_certificate_key $C/server.key;
        ssl_client_certificate $C/ca.pem;
        ssl_crl $C/crl.pem;
        ssl_verify_client on;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        root $W/bundle;
        location / { }
    }
    server {
        listen 127.0.0.1:$NGINX503_PORT;
        location / { return 503; }
    }
}
CONF
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e stderr -g 'daemon off;' 2>"$W/nginx.log" &
NGINX_PID=$!; PIDS+=("$NGINX_PID")

"$SINK_BIN" --listen 127.0.0.1:$SINK_PORT --log-level warn 2>"$W/sink.log" &
SINK_PID=$!; PIDS+=("$SINK_PID")

CURL=(curl -s -o /dev/null --max-time 5 --cacert "$C/ca.pem" --cert "$C/client-ecdsa.pem" --key "$C/client-ecdsa.key")
for _ in $(seq 50); do
    if "${CURL[@]}" "https://localhost:$SERVE_PORT$SMALL" && "${CURL[@]}" "https://localhost:$NGINX_PORT$SMALL" \
        && curl -s -o /dev/null "http://127.0.0.1:$SINK_PORT/"; then break; fi
    sleep 0.1
done
sleep 0.5
SINK_IDLE_KB=$(awk '/VmRSS/ {print $2}' /proc/$SINK_PID/status)

# Peak RSS in KiB of a process and its children (nginx: master + workers).
peak_kb() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '/VmHWM/ {print $2}' /proc/$pid/status)))
    done
    echo $total
}

load() { # name url mode concurrency [extra args]
    local name=$1 url=$2 mode=$3 conc=$4; shift 4
    local out
    out=$("$T/netboot-loadgen" run --url "$url" --mode "$mode" --concurrency "$conc" \
        --duration "$DURATION" --cacert "$C/ca.pem" --cert "$C/client-ecdsa.pem" --key "$C/client-ecdsa.key" "$@")
    echo "$name $out"
}

RESULTS=$W/results
: >"$RESULTS"
for server in netboot-serve nginx; do
    port=$SERVE_PORT; [ $server = nginx ] && port=$NGINX_PORT
    load "$server/300B-keepalive" "https://localhost:$port$SMALL" keepalive "$CONC" | tee -a "$RESULTS"
    load "$server/20MB-keepalive" "https://localhost:$port$BIG" keepalive "$BIG_CONC" | tee -a "$RESULTS"
    load "$server/handshakes" "https://localhost:$port$SMALL" handshake "$HS_CONC" | tee -a "$RESULTS"
done
SERVE_PEAK=$(peak_kb $SERVE_PID); NGINX_PEAK=$(peak_kb $NGINX_PID)
for server in netboot-sink nginx-503; do
    port=$SINK_PORT; [ $server = nginx-503 ] && port=$NGINX503_PORT
    load "$server/503-keepalive" "http://localhost:$port/anything" keepalive "$CONC" --plain | tee -a "$RESULTS"
done
SINK_PEAK=$(peak_kb $SINK_PID)

cp "$SINK_BIN" "$W/sink-stripped"; strip "$W/sink-stripped"
cp "$T/netboot-serve" "$W/serve-stripped"; strip "$W/serve-stripped"
field() { grep "^$1 " "$RESULTS" | tr ' ' '\n' | awk -F= -v k="$2" '$1==k {print $2}'; }

echo
echo "DURATION=${DURATION}s per run; $(nproc) cores shared by servers and load generator; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), worker_processes auto"
echo
echo "| run | netboot-serve | nginx |"
echo "|---|---|---|"
for run in 300B-keepalive 20MB-keepalive handshakes; do
    s="netboot-serve/$run"; n="nginx/$run"
    echo "| $run req/s | $(field $s rps) | $(field $n rps) |"
    echo "| $run p50 / p99 ms | $(field $s p50_ms) / $(field $s p99_ms) | $(field $n p50_ms) / $(field $n p99_ms) |"
    echo "| $run errors | $(field $s errors) | $(field $n errors) |"
done
echo "| 20MB-keepalive Mbit/s | $(field netboot-serve/20MB-keepalive mbps) | $(field nginx/20MB-keepalive mbps) |"
echo "| peak RSS (all runs) | $((SERVE_PEAK / 1024)) MiB | $((NGINX_PEAK / 1024)) MiB (master + workers) |"
echo "| stripped binary | $(($(stat -c %s "$W/serve-stripped") / 1024)) KiB | - |"
echo
echo "| run | netboot-sink | nginx return 503 |"
echo "|---|---|---|"
echo "| 503 keep-alive req/s | $(field netboot-sink/503-keepalive rps) | $(field nginx-503/503-keepalive rps) |"
echo "| p50 / p99 ms | $(field netboot-sink/503-keepalive p50_ms) / $(field netboot-sink/503-keepalive p99_ms) | $(field nginx-503/503-keepalive p50_ms) / $(field nginx-503/503-keepalive p99_ms) |"
echo "| idle RSS | $SINK_IDLE_KB KiB | - |"
echo "| peak RSS | $SINK_PEAK KiB | (shared nginx above) |"
echo "| stripped binary (release-small) | $(($(stat -c %s "$W/sink-stripped") / 1024)) KiB | - |"
