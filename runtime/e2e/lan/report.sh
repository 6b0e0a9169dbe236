# shellcheck shell=bash
# The matrix's report: PASS/FAIL per check, counted per row; the cleanup; the summary.
# Sourced by ../lan-boot.sh.
FAILED=0
declare -A ROW_FAILS=() ROW_CHECKS=()
say() { printf '== %s\n' "$*"; }
pass() { local row=$1; shift; ROW_CHECKS[$row]=$((${ROW_CHECKS[$row]:-0} + 1)); printf 'PASS [row %s] %s\n' "$row" "$*"; }
fail() {
  local row=$1; shift
  ROW_CHECKS[$row]=$((${ROW_CHECKS[$row]:-0} + 1)); ROW_FAILS[$row]=$((${ROW_FAILS[$row]:-0} + 1))
  FAILED=1; printf 'FAIL [row %s] %s\n' "$row" "$*"
}
die() { printf 'FAIL: %s\n' "$*"; FAILED=1; exit 1; }

# cleanup (the EXIT trap): stops the guests and servers by PID, removes the LAN, and the
# work directory after a clean pass unless it is to be kept.
stop_pids() { # PID...: TERM, up to 5 s to exit, then KILL (only these PIDs)
  local pid deadline
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 5))
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$? pids=() f
  trap - EXIT INT TERM HUP
  set +e
  # Guest runners and their QEMUs (each runner records its QEMU's PID), then the servers.
  if [ -n "$GUEST_PIDS_DIR" ] && [ -d "$GUEST_PIDS_DIR" ]; then
    for f in "$GUEST_PIDS_DIR"/*; do [ -f "$f" ] && pids+=("$(cat "$f")"); done
  fi
  pids+=("${RUNNER_PIDS[@]}" "${PIDS[@]}")
  [ ${#pids[@]} -eq 0 ] || stop_pids "${pids[@]}"
  lan_down
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$FAILED" = 0 ] && [ "$KEEP" = 0 ] && [ -z "${E2E_WORK:-}" ]; then rm -rf "$WORK"
    else echo "logs and work files: $WORK/logs (serial consoles, servers, dnsmasq), $WORK"; fi
  fi
  [ "$FAILED" = 0 ] || [ $rc -ne 0 ] || rc=1
  exit $rc
}

# summary: one line per selected row (its checks and its guests' boot times), the timings,
# "N passed, N failed" (what .ci/test reads); exits 1 on any failure.
summary() {
  local row g times st el status total_checks=0 total_fails=0
  say "summary"
  for row in $ROWS; do
    times=""
    for g in "${SELECTED[@]}"; do
      [ "${G_ROW[$g]}" = "$row" ] || continue
      read -r st el _ <<<"$(result "$g")"
      times+=" $g=${el}s"
    done
    status=PASS
    [ "${ROW_FAILS[$row]:-0}" = 0 ] || status=FAIL
    [ "${ROW_CHECKS[$row]:-0}" != 0 ] || status="----"
    printf '%-4s row %-2s %-32s %3s checks%s\n' "$status" "$row" "${ROW_NAME[$row]:-?}" "${ROW_CHECKS[$row]:-0}" "${times:+ | boot:$times}"
  done
  for row in "${!ROW_CHECKS[@]}"; do total_checks=$((total_checks + ROW_CHECKS[$row])); total_fails=$((total_fails + ${ROW_FAILS[$row]:-0})); done
  say "timings: setup (packages, builds, kernels) $((SETUP_DONE - START)) s; fleet, certs, bundles, servers $((T_SERVERS - SETUP_DONE)) s;" \
    "row 0 $((T_GUESTS - T_SERVERS)) s; guests $((T_CHECKS - T_GUESTS)) s; checks $((SECONDS - T_CHECKS)) s; total $((SECONDS - START)) s"
  echo "$((total_checks - total_fails)) passed, $total_fails failed"
  if [ "$FAILED" != 0 ]; then echo "FAIL: LAN boot matrix"; exit 1; fi
  echo "PASS: LAN boot matrix (rows: $ROWS)"
}
