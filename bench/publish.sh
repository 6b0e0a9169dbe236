#!/usr/bin/env bash
# Publishing benchmark: a generated fleet (default 10,000 machines) published to a local
# moto S3 server. Measures the first publish with --concurrency 1 and with the default,
# a republish of the unchanged bundle, and the HTTP requests each makes (from moto's
# request log).
#
#   bench/publish.sh [MACHINES]        needs: python3, moto (.ci/python-deps), cargo
#
# NETBOOTC=path/to/netbootc to use a prebuilt binary (default: cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
machines=${1:-10000}
work=$(mktemp -d)
moto_pid=
cleanup() { [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ -z "${NETBOOTC:-}" ]; then
  cargo build --release -q -p netbootc
  NETBOOTC=${CARGO_TARGET_DIR:-target}/release/netbootc
fi

python3 bench/gen_fleet.py "$work/fleet" -n "$machines" >/dev/null
"$NETBOOTC" build -c "$work/fleet/config" --out "$work/out" | head -1
objects=$(ls "$work/out/objects/sha256" | wc -l)
bytes=$(du -sb "$work/out/objects" | cut -f1)
echo "bundle: $machines machines, $objects objects, $bytes bytes"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(moto_server -H 127.0.0.1 -p "$port" 2>"$work/moto.log" >/dev/null || python3 -m moto.server -H 127.0.0.1 -p "$port" 2>"$work/moto.log" >/dev/null) &
moto_pid=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null && break; sleep 0.1; done

export AWS_ENDPOINT="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=bench \
  AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1

requests() { grep -cE '"(GET|PUT|POST|HEAD|DELETE) ' "$work/moto.log" || true; }
run() { # label bucket args...
  local label=$1 bucket=$2; shift 2
  local before; before=$(requests)
  local start; start=$(date +%s.%N)
  "$NETBOOTC" publish "s3://$bucket/fleet" --from "$work/out" --yes "$@" >"$work/last.txt" 2>&1
  local end; end=$(date +%s.%N)
  local after; after=$(requests)
  printf '%-28s %7.2f s  %6d requests  %s\n' "$label" "$(awk "BEGIN{print $end - $start}")" \
    "$((after - before))" "$(grep -E '^  uploaded  ' "$work/last.txt" | sed 's/^ *//')"
}

for b in serial parallel wide; do curl -sf -X PUT "http://127.0.0.1:$port/$b" >/dev/null; done
run "first, --concurrency 1" serial --concurrency 1
run "first, default (16)" parallel
run "republish (unchanged)" parallel
run "first, --concurrency 64" wide --concurrency 64

# The client's own share: the same republish against a local directory store.
"$NETBOOTC" publish "$work/dir" --from "$work/out" --yes >/dev/null 2>&1
start=$(date +%s.%N)
"$NETBOOTC" publish "$work/dir" --from "$work/out" --yes >"$work/last.txt" 2>&1
end=$(date +%s.%N)
printf '%-28s %7.2f s  %6s requests  %s\n' "republish to a directory" "$(awk "BEGIN{print $end - $start}")" \
  "-" "$(grep -E '^  uploaded  ' "$work/last.txt" | sed 's/^ *//')"
