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
  if first_wanted 13 14 15 16 >/dev/null; then make_secure_boot_images; fi
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
# make_secure_boot_images: rows 13-14's files, signed with OVMF's test key (the one its
# snakeoil VARS hold in db): iPXE 2.0.0 (snponly-sb.efi), the x86_64 kernel with the test
# key's signature in place of Debian's (vmlinuz-x86_64-sb), and the kernel with no
# signature at all (vmlinuz-x86_64-unsigned); row 16's arm64 ones (vmlinuz-arm64-sb,
# vmlinuz-arm64-unsigned, snp-arm64-sb.efi); the certificate for `secure-boot { db }`.
make_secure_boot_images() {
  local key=$WORK/sb/test-key.pem
  mkdir -p "$WORK/sb" "$WORK/fleet/profiles/keys"
  openssl pkey -in "$SB_KEY" -passin pass:snakeoil -out "$key" 2>"$LOGS/sb-sign.log" || { cat "$LOGS/sb-sign.log"; die "the test key"; }
  cp "$IMAGES/vmlinuz-x86_64" "$IMAGES/vmlinuz-x86_64-unsigned" &&
    sbattach --remove "$IMAGES/vmlinuz-x86_64-unsigned" >>"$LOGS/sb-sign.log" 2>&1 &&
    sbsign --key "$key" --cert "$SB_CERT" --output "$IMAGES/boot/snponly-sb.efi" "$IPXE_X64_NEW" >>"$LOGS/sb-sign.log" 2>&1 &&
    sbsign --key "$key" --cert "$SB_CERT" --output "$IMAGES/vmlinuz-x86_64-sb" "$IMAGES/vmlinuz-x86_64-unsigned" >>"$LOGS/sb-sign.log" 2>&1 &&
    cp "$IMAGES/vmlinuz-arm64" "$IMAGES/vmlinuz-arm64-unsigned" &&
    sbattach --remove "$IMAGES/vmlinuz-arm64-unsigned" >>"$LOGS/sb-sign.log" 2>&1 &&
    sbsign --key "$key" --cert "$SB_CERT" --output "$IMAGES/vmlinuz-arm64-sb" "$IMAGES/vmlinuz-arm64-unsigned" >>"$LOGS/sb-sign.log" 2>&1 &&
    sbsign --key "$key" --cert "$SB_CERT" --output "$IMAGES/boot/snp-arm64-sb.efi" "$IPXE_ARM64" >>"$LOGS/sb-sign.log" 2>&1 ||
    { cat "$LOGS/sb-sign.log"; die "signing rows 13-14's images"; }
  cp "$SB_CERT" "$WORK/fleet/profiles/keys/test-db.pem"
  # Row 15: a VARS store with Microsoft's keys and the test key in db (PyPI virt-firmware),
  # the Microsoft UEFI CA it holds, Debian's shim and the Debian CA built into it.
  local vfv=$CACHE/venv-virt-firmware
  [ -x "$vfv/bin/virt-fw-vars" ] || { python3 -m venv "$vfv" && "$vfv/bin/pip" install -q virt-firmware; } >>"$LOGS/sb-sign.log" 2>&1 ||
    { cat "$LOGS/sb-sign.log"; die "PyPI virt-firmware"; }
  "$vfv/bin/virt-fw-vars" -i "$OVMF_MS_VARS" -o "$WORK/sb/vars-ms-test.fd" \
    --add-db 8be4df61-93ca-11d2-aa0d-00e098032b8c "$SB_CERT" >>"$LOGS/sb-sign.log" 2>&1 &&
    (cd "$WORK/sb" && "$vfv/bin/virt-fw-vars" -i "$OVMF_MS_VARS" --extract-certs) >>"$LOGS/sb-sign.log" 2>&1 ||
    { cat "$LOGS/sb-sign.log"; die "row 15's VARS store"; }
  cp "$WORK"/sb/db-*-MicrosoftCorporationUEFICA2011.pem "$WORK/fleet/profiles/keys/microsoft-uefi-ca.pem"
  cp "$SHIM_SIGNED" "$IMAGES/shimx64.efi"
  # .vendor_cert: four u32 (sizes and offsets of the allow- and deny-list), then the DER.
  objcopy -O binary --only-section=.vendor_cert "$SHIM_SIGNED" "$WORK/sb/vendor_cert.bin" &&
    python3 -c 'import struct, sys
d = open(sys.argv[1], "rb").read()
size, _, offset, _ = struct.unpack("<IIII", d[:16])
open(sys.argv[2], "wb").write(d[offset:offset + size])' "$WORK/sb/vendor_cert.bin" "$WORK/fleet/profiles/keys/debian-vendor.der" ||
    die "the vendor certificate of Debian's shim"
}
# secure_boot_fleet: rows 13-14's part of the via-proxy fleet: the Secure Boot first stage
# and the db certificate (site), a profile the check verifies and one it cannot see.
secure_boot_site() {
  cat <<EOS
    // Rows 13-14: the first stage for Secure Boot machines, and what OVMF's db holds.
    boot-file "snponly-sb.efi" path="images/boot/snponly-sb.efi" sha256="$(sha "$IMAGES/boot/snponly-sb.efi")" firmware="uefi-x86_64" secure-boot=#true
    boot-file "snp-arm64-sb.efi" path="images/boot/snp-arm64-sb.efi" sha256="$(sha "$IMAGES/boot/snp-arm64-sb.efi")" firmware="uefi-arm64" secure-boot=#true
    secure-boot {
        db path="keys/test-db.pem" sha256="$(sha "$WORK/fleet/profiles/keys/test-db.pem")"
        // Row 15: Microsoft's UEFI CA (signs Debian's shim) and the CA inside that shim.
        db path="keys/microsoft-uefi-ca.pem" sha256="$(sha "$WORK/fleet/profiles/keys/microsoft-uefi-ca.pem")"
        vendor-cert path="keys/debian-vendor.der" sha256="$(sha "$WORK/fleet/profiles/keys/debian-vendor.der")"
    }
EOS
}
secure_boot_profiles() {
  cat <<EOS
profile "linux-x86_64-sb" extends="linux-x86_64" {
    secure-boot #true
    kernel path="images/vmlinuz-x86_64-sb" sha256="$(sha "$IMAGES/vmlinuz-x86_64-sb")"
}
// Row 16: arm64, the kernel re-signed with the test key.
profile "linux-arm64-sb" extends="linux-arm64" {
    secure-boot #true
    kernel path="images/vmlinuz-arm64-sb" sha256="$(sha "$IMAGES/vmlinuz-arm64-sb")"
}
// Row 15: the distribution path: iPXE runs Debian's shim, which verifies Debian's kernel.
profile "linux-x86_64-distro" extends="linux-x86_64" {
    secure-boot #true
    shim path="images/shimx64.efi" sha256="$(sha "$IMAGES/shimx64.efi")"
}
// Row 14: not declared Secure Boot, so check cannot know its kernel will be refused.
profile "linux-x86_64-unsigned" extends="linux-x86_64" {
    kernel path="images/vmlinuz-x86_64-unsigned" sha256="$(sha "$IMAGES/vmlinuz-x86_64-unsigned")"
}
// Row 16's second guest: the same on arm64.
profile "linux-arm64-unsigned" extends="linux-arm64" {
    kernel path="images/vmlinuz-arm64-unsigned" sha256="$(sha "$IMAGES/vmlinuz-arm64-unsigned")"
}
EOS
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
$(if first_wanted 13 14 15 16 >/dev/null; then secure_boot_site; fi)
}
EOS
  {
    linux_profile x86_64 ttyS0 "$IMAGES"
    linux_profile arm64 ttyAMA0 "$IMAGES"
    if first_wanted 13 14 15 16 >/dev/null; then secure_boot_profiles; fi
  } >"$WORK/fleet/profiles/linux.kdl"
  # Rows 13-16's machines need their profiles (signed kernels), made only for those rows.
  machine_stanzas proxy | if first_wanted 13 14 15 16 >/dev/null; then cat; else
    grep -vE 'profile "linux-(x86_64|arm64)-(sb|distro|unsigned)"'
  fi >"$WORK/fleet/machines/matrix.kdl"
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
