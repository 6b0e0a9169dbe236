//! A boot before it happens: an interpreter for the iPXE script language, run for a
//! synthetic client (MAC, UUID, firmware class, iPXE build) against what a bundle serves.
//!
//! - [`interpreter`]: the language (settings and their expansion, `||`/`&&`/`;`, labels,
//!   the commands netbootc's built-in and operators' templates use) and the fetches;
//! - [`Origin`]: what a URL resolves to, given by the caller (netboot-compile has one over
//!   a compiled config in memory, for `check`, and one over a built bundle directory, for
//!   `simulate --bundle`);
//! - [`COMMANDS`] and [`IpxeBuild`]: the language's commands, and which a given build has
//!   (check's lint reads the former);
//! - [`bounds`]: what one simulated boot may hold and run, so a hostile template fails
//!   fast with the bound it went over instead of exhausting the machine running `check`.
//!
//! It follows dispatcher → by-UUID → by-MAC → unknown exactly as the scripts say, and
//! ends in a [`End`]: booted (kernel, initrd, command line), local disk, exit, reboot, a
//! loop that makes no progress, or a failure (a fetch that resolves to nothing, a URL
//! scheme or command the client's build lacks, a command the simulator does not know, a
//! bound of [`bounds`] exceeded).

pub mod bounds;
pub mod interpreter;

use std::fmt;
use std::sync::Arc;

use netboot_bundle::Digest;

use netboot_protocol::{Arch, Firmware, Mac, Named, Platform};
use strum::{EnumString, IntoStaticStr, VariantArray, VariantNames};

pub use interpreter::simulate;

/// Where a simulated fetch goes.
pub trait Origin: Sync {
    /// The URL prefixes (no trailing `/`) under which the bundle's routes are served.
    fn bases(&self) -> &[String];
    /// The object a route serves.
    fn route(&self, route: &str) -> Option<Digest>;
    /// Whether `objects/sha256/<hex>` of this digest is served.
    fn has_object(&self, digest: &Digest) -> bool;
    /// The text of an object that is an iPXE script (`#!ipxe`), else `None`.
    fn script(&self, digest: &Digest) -> Option<Arc<str>>;
    /// Whether `url` is an upstream image URL scripts fetch directly (not mirrored).
    fn is_upstream(&self, url: &str) -> bool;
    /// The sha256 of the bytes the client got for `image` (what `sha256sum` prints): an
    /// object's as stored, which a tampered store may make differ from its name; an
    /// upstream image's as pinned. `None` if it cannot be known.
    fn image_digest(&self, image: &Loaded) -> Option<Digest>;
}

/// Every command of upstream iPXE's command reference (ipxe.org/cmd), including ones
/// that a given build may leave out.
pub const COMMANDS: &[&str] = &[
    "autoboot",
    "boot",
    "certfree",
    "certstat",
    "chain",
    "choose",
    "clear",
    "colour",
    "console",
    "cpair",
    "cpuid",
    "dhcp",
    "echo",
    "exit",
    "fcels",
    "fcstat",
    "fdt",
    "form",
    "gdbstub",
    "goto",
    "ibstat",
    "ifclose",
    "ifconf",
    "ifopen",
    "ifstat",
    "imgargs",
    "imgdecrypt",
    "imgexec",
    "imgextract",
    "imgfetch",
    "imgfree",
    "imgload",
    "imgmem",
    "imgselect",
    "imgstat",
    "imgtrust",
    "imgverify",
    "inc",
    "initrd",
    "ipstat",
    "iseq",
    "isset",
    "item",
    "kernel",
    "login",
    "lotest",
    "md5sum",
    "menu",
    "module",
    "neighbour",
    "nslookup",
    "nstat",
    "ntp",
    "param",
    "params",
    "pciscan",
    "ping",
    "poweroff",
    "present",
    "profstat",
    "prompt",
    "pxebs",
    "read",
    "reboot",
    "route",
    "sanboot",
    "sanhook",
    "sanunhook",
    "set",
    "shell",
    "sha1sum",
    "sha256sum",
    "shim",
    "show",
    "sleep",
    "stp",
    "sync",
    "time",
    "usbscan",
    "vcreate",
    "vdestroy",
];

