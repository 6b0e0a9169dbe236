//! The configuration as the compiler understands it, after parsing (`*Def`, one per KDL
//! node) and after validation (resolved [`Config`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use netboot_bundle::Digest;
use netboot_ipxe::IpxeBuild;
use netboot_protocol::{Arch, Firmware, Mac};
use strum::{EnumString, IntoStaticStr, VariantArray, VariantNames};

use crate::provision::FileKind;
use crate::source::{SourceFile, Span};

/// A value with the place it came from, for diagnostics raised after parsing.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub value: T,
    pub source: Arc<SourceFile>,
    pub span: Span,
}

/// Template variables (`var key=value`): strings, numbers, booleans.
pub type Vars = BTreeMap<String, serde_json::Value>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainMode {
    /// iPXE fetches from the origin itself (HTTPS with an embedded client certificate).
    Direct,
    /// iPXE fetches from the Pi's LAN HTTP listener, which forwards over mTLS.
    ViaProxy { proxy: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLocation {
    /// Fetched over the network (by the build when mirroring, else by iPXE).
    Url(String),
    /// A local file: `display` as written (relative to the naming KDL file's directory),
    /// `relative` resolved against the config directory.
    Path { display: String, relative: String },
}

/// `kernel`, `initrd`, `image "<role>"` or `boot-file "<name>"`.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// `kernel`, `initrd`, the image's own name, or the boot file's TFTP name.
    pub role: String,
    pub location: ImageLocation,
    pub sha256: Digest,
    pub source: Arc<SourceFile>,
    /// The whole node.
    pub span: Span,
    /// The URL argument or the `path=` property, for "cannot fetch" and "no such file".
    pub location_span: Span,
    /// The `sha256=` property, for "does not match".
    pub sha256_span: Span,
}

/// `boot-file "<tftp name>" … [firmware="<class>"]`: a file served over TFTP (and LAN
/// HTTP), and, with `firmware=`, the first-stage iPXE for that class of firmware.
#[derive(Debug, Clone)]
pub struct BootFile {
    pub image: ImageSpec,
    pub firmware: Option<Located<Firmware>>,
    /// `secure-boot=#true`: the first stage for Secure Boot machines of that class (a
    /// shim, or a signed iPXE), served to them instead of the class's usual file.
    pub secure_boot: bool,
}

/// `secure-boot { db …; vendor-cert …; mok … }` in the site: the certificates the Secure
/// Boot verifiers hold, each a pinned local file (PEM or DER).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// In the firmware's `db`: what it runs directly (first stage, shims).
    pub db: Vec<ImageSpec>,
    /// Embedded in a shim the machines run: what that shim runs besides `db`'s.
    pub vendor_certs: Vec<ImageSpec>,
    /// Machine Owner Keys the site enrolled: shims trust them too.
    pub mok: Vec<ImageSpec>,
}

/// `file "<name>" [kind=…] template=… [content-type=…]` on a profile or a machine: a
/// provisioning file rendered for each machine and served under `files/<set>/<name>`.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub name: Located<String>,
    /// `None` when not written: a machine's file then takes its profile's kind, a file of
    /// its own is `raw`.
    pub kind: Option<FileKind>,
    /// Config-relative template path.
    pub template: Located<String>,
    pub content_type: Option<String>,
    pub source: Arc<SourceFile>,
    /// The whole node.
    pub span: Span,
}

/// Where a secret's value comes from: never the Git tree.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// `path=`: relative to the directory of the KDL file that names it (it may, and
    /// should, leave the config directory), or absolute.
    Path {
        written: Located<String>,
        /// The naming KDL file's directory, config-relative (`""` for the root).
        base: String,
    },
    /// `env=`: an environment variable of the process that runs `netbootc`.
    Env(Located<String>),
}

