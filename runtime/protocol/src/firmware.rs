//! Firmware classes, CPU architectures, and which firmware gets which file and how a DHCP
//! answer says it.
//!
//! A PXE or UEFI HTTP Boot client says what it is in DHCP option 93, the client system
//! architecture type (RFC 4578; IANA "Processor Architecture Types"). The site declares an
//! iPXE build per class; the manifest maps each class to the route of its file (SPEC.md
//! §5). `netbootc dhcp-config` writes router configurations from [`BootFileAnswer`], and
//! the proxy's proxyDHCP answers with it.

use strum::{EnumString, IntoStaticStr, VariantArray, VariantNames};

use crate::routes;

/// A class of firmware that needs its own iPXE build. Its name is what the KDL
/// (`firmware="…"`) and the manifest say.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumString,
    IntoStaticStr,
    VariantArray,
    VariantNames,
)]
pub enum Firmware {
    /// Legacy BIOS PXE (a NIC option ROM): `undionly.kpxe`.
    #[strum(serialize = "bios")]
    Bios,
    /// UEFI on x86_64: `ipxe.efi` or `snponly.efi`.
    #[strum(serialize = "uefi-x86_64")]
    UefiX86_64,
    /// UEFI on arm64: an arm64 `snp.efi`.
    #[strum(serialize = "uefi-arm64")]
    UefiArm64,
}

/// How a client fetches its boot file, and how a request reached the proxy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantArray, VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum Transport {
    /// PXE: the file by name from the TFTP next-server.
    Tftp,
    /// UEFI HTTP Boot: the file by URL (and the answer must say `HTTPClient`).
    Http,
}

/// A CPU architecture: a profile's `arch`, and what an iPXE build can start.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumString,
    IntoStaticStr,
    VariantArray,
    VariantNames,
)]
pub enum Arch {
    #[strum(serialize = "x86_64")]
    X86_64,
    #[strum(serialize = "arm64")]
    Arm64,
}

crate::serde_by_name!(Firmware, Transport, Arch);

impl Firmware {
    /// The option-93 architecture types of this class's clients, by transport: 0 for BIOS
    /// PXE; 7 and 9 for x86_64 UEFI PXE (9 is what many firmwares send, 7 the standard
    /// value), 16 for x86_64 UEFI HTTP Boot; 11 for arm64 UEFI PXE, 19 for its HTTP Boot.
    pub fn arch_types(self, transport: Transport) -> &'static [u16] {
        match (self, transport) {
            (Self::Bios, Transport::Tftp) => &[0],
            (Self::Bios, Transport::Http) => &[],
            (Self::UefiX86_64, Transport::Tftp) => &[7, 9],
            (Self::UefiX86_64, Transport::Http) => &[16],
            (Self::UefiArm64, Transport::Tftp) => &[11],
            (Self::UefiArm64, Transport::Http) => &[19],
        }
    }

    /// The class and transport of a client that sends option-93 type `arch_type`.
    pub fn from_arch_type(arch_type: u16) -> Option<(Self, Transport)> {
        use crate::Named;
        Self::ALL.iter().find_map(|&f| {
            Transport::ALL
                .iter()
                .find(|&&t| f.arch_types(t).contains(&arch_type))
                .map(|&t| (f, t))
        })
    }

    /// The CPU architecture whose kernels an iPXE of this class can start. BIOS iPXE is
    /// an i386 build, but it starts x86_64 kernels on 64-bit CPUs.
    pub fn cpu_arch(self) -> Arch {
        match self {
            Self::Bios | Self::UefiX86_64 => Arch::X86_64,
            Self::UefiArm64 => Arch::Arm64,
        }
    }

    /// The name a router configuration tags this class's clients with (`efi-x86_64`).
    pub fn dhcp_tag(self) -> &'static str {
        match self {
            Self::Bios => "bios",
            Self::UefiX86_64 => "efi-x86_64",
            Self::UefiArm64 => "efi-arm64",
        }
    }
}

impl std::fmt::Display for Firmware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::Named::name(*self))
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::Named::name(*self))
    }
}

impl Arch {
    /// The UEFI firmware class of machines of this architecture.
    pub fn uefi(self) -> Firmware {
        match self {
            Self::X86_64 => Firmware::UefiX86_64,
            Self::Arm64 => Firmware::UefiArm64,
        }
    }
}

impl Transport {
    /// The vendor class (option 60) a DHCP answer to a client of this transport carries:
    /// UEFI HTTP Boot ignores an answer without `HTTPClient`.
    pub fn vendor_class(self) -> &'static str {
        match self {
            Self::Tftp => "PXEClient",
            Self::Http => "HTTPClient",
        }
    }
}

/// Which file a DHCP answer gives a booting client, and how: the one home of that policy,
/// for router configurations (`netbootc dhcp-config`) and the proxy's proxyDHCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFileAnswer {
    pub firmware: Firmware,
    pub transport: Transport,
    /// The boot file field (option 67): a TFTP name, or a URL for HTTP Boot.
    pub file: String,
}

