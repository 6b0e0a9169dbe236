//! Raspberry Pi 4 and 5 as netboot clients: their boot tree, what `check` holds it to, the
//! order their bootloader fetches it in, and the EEPROM settings that make a board ask.
//!
//! A Pi does not run PXE → iPXE: its EEPROM bootloader does its own DHCP (it wants PXE
//! option 43 naming "Raspberry Pi Boot", see `netboot_protocol::pi`), then fetches files
//! over TFTP under its serial number (`TFTP_PREFIX=0`, the default): `config.txt`, on a
//! Pi 4 the firmware (`start4.elf`, `fixup4.dat`) and `config.txt` again, then the device
//! tree of its model, the overlays `config.txt` names, `cmdline.txt`, the kernel and the
//! initramfs. So a Pi machine's boot tree is bundle routes `tftp/<serial>/<path>`: its
//! profile's kernel, initrd and `pi-file`s (objects shared by every board of the profile)
//! and its own `config.txt` and `cmdline.txt`, rendered from built-in templates.
//!
//! `check` holds each tree to what the bootloader will ask for: the model's device tree and
//! firmware, every file `config.txt` names, a kernel that is an arm64 Linux `Image` (the
//! Pi firmware does not unpack a PE or an x86 bzImage), every file a bundle object.

use std::fs::File;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use netboot_protocol::{Arch, Named, routes};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{Config, ImageSpec, Located, PiBoard, PiModel, Profile, Site};
use crate::parse::values::is_safe_name;
use crate::render::PiFiles;

/// The tree's kernel, as its `config.txt` names it (`kernel=`).
pub const KERNEL_FILE: &str = routes::PI_KERNEL;
/// The tree's initramfs, as its `config.txt` names it (`initramfs … followkernel`).
pub const INITRAMFS_FILE: &str = routes::PI_INITRAMFS;
pub const CONFIG_TXT: &str = routes::PI_CONFIG;
pub const CMDLINE_TXT: &str = "cmdline.txt";
/// The bootloader's default per-file TFTP timeout (ms) is too short for a large
/// initramfs; the EEPROM settings raise it to this.
pub const TFTP_FILE_TIMEOUT_MS: u32 = 120_000;

/// The arm64 Linux `Image` header's magic (`ARM\x64`) at byte 56 (Documentation/arch/
/// arm64/booting.rst).
const ARM64_MAGIC: [u8; 4] = *b"ARM\x64";
const ARM64_MAGIC_AT: usize = 56;

impl PiModel {
    /// The device tree the firmware loads for this model.
    pub fn device_tree(self) -> &'static str {
        match self {
            Self::Pi4 => "bcm2711-rpi-4-b.dtb",
            Self::Pi5 => "bcm2712-rpi-5-b.dtb",
        }
    }

    /// The firmware the bootloader fetches before the kernel (a Pi 5 has it in EEPROM).
    pub fn firmware(self) -> &'static [&'static str] {
        match self {
            Self::Pi4 => &["start4.elf", "fixup4.dat"],
            Self::Pi5 => &[],
        }
    }

    /// What people call it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Pi4 => "Raspberry Pi 4",
            Self::Pi5 => "Raspberry Pi 5",
        }
    }
}

/// The serial as the bootloader spells its TFTP prefix: eight lowercase hex digits; the
/// 16-digit form `/proc/cpuinfo` shows starts `10000000`, which the prefix leaves out.
pub fn normalize_serial(serial: &str) -> Option<String> {
    let serial = serial.to_ascii_lowercase();
    let short = match serial.len() {
        16 => serial.strip_prefix("10000000")?,
        8 => &serial,
        _ => return None,
    };
    short
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| short.to_owned())
}

/// A `pi-file` name: a file at the tree's top or in `overlays/`, never one the compiler
/// writes itself.
pub fn is_tree_path(path: &str) -> bool {
    let name = match path.split_once('/') {
        Some(("overlays", name)) => name,
        Some(_) => return false,
        None => path,
    };
    is_safe_name(name) && ![KERNEL_FILE, INITRAMFS_FILE, CONFIG_TXT, CMDLINE_TXT].contains(&path)
}

