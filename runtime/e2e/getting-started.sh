#!/usr/bin/env bash
# The getting-started page, run: every shell block of docs/getting-started.md marked
# `<!-- getting-started-test: ROLE [service] -->` is extracted and run as written, in page
# order: the workstation's blocks on this host (Debian's ipxe package, netbootc init, pki,
# build, publish), in a network namespace of its own (loopback only) the origin's netboot-serve
# and the Pi's netboot-proxy ("service": in the background, until they answer), and the
# Pi's `netbootc status`. The page's variables get test values (ORIGIN_HOST=localhost,
# PI=127.0.0.1, a stand-in kernel and initrd). Then this script plays the machine as its
# firmware and iPXE would, through the Pi: first with a MAC the site does not have (the
# status block must list it with a stanza to paste), then as the page's machine (TFTP
# undionly.kpxe with the package's bytes; boot.ipxe; its script by MAC; the kernel and
# initrd it names, with the digests init pinned; status: done). Last, `netbootc pki revoke`
# of the Pi's certificate must lock the Pi out of the origin once the origin reloads the
# CRL.
#
# Usage: bash runtime/e2e/getting-started.sh [--keep]
# Environment: LAN_BIN_DIR (netbootc, netboot-serve and netboot-proxy from there, no
# cargo build), else CARGO_TARGET_DIR is honoured. Run as root (a network namespace, port
# 69). Needs apt-get (the page downloads Debian's ipxe package), curl with TFTP, openssl.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PAGE=$REPO/docs/getting-started.md
KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "getting-started.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "getting-started.sh: run as root (a network namespace, port 69)" >&2; exit 2; }

FAILED=0 PIDS=()
say() { printf '== %s\n' "$*"; }
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; FAILED=1; }
die() { fail "$*"; exit 1; }

if [ -n "${LAN_BIN_DIR:-}" ]; then
  BIN=$LAN_BIN_DIR
else
  say "building netbootc, netboot-serve, netboot-proxy"
  (cd "$REPO" && cargo build --locked -q -p netbootc -p netboot-serve -p netboot-proxy)
  BIN=${CARGO_TARGET_DIR:-$REPO/target}/debug
fi
# Absolute: the page's blocks run in their own directories with it on PATH.
BIN=$(cd "$BIN" && pwd) || die "no binaries directory $BIN"
WORK=$(mktemp -d /tmp/getting-started.XXXXXX)
NS=gs-$$
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  if [ $FAILED = 0 ] && [ $KEEP = 0 ]; then rm -rf "$WORK"; else echo "work directory: $WORK"; fi
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up

# The page's variables, for this namespace. MAC is the page's machine; STRANGER has no
# machine in the site.
MAC=52:54:00:6e:00:01 STRANGER=52:54:00:6e:00:99
printf 'a stand-in kernel\n' >"$WORK/vmlinuz"
printf 'a stand-in initrd\n' >"$WORK/initrd.img"
PAGE_ENV=(PATH="$BIN:$PATH" ORIGIN_HOST=localhost ORIGIN_PORT=8443 PI=127.0.0.1 "MAC=$MAC"
  SITE="$WORK/site" KERNEL="$WORK/vmlinuz" INITRD="$WORK/initrd.img")
in_ns() { ip netns exec "$NS" "$@"; }

# shellcheck source=SCRIPTDIR/page-blocks.sh
source "$REPO/runtime/e2e/page-blocks.sh"
mkdir -p "$WORK/logs"
page_blocks "$PAGE" "$WORK/blocks" >"$WORK/blocks.tsv"
[ "$(grep -c . "$WORK/blocks.tsv")" -ge 6 ] || die "fewer than 6 marked blocks in $PAGE: $(cat "$WORK/blocks.tsv")"

STATUS_BLOCK=""
# run_block ROLE KIND FILE: a "run" block to its end (its output in logs/), a "service"
# block in the background until its server answers.
run_block() {
  local role=$1 kind=$2 file=$3 log
  log=$WORK/logs/$(basename "$file" .sh).log
  if [ "$kind" = service ]; then
    page_service "$WORK" "$file" "$log" ip netns exec "$NS"
    PIDS+=("$!")
    wait_up "$role" "$!" "$log"
    pass "$role: $(head -n1 "$file" | cut -c1-60)… is up"
  elif [ "$role" = workstation ] && page_run "$WORK" "$file" >"$log" 2>&1; then
    pass "$role: $(head -n1 "$file" | cut -c1-70)…"
  elif [ "$role" != workstation ] && page_run "$WORK" "$file" ip netns exec "$NS" >"$log" 2>&1; then
    pass "$role: $(head -n1 "$file" | cut -c1-70)…"
  else
    cat "$log"; die "$role: the block $(basename "$file") failed"
  fi
}
# wait_up ROLE PID LOG: until the origin serves `current` to the Pi's certificate, or the
# Pi's LAN HTTP answers /healthz; fails when the server exits or after 60 s.
wait_up() {
  local deadline=$((SECONDS + 60)) url curl_args=(-fsS -o /dev/null --max-time 2)
  case $1 in
    origin) url=https://localhost:8443/current
            curl_args+=(--cacert "$WORK/pki/ca.pem" --cert "$WORK/pki/pi.pem" --key "$WORK/pki/pi.key") ;;
    *) url=http://127.0.0.1:8080/healthz ;;
  esac
  until in_ns curl "${curl_args[@]}" "$url" 2>/dev/null; do
    if ! kill -0 "$2" 2>/dev/null || [ $SECONDS -ge $deadline ]; then cat "$3"; die "$1: not up at $url"; fi
    sleep 0.2
  done
}
while IFS=$'\t' read -r role kind file; do
  if [ "$role" = pi ] && grep -q 'netbootc status' "$file"; then STATUS_BLOCK=$file; continue; fi
  say "block $(basename "$file"): $role ($kind)"
  run_block "$role" "$kind" "$file"
