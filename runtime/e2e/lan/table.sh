# shellcheck shell=bash
# The matrix as data: rows.tsv (the rows and their names) and guests.tsv (one guest a line:
# how it boots and what ends its run, its machine, what else the checks expect of it), read
# into arrays keyed by row or guest name. Sourced by ../lan-boot.sh.

# Console markers the tables name as @name.
OS_MARK="NETBOOT-E2E: the OS started"
PROV_MARK="NETBOOT-E2E: provisioning done"
GUARD_MARK="netbootc: r8-guard-arm64: profile linux-x86_64 needs an x86_64 machine, but this iPXE is arm64 (efi)"
declare -A MARK=([os]=$OS_MARK [prov]=$PROV_MARK [guard]=$GUARD_MARK
  [boot-fail]='boot failed \(error|Kernel panic|giving up after'
  [local-fail]='the local disk did not boot'
  [prov-fail]="NETBOOT-E2E: provisioning failed")
# expand_marks TEXT: TEXT's "|"-separated parts, each @name replaced by MARK[name]; "-" is "".
# Fails on an @name MARK does not have.
expand_marks() {
  local part out="" sep="" parts=()
  [ "$1" != - ] || return 0
  IFS='|' read -r -a parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == @* ]]; then
      [ -n "${MARK[${part#@}]+set}" ] || return 1
      part=${MARK[${part#@}]}
    fi
    out+=$sep$part sep='|'
  done
  printf '%s' "$out"
}

declare -A ROW_NAME=()
ALL_ROWS=""
while IFS=$'\t' read -r row name; do
  [[ $row == \#* ]] && continue
  ROW_NAME[$row]=$name ALL_ROWS+="${ALL_ROWS:+ }$row"
done <"$LAN_DIR/rows.tsv"

# guest_line_error FIELD...: what is wrong with one line of guests.tsv ("" if nothing), so
# that a typo in the table stops the run with its line instead of booting a wrong guest.
guest_line_error() {
  local n=$1 row=$2 lan=$3 fw=$4 mac=$5 boot=$6 disk=$7 limit=$8 count=$9 mark=${10}
  local machine=${12} tags=${13} sim=${14} status=${15} when=${16} rest=${17}
  [ -z "$rest" ] || { echo "more than 16 fields"; return; }
  [ -n "$when" ] || { echo "fewer than 16 fields (\"-\" is an empty one)"; return; }
  [[ $n =~ ^[a-z0-9_-]+$ ]] || { echo "name '$n' is not [a-z0-9_-]+"; return; }
  [ -n "${ROW_NAME[$row]+set}" ] || { echo "row '$row' is not in rows.tsv"; return; }
  [[ $lan =~ ^[1234]$ ]] || { echo "lan '$lan' is not 1, 2, 3 or 4"; return; }
  [[ $fw =~ ^(bios|ovmf|ovmf-sb|ovmf-sb-ms|aavmf|aavmf-sb)$ ]] || { echo "firmware '$fw' is not bios, ovmf, ovmf-sb, ovmf-sb-ms, aavmf or aavmf-sb"; return; }
  [[ $mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || { echo "mac '$mac' is not aa:bb:cc:dd:ee:ff"; return; }
  [[ $boot =~ ^(rom|virtio-rom|standin|pxe|http|none)$ ]] || { echo "boot '$boot' is not rom, virtio-rom, standin, pxe, http or none"; return; }
  [[ $boot != virtio-rom || $fw == bios ]] || { echo "boot virtio-rom is for bios guests only"; return; }
  [[ $disk =~ ^(-|bios|efi-x86_64|efi-arm64|direct|lan-https)$ ]] || { echo "disk '$disk' is not -, bios, efi-x86_64, efi-arm64, direct or lan-https"; return; }
  [[ $limit =~ ^[1-9][0-9]*$ && $count =~ ^[1-9][0-9]*$ ]] || { echo "limit '$limit' or count '$count' is not a positive number"; return; }
  [ "$mark" != - ] || { echo "no marker: the runner could only wait for its deadline"; return; }
  [[ $machine =~ ^(-|(proxy|prov|direct|https)/[a-z0-9_-]+(\+local)?)$ ]] || { echo "machine '$machine' is not - or proxy|prov|direct|https/PROFILE[+local]"; return; }
  [[ $tags =~ ^[a-z0-9.,-]+$ ]] || { echo "tags '$tags' is not - or a comma-separated list"; return; }
  [[ $sim =~ ^(-|(bios|uefi-x86_64|uefi-arm64)/(debian-2019|2\.0))$ ]] || { echo "simulate '$sim' is not - or CLASS/BUILD"; return; }
  [[ $status =~ ^(-|done)$ ]] || { echo "status '$status' is not - or done"; return; }
  [[ $when =~ ^(matrix|explore)$ ]] || { echo "when '$when' is not matrix or explore"; return; }
}
# load_guests EXPLORE: GUESTS (in the table's order) and G_<column>[guest]; the explore
# guests only if EXPLORE is 1. G_TAP: each guest's tap, by its place in the table. Every
# line is checked (guest_line_error), explore guests too.
declare -A G_ROW G_LAN G_FW G_MAC G_BOOT G_DISK G_LIMIT G_COUNT G_MARK G_FAILMARK G_MACHINE \
  G_TAGS G_SIM G_STATUS G_TAP
GUESTS=()
load_guests() {
  local line=0 err n row lan fw mac boot disk limit count mark failmark machine tags sim status when rest
  local -A seen=()
  while IFS=$'\t' read -r n row lan fw mac boot disk limit count mark failmark machine tags sim status when rest; do
    line=$((line + 1))
    [[ $n == \#* ]] && continue
    err=$(guest_line_error "$n" "$row" "$lan" "$fw" "$mac" "$boot" "$disk" "$limit" "$count" "$mark" \
      "$failmark" "$machine" "$tags" "$sim" "$status" "$when" "$rest")
    [ -n "$err" ] || [ -z "${seen[$n]:-}" ] || err="the name is line ${seen[$n]}'s too"
    [ -n "$err" ] || [ -z "${seen[$mac]:-}" ] || err="the MAC is line ${seen[$mac]}'s too"
    [ -z "$err" ] || die "$LAN_DIR/guests.tsv line $line ($n): $err"
    seen[$n]=$line seen[$mac]=$line
    [ "$when" = matrix ] || [ "$1" = 1 ] || continue
    GUESTS+=("$n")
    G_ROW[$n]=$row G_LAN[$n]=$lan G_FW[$n]=$fw G_MAC[$n]=$mac G_BOOT[$n]=$boot G_DISK[$n]=$disk
    G_LIMIT[$n]=$limit G_COUNT[$n]=$count G_MACHINE[$n]=$machine G_TAGS[$n]=${tags//,/ }
    G_SIM[$n]=$sim G_STATUS[$n]=$status G_TAP[$n]=tap${#GUESTS[@]}
    [ "${G_TAGS[$n]}" != - ] || G_TAGS[$n]=""
    if ! G_MARK[$n]=$(expand_marks "$mark") || ! G_FAILMARK[$n]=$(expand_marks "$failmark"); then
      die "$LAN_DIR/guests.tsv line $line ($n): an unknown @marker in '$mark' or '$failmark' (known: $(printf '@%s ' "${!MARK[@]}"))"
    fi
  done <"$LAN_DIR/guests.tsv"
}
# machine_stanzas FLEET: the KDL stanza of each guest whose machine is in FLEET, in order.
machine_stanzas() {
  local g spec profile
  for g in "${GUESTS[@]}"; do
    spec=${G_MACHINE[$g]}
    [ "${spec%%/*}" = "$1" ] || continue
    profile=${spec#*/}
    printf 'machine "%s" { mac "%s"; profile "%s";%s }\n' "$g" "${G_MAC[$g]}" "${profile%+local}" \
      "$([[ $profile == *+local ]] && echo ' boot "local";')"
  done
}