/// The images of a Pi profile's tree, by tree path: kernel, initramfs, `pi-file`s.
pub fn tree_images(profile: &Profile) -> Vec<(&str, &ImageSpec)> {
    let named = [("kernel", KERNEL_FILE), ("initrd", INITRAMFS_FILE)];
    let mut out: Vec<(&str, &ImageSpec)> = named
        .iter()
        .filter_map(|(role, path)| profile.images.get(*role).map(|i| (*path, i)))
        .collect();
    out.extend(profile.pi_files.iter().map(|(path, i)| (path.as_str(), i)));
    out
}

/// A Pi machine's board against its profile: arm64, the model's device tree and firmware,
/// every tree file a bundle object. False if anything is missing (reported).
pub(crate) fn check_board(
    pi: &Located<PiBoard>,
    profile: &Profile,
    site: Option<&Site>,
    diags: &mut Diagnostics,
) -> bool {
    let model = pi.value.model;
    let mut sound = true;
    let mut problem = |message: String, help: String| {
        diags
            .push(Diagnostic::error(
                Code::PiTree,
                &pi.source,
                pi.span.clone(),
                message,
            ))
            .label(format!("{} {}", model.title(), pi.value.serial))
            .help(help);
        sound = false;
    };
    if profile.arch != Arch::Arm64 {
        problem(
            format!(
                "profile `{}` is {}; a {} boots arm64",
                profile.name,
                profile.arch.name(),
                model.title()
            ),
            "give the profile arch \"arm64\" and an arm64 kernel".into(),
        );
    }
    let wanted = std::iter::once(model.device_tree()).chain(model.firmware().iter().copied());
    for file in wanted {
        if !profile.pi_files.contains_key(file) {
            problem(
                format!(
                    "profile `{}` has no `{file}`, which a {} fetches",
                    profile.name,
                    model.title()
                ),
                format!("add to the profile: pi-file \"{file}\" path=\"…\" sha256=\"…\""),
            );
        }
    }
    if let Some(site) = site {
        for (path, image) in tree_images(profile) {
            if !site.mirrors(image) {
                problem(
                    format!(
                        "`{path}` of profile `{}` is not in the bundle, and the Pi bootloader fetches it over TFTP",
                        profile.name
                    ),
                    "give it path=, or turn the site's `mirror` on".into(),
                );
            }
        }
    }
    sound
}

/// The tree files a rendered `config.txt` names: `kernel=`, `initramfs`, `device_tree=`,
/// `cmdline=`, `start_file=`, `fixup_file=`, and `overlays/<name>.dtbo` for `dtoverlay=`.
/// Conditional sections (`[pi4]`) are read through: every file any section names must be
/// there.
pub fn named_files(config_txt: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in config_txt.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(rest) = line.strip_prefix("initramfs ") {
            out.extend(rest.split_whitespace().next().map(str::to_owned));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "kernel" | "device_tree" | "cmdline" | "start_file" | "fixup_file" => {
                out.push(value.to_owned());
            }
            "dtoverlay" => {
                let name = value.split(',').next().unwrap_or("").trim();
                if !name.is_empty() {
                    out.push(format!("overlays/{name}.dtbo"));
                }
            }
            _ => {}
        }
    }
    out
}

/// Every file a machine's `config.txt` names is in its tree (reported otherwise).
pub(crate) fn check_config(
    machine: &str,
    pi: &Located<PiBoard>,
    profile: &Profile,
    config_txt: &str,
    diags: &mut Diagnostics,
) {
    let tree: Vec<&str> = tree_images(profile).into_iter().map(|(p, _)| p).collect();
    for file in named_files(config_txt) {
        if file != CMDLINE_TXT && !tree.contains(&file.as_str()) {
            diags
                .push(Diagnostic::error(
                    Code::PiTree,
                    &pi.source,
                    pi.span.clone(),
                    format!("config.txt of `{machine}` names `{file}`, which its boot tree lacks"),
                ))
                .label("the bootloader would fail to fetch it")
                .help(format!(
                    "add to profile `{}`: pi-file \"{file}\" path=\"…\" sha256=\"…\", or remove the line naming it",
                    profile.name
                ));
        }
    }
}