/// The iPXE build a client runs: what it can fetch and which commands it has. Its
/// names ([`Named`]) are what `--ipxe` takes.
#[derive(EnumString, IntoStaticStr, VariantArray, VariantNames)]
#[strum(serialize_all = "kebab-case")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpxeBuild {
    /// Debian's `ipxe` package (1.0.0+git-20190125): HTTP and TFTP, no HTTPS.
    #[strum(serialize = "debian-2019")]
    Debian2019,
    /// Upstream iPXE 2.0.0 with its default configuration (`config/general.h`): HTTPS on
    /// EFI builds, not on BIOS ones.
    #[strum(to_string = "2.0", serialize = "2.0.0")]
    V2,
    /// iPXE 2.0 built for the site in `direct` mode: HTTPS (and the client certificate)
    /// compiled in, on every platform.
    Custom,
}

impl IpxeBuild {
    /// Whether this build, for this firmware, can fetch `https://` URLs.
    pub fn has_https(self, firmware: Firmware) -> bool {
        match self {
            Self::Debian2019 => false,
            Self::V2 => firmware.platform() == Platform::Efi,
            Self::Custom => true,
        }
    }

    /// Whether the build has `command`, as iPXE 2.0's `config/general.h` decides (and what
    /// Debian's 2019 build lacks besides).
    pub fn has_command(self, command: &str, firmware: Firmware) -> bool {
        // Off in the default configuration, so in every build here.
        let never = [
            "imgverify",
            "imgtrust",
            "imgdecrypt",
            "imgmem",
            "ipstat",
            "nslookup",
            "ping",
            "neighbour",
            "time",
            "profstat",
            "lotest",
            "pxebs",
        ];
        // Not built for BIOS ("not historically included in BIOS builds").
        let not_bios = [
            "certstat",
            "certfree",
            "console",
            "md5sum",
            "sha1sum",
            "sha256sum",
            "ntp",
            "param",
            "params",
            "pciscan",
            "usbscan",
        ];
        // Newer than Debian's 2019 build.
        let newer = ["poweroff", "sha256sum", "imgextract", "shim", "fdt"];
        let missing = never.contains(&command)
            || (firmware.platform() == Platform::Pcbios && not_bios.contains(&command))
            || (self == Self::Debian2019 && newer.contains(&command))
            || (command == "cpuid" && firmware.cpu_arch() == Arch::Arm64);
        !missing
    }

    /// Whether `sanboot --drive` can boot a local disk: iPXE 1.21 and later on UEFI.
    pub fn sanboots_local_disk(self, firmware: Firmware) -> bool {
        firmware.platform() == Platform::Pcbios || self != Self::Debian2019
    }
}

impl fmt::Display for IpxeBuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// iPXE's `${buildarch}` on `firmware`: BIOS iPXE is an i386 build.
pub fn buildarch(firmware: Firmware) -> &'static str {
    match firmware {
        Firmware::Bios => "i386",
        Firmware::UefiX86_64 => "x86_64",
        Firmware::UefiArm64 => "arm64",
    }
}

/// The machine being simulated, as its firmware and iPXE present it.
#[derive(Debug, Clone)]
pub struct Client {
    pub mac: Mac,
    pub uuid: Option<String>,
    pub firmware: Firmware,
    pub ipxe: IpxeBuild,
    /// Secure Boot refuses what `boot` starts (the kernel, or a shim, has no signature its
    /// verifier trusts): `boot` fails with the firmware's EFI_SECURITY_VIOLATION.
    pub secure_boot_refuses: bool,
}

impl Client {
    /// `${buildarch}`.
    pub fn buildarch(&self) -> &'static str {
        buildarch(self.firmware)
    }

    /// `${platform}`.
    pub fn platform(&self) -> &'static str {
        self.firmware.platform().name()
    }
}

/// One fetch the client made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// The command that fetched (`chain`, `kernel`, `initrd`, …).
    pub command: String,
    pub url: String,
    pub outcome: FetchOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// A route or object of the bundle.
    Served { route: String, object: Digest },
    /// Outside the bundle (an upstream image URL the bundle does not mirror).
    Upstream,
    /// The bundle has no such route: 404.
    NotFound { route: String },
    /// The client cannot fetch it at all (scheme its build lacks, another host).
    Unfetchable { reason: String },
}

/// One line of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Fetch(Fetch),
    /// What the script printed (`echo`).
    Console(String),
    /// `sleep`: the virtual clock went on.
    Sleep(u64),
}

