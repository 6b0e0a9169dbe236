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
expand_marks() {
  local part out="" sep="" parts=()
  [ "$1" != - ] || return 0
  IFS='|' read -r -a parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == @* ]]; then
      [ -n "${MARK[${part#@}]+set}" ] || { echo "guests.tsv: unknown marker $part" >&2; return 1; }
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

# load_guests EXPLORE: GUESTS (in the table's order) and G_<column>[guest]; the explore
# guests only if EXPLORE is 1. G_TAP: each guest's tap, by its place in the table.
declare -A G_ROW G_LAN G_FW G_MAC G_BOOT G_DISK G_LIMIT G_COUNT G_MARK G_FAILMARK G_MACHINE \
  G_TAGS G_SIM G_STATUS G_TAP
GUESTS=()
load_guests() {
  local n row lan fw mac boot disk limit count mark failmark machine tags sim status when
  while IFS=$'\t' read -r n row lan fw mac boot disk limit count mark failmark machine tags sim status when; do
    [[ $n == \#* ]] && continue
    [ "$when" = matrix ] || { [ "$when" = explore ] && [ "$1" = 1 ]; } || continue
    GUESTS+=("$n")
    G_ROW[$n]=$row G_LAN[$n]=$lan G_FW[$n]=$fw G_MAC[$n]=$mac G_BOOT[$n]=$boot G_DISK[$n]=$disk
    G_LIMIT[$n]=$limit G_COUNT[$n]=$count G_MACHINE[$n]=$machine G_TAGS[$n]=${tags//,/ }
    G_SIM[$n]=$sim G_STATUS[$n]=$status G_TAP[$n]=tap${#GUESTS[@]}
    [ "${G_TAGS[$n]}" != - ] || G_TAGS[$n]=""
    G_MARK[$n]=$(expand_marks "$mark") && G_FAILMARK[$n]=$(expand_marks "$failmark") ||
      die "guests.tsv: $n"
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