/// The files, in order, the bootloader of `model` fetches under its prefix, as the
/// Raspberry Pi documentation describes a boot: `config.txt`; on a Pi 4 `start4.elf`,
/// `fixup4.dat` and `config.txt` again (read by `start4.elf`); the model's device tree;
/// the overlays `config.txt` names; `cmdline.txt`; the kernel; the initramfs.
pub fn fetch_order(model: PiModel, config_txt: &str) -> Vec<String> {
    let named = named_files(config_txt);
    let mut order = vec![CONFIG_TXT.to_owned()];
    if !model.firmware().is_empty() {
        order.extend(model.firmware().iter().map(|f| (*f).to_owned()));
        order.push(CONFIG_TXT.to_owned());
    }
    let device_tree = named
        .iter()
        .find(|f| f.ends_with(".dtb") && !f.starts_with("overlays/"))
        .cloned()
        .unwrap_or_else(|| model.device_tree().to_owned());
    order.push(device_tree);
    order.extend(named.iter().filter(|f| f.starts_with("overlays/")).cloned());
    order.push(CMDLINE_TXT.to_owned());
    let kernel = named
        .iter()
        .find(|f| f.as_str() == KERNEL_FILE)
        .cloned()
        .unwrap_or_else(|| KERNEL_FILE.to_owned());
    order.push(kernel);
    if named.iter().any(|f| f == INITRAMFS_FILE) {
        order.push(INITRAMFS_FILE.to_owned());
    }
    order
}

/// What the bootloader of `board` fetches, in order, and what each file is: the object
/// of the profile's image (its digest), or the machine's own rendered file. A file the
/// tree lacks says so (`check` reports it as an error).
pub fn fetch_trace(board: &PiBoard, profile: &Profile, files: &PiFiles) -> Vec<(String, String)> {
    let tree = tree_images(profile);
    fetch_order(board.model, &files.config_txt)
        .into_iter()
        .map(|name| {
            let what = match name.as_str() {
                CONFIG_TXT | CMDLINE_TXT => "[rendered for this machine]".to_owned(),
                _ => tree.iter().find(|(path, _)| *path == name).map_or_else(
                    || "MISSING from the boot tree".to_owned(),
                    |(_, image)| format!("[{} {}]", image.role, image.sha256),
                ),
            };
            (name, what)
        })
        .collect()
}

/// The EEPROM settings a board needs to netboot from this site, for
/// `rpi-eeprom-config --apply`: network boot first (`BOOT_ORDER=0xf12`: network, then SD
/// card, then again), the serial-number prefix the bundle's tree is under, a per-file
/// timeout long enough for an initramfs, and `TFTP_IP` only when given (a router that
/// cannot send option 43 or a next-server).
pub fn eeprom_settings(machine: &str, pi: &PiBoard, tftp_ip: Option<Ipv4Addr>) -> String {
    let mut out = format!(
        "# {machine}: {} {}, EEPROM settings written by `netbootc pi-eeprom`.\n\
         # On the board: sudo rpi-eeprom-config --apply {machine}.conf && sudo reboot\n\
         [all]\n\
         BOOT_UART=1\n\
         # Read from the right: network (2), then the SD card (1), then round again (f).\n\
         BOOT_ORDER=0xf12\n\
         # Files under the serial number ({}/), as the bundle holds them.\n\
         TFTP_PREFIX=0\n\
         TFTP_FILE_TIMEOUT={TFTP_FILE_TIMEOUT_MS}\n",
        pi.model.title(),
        pi.serial,
        pi.serial,
    );
    if let Some(ip) = tftp_ip {
        out += &format!("# The TFTP server, whatever DHCP says.\nTFTP_IP={ip}\n");
    }
    out
}