/// How a secret's text becomes a template value (`format=`).
#[derive(EnumString, IntoStaticStr, VariantArray, VariantNames)]
#[strum(serialize_all = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormat {
    /// A string (one trailing newline removed).
    Text,
    Json,
    Yaml,
}

/// `secret "<name>" path=…|env=… [format=…] [example=…]` in the site.
#[derive(Debug, Clone)]
pub struct SecretSpec {
    pub name: Located<String>,
    pub from: SecretSource,
    pub format: SecretFormat,
    /// Config-relative path of committed stand-in values, used (with a warning) when the
    /// secret itself is absent, so a fresh clone still builds.
    pub example: Option<Located<String>>,
}

#[derive(Debug, Clone)]
pub struct SiteDef {
    pub origin: Option<Located<String>>,
    pub chain: ChainMode,
    pub mirror: bool,
    pub boot_files: Vec<BootFile>,
    pub trust: Trust,
    pub ipxe_builds: Vec<IpxeBuildDecl>,
    pub secrets: Vec<SecretSpec>,
    pub source: Arc<SourceFile>,
    /// The `site` node name, for "defined here" labels.
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ProfileDef {
    pub name: Located<String>,
    pub extends: Option<Located<String>>,
    pub arch: Option<Arch>,
    /// Where `arch` was written (for `explain`).
    pub arch_span: Option<Span>,
    pub kernel: Option<ImageSpec>,
    /// A `kernel` node was written, valid or not (an invalid one is reported where it is).
    pub kernel_written: bool,
    pub initrd: Option<ImageSpec>,
    /// `shim`: a distribution's shim its Secure Boot machines load (iPXE `shim`) before
    /// the kernel, which that shim then verifies.
    pub shim: Option<ImageSpec>,
    /// `secure-boot #true|#false`: whether its machines boot with Secure Boot on.
    pub secure_boot: Option<Located<bool>>,
    pub images: Vec<ImageSpec>,
    pub cmdline: Option<Located<String>>,
    pub cmdline_append: Vec<Located<String>>,
    /// Template path relative to the config directory.
    pub template: Option<Located<String>>,
    pub vars: Vars,
    /// Where each `var` key was (last) written (for `explain`).
    pub var_spans: BTreeMap<String, Span>,
    pub files: Vec<FileSpec>,
    /// `pi-file "<tree path>" …`: firmware, device trees and overlays of a Raspberry Pi
    /// board's boot tree.
    pub pi_files: Vec<ImageSpec>,
    /// `pi-config "<line>"`: lines appended to the Pi's rendered `config.txt`.
    pub pi_config: Vec<Located<String>>,
}

#[derive(Debug, Clone)]
pub struct MachineDef {
    pub name: Located<String>,
    /// `boot "local"`: the machine boots its own disk instead of its profile.
    pub boot: Option<Located<BootTarget>>,
    pub macs: Vec<Located<Mac>>,
    /// Normalised: lowercase.
    pub uuid: Option<Located<String>>,
    /// `pi "<model>" serial="<hex>"`: a Raspberry Pi booted by its EEPROM bootloader.
    pub pi: Option<Located<PiBoard>>,
    pub profile: Option<Located<String>>,
    /// `secure-boot #true|#false`, over its profile's.
    pub secure_boot: Option<Located<bool>>,
    pub vars: Vars,
    /// Where each `var` key was (last) written (for `explain`).
    pub var_spans: BTreeMap<String, Span>,
    pub files: Vec<FileSpec>,
}

/// Everything one KDL file defines.
#[derive(Debug, Default)]
pub struct FileDefs {
    pub sites: Vec<SiteDef>,
    pub profiles: Vec<ProfileDef>,
    pub machines: Vec<MachineDef>,
}

/// The site after validation.
#[derive(Debug, Clone)]
pub struct Site {
    pub origin: String,
    pub chain: ChainMode,
    pub mirror: bool,
    pub boot_files: Vec<BootFile>,
    pub trust: Trust,
    pub secrets: Vec<SecretSpec>,
    pub ipxe_builds: Vec<IpxeBuildDecl>,
}

/// `ipxe-build "<build>" [firmware="<class>"] [verify-images=#false]`: the iPXE build the
/// machines of a firmware class run (without `firmware=`, of every class not named in
/// another), which decides what their scripts can do (verify images, fetch HTTPS).
#[derive(Debug, Clone)]
pub struct IpxeBuildDecl {
    pub build: IpxeBuild,
    pub firmware: Option<Firmware>,
    /// `verify-images=#false`: scripts skip the sha256 check on this class even where
    /// the build could run it.
    pub verify_images: bool,
    pub span: Span,
}

impl Site {
    /// The Secure Boot first stage for `firmware`, if any.
    pub fn secure_boot_file(&self, firmware: Firmware) -> Option<&BootFile> {
        self.boot_files
            .iter()
            .find(|f| f.secure_boot && f.firmware.as_ref().is_some_and(|l| l.value == firmware))
    }

