# shellcheck shell=bash
# The matrix's inputs: kernels, initramfs images, first-stage iPXE binaries and local disks
# (make_images); the via-proxy and direct fleets, their machines from guests.tsv
# (make_fleets); the bundles, published to the origin's stores, and the direct-mode iPXE
# (build_bundles). Sourced by ../lan-boot.sh.
ORIGIN_PORT=8443 DIRECT_PORT=9443 PROXY_HTTP=http://$LAN_PI:8080
# The proxy's admin listener (/status, /metrics): its default, loopback of the Pi's namespace.
PROXY_ADMIN=http://127.0.0.1:9180
sha() { sha256sum "$1" | cut -d' ' -f1; }
# linux_profile ARCH CONSOLE IMAGES: the profile "linux-ARCH" (kernel and initrd from IMAGES).
linux_profile() {
  cat <<EOS
profile "linux-$1" {
    arch "$1"
    kernel path="images/vmlinuz-$1" sha256="$(sha "$3/vmlinuz-$1")"
    initrd path="images/initrd-$1.cpio.gz" sha256="$(sha "$3/initrd-$1.cpio.gz")"
    cmdline "console=$2 panic=1 netboot.machine={{ machine.name }}"
}
EOS
}
make_images() {
  IMAGES=$WORK/fleet/profiles/images
  mkdir -p "$WORK/fleet/machines" "$WORK/fleet/profiles/templates" "$IMAGES/boot" \
    "$WORK/fleet-direct/machines" "$WORK/fleet-direct/profiles/images" "$WORK/disks"
  cp "$KDIR/vmlinuz-cloud-amd64" "$IMAGES/vmlinuz-x86_64"
  cp "$KDIR/vmlinuz-cloud-arm64" "$IMAGES/vmlinuz-arm64"
  make_initramfs "$(command -v busybox)" "$IMAGES/initrd-x86_64.cpio.gz"
  make_initramfs "$KDIR/busybox-arm64" "$IMAGES/initrd-arm64.cpio.gz"
  if want_row 12; then
    make_net_initramfs "$(command -v busybox)" "$MODS_X64" "$IMAGES/initrd-prov-x86_64.cpio.gz" 2>"$LOGS/initrd-prov.log" ||
      { cat "$LOGS/initrd-prov.log"; die "row 12's initramfs"; }
  fi
  cp /usr/lib/ipxe/undionly.kpxe "$IMAGES/boot/undionly.kpxe"
  cp /usr/lib/ipxe/snponly.efi "$IMAGES/boot/snponly.efi"
  cp "$IPXE_ARM64" "$IMAGES/boot/snp-arm64.efi"
  cp "$IPXE_X64_NEW" "$IMAGES/boot/snponly-2.0.0.efi"
  cat >"$IMAGES/boot/exit-1.ipxe" <<'EOS'
#!ipxe
# LAN boot matrix, --explore: the top-level script ends with an error, so iPXE gives up and
# returns an error to whatever loaded it (BIOS: the next boot device; UEFI: the boot
# manager goes on to the next Boot#### option).
echo LANTEST-LOCALBOOT ${mac:hexhyp}: exit 1 (top-level script)
exit 1
EOS
  cat >"$IMAGES/boot/exit-0.ipxe" <<'EOS'
#!ipxe
# LAN boot matrix, --explore: the top-level script exits with success: UEFI's boot manager
# then shows its menu (UiApp) instead of trying the next boot option.
echo LANTEST-LOCALBOOT ${mac:hexhyp}: exit (top-level script)
exit
EOS
  python3 "$LAN_DIR/make-disks.py" bios "$WORK/disks/bios.img" "LOCAL-DISK-BIOS: the boot sector on the local disk ran" ||
    die "BIOS disk image"
  python3 "$LAN_DIR/make-disks.py" efi-app x86_64 "$WORK/disks/local-x86_64.efi" "LOCAL-DISK-EFI: x86_64 app on the local disk ran" &&
    python3 "$LAN_DIR/make-disks.py" esp "$WORK/disks/efi-x86_64.img" "$WORK/disks/local-x86_64.efi" BOOTX64.EFI ||
    die "x86_64 EFI disk image"
  python3 "$LAN_DIR/make-disks.py" efi-app arm64 "$WORK/disks/local-arm64.efi" "LOCAL-DISK-EFI: arm64 app on the local disk ran" &&
    python3 "$LAN_DIR/make-disks.py" esp "$WORK/disks/efi-arm64.img" "$WORK/disks/local-arm64.efi" BOOTAA64.EFI ||
    die "arm64 EFI disk image"
}
# make_fleets: certificates (CERTS) and the two configs, fleet/ and fleet-direct/.
make_fleets() {
  "$BIN/netbootc" dev-certs "$WORK/certs" --san "$WAN_ORIGIN" --lan-san "$LAN_PI" >"$LOGS/dev-certs.log" 2>&1 || die "netbootc dev-certs"
  CERTS=$WORK/certs
  cat >"$WORK/fleet/profiles/site.kdl" <<EOS
site {
    origin "https://$WAN_ORIGIN:$ORIGIN_PORT"
    chain "via-proxy" proxy="$PROXY_HTTP"
    mirror #true
    // Served by the Pi over TFTP under these names (and over LAN HTTP at /tftp/<name>).
    // firmware=: the first-stage iPXE of that class (dhcp-config and proxyDHCP hand it out).
    boot-file "undionly.kpxe" path="images/boot/undionly.kpxe" sha256="$(sha "$IMAGES/boot/undionly.kpxe")" firmware="bios"
    boot-file "snponly.efi" path="images/boot/snponly.efi" sha256="$(sha "$IMAGES/boot/snponly.efi")" firmware="uefi-x86_64"
    boot-file "snp-arm64.efi" path="images/boot/snp-arm64.efi" sha256="$(sha "$IMAGES/boot/snp-arm64.efi")" firmware="uefi-arm64"
    // What each class runs: Debian's 2019 builds (no sha256sum: scripts cannot check images
    // there), and iPXE 2.0 on arm64 (the default), whose scripts check each image's sha256.
    ipxe-build "debian-2019" firmware="bios"
    ipxe-build "debian-2019" firmware="uefi-x86_64"
    // Test-only: iPXE 2.0.0 for x86_64 UEFI (a router override sends it to r7-local-ovmf),
    // and top-level exit scripts for --explore.
    boot-file "snponly-2.0.0.efi" path="images/boot/snponly-2.0.0.efi" sha256="$(sha "$IMAGES/boot/snponly-2.0.0.efi")"
    boot-file "exit-1.ipxe" path="images/boot/exit-1.ipxe" sha256="$(sha "$IMAGES/boot/exit-1.ipxe")"
    boot-file "exit-0.ipxe" path="images/boot/exit-0.ipxe" sha256="$(sha "$IMAGES/boot/exit-0.ipxe")"
}
EOS
  {
    linux_profile x86_64 ttyS0 "$IMAGES"
    linux_profile arm64 ttyAMA0 "$IMAGES"
  } >"$WORK/fleet/profiles/linux.kdl"
  machine_stanzas proxy >"$WORK/fleet/machines/matrix.kdl"
  if [ $EXPLORE = 1 ]; then
    cat >>"$WORK/fleet/profiles/linux.kdl" <<EOS
// --explore: a machine script that just exits.
profile "exit" extends="linux-x86_64" {
    template "templates/exit.ipxe.j2"
}
EOS
    cat >"$WORK/fleet/profiles/templates/exit.ipxe.j2" <<'EOS'
#!ipxe
# LAN boot matrix, --explore: a machine script that hands the machine back with `exit`.
echo LANTEST-LOCALBOOT {{ machine.name }}: exit
exit
EOS
  fi
  if want_row 12; then
    # Row 12: per-machine provisioning files, compiled into the bundle from templates and
    # named on the kernel command line; the OS (make_net_initramfs) fetches them through the
    # proxy like Ignition and cloud-init's NoCloud would.
    ssh_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEzWt530P6FU4+9TIWmofaNNLytnYbmljl1LmDEDg1Re e2e@lan-boot"
    cat >"$WORK/fleet/profiles/prov.kdl" <<EOS
profile "prov-ignition" {
    arch "x86_64"
    kernel path="images/vmlinuz-x86_64" sha256="$(sha "$IMAGES/vmlinuz-x86_64")"
    initrd path="images/initrd-prov-x86_64.cpio.gz" sha256="$(sha "$IMAGES/initrd-prov-x86_64.cpio.gz")"
    file "ignition" kind="ignition" template="templates/node.ign.j2"
    cmdline "console=ttyS0 panic=1 netboot.machine={{ machine.name }} ignition.config.url={{ files.ignition.url }}"
}
profile "prov-nocloud" {
    arch "x86_64"
    kernel path="images/vmlinuz-x86_64" sha256="$(sha "$IMAGES/vmlinuz-x86_64")"
    initrd path="images/initrd-prov-x86_64.cpio.gz" sha256="$(sha "$IMAGES/initrd-prov-x86_64.cpio.gz")"
    // NoCloud also asks for vendor-data and network-config: not declared, so 404.
    file "user-data" kind="cloud-config" template="templates/user-data.j2"
    file "meta-data" kind="meta-data" template="templates/meta-data.j2"
    cmdline "console=ttyS0 panic=1 netboot.machine={{ machine.name }} ds=nocloud;s={{ files_url }}"
}
EOS
    cat >"$WORK/fleet/profiles/templates/node.ign.j2" <<EOS
{
  "ignition": { "version": "3.4.0" },
  "passwd": {
    "users": [
      { "name": "core", "sshAuthorizedKeys": ["$ssh_key"] }
    ]
  },
  "storage": {
    "files": [
      {
        "path": "/etc/hostname",
        "mode": 420,
        "overwrite": true,
        "contents": { "source": "data:,{{ machine.name }}%0A" }
      }
    ]
  }
}
EOS
    cat >"$WORK/fleet/profiles/templates/user-data.j2" <<EOS
#cloud-config
hostname: {{ machine.name }}
ssh_authorized_keys:
  - $ssh_key
EOS
    cat >"$WORK/fleet/profiles/templates/meta-data.j2" <<'EOS'
instance-id: {{ machine.name }}
local-hostname: {{ machine.name }}
EOS
    machine_stanzas prov >"$WORK/fleet/machines/prov.kdl"
  fi
  # The direct-mode site: another config (one site per config), its own bundle and origin port.
  DIMAGES=$WORK/fleet-direct/profiles/images
  cp "$IMAGES/vmlinuz-x86_64" "$IMAGES/initrd-x86_64.cpio.gz" "$DIMAGES/"
  cat >"$WORK/fleet-direct/profiles/site.kdl" <<EOS
site {
    origin "https://$WAN_ORIGIN:$DIRECT_PORT"
    chain "direct"
}
EOS
  linux_profile x86_64 ttyS0 "$DIMAGES" >>"$WORK/fleet-direct/profiles/site.kdl"
  machine_stanzas direct >"$WORK/fleet-direct/machines/direct.kdl"
}

