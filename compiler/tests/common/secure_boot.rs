//! Secure Boot fixtures: a minimal PE32+ EFI application, keys and certificates made by
//! openssl, Authenticode signatures made by sbsign (Debian's sbsigntool), and a config whose
//! machine boots with Secure Boot on.

use std::path::PathBuf;
use std::process::Command;

use super::{MACHINE_KDL, Test, sha256_hex};

/// A PE32+ EFI application with one `.text` section holding `ret`: the smallest image
/// sbsign signs and a verifier parses (headers in 0x200 bytes, the section in the next).
pub fn minimal_efi() -> Vec<u8> {
    let mut image = vec![0u8; 0x400];
    let mut put = |at: usize, bytes: &[u8]| image[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"MZ");
    put(0x3c, &0x40u32.to_le_bytes());
    put(0x40, b"PE\0\0");
    // COFF header: x86_64, one section, a PE32+ optional header of 0xf0 bytes, executable.
    put(0x44, &0x8664u16.to_le_bytes());
    put(0x46, &1u16.to_le_bytes());
    put(0x54, &0xf0u16.to_le_bytes());
    put(0x56, &0x22u16.to_le_bytes());
    let opt = 0x58;
    put(opt, &0x20bu16.to_le_bytes()); // PE32+
    put(opt + 4, &0x200u32.to_le_bytes()); // SizeOfCode
    put(opt + 16, &0x1000u32.to_le_bytes()); // AddressOfEntryPoint
    put(opt + 20, &0x1000u32.to_le_bytes()); // BaseOfCode
    put(opt + 24, &0x40_0000u64.to_le_bytes()); // ImageBase
    put(opt + 32, &0x1000u32.to_le_bytes()); // SectionAlignment
    put(opt + 36, &0x200u32.to_le_bytes()); // FileAlignment
    put(opt + 56, &0x2000u32.to_le_bytes()); // SizeOfImage
    put(opt + 60, &0x200u32.to_le_bytes()); // SizeOfHeaders
    put(opt + 68, &10u16.to_le_bytes()); // Subsystem: EFI application
    for (at, size) in [
        (72, 0x10_0000u64),
        (80, 0x1000),
        (88, 0x10_0000),
        (96, 0x1000),
    ] {
        put(opt + at, &size.to_le_bytes()); // stack and heap reserve/commit
    }
    put(opt + 108, &16u32.to_le_bytes()); // NumberOfRvaAndSizes
    let section = opt + 0xf0;
    put(section, b".text\0\0\0");
    put(section + 8, &0x200u32.to_le_bytes()); // VirtualSize
    put(section + 12, &0x1000u32.to_le_bytes()); // VirtualAddress
    put(section + 16, &0x200u32.to_le_bytes()); // SizeOfRawData
    put(section + 20, &0x200u32.to_le_bytes()); // PointerToRawData
    put(section + 36, &0x6000_0020u32.to_le_bytes()); // code, execute, read
    put(0x200, &[0xc3]);
    image
}

/// Keys and certificates made by openssl in a directory of their own.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A self-signed CA `name` (`name.key`, `name.pem`).
    pub fn ca(&self, name: &str, common_name: &str) -> &Self {
        let (key, pem, subject) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/CN={common_name}"),
        );
        self.openssl(&[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &pem,
            "-subj", &subject, "-days", "3650",
        ]);
        self
    }

    /// A signing certificate `name` issued by CA `ca`, valid for `days` (negative: expired).
    pub fn signer(&self, name: &str, common_name: &str, ca: &str, days: i32) -> &Self {
        let (key, csr, pem, subject) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("/CN={common_name}"),
        );
        self.openssl(&[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
            &subject,
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-set_serial",
            "2",
            "-days",
            &days.to_string(),
            "-out",
            &pem,
        ]);
        self
    }

    /// `image` signed by `name`'s key with sbsign.
    pub fn sign(&self, image: &[u8], name: &str) -> Vec<u8> {
        let (input, output) = (self.path("unsigned.efi"), self.path("signed.efi"));
        std::fs::write(&input, image).expect("write image");
        let out = Command::new("sbsign")
            .arg("--key")
            .arg(self.path(&format!("{name}.key")))
            .arg("--cert")
            .arg(self.path(&format!("{name}.pem")))
            .arg("--output")
            .arg(&output)
            .arg(&input)
            .output()
            .expect("run sbsign (Debian sbsigntool)");
        assert!(
            out.status.success(),
            "sbsign: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(output).expect("read signed image")
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read")
    }
}

/// A site whose x86_64 Secure Boot machines start `ipxe.efi` and trust `db.pem`, a profile
/// booting `kernel.efi`, and the base machine with Secure Boot on.
pub fn config(ipxe: &[u8], kernel: &[u8], db: &[u8]) -> Test {
    let site = format!(
        "site {{\n    origin \"https://boot.example.com\"\n    boot-file \"ipxe.efi\" path=\"images/ipxe.efi\" sha256=\"{}\" firmware=\"uefi-x86_64\" secure-boot=#true\n    secure-boot {{\n        db path=\"keys/db.pem\" sha256=\"{}\"\n    }}\n}}\n",
        sha256_hex(ipxe),
        sha256_hex(db)
    );
    let profile = format!(
        "profile \"flatcar-stable\" {{\n    arch \"x86_64\"\n    kernel path=\"images/kernel.efi\" sha256=\"{}\"\n    cmdline \"console=ttyS0\"\n}}\n",
        sha256_hex(kernel)
    );
    let machine = MACHINE_KDL.replace("    profile", "    secure-boot #true\n    profile");
    Test::new()
        .file("profiles/site.kdl", site)
        .file("profiles/flatcar.kdl", profile)
        .file("profiles/images/ipxe.efi", ipxe)
        .file("profiles/images/kernel.efi", kernel)
        .file("profiles/keys/db.pem", db)
        .file("machines/rack-a.kdl", machine)
}

/// The test firmware's db: `Test Secure Boot CA`, which issued the signer `Test Signer`.
pub fn test_pki() -> Pki {
    let pki = Pki::new();
    pki.ca("db", "Test Secure Boot CA")
        .signer("signer", "Test Signer", "db", 3650);
    pki
}