/// How the simulated boot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// `boot` with a kernel loaded.
    Booted {
        /// Boxed: the other ends are small.
        kernel: Box<Loaded>,
        initrds: Vec<Loaded>,
        cmdline: String,
    },
    /// `sanboot` handed the machine to its local disk.
    LocalDisk,
    /// The top-level script ended (`exit N`, or its last line): the firmware goes on.
    Exit(i64),
    Reboot,
    /// The same state came round again: the machine waits and retries for ever.
    Loop {
        slept: u64,
        last_echo: Option<String>,
    },
    /// The script stopped with an error the client cannot get past.
    Failed {
        reason: String,
        at: Option<At>,
    },
}

impl End {
    /// One line for how a simulated boot ended.
    pub fn describe(&self) -> String {
        match self {
            Self::Booted { kernel, .. } => format!("boots {}", kernel.url),
            Self::LocalDisk => "boots its local disk".to_owned(),
            Self::Exit(code) => format!("iPXE exits (status {code}) without booting"),
            Self::Reboot => "it reboots without booting".to_owned(),
            Self::Loop { slept, last_echo } => {
                let said = last_echo
                    .as_ref()
                    .map(|e| format!("; last message: \"{e}\""))
                    .unwrap_or_default();
                if *slept == 0 {
                    format!("it loops without progress, never waiting{said}")
                } else {
                    format!("it waits and retries for ever ({slept} s simulated{said})")
                }
            }
            Self::Failed { reason, .. } => reason.clone(),
        }
    }
}

/// An image `kernel`/`initrd` loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// What commands name it by: `--name`, else the URL's last segment, as iPXE names it.
    pub name: String,
    pub url: String,
    /// `None` for an upstream URL.
    pub object: Option<Digest>,
}

/// Where in which script something happened: the script's route and 0-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub route: String,
    pub line: usize,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}", self.route, self.line + 1)
    }
}

/// A simulated boot: every step, and the end.
#[derive(Debug, Clone)]
pub struct Trace {
    pub steps: Vec<Step>,
    pub end: End,
    /// The last fetch that failed, why and where: what a boot that gave up gave up on.
    pub last_failure: Option<(String, At)>,
}

impl Trace {
    /// The trace as `netbootc simulate` prints it: one line per step, then the end.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for step in &self.steps {
            let _ = match step {
                Step::Console(text) => writeln!(out, "  echo    {text}"),
                Step::Sleep(seconds) => writeln!(out, "  sleep   {seconds} s"),
                Step::Fetch(fetch) => {
                    let result = match &fetch.outcome {
                        FetchOutcome::Served { route, object } => format!("{route}  {object}"),
                        FetchOutcome::Upstream => "upstream (not in the bundle)".to_owned(),
                        FetchOutcome::NotFound { route } => format!("404: no route {route}"),
                        FetchOutcome::Unfetchable { reason } => format!("cannot fetch: {reason}"),
                    };
                    writeln!(
                        out,
                        "  {:<7} {}\n          → {result}",
                        fetch.command, fetch.url
                    )
                }
            };
        }
        let _ = match &self.end {
            End::Booted {
                kernel,
                initrds,
                cmdline,
            } => {
                let object = |l: &Loaded| l.object.map_or_else(|| l.url.clone(), |d| d.to_string());
                let initrds: Vec<String> = initrds.iter().map(object).collect();
                writeln!(
                    out,
                    "  end     boots kernel {}{}\n          cmdline: {cmdline}",
                    object(kernel),
                    if initrds.is_empty() {
                        String::new()
                    } else {
                        format!(", initrd {}", initrds.join(", "))
                    }
                )
            }
            End::Failed { reason, at } => writeln!(
                out,
                "  end     fails: {reason}{}",
                at.as_ref().map(|at| format!(" ({at})")).unwrap_or_default()
            ),
            other => writeln!(out, "  end     {}", other.describe()),
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_are_named_as_ipxe_flag_takes_them() {
        assert_eq!(IpxeBuild::NAMES, ["debian-2019", "2.0", "custom"]);
        assert_eq!(IpxeBuild::parse("2.0.0"), Some(IpxeBuild::V2));
        for &build in IpxeBuild::ALL {
            assert_eq!(IpxeBuild::parse(build.name()), Some(build));
        }
        assert_eq!(IpxeBuild::parse("2"), None);
    }
}