done <"$WORK/blocks.tsv"
[ -n "$STATUS_BLOCK" ] || die "the page has no marked \`netbootc status\` block"

# status: the page's status block, its output.
status() { page_run "$WORK" "$STATUS_BLOCK" ip netns exec "$NS" 2>&1; }
# The Pi tells clients apart by address: each plays from its own.
FROM=127.0.0.99
get() { # path [curl flags]: GET from the Pi's LAN HTTP, as iPXE does, from $FROM
  local path=$1; shift
  in_ns curl -sS --max-time 10 --interface "$FROM" "$@" "http://127.0.0.1:8080/$path"
}
hyphens() { tr ':' '-' <<<"$1"; }

say "a machine the site does not have boots"
get boot.ipxe -f -o "$WORK/boot.ipxe" || die "GET /boot.ipxe through the Pi"
code=$(get "machines/by-mac/$(hyphens $STRANGER).ipxe" -o /dev/null -w '%{http_code}')
if [ "$code" = 404 ]; then pass "its script by MAC is a 404"; else fail "its script by MAC: HTTP $code, expected 404"; fi
if get machines/unknown.ipxe -f -o "$WORK/unknown.ipxe" && grep -q 'mac' "$WORK/unknown.ipxe"; then
  pass "it got unknown.ipxe, which prints its MAC"
else fail "unknown.ipxe through the Pi"; fi
out=$(status)
echo "$out" >"$WORK/logs/status-unknown.log"
if grep -qi "$STRANGER" <<<"$out" && grep -q "machine \"" <<<"$out" && grep -q "mac \"$STRANGER\"" <<<"$out"; then
  pass "the page's status block lists $STRANGER with a stanza to paste"
else fail "the page's status block did not list $STRANGER with a stanza: $out"; fi

say "the page's machine boots: firmware PXE → undionly.kpxe → iPXE → its script → kernel, initrd"
FROM=127.0.0.20
in_ns curl -sS --max-time 10 --interface $FROM -o "$WORK/undionly.kpxe" tftp://127.0.0.1/undionly.kpxe || die "TFTP undionly.kpxe from the Pi"
if cmp -s "$WORK/undionly.kpxe" "$WORK/ipxe-package/usr/lib/ipxe/undionly.kpxe"; then
  pass "TFTP undionly.kpxe from the Pi: Debian's package's bytes"
else fail "TFTP undionly.kpxe differs from Debian's"; fi
get boot.ipxe -f -o /dev/null || fail "GET /boot.ipxe"
script=$(get "machines/by-mac/$(hyphens $MAC).ipxe" -f) || die "the machine's script by MAC"
kernel=$(grep -E '^kernel ' <<<"$script" | grep -oE 'http://[^ ]+' | head -n1 || true)
initrd=$(grep -E '^initrd ' <<<"$script" | grep -oE 'http://[^ ]+' | head -n1 || true)
if [ -z "$kernel" ] || [ -z "$initrd" ]; then die "no kernel or initrd line in the machine's script: $script"; fi
for pair in "kernel $kernel $WORK/vmlinuz" "initrd $initrd $WORK/initrd.img"; do
  read -r what url file <<<"$pair"
  got=$(in_ns curl -fsS --max-time 10 --interface $FROM "$url" | sha256sum | cut -d' ' -f1)
  want=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$got" = "$want" ]; then pass "$what through the Pi ($url): sha256 $got, the file init pinned"
  else fail "$what through the Pi: sha256 $got, expected $want"; fi
done
out=$(status)
echo "$out" >"$WORK/logs/status-booted.log"
if grep -E "machine-01 .*done|done.*machine-01" <<<"$out" >/dev/null; then pass "status: machine-01 done"
else fail "status does not say machine-01 is done: $out"; fi

say "revoking the Pi's certificate locks it out of the origin"
in_ns env "${PAGE_ENV[@]}" bash -c "cd '$WORK' && netbootc pki revoke pki pi" >"$WORK/logs/revoke.log" 2>&1 || die "pki revoke: $(cat "$WORK/logs/revoke.log")"
serve_log=$(grep -l . "$WORK"/logs/*-origin.log | head -n1)
kill -HUP "${PIDS[0]}"
deadline=$((SECONDS + 20))
until grep -q 'TLS configuration reloaded' "$serve_log"; do
  [ $SECONDS -lt $deadline ] || die "the origin did not reload its TLS configuration ($serve_log)"
  sleep 0.2
done
if in_ns curl -fsS -o /dev/null --max-time 5 --cacert "$WORK/pki/ca.pem" --cert "$WORK/pki/pi.pem" \
  --key "$WORK/pki/pi.key" https://localhost:8443/current 2>"$WORK/logs/revoked-curl.log"; then
  fail "the origin still accepts the revoked certificate"
else pass "the origin refuses the revoked certificate: $(tail -n1 "$WORK/logs/revoked-curl.log")"; fi

[ $FAILED = 0 ] || exit 1
echo "PASS: the getting-started page ($(grep -c . "$WORK/blocks.tsv") blocks), in ${SECONDS}s"
