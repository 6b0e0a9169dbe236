# shellcheck shell=bash
# The simulator agrees with the real iPXE (issue 15, part 3): `netbootc simulate` predicts
# each guest's boot against the bundle the Pi serves ($WORK/out), with the guest's firmware
# class and iPXE build, and its fetches must be the HTTP requests the Pi logged from the
# guest's addresses, in order, status included; its verdict must be the row's.
#   predicted: every fetch of the trace as "GET <path> <status>" (200 for a route or object
#     of the bundle, 404 for "404: no route"; upstream or unfetchable URLs never reach the
#     Pi, so they stay in the list as such and cannot match a logged request)
#   logged: the guest's access lines ("<method> <path> <status>") from its first
#     `GET /boot.ipxe` on: the firmware's own fetches of the iPXE binary (TFTP, or HTTP Boot's
#     GET /tftp/<file>) come before iPXE runs a script. The OS's own requests come after
#     the kernel boot: the ones its console reports (make_net_initramfs: "fetched",
#     "optional", "fetch failed" lines, row 12) must be the last logged requests, in that
#     order, and are set aside; any other request is iPXE's.
#   nothing is forgiven: a HEAD (iPXE sends none), a retried or repeated request, a request
#     out of order or with another status is a disagreement. A trace that ends in a loop
#     (rows 6, 8: the machine waits and chains the dispatcher again) is one pass of the
#     loop, the last fetch being the first of the next pass; the logged requests must cover
#     at least that pass, and whatever follows must continue the loop (the runner stops
#     such guests at their marker, anywhere in the next pass).
sim_predicted() { # simulate-output → "GET <path> <status>" per fetch
  awk -v base="$PROXY_HTTP" '
    /^ +→ / {
      if (url != "") {
        r = $0; sub(/^ +→ /, "", r)
        st = r ~ /^404: / ? "404" : r ~ /^upstream/ ? "upstream" : r ~ /^cannot fetch/ ? "unfetchable" : "200"
        p = url; if (index(p, base "/") == 1) p = substr(p, length(base) + 1)
        print "GET", p, st
      }
      url = ""; next
    }
    /^  [a-z]+ +[a-z]+:\/\/[^ ]*$/ { url = $2; next }
    { url = "" }' "$1"
}
sim_logged() { # guest → "<method> <path> <status>" of its Pi's access lines, from its first GET /boot.ipxe
  access_lines "$1" | sed -n 's/.* method=\([A-Z]*\) path=\([^ ]*\) status=\([0-9]*\) .*/\1 \2 \3/p' |
    awk 'on || ($1 == "GET" && $2 == "/boot.ipxe") { on = 1; print }'
}
sim_os_paths() { # guest → the path of each request its OS reported on the console, in order
  tr -d '\r' <"$LOGS/$1.serial" | grep -a '^NETBOOT-E2E: \(fetched\|optional\|fetch failed:\) ' |
    awk -v base="$PROXY_HTTP" '{ u = $2 == "fetch" ? $4 : $3; if (index(u, base "/") == 1) u = substr(u, length(base) + 1); print u }' || true
}
sim_short() { sed -E 's#/objects/sha256/([0-9a-f]{12})[0-9a-f]*#/objects/sha256/\1…#'; }
sim_list() { # lines → "a, b, c" (digests shortened)
  if [ $# -eq 0 ]; then echo "(none)"; else printf '%s\n' "$@" | sim_short | paste -sd',' | sed 's/,/, /g'; fi
}
# check_simulation row guest [fleet]: the guest's machine (a guest with none, row 6: its MAC)
# simulated on the firmware class and iPXE build of its guests.tsv `simulate` column
# (CLASS/BUILD, BUILD: debian-2019 | 2.0), compiled from fleet (default: the Pi's).
check_simulation() {
  local row=$1 g=$2 fleet=${3:-$WORK/fleet} class=${G_SIM[$2]%/*} build=${G_SIM[$2]#*/} client=$2 out rc=0 kind=once what verdict=ok
  [ "${G_MACHINE[$g]}" != - ] || client=${G_MAC[$g]}
  local -a P=() R=() O=()
  mkdir -p "$WORK/simulate"
  out=$WORK/simulate/$g.txt
  "$BIN/netbootc" simulate "$client" --firmware "$class" --ipxe "$build" --bundle "$WORK/out" \
    --config "$fleet" >"$out" 2>&1 || rc=$?
  what="netbootc simulate $client --firmware $class --ipxe $build"
  # The verdict.
  case ${G_ROW[$g]} in
    6) kind=loop
       if [ $rc = 0 ] && grep -q '^          → machines/unknown\.ipxe ' "$out" &&
         grep -q '^  end     it waits and retries for ever .*last message: "netbootc: add it to machines' "$out"; then
         pass "$row" "$what: exit 0, the unknown machine gets machines/unknown.ipxe and waits and retries for ever, as $g does"
       else verdict=fail; fi ;;
    8) kind=loop
       if [ $rc = 1 ] && grep -qxF "  echo    $GUARD_MARK" "$out" && grep -q '^  end     it waits and retries for ever' "$out" &&
         grep -q '^  FAILS   ' "$out" && ! grep -q '^  \(kernel\|initrd\) ' "$out"; then
         pass "$row" "$what: exit 1 (not as configured), the arch guard's message, no kernel, and the loop through the dispatcher, as $g does"
       else verdict=fail; fi ;;
    14) # Secure Boot refuses the kernel at `boot`: the script's refused route, then a reboot.
       if [ $rc = 1 ] && grep -q '^  end     it reboots without booting' "$out" && grep -q '^  FAILS   Secure Boot: the firmware refuses .kernel.' "$out"; then
         pass "$row" "$what: exit 1, $(sed -n 's/^  FAILS   //p' "$out"); the script reports it and reboots, as $g does"
       else verdict=fail; fi ;;
    *) if [ $rc = 0 ] && grep -q '^  end     boots kernel ' "$out" && grep -q '^  ok      as configured: profile ' "$out"; then
         pass "$row" "$what: exit 0, $(sed -n 's/^  ok      //p' "$out"); $(sed -n 's/^  end     //p' "$out" | sim_short | sed -E 's/sha256:([0-9a-f]{12})[0-9a-f]*/sha256:\1…/g')"
       else verdict=fail; fi ;;
  esac
  [ $verdict = ok ] || fail "$row" "$what: exit $rc, not the verdict row $row expects ($out: $(grep -E '^  (end|ok|FAILS) ' "$out" | head -n2 | paste -sd' '))"
  # The fetches.
  mapfile -t P < <(sim_predicted "$out")
  mapfile -t R < <(sim_logged "$g")
  mapfile -t O < <(sim_os_paths "$g")
  if [ ${#O[@]} -gt 0 ]; then
    local i j=$((${#R[@]} - ${#O[@]})) tail_ok=1
    if [ $j -lt 0 ]; then tail_ok=0; else
      for i in "${!O[@]}"; do [ "$(cut -d' ' -f2 <<<"${R[j + i]}")" = "${O[i]}" ] || tail_ok=0; done
    fi
    if [ $tail_ok = 0 ]; then
      fail "$row" "$g: the OS's own requests (its console) are not the last ones the Pi logged from it"
      printf '      the OS reported:  %s\n      the Pi logged:     %s\n' "$(sim_list "${O[@]}")" "$(sim_list "${R[@]}")"
      return
    fi
    R=("${R[@]:0:j}")
  fi
  local n=${#P[@]} k=-1 i e agree=1 cyc=0
  if [ $kind = loop ] && [ "$n" -ge 2 ]; then
    for i in $(seq 0 $((n - 2))); do [ "${P[i]}" = "${P[n - 1]}" ] && { k=$i; break; }; done
  fi
  if [ "$k" -ge 0 ]; then
    cyc=$((n - 1 - k))
    [ ${#R[@]} -ge $((n - 1)) ] || agree=0
    for i in "${!R[@]}"; do
      if [ "$i" -lt "$k" ]; then e=${P[i]}; else e=${P[k + (i - k) % cyc]}; fi
      [ "${R[i]}" = "$e" ] || agree=0
    done
  else
    [ "${P[*]}" = "${R[*]}" ] && [ ${#P[@]} = ${#R[@]} ] || agree=0
  fi
  if [ $agree = 1 ] && [ "$k" -ge 0 ]; then
    pass "$row" "$g: the simulator's loop agrees with the real iPXE: one pass of ${cyc} fetches ($(sim_list "${P[@]:k:cyc}")), the Pi logged ${#R[@]} requests, that pass and $((${#R[@]} - cyc - k)) more of the next"
  elif [ $agree = 1 ]; then
    local os=""
    [ ${#O[@]} = 0 ] || os="; then the OS's own ($(sim_list "${O[@]}" | sed -E 's#/files/([0-9a-f]{12})[0-9a-f]*/#/files/\1…/#g'))"
    pass "$row" "$g: the simulator agrees with the real iPXE: the Pi logged the ${#R[@]} requests it predicts, in order ($(sim_list "${R[@]}"))$os"
  else
    fail "$row" "$g: the simulator's fetches ($class, iPXE $build) are not the requests the Pi logged from $g ($out; $(basename "$(proxy_log "$g")"))"
    printf '      predicted%s: %s\n      the Pi logged:  %s\n' "$([ "$k" -lt 0 ] || echo " (a loop from #$((k + 1)))")" \
      "$(sim_list "${P[@]}")" "$(sim_list "${R[@]}")"
  fi
  # What Linux was given (rows that boot it): the predicted command line is the one on the
  # OS's console. iPXE's
  # EFI image loader puts the kernel image's name first (efi_image.c); BIOS (bzImage) does not.
  # The name is the URL's last segment, or `kernel` (the built-in template's `--name`).
  [ "${G_ROW[$g]}" = 6 ] || [ "${G_ROW[$g]}" = 8 ] || [ "${G_ROW[$g]}" = 14 ] || {
    local want got name
    want=$(sed -n 's/^          cmdline: //p' "$out")
    name=$(awk '/^  kernel / { u = $2 } END { n = split(u, a, "/"); print a[n] }' "$out")
    got=$(tr -d '\r' <"$LOGS/$g.serial" | grep -a "^$OS_MARK" | head -n1 | sed 's/.*; cmdline: //' || true)
    if [ -n "$want" ] && [ "$got" = "$want" ]; then pass "$row" "$g: Linux's command line is the predicted one"
    elif [ -n "$want" ] && [ "$class" != bios ] && { [ "$got" = "$name $want" ] || [ "$got" = "kernel $want" ]; }; then
      pass "$row" "$g: Linux's command line is the predicted one, after the kernel image's name that iPXE's EFI loader puts first"
    else fail "$row" "$g: Linux's command line '$got', predicted '$want'"; fi
  }
}
