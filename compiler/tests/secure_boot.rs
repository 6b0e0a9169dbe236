//! Secure Boot verification against real signatures: a minimal PE32+ EFI application made
//! here, certificates made by openssl, Authenticode signatures made by sbsign (Debian's
//! sbsigntool, the tool the LAN rows sign with), and `netbootc check`/`build` deciding
//! each image as the firmware or a shim would. One snapshot per refusal.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{KERNEL, MACHINE_KDL, Test, sha256_hex};
use insta::assert_snapshot;

/// A PE32+ EFI application with one `.text` section holding `ret`: the smallest image
/// sbsign signs and a verifier parses (headers in 0x200 bytes, the section in the next).
fn minimal_efi() -> Vec<u8> {
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
struct Pki {
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
    fn ca(&self, name: &str, common_name: &str) -> &Self {
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
    fn signer(&self, name: &str, common_name: &str, ca: &str, days: i32) -> &Self {
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
    fn sign(&self, image: &[u8], name: &str) -> Vec<u8> {
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

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read")
    }
}

/// A site whose x86_64 Secure Boot machines start `ipxe.efi` and trust `db.pem`, a profile
/// booting `kernel.efi`, and the base machine with Secure Boot on.
fn config(ipxe: &[u8], kernel: &[u8], db: &[u8]) -> Test {
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
fn test_pki() -> Pki {
    let pki = Pki::new();
    pki.ca("db", "Test Secure Boot CA")
        .signer("signer", "Test Signer", "db", 3650);
    pki
}

fn refused(test: Test, command: &str) -> String {
    let out = test.args([command]).expect_exit(1).run();
    assert!(
        out.stderr.contains("netbootc::secure-boot-refused"),
        "{}",
        out.stderr
    );
    out.stderr
}

#[test]
fn a_chain_signed_by_a_key_the_db_trusts_passes_check_and_build_with_autoexec() {
    let pki = test_pki();
    let signed = pki.sign(&minimal_efi(), "signer");
    let test = config(&signed, &signed, &pki.read("db.pem"));
    test.args(["check"]).run();
    let pki_other = test_pki();
    let out = config(&signed, &signed, &pki.read("db.pem"))
        .args(["build"])
        .run();
    // The signed iPXE cannot embed a script: it runs autoexec.ipxe, which chains the dispatcher.
    let bundle = out.path().join("out");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).expect("manifest"))
            .expect("JSON");
    let autoexec = manifest["routes"]["tftp/autoexec.ipxe"]["object"]
        .as_str()
        .expect("autoexec.ipxe route");
    let hex = autoexec.trim_start_matches("sha256:");
    let script = std::fs::read_to_string(bundle.join("objects/sha256").join(hex))
        .expect("autoexec.ipxe object");
    assert!(script.starts_with("#!ipxe\n"), "{script}");
    assert!(
        script.contains("chain --autofree https://boot.example.com/boot.ipxe"),
        "{script}"
    );
    // The same image, a db holding another CA: refused, so the pass above was the db's doing.
    let stderr = refused(config(&signed, &signed, &pki_other.read("db.pem")), "check");
    assert!(
        stderr.contains("`CN=Test Signer` (issued by `CN=Test Secure Boot CA`) is not trusted"),
        "{stderr}"
    );
}

#[test]
fn secure_boot_refused_unsigned_kernel() {
    let pki = test_pki();
    let ipxe = pki.sign(&minimal_efi(), "signer");
    let stderr = refused(config(&ipxe, &minimal_efi(), &pki.read("db.pem")), "check");
    assert_snapshot!(redact_digests(&stderr));
}

#[test]
fn secure_boot_refused_digest_mismatch_after_a_byte_flip() {
    let pki = test_pki();
    let ipxe = pki.sign(&minimal_efi(), "signer");
    let mut kernel = ipxe.clone();
    kernel[0x200] ^= 0xff; // the code, after signing
    let stderr = refused(config(&ipxe, &kernel, &pki.read("db.pem")), "build");
    assert!(stderr.contains("signed digest"), "{stderr}");
    assert_snapshot!(redact_digests(&stderr));
}

#[test]
fn secure_boot_refused_signer_not_chaining_names_the_certificate_needed() {
    let pki = test_pki();
    pki.ca("other", "Another CA")
        .signer("stranger", "Stranger", "other", 3650);
    let ipxe = pki.sign(&minimal_efi(), "signer");
    let kernel = pki.sign(&minimal_efi(), "stranger");
    let stderr = refused(config(&ipxe, &kernel, &pki.read("db.pem")), "check");
    assert_snapshot!(redact_digests(&stderr));
}

#[test]
fn secure_boot_refused_not_pe() {
    let pki = test_pki();
    let ipxe = pki.sign(&minimal_efi(), "signer");
    let stderr = refused(config(&ipxe, KERNEL, &pki.read("db.pem")), "check");
    assert_snapshot!(redact_digests(&stderr));
}

#[test]
fn secure_boot_expired_signer_is_a_warning() {
    let pki = test_pki();
    pki.signer("old", "Old Signer", "db", -1);
    let ipxe = pki.sign(&minimal_efi(), "signer");
    let kernel = pki.sign(&minimal_efi(), "old");
    let out = config(&ipxe, &kernel, &pki.read("db.pem"))
        .args(["check"])
        .run();
    assert!(
        out.stderr.contains("netbootc::secure-boot-expired"),
        "{}",
        out.stderr
    );
    assert_snapshot!(redact_digests(&redact_dates(&out.stderr)));
}

#[test]
fn secure_boot_chain_without_a_secure_boot_boot_file() {
    let pki = test_pki();
    let signed = pki.sign(&minimal_efi(), "signer");
    let test = config(&signed, &signed, &pki.read("db.pem"));
    let site = format!(
        "site {{\n    origin \"https://boot.example.com\"\n    boot-file \"ipxe.efi\" path=\"images/ipxe.efi\" sha256=\"{}\" firmware=\"uefi-x86_64\"\n}}\n",
        sha256_hex(&signed)
    );
    let out = test
        .file("profiles/site.kdl", site)
        .args(["check"])
        .expect_exit(1)
        .run();
    assert!(
        out.stderr.contains("netbootc::secure-boot-chain"),
        "{}",
        out.stderr
    );
    assert_snapshot!(redact_digests(&out.stderr));
}

#[test]
fn a_machine_without_secure_boot_is_not_verified() {
    let pki = test_pki();
    let ipxe = pki.sign(&minimal_efi(), "signer");
    let test = config(&ipxe, &minimal_efi(), &pki.read("db.pem"));
    test.file("machines/rack-a.kdl", MACHINE_KDL)
        .args(["check"])
        .run();
}

#[test]
fn a_shim_loads_its_ipxe_and_the_profile_shim_verifies_the_kernel_with_its_vendor_cert() {
    let pki = test_pki();
    pki.ca("vendor", "Distribution CA")
        .signer("distro", "Distribution Signer", "vendor", 3650);
    let by_db = pki.sign(&minimal_efi(), "signer");
    let kernel = pki.sign(&minimal_efi(), "distro");
    let (db, vendor) = (pki.read("db.pem"), pki.read("vendor.pem"));
    let digest = sha256_hex(&by_db);
    let site = |vendor_cert: &str| {
        format!(
            "site {{\n    origin \"https://boot.example.com\"\n    boot-file \"ipxe-shim.efi\" path=\"images/ipxe.efi\" sha256=\"{digest}\" firmware=\"uefi-x86_64\" secure-boot=#true\n    boot-file \"ipxe.efi\" path=\"images/ipxe.efi\" sha256=\"{digest}\"\n    secure-boot {{\n        db path=\"keys/db.pem\" sha256=\"{}\"\n{vendor_cert}    }}\n}}\n",
            sha256_hex(&db)
        )
    };
    let profile = format!(
        "profile \"flatcar-stable\" {{\n    arch \"x86_64\"\n    shim path=\"images/ipxe.efi\" sha256=\"{digest}\"\n    kernel path=\"images/kernel.efi\" sha256=\"{}\"\n}}\n",
        sha256_hex(&kernel)
    );
    let with_vendor = format!(
        "        vendor-cert path=\"keys/vendor.pem\" sha256=\"{}\"\n",
        sha256_hex(&vendor)
    );
    let out = config(&by_db, &kernel, &db)
        .file("profiles/site.kdl", site(&with_vendor))
        .file("profiles/flatcar.kdl", profile.clone())
        .file("profiles/keys/vendor.pem", &vendor)
        .args(["check"])
        .run();
    // The machine's script loads the distribution shim, then the kernel it verifies.
    let script = out.again().args(["render", "node-01"]).run().stdout;
    let shim_at = script
        .find("\nshim https://boot.example.com/objects/sha256/")
        .expect(&script);
    let kernel_at = script.find("\nkernel ").expect(&script);
    assert!(shim_at < kernel_at, "{script}");
    // Without the vendor certificate only db decides, and db does not know the distribution.
    let stderr = refused(
        config(&by_db, &kernel, &db)
            .file("profiles/site.kdl", site(""))
            .file("profiles/flatcar.kdl", profile),
        "check",
    );
    assert!(
        stderr.contains("the shim stage would refuse `kernel`"),
        "{stderr}"
    );
}

/// Digests of images signed in this run differ per run (fresh keys): keep their place.
fn redact_digests(text: &str) -> String {
    redact_words(
        text,
        |w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()),
        "[SHA256]",
    )
}

/// The expiry date of a certificate made in this run.
fn redact_dates(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.find("expired ") {
            Some(at) => {
                out.push_str(&line[..at + "expired ".len()]);
                out.push_str("[DATE]");
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn redact_words(text: &str, matches: impl Fn(&str) -> bool, with: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
            continue;
        }
        out.push_str(if matches(&word) { with } else { &word });
        word.clear();
        out.push(c);
    }
    out.push_str(if matches(&word) { with } else { &word });
    out
}
