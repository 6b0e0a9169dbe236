//! Secure Boot verification against real signatures: a minimal PE32+ EFI application made
//! here, certificates made by openssl, Authenticode signatures made by sbsign (Debian's
//! sbsigntool, the tool the LAN rows sign with), and `netbootc check`/`build` deciding
//! each image as the firmware or a shim would. One snapshot per refusal.

mod common;

use common::secure_boot::{config, minimal_efi, test_pki};
use common::{KERNEL, MACHINE_KDL, Test, sha256_hex};
use insta::assert_snapshot;

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
    let checked = test.args(["check"]).run();
    // explain names each image's signer, per stage, in the order the machine runs them.
    let explained = checked.again().args(["explain", "node-01"]).run().stdout;
    let signer = "signed by `CN=Test Signer`, trusted through `CN=Test Secure Boot CA`";
    let firmware_runs = |role: &str| format!("secure-boot firmware runs {role}: {signer}");
    let (ipxe_at, kernel_at) = (
        explained
            .find(&firmware_runs("ipxe.efi"))
            .expect(&explained),
        explained.find(&firmware_runs("kernel")).expect(&explained),
    );
    assert!(ipxe_at < kernel_at, "{explained}");
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
    // proxyDHCP finds the Secure Boot machine's first stage by its MAC.
    assert_eq!(
        manifest["secure_boot"],
        serde_json::json!({"52-54-00-aa-00-01": "tftp/ipxe.efi"}),
        "{manifest}"
    );
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
    let test = config(&ipxe, &minimal_efi(), &pki.read("db.pem"));
    // simulate refuses it too, with the words the console shows (LAN row 14).
    let simulated = test.args(["simulate", "node-01"]).expect_exit(1).run();
    assert!(
        simulated.stdout.contains("FAILS   Secure Boot: the firmware refuses `kernel` (it has no Authenticode signature): \"Could not boot: Error 0x7f04818f (https://ipxe.org/7f04818f)\""),
        "{}",
        simulated.stdout
    );
    // Its script runs to `boot`, which the firmware refuses: the script says so and asks the
    // Pi for `refused/secure-boot/kernel` (so the boot status says refused), then reboots.
    for expected in [
        "boot failed (error 0x7f04818f), attempt 0",
        "REFUSED by Secure Boot: the firmware would not run the kernel (no signature it trusts)",
        "→ 404: no route refused/secure-boot/kernel",
    ] {
        assert!(
            simulated.stdout.contains(expected),
            "{expected}: {}",
            simulated.stdout
        );
    }
    let stderr = refused(simulated.again(), "check");
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
