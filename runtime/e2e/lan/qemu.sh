# shellcheck shell=bash
# The guests: each one's QEMU command line from its guests.tsv columns (qemu_cmd), a runner
# that boots it and watches its serial console (run_guest), and the pool that boots the
# selected guests JOBS at a time (boot_guests). Sourced by ../lan-boot.sh.
# Serial text for matching: no CR/LF/BS (iPXE wraps at 80 columns), no ANSI escapes (UEFI
# consoles), and iPXE's download progress ("... 42%") collapsed to "... ".
serial_text() {
  [ -f "$1" ] || return 0
  LC_ALL=C tr -d '\r\n\b' <"$1" | LC_ALL=C sed -E 's/\x1b\[[0-9;=?]*[A-Za-z]//g; s/\x1b[c()][0-9A-Za-z]?//g; s/\.\.\.( |[0-9]+%)*/... /g'
}
qemu_cmd() { # guest → QEMU_CMD
  local g=$1 fw=${G_FW[$1]} mac=${G_MAC[$1]} boot=${G_BOOT[$1]} disk=${G_DISK[$1]} romopt bootidx=",bootindex=1"
  local serial=$LOGS/$g.serial netdev="tap,id=n0,ifname=${G_TAP[$1]},script=no,downscript=no"
  case "$boot" in
    rom) romopt=",romfile=$ROM" ;;
    # SeaBIOS runs a ROM only if its PCI ids are the device's; QEMU patches the device id
    # into its default ROM only, not into a romfile= one. Debian's efi-virtio.rom says
    # 1af4:1041, virtio-net without legacy (a transitional virtio-net-pci is 1af4:1000).
    virtio-rom) romopt=",disable-legacy=on,romfile=$VIRTIO_ROM" ;;
    standin) romopt=",romfile=$STANDIN_ROM" ;;
    pxe | http) romopt=",romfile=" ;;
    none) romopt=",romfile=" bootidx="" ;;
  esac
  local diskfile="" bios_nic=e1000
  [ "$boot" != virtio-rom ] || bios_nic=virtio-net-pci
  case "$disk" in
    bios) diskfile=$WORK/disks/bios.img ;;
    efi-x86_64) diskfile=$WORK/disks/efi-x86_64.img ;;
    efi-arm64) diskfile=$WORK/disks/efi-arm64.img ;;
    direct) diskfile=$WORK/disks/direct.img ;;
    lan-https) diskfile=$WORK/disks/lan-https.img ;;
  esac
  local common=(-accel tcg -m 512 -nographic -display none -monitor none -serial "file:$serial" -netdev "$netdev")
  case "$fw" in
    bios)
      # shellcheck disable=SC2054 # commas inside QEMU's option values
      QEMU_CMD=(qemu-system-x86_64 -M pc "${common[@]}" -no-reboot
        -device "$bios_nic,netdev=n0,mac=$mac$romopt$bootidx"
        -device isa-debug-exit,iobase=0xf4,iosize=0x04)
      [ -z "$diskfile" ] || QEMU_CMD+=(-drive "if=none,id=d0,format=raw,snapshot=on,file=$diskfile" -device "ide-hd,drive=d0,bootindex=2") ;;
    ovmf)
      cp "$OVMF_VARS" "$WORK/vars/$g.fd"
      QEMU_CMD=(qemu-system-x86_64 -M q35 "${common[@]}"
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
        -drive "if=pflash,format=raw,unit=1,file=$WORK/vars/$g.fd"
        -device "virtio-net-pci,netdev=n0,mac=$mac$romopt$bootidx") ;;
    ovmf-sb | ovmf-sb-ms)
      # Secure Boot enforced: SMM, and the VARS store writable only from SMM. ovmf-sb-ms:
      # Microsoft's keys plus the test key in db (make_secure_boot_images).
      if [ "$fw" = ovmf-sb ]; then cp "$OVMF_SB_VARS" "$WORK/vars/$g.fd"; else cp "$WORK/sb/vars-ms-test.fd" "$WORK/vars/$g.fd"; fi
      # shellcheck disable=SC2054 # commas inside QEMU's option values
      QEMU_CMD=(qemu-system-x86_64 -M q35,smm=on "${common[@]}"
        -global driver=cfi.pflash01,property=secure,value=on
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_SB_CODE"
        -drive "if=pflash,format=raw,unit=1,file=$WORK/vars/$g.fd"
        -device "virtio-net-pci,netdev=n0,mac=$mac$romopt$bootidx") ;;
    aavmf | aavmf-sb)
      # aavmf-sb: Secure Boot enforced, the test key in PK/KEK/db (the snakeoil builds).
      local code=$AAVMF_CODE vars=$AAVMF_VARS
      [ "$fw" = aavmf ] || { code=$AAVMF_SB_CODE vars=$AAVMF_SB_VARS; }
      cp "$vars" "$WORK/vars/$g.fd"
      QEMU_CMD=(qemu-system-aarch64 -M virt -cpu cortex-a72 "${common[@]}"
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
        -drive "if=pflash,format=raw,unit=1,file=$WORK/vars/$g.fd"
        -device "virtio-net-pci,netdev=n0,mac=$mac$romopt$bootidx") ;;
  esac
  if [ "$boot" = http ]; then
    # EDK2 (OVMF and ArmVirtQemu) reads these: no PXE boot options, so the NIC's first
    # boot option is UEFI HTTP Boot over IPv4.
    # shellcheck disable=SC2054 # commas inside QEMU's option values
    QEMU_CMD+=(-fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n
      -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n)
  fi
  if [ -n "$diskfile" ] && [ "$fw" != bios ]; then
    local di=2; [ "$boot" = none ] && di=1
    QEMU_CMD+=(-drive "if=none,id=d0,format=raw,snapshot=on,file=$diskfile" -device "virtio-blk-pci,drive=d0,bootindex=$di")
  fi
}
# run_guest NAME: boots it, waits (polling its serial log) for its marker (G_COUNT times), a
# failure marker, QEMU's exit or the deadline; writes "<ok|fail> <seconds to the marker>
# <how it ended>".
run_guest() {
  local g=$1 serial=$LOGS/$1.serial t0 now text status=fail how=deadline elapsed pid
  qemu_cmd "$g"
  printf '%q ' "${QEMU_CMD[@]}" >"$LOGS/$g.cmd"
  t0=$EPOCHREALTIME
  nice -n 10 ip netns exec "$NS_LAN" "${QEMU_CMD[@]}" </dev/null >"$LOGS/$g.qemu.log" 2>&1 &
  pid=$!
  echo "$pid" >"$GUEST_PIDS_DIR/$g"
  local deadline=$((SECONDS + G_LIMIT[$g]))
  marked() { [ "$(grep -oF -- "${G_MARK[$g]}" <<<"$text" | wc -l)" -ge "${G_COUNT[$g]}" ]; }
  while :; do
    text=$(serial_text "$serial")
    if marked; then status=ok how=marker; break; fi
    if [ -n "${G_FAILMARK[$g]}" ] && grep -qE -- "${G_FAILMARK[$g]}" <<<"$text"; then how="failure marker"; break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      text=$(serial_text "$serial")
      marked && status=ok how=marker || how="QEMU exited"
      break
    fi
    [ $SECONDS -lt $deadline ] || break
    sleep 0.5
  done
  now=$EPOCHREALTIME
  elapsed=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
  # A guest that reached its marker may be powering off: give it a moment to exit by itself.
  if [ $status = ok ]; then
    local until=$((SECONDS + 4))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $until ]; do sleep 0.2; done
  fi
  kill -0 "$pid" 2>/dev/null && { how="$how, QEMU stopped"; kill "$pid" 2>/dev/null; } || how="$how, QEMU exited"
  wait "$pid" 2>/dev/null || true
  rm -f "$GUEST_PIDS_DIR/$g"
  echo "$status $elapsed $how" >"$RESULTS/$g"
  printf '   %-26s %-4s %6ss  (%s)\n' "$g" "$status" "$elapsed" "$how"
}
# boot_guests: every selected guest, JOBS at a time, in the table's order.
boot_guests() {
  local g running=0 pid
  say "booting ${#SELECTED[@]} guests, $JOBS at a time: ${SELECTED[*]}"
  for g in "${SELECTED[@]}"; do lan_tap "${G_TAP[$g]}" "br$((G_LAN[$g] - 1))" || die "tap for $g"; done
  for g in "${SELECTED[@]}"; do
    if [ $running -ge "$JOBS" ]; then wait -n "${RUNNER_PIDS[@]}" 2>/dev/null || true; running=$((running - 1)); fi
    run_guest "$g" &
    RUNNER_PIDS+=($!)
    running=$((running + 1))
  done
  for pid in "${RUNNER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  RUNNER_PIDS=()
}