impl BootFileAnswer {
    /// The answer for `firmware` over `transport`, whose site's boot file is the TFTP file
    /// `name`; HTTP Boot clients fetch its route under `http_base` (no trailing slash).
    pub fn new(firmware: Firmware, transport: Transport, name: &str, http_base: &str) -> Self {
        match transport {
            Transport::Tftp => Self::pxe(firmware, name),
            Transport::Http => Self::http_boot(firmware, name, http_base),
        }
    }

    /// PXE: the TFTP file `name`, from the next-server.
    pub fn pxe(firmware: Firmware, name: &str) -> Self {
        Self {
            firmware,
            transport: Transport::Tftp,
            file: name.to_owned(),
        }
    }

    /// UEFI HTTP Boot: the URL of TFTP file `name`'s route under `http_base`.
    pub fn http_boot(firmware: Firmware, name: &str, http_base: &str) -> Self {
        Self {
            firmware,
            transport: Transport::Http,
            file: format!("{http_base}/{}", routes::tftp(name)),
        }
    }

    /// The file iPXE itself (DHCP user class `iPXE`, whatever loaded it) gets: the
    /// dispatcher's URL under `base` (no trailing slash), so nothing loops.
    pub fn dispatcher_url(base: &str) -> String {
        format!("{base}/{}", routes::DISPATCHER)
    }

    pub fn vendor_class(&self) -> &'static str {
        self.transport.vendor_class()
    }

    /// The vendor class a router must add to its answer, which it would not send on its
    /// own: UEFI HTTP Boot ignores an offer without `HTTPClient`, PXE takes any.
    pub fn vendor_class_to_force(&self) -> Option<&'static str> {
        match self.transport {
            Transport::Tftp => None,
            Transport::Http => Some(self.vendor_class()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Named;

    #[test]
    fn option_93_types_map_to_one_class_each() {
        let expect = [
            (0, Firmware::Bios, Transport::Tftp),
            (7, Firmware::UefiX86_64, Transport::Tftp),
            (9, Firmware::UefiX86_64, Transport::Tftp),
            (11, Firmware::UefiArm64, Transport::Tftp),
            (16, Firmware::UefiX86_64, Transport::Http),
            (19, Firmware::UefiArm64, Transport::Http),
        ];
        for (code, firmware, transport) in expect {
            assert_eq!(Firmware::from_arch_type(code), Some((firmware, transport)));
        }
        for unknown in [1, 6, 10, 12, 15, 20, 0xffff] {
            assert_eq!(Firmware::from_arch_type(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn names_are_the_ones_in_kdl_json_and_manifests() {
        assert_eq!(Firmware::NAMES, ["bios", "uefi-x86_64", "uefi-arm64"]);
        assert_eq!(Arch::NAMES, ["x86_64", "arm64"]);
        assert_eq!(Transport::NAMES, ["tftp", "http"]);
        for &f in Firmware::ALL {
            assert_eq!(Firmware::parse(f.name()), Some(f));
            assert_eq!(f.to_string(), f.name());
        }
        assert_eq!(Firmware::parse("UEFI-X86_64"), None, "names are exact");
        assert_eq!(
            serde_json::to_string(&Firmware::UefiArm64).ok().as_deref(),
            Some("\"uefi-arm64\"")
        );
        assert_eq!(
            serde_json::from_str::<Arch>("\"arm64\"").ok(),
            Some(Arch::Arm64)
        );
        let wrong = serde_json::from_str::<Arch>("\"aarch64\"")
            .err()
            .map(|e| e.to_string());
        assert!(
            wrong
                .as_deref()
                .is_some_and(|e| e.contains("expected `x86_64` or `arm64`")),
            "{wrong:?}"
        );
    }

    #[test]
    fn pxe_gets_a_tftp_name_and_http_boot_a_url_with_its_vendor_class() {
        let pxe = BootFileAnswer::new(
            Firmware::UefiX86_64,
            Transport::Tftp,
            "ipxe.efi",
            "http://10.0.0.2:8080",
        );
        assert_eq!(
            (pxe.file.as_str(), pxe.vendor_class()),
            ("ipxe.efi", "PXEClient")
        );
        let http = BootFileAnswer::new(
            Firmware::UefiX86_64,
            Transport::Http,
            "ipxe.efi",
            "http://10.0.0.2:8080",
        );
        assert_eq!(
            (http.file.as_str(), http.vendor_class()),
            ("http://10.0.0.2:8080/tftp/ipxe.efi", "HTTPClient")
        );
        assert_eq!(pxe.vendor_class_to_force(), None);
        assert_eq!(http.vendor_class_to_force(), Some("HTTPClient"));
        assert_eq!(
            BootFileAnswer::dispatcher_url("http://10.0.0.2:8080"),
            "http://10.0.0.2:8080/boot.ipxe"
        );
    }
}
