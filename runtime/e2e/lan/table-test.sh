#!/usr/bin/env bash
# Checks lan/table.sh against the tables and against broken copies of guests.tsv: the real
# tables load (every guest, the explore ones with --explore, markers expanded, the fleets'
# machine stanzas), and each broken line stops the load with its line number and what is
# wrong. No root, no network: `bash runtime/e2e/lan/table-test.sh`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; failures=$((failures + 1)); }

# load LAN_DIR EXPLORE: what lan-boot.sh gets from the tables, as text (exit status: the load's)
load() {
  # shellcheck disable=SC2016 # the script is for the inner bash
  bash -c 'set -euo pipefail; LAN_DIR=$1
    source "$LAN_DIR/report.sh"; source "$LAN_DIR/table.sh"; load_guests "$2"
    echo "rows: $ALL_ROWS"
    for g in "${GUESTS[@]}"; do
      printf "%s row=%s mac=%s tap=%s tags=[%s] mark=[%s] fail=[%s]\n" "$g" "${G_ROW[$g]}" \
        "${G_MAC[$g]}" "${G_TAP[$g]}" "${G_TAGS[$g]}" "${G_MARK[$g]}" "${G_FAILMARK[$g]}"
    done
    for fleet in proxy prov direct https; do machine_stanzas "$fleet"; done' load "$1" "$2" 2>&1
}
# expect WHAT COMMAND...: ok if COMMAND succeeds, else FAIL
expect() {
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
has_line() { grep -qxF -- "$1" <<<"$out"; }
has_text() { grep -qF -- "$1" <<<"$out"; }

out=$(load "$HERE" 0) || bad "the tables do not load: $out"
expect "27 matrix guests" [ "$(grep -c ' row=' <<<"$out")" = 27 ]
expect "33 guests with --explore" [ "$(load "$HERE" 1 | grep -c ' row=')" = 33 ]
expect "every row of rows.tsv" has_line 'rows: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 24'
expect "r8: @markers expanded, the literal part kept, its tap by its place" has_text \
  'r8-guard-arm64 row=8 mac=52:54:00:1a:00:81 tap=tap2 tags=[] mark=[netbootc: r8-guard-arm64: profile linux-x86_64 needs an x86_64 machine, but this iPXE is arm64 (efi)] fail=[boot failed \(error|Kernel panic|giving up after|netbootc: r8-guard-arm64: booting]'
expect "r6: no failure marker" has_text 'r6-unknown-mac row=6 mac=52:54:00:1a:00:99 tap=tap21 tags=[] mark=[netbootc: add it to machines] fail=[]'
expect "r7-local-ovmf: its router tag" has_text 'r7-local-ovmf row=7 mac=52:54:00:1a:00:73 tap=tap13 tags=[ipxe-2.0.0]'
expect "a local-boot machine" has_line 'machine "r7-local-aavmf" { mac "52:54:00:1a:00:74"; profile "linux-arm64"; boot "local"; }'
expect "a provisioning machine" has_line 'machine "r12-prov-nocloud" { mac "52:54:00:1a:00:c2"; profile "prov-nocloud"; }'
expect "the direct machine" has_line 'machine "r5-direct-https" { mac "52:54:00:1a:00:05"; profile "linux-x86_64"; }'
expect "the https machine" has_line 'machine "r18-lan-https" { mac "52:54:00:1a:01:81"; profile "linux-x86_64"; }'
expect "no machine for the unknown MAC" [ "$(grep -c 'machine "r6-unknown-mac"' <<<"$out")" = 0 ]
expect "24 machines" [ "$(grep -c '^machine ' <<<"$out")" = 24 ]

# broken NAME SED WANT: guests.tsv with SED applied must fail to load, saying WANT
broken() {
  local dir=$TMP/$1 got
  mkdir -p "$dir"
  cp "$HERE"/*.sh "$HERE"/rows.tsv "$dir/"
  sed -E "$2" "$HERE/guests.tsv" >"$dir/guests.tsv"
  if cmp -s "$HERE/guests.tsv" "$dir/guests.tsv"; then bad "$1: the edit changed nothing"; return; fi
  if got=$(load "$dir" 0); then bad "$1: loaded"; return; fi
  if grep -qF -- "$3" <<<"$got"; then ok "$1: $(tail -n1 <<<"$got")"; else bad "$1: '$got', expected '$3'"; fi
}
r1='/^r1-bios-rom\t/'
broken missing-field "$r1 s/\tmatrix$//" "line 42 (r1-bios-rom): fewer than 16 fields"
broken extra-field "$r1 s/$/\textra/" "line 42 (r1-bios-rom): more than 16 fields"
broken firmware "$r1 s/\tbios\t/\tcoreboot\t/" "line 42 (r1-bios-rom): firmware 'coreboot'"
broken row "$r1 s/^(r1-bios-rom)\t1\t/\1\t99\t/" "line 42 (r1-bios-rom): row '99' is not in rows.tsv"
broken mac "$r1 s/52:54:00:1a:00:01/52:54:00:1a:00:1/" "line 42 (r1-bios-rom): mac '52:54:00:1a:00:1'"
broken same-mac "$r1 s/52:54:00:1a:00:01/52:54:00:1a:00:02/" "line 42 (r1-bios-rom): the MAC is line 40's too"
broken same-name "s/^r2-bios-undionly\t/r1-bios-rom\t/" "line 42 (r1-bios-rom): the name is line 40's too"
broken virtio-on-uefi "/^r3-uefi-x86_64\t/ s/\tpxe\t/\tvirtio-rom\t/" "(r3-uefi-x86_64): boot virtio-rom is for bios guests only"
broken marker "$r1 s/@boot-fail/@boot-failed/" "line 42 (r1-bios-rom): an unknown @marker"
broken no-marker "$r1 s/@os/-/" "line 42 (r1-bios-rom): no marker"
broken machine "$r1 s#proxy/linux-x86_64#cloud/linux-x86_64#" "line 42 (r1-bios-rom): machine 'cloud/linux-x86_64'"
broken simulate "$r1 s#bios/debian-2019#bios/1.21#" "line 42 (r1-bios-rom): simulate 'bios/1.21'"
broken explore-line "/^x-exit1-bios\t/ s/\t120\t/\t0\t/" "(x-exit1-bios): limit '0'"
if [ $failures = 0 ]; then echo "table-test: all passed"; else echo "table-test: $failures failed"; exit 1; fi
