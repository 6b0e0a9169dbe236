//! Firmware classes: which first-stage boot file a network-booting machine needs.
//!
//! A PXE or UEFI HTTP Boot client says what it is in DHCP option 93, the client system
//! architecture type (RFC 4578; IANA "Processor Architecture Types"). The site declares an
//! iPXE build per class; the manifest maps each class to the route of its file (SPEC.md
//! §5), and router configurations and the proxy's DHCP answers pick it by option 93.

use std::fmt;

/// A class of firmware that needs its own iPXE build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Firmware {
    /// Legacy BIOS PXE (a NIC option ROM): `undionly.kpxe`.
    Bios,
    /// UEFI on x86_64: `ipxe.efi` or `snponly.efi`.
    UefiX86_64,
    /// UEFI on arm64: an arm64 `snp.efi`.
    UefiArm64,
}

/// How a client fetches its boot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// PXE: the file by name from the TFTP next-server.
    Tftp,
    /// UEFI HTTP Boot: the file by URL (and the answer must say `HTTPClient`).
    Http,
}

impl Firmware {
    pub const ALL: [Self; 3] = [Self::Bios, Self::UefiX86_64, Self::UefiArm64];
    pub const NAMES: [&'static str; 3] = ["bios", "uefi-x86_64", "uefi-arm64"];

    /// The name used in the KDL (`firmware="…"`) and in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bios => "bios",
            Self::UefiX86_64 => "uefi-x86_64",
            Self::UefiArm64 => "uefi-arm64",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

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
        Self::ALL.into_iter().find_map(|f| {
            [Transport::Tftp, Transport::Http]
                .into_iter()
                .find(|&t| f.arch_types(t).contains(&arch_type))
                .map(|t| (f, t))
        })
    }

    /// The CPU architecture (a profile's `arch`) whose kernels an iPXE of this class can
    /// start. BIOS iPXE is an i386 build, but it starts x86_64 kernels on 64-bit CPUs.
    pub fn cpu_arch(self) -> &'static str {
        match self {
            Self::Bios | Self::UefiX86_64 => "x86_64",
            Self::UefiArm64 => "arm64",
        }
    }
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for f in Firmware::ALL {
            assert_eq!(Firmware::parse(f.name()), Some(f));
        }
        assert_eq!(Firmware::NAMES, Firmware::ALL.map(Firmware::name));
    }
}