build_bundles() {
  say "netbootc build + publish (via-proxy and direct)"
  for f in fleet fleet-direct; do
    store=store${f#fleet}
    "$BIN/netbootc" build --config "$WORK/$f" -o "$WORK/out${f#fleet}" >"$LOGS/build${f#fleet}.log" 2>&1 ||
      { cat "$LOGS/build${f#fleet}.log"; die "netbootc build ($f)"; }
    "$BIN/netbootc" publish "file://$WORK/$store" --from "$WORK/out${f#fleet}" --yes \
      >"$LOGS/publish${f#fleet}.log" 2>&1 || { cat "$LOGS/publish${f#fleet}.log"; die "netbootc publish ($f)"; }
  done

  # The direct-mode iPXE: iPXE 2.0.0 x86_64 EFI with dev-certs' CA and RSA client certificate
  # and key, and the site's bootstrap script built in; on an EFI disk. CERT= embeds the CA
  # too: TRUST= builds in only the root's fingerprint, and netboot-serve sends no root, so
  # without the CA's certificate iPXE cannot check the server's signature ("No usable
  # certificates", error 0x0216eb8f). runtime/deploy/README.md has the same recipe. The
  # server certificate is dev-certs' ECDSA P-256 one: iPXE 2.0.0 validates it.
  if want_row 5; then
    "$BIN/netbootc" ipxe-bootstrap --config "$WORK/fleet-direct" -o "$WORK/direct-bootstrap.ipxe" \
      >"$LOGS/ipxe-bootstrap.log" 2>&1 || { cat "$LOGS/ipxe-bootstrap.log"; die "netbootc ipxe-bootstrap"; }
    IPXE_TRUST=$CERTS/ca.pem IPXE_CERT=$CERTS/ca.pem,$CERTS/client-rsa.pem IPXE_PRIVKEY=$CERTS/client-rsa.key \
      IPXE_EMBED=$WORK/direct-bootstrap.ipxe ipxe_build direct-efi "$WORK/disks/direct-ipxe.efi" >/dev/null ||
      die "iPXE direct-mode build"
    python3 "$LAN_DIR/make-disks.py" esp "$WORK/disks/direct.img" "$WORK/disks/direct-ipxe.efi" BOOTX64.EFI ||
      die "direct-mode EFI disk image"
  fi
}