    /// The boot file declared for `firmware`, if any.
    pub fn boot_file(&self, firmware: Firmware) -> Option<&BootFile> {
        self.boot_files
            .iter()
            .find(|f| !f.secure_boot && f.firmware.as_ref().is_some_and(|l| l.value == firmware))
    }

    /// The iPXE build machines of `firmware` run: the site's `ipxe-build` for the class,
    /// else its class-less one, else iPXE 2.0 (or, in `direct` mode, which needs a build
    /// with the client certificate, the site's own).
    pub fn ipxe_build(&self, firmware: Firmware) -> IpxeBuild {
        self.ipxe_build_decl(firmware).map_or(
            match self.chain {
                ChainMode::Direct => IpxeBuild::Custom,
                ChainMode::ViaProxy { .. } => IpxeBuild::V2,
            },
            |decl| decl.build,
        )
    }

    /// The iPXE build a machine runs on `firmware`: with Secure Boot on (`secure_boot`), the
    /// class's Secure Boot first stage, a signed iPXE taken to be 2.0 (it needs `shim`),
    /// whatever the class's `ipxe-build` says; otherwise [`Self::ipxe_build`].
    pub fn machine_ipxe_build(&self, secure_boot: bool, firmware: Firmware) -> IpxeBuild {
        if secure_boot && self.secure_boot_file(firmware).is_some() {
            IpxeBuild::V2
        } else {
            self.ipxe_build(firmware)
        }
    }

    /// Whether machine scripts check each image's sha256 before `boot` on `firmware`:
    /// wherever its build has `sha256sum`, unless the site said `verify-images=#false`.
    pub fn verifies_images(&self, firmware: Firmware) -> bool {
        self.ipxe_build_decl(firmware)
            .is_none_or(|decl| decl.verify_images)
            && self.ipxe_build(firmware).has_command("sha256sum", firmware)
    }

    fn ipxe_build_decl(&self, firmware: Firmware) -> Option<&IpxeBuildDecl> {
        self.ipxe_builds
            .iter()
            .find(|d| d.firmware == Some(firmware))
            .or_else(|| self.ipxe_builds.iter().find(|d| d.firmware.is_none()))
    }

    /// Where boot scripts fetch bundle routes from: the origin, or the Pi in `via-proxy`.
    pub fn base_url(&self) -> &str {
        match &self.chain {
            ChainMode::Direct => &self.origin,
            ChainMode::ViaProxy { proxy } => proxy,
        }
        .trim_end_matches('/')
    }

    /// Whether an image becomes a bundle object: local files always (nothing else could
    /// serve them), URLs when `mirror` is on.
    pub fn mirrors(&self, image: &ImageSpec) -> bool {
        self.mirror || matches!(image.location, ImageLocation::Path { .. })
    }

