# shellcheck shell=bash
# What the servers say after the boots: the origin's side of the via-proxy rows (the Pis
# fetched every file over mTLS), and the boot status `netbootc status` joins from the Pi's
# GET /status and the fleet. Sourced by ../lan-boot.sh.

# check_origin ROW: the proxy fetched the files of the selected via-proxy rows (counted in
# ROW, the first of them, where no row of its own applies).
check_origin() {
  local row=$1
  say "the origin: what the proxy fetched (mTLS, client certificate)"
  check_serve $row serve.log boot.ipxe "the proxy fetched the dispatcher"
  check_serve $row serve.log images/linux-x86_64/kernel "the proxy fetched the x86_64 kernel"
  check_serve $row serve.log images/linux-x86_64/initrd "the proxy fetched the x86_64 initrd"
  if want_row 2; then check_serve 2 serve.log tftp/undionly.kpxe "the proxy fetched undionly.kpxe"; fi
  if want_row 3; then check_serve 3 serve.log tftp/snponly.efi "the proxy fetched snponly.efi"; fi
  if want_row 4; then
    check_serve 4 serve.log tftp/snp-arm64.efi "the proxy fetched snp-arm64.efi"
    check_serve 4 serve.log images/linux-arm64/kernel "the proxy fetched the arm64 kernel"
    check_serve 4 serve.log images/linux-arm64/initrd "the proxy fetched the arm64 initrd"
  fi
}
# check_home2_uplink ROW: home 2's Pi reached the origin over its own cable.
check_home2_uplink() {
  check_serve $1 serve.log images/linux-x86_64/kernel "home 2's Pi fetched the x86_64 kernel over its uplink" "${PI2_UPLINK//./\\.}"
}

# Boot status: the Pi's GET /status joined with the fleet by `netbootc status` (home 1's
# guests; home 2 has its own Pi): every guest that booted Linux is done, the unregistered
# MAC is listed with a stanza to paste, and the command exits 1 because of it.
machine_state() { # name → its state in status.json ("absent" if not listed)
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(next((m["state"] for m in r["machines"] if m["name"] == sys.argv[2]), "absent"))' "$LOGS/status.json" "$1" 2>/dev/null || echo unreadable
}
check_boot_status() {
  local status_rc=0 g st mac
  say "boot status: netbootc status --proxy $PROXY_ADMIN --config fleet"
  in_ns "$NS_PI" "$BIN/netbootc" status --proxy "$PROXY_ADMIN" --config "$WORK/fleet" --format json \
    >"$LOGS/status.json" 2>"$LOGS/status.err" || status_rc=$?
  in_ns "$NS_PI" "$BIN/netbootc" status --proxy "$PROXY_ADMIN" --config "$WORK/fleet" >"$LOGS/status.txt" 2>&1 || true
  for g in "${GUESTS[@]}"; do
    [ "${G_STATUS[$g]}" = "done" ] && want_row "${G_ROW[$g]}" || continue
    st=$(machine_state "$g")
    if [ "$st" = "done" ]; then pass "${G_ROW[$g]}" "netbootc status: $g is done (the Pi saw its script, kernel and initrd; status.txt)"
    else fail "${G_ROW[$g]}" "netbootc status: $g is '$st', not done ($LOGS/status.txt)"; fi
  done
  if want_row 6; then
    mac=${G_MAC[r6-unknown-mac]}
    if python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
u = [m for m in r["unknown_macs"] if m["mac"] == sys.argv[2]]
sys.exit(0 if u and ("mac \"%s\"" % sys.argv[2]) in u[0]["stanza"] and "profile" in u[0]["stanza"] else 1)' "$LOGS/status.json" "$mac"; then
      pass 6 "netbootc status lists the unknown MAC $mac with a KDL stanza to paste (status.txt)"
    else fail 6 "netbootc status does not list $mac with its stanza ($LOGS/status.json)"; fi
    if [ $status_rc = 1 ]; then pass 6 "netbootc status exits 1: an unknown MAC asked"
    else fail 6 "netbootc status exited $status_rc, expected 1 (an unknown MAC asked; $LOGS/status.err)"; fi
  fi
}