/// `check` and `build`: each Pi profile's kernel is an arm64 Linux `Image`. `local` gives
/// the file an image is read from, if there is one yet (`check` reads local files only).
pub fn check_kernels(
    config: &Config,
    local: impl Fn(&ImageSpec) -> Option<PathBuf>,
    diags: &mut Diagnostics,
) {
    let mut profiles: Vec<&Profile> = config
        .machines
        .iter()
        .filter(|m| m.pi.is_some())
        .filter_map(|m| config.profiles.get(&m.profile))
        .collect();
    profiles.sort_by(|a, b| a.name.cmp(&b.name));
    profiles.dedup_by(|a, b| a.name == b.name);
    for profile in profiles {
        let Some(kernel) = profile.images.get("kernel") else {
            continue;
        };
        let Some(path) = local(kernel) else { continue };
        let mut head = [0u8; ARM64_MAGIC_AT + 4];
        let read = File::open(&path).and_then(|mut f| f.read_exact(&mut head));
        // An unreadable or missing file has its own diagnostic (images).
        if read.is_ok() && head[ARM64_MAGIC_AT..] == ARM64_MAGIC {
            continue;
        }
        diags
            .push(Diagnostic::error(
                Code::PiKernel,
                &kernel.source,
                kernel.location_span.clone(),
                format!(
                    "the kernel of Pi profile `{}` is not an arm64 Linux Image",
                    profile.name
                ),
            ))
            .label("no `ARM\\x64` magic at byte 56")
            .help("the Pi firmware boots an uncompressed arm64 Image (Debian's linux-image-arm64 /boot/vmlinuz-*, or a kernel8.img)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_eight_hex_digits_as_the_prefix_spells_them() {
        assert_eq!(normalize_serial("3A8B1C2D").as_deref(), Some("3a8b1c2d"));
        assert_eq!(
            normalize_serial("100000003a8b1c2d").as_deref(),
            Some("3a8b1c2d")
        );
        for bad in ["3a8b1c2", "3a8b1c2g", "200000003a8b1c2d", "", "../../etc"] {
            assert_eq!(normalize_serial(bad), None, "{bad}");
        }
    }

    #[test]
    fn tree_paths_are_top_level_or_overlays_and_never_the_compilers_own() {
        for good in [
            "start4.elf",
            "bcm2711-rpi-4-b.dtb",
            "overlays/disable-bt.dtbo",
        ] {
            assert!(is_tree_path(good), "{good}");
        }
        for bad in [
            "config.txt",
            "kernel8.img",
            "a/b.dtbo",
            "overlays/../x",
            "overlays/",
            "../x",
        ] {
            assert!(!is_tree_path(bad), "{bad}");
        }
    }

    #[test]
    fn config_txt_names_its_files_and_the_order_follows_the_model() {
        let text = "[all]\nkernel=kernel8.img\ninitramfs initramfs8 followkernel\n\
                    # dtoverlay=commented\n[pi4]\ndtoverlay=disable-bt,foo=1\n";
        assert_eq!(
            named_files(text),
            ["kernel8.img", "initramfs8", "overlays/disable-bt.dtbo"]
        );
        assert_eq!(
            fetch_order(PiModel::Pi4, text),
            [
                "config.txt",
                "start4.elf",
                "fixup4.dat",
                "config.txt",
                "bcm2711-rpi-4-b.dtb",
                "overlays/disable-bt.dtbo",
                "cmdline.txt",
                "kernel8.img",
                "initramfs8"
            ]
        );
        assert_eq!(
            fetch_order(PiModel::Pi5, "kernel=kernel8.img\n"),
            [
                "config.txt",
                "bcm2712-rpi-5-b.dtb",
                "cmdline.txt",
                "kernel8.img"
            ]
        );
    }

    #[test]
    fn eeprom_settings_name_the_prefix_the_timeout_and_the_server_only_when_given() {
        let board = PiBoard {
            model: PiModel::Pi5,
            serial: "3a8b1c2d".into(),
        };
        let plain = eeprom_settings("arm-01", &board, None);
        assert!(plain.contains("\nBOOT_ORDER=0xf12\n"), "{plain}");
        assert!(plain.contains("\nTFTP_PREFIX=0\n"), "{plain}");
        assert!(plain.contains("\nTFTP_FILE_TIMEOUT=120000\n"), "{plain}");
        assert!(!plain.contains("TFTP_IP"), "{plain}");
        let pinned = eeprom_settings("arm-01", &board, Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert!(pinned.ends_with("TFTP_IP=10.0.0.2\n"), "{pinned}");
    }
}