    /// The URL a boot script fetches `image` from.
    pub fn image_url(&self, image: &ImageSpec) -> String {
        match &image.location {
            ImageLocation::Url(url) if !self.mirrors(image) => url.clone(),
            _ => format!(
                "{}/{}",
                self.base_url(),
                netboot_bundle::object_path(&image.sha256)
            ),
        }
    }
}

/// A profile with `extends` applied.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub arch: Arch,
    /// By role: `kernel`, `initrd`, `shim`, then extra images. Always has `kernel`.
    pub images: BTreeMap<String, ImageSpec>,
    /// Its machines boot with Secure Boot on (unless a machine says otherwise).
    pub secure_boot: bool,
    /// The cmdline pieces, in order: the effective `cmdline`, then every `cmdline-append`.
    pub cmdline: Vec<Located<String>>,
    pub template: Option<Located<String>>,
    pub vars: Vars,
    /// By name; a profile's file replaces the one of the same name it extends.
    pub files: BTreeMap<String, FileSpec>,
    /// A Pi boot tree's files by tree path; a profile's replaces the one it extends.
    pub pi_files: BTreeMap<String, ImageSpec>,
    /// `config.txt` lines, the extended profile's first.
    pub pi_config: Vec<Located<String>>,
}

/// What a machine's script boots (`boot "…"`).
#[derive(EnumString, IntoStaticStr, VariantArray, VariantNames)]
#[strum(serialize_all = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BootTarget {
    /// Its profile's kernel and initrd, over the network (the default).
    #[default]
    Network,
    /// Its own disk: installed, stop reinstalling.
    Local,
}

/// A Raspberry Pi board model whose EEPROM bootloader boots over the network.
#[derive(EnumString, IntoStaticStr, VariantArray, VariantNames)]
#[strum(serialize_all = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PiModel {
    /// Raspberry Pi 4 Model B (BCM2711): loads `start4.elf` over TFTP.
    Pi4,
    /// Raspberry Pi 5 (BCM2712): its firmware is in the EEPROM.
    Pi5,
}

/// `pi "<model>" serial="<8 hex digits>"`: the bootloader fetches its files under
/// `<serial>/` (its default `TFTP_PREFIX=0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiBoard {
    pub model: PiModel,
    /// Eight lowercase hex digits (a leading `10000000` of the 16-digit form dropped).
    pub serial: String,
}

#[derive(Debug, Clone)]
pub struct Machine {
    pub name: String,
    pub boot: BootTarget,
    pub macs: Vec<Mac>,
    pub uuid: Option<String>,
    /// With where `pi` was written, for the boot tree's diagnostics.
    pub pi: Option<Located<PiBoard>>,
    pub profile: String,
    /// It boots with Secure Boot on: every EFI image it runs is verified (`secure_boot`).
    pub secure_boot: bool,
    pub vars: Vars,
    /// By name: merged over the profile's file of the same name, or a file of its own.
    pub files: BTreeMap<String, FileSpec>,
}

/// A validated configuration: one site, resolved profiles, machines sorted by name.
#[derive(Debug, Clone)]
pub struct Config {
    pub site: Site,
    pub profiles: BTreeMap<String, Profile>,
    pub machines: Vec<Machine>,
}

#[cfg(test)]
mod tests {
    use netboot_protocol::Named;

    use super::*;

    #[test]
    fn kdl_keywords_keep_their_names() {
        assert_eq!(SecretFormat::NAMES, ["text", "json", "yaml"]);
        assert_eq!(BootTarget::NAMES, ["network", "local"]);
        assert_eq!(PiModel::NAMES, ["pi4", "pi5"]);
        assert_eq!(
            FileKind::NAMES,
            [
                "ignition",
                "talos",
                "cloud-config",
                "meta-data",
                "network-config",
                "raw"
            ]
        );
        assert_eq!(BootTarget::parse("local"), Some(BootTarget::Local));
        assert_eq!(FileKind::parse("Raw"), None, "names are exact");
    }
}
