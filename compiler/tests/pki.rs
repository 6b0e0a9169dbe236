//! `netbootc pki`: the certificates it issues, read and verified by openssl (the peer every
//! TLS stack agrees with): the CA's constraints, each leaf's key usage, EKU, names and key
//! type, owner-only keys; revocation through the CRL (`openssl verify -crl_check`);
//! renewal with a new key and serial; nothing replaced without being asked.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{Output, Test};

fn openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn text(dir: &Path, cert: &str) -> String {
    let (ok, text) = openssl(&["x509", "-noout", "-text", "-in", cert], dir);
    assert!(ok, "{text}");
    text
}

/// `openssl verify` of `cert` against the CA, with the CRL when `crl`.
fn verify(dir: &Path, cert: &str, crl: bool) -> (bool, String) {
    let mut args = vec!["verify", "-CAfile", "pki/ca.pem"];
    if crl {
        args.extend(["-crl_check", "-CRLfile", "pki/crl.pem"]);
    }
    args.push(cert);
    openssl(&args, dir)
}

fn pki(out: Output, args: &[&str]) -> Output {
    out.again().no_config().arg("pki").args(args).run()
}

fn issued_fleet() -> Output {
    let out = Test::bare().no_config().args(["pki", "init", "pki"]).run();
    let out = pki(
        out,
        &["server", "pki", "boot.example.net", "--san", "192.0.2.10"],
    );
    let out = pki(out, &["client", "pki", "pi"]);
    pki(out, &["client", "pki", "ipxe", "--rsa"])
}

#[test]
fn the_ca_and_each_certificate_are_what_their_role_needs() {
    let out = issued_fleet();
    let dir = out.path();
    for cert in ["pki/boot.example.net.pem", "pki/pi.pem", "pki/ipxe.pem"] {
        let (ok, text) = verify(dir, cert, true);
        assert!(ok, "{cert}: {text}");
    }
    let ca = text(dir, "pki/ca.pem");
    assert!(ca.contains("CA:TRUE, pathlen:0"), "{ca}");
    assert!(ca.contains("Certificate Sign, CRL Sign"), "{ca}");
    assert!(ca.contains("Public-Key: (3072 bit)"), "{ca}");

    let server = text(dir, "pki/boot.example.net.pem");
    assert!(server.contains("TLS Web Server Authentication"), "{server}");
    assert!(
        !server.contains("TLS Web Client Authentication"),
        "{server}"
    );
    assert!(
        server.contains("DNS:boot.example.net, IP Address:192.0.2.10"),
        "{server}"
    );
    assert!(server.contains("prime256v1"), "{server}");

    let pi = text(dir, "pki/pi.pem");
    assert!(pi.contains("TLS Web Client Authentication"), "{pi}");
    assert!(!pi.contains("TLS Web Server Authentication"), "{pi}");
    assert!(!pi.contains("CA:TRUE"), "{pi}");

    let ipxe = text(dir, "pki/ipxe.pem");
    assert!(ipxe.contains("Public-Key: (2048 bit)"), "{ipxe}");
    assert!(
        ipxe.contains("Digital Signature, Key Encipherment"),
        "{ipxe}"
    );

    for key in ["ca.key", "boot.example.net.key", "pi.key", "ipxe.key"] {
        let mode = fs::metadata(dir.join("pki").join(key))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    assert!(!out.stdout.contains("PRIVATE KEY"), "{}", out.stdout);
}

#[test]
fn revoked_certificates_fail_the_crl_check_and_renewal_issues_a_new_one() {
    let out = pki(issued_fleet(), &["revoke", "pki", "pi"]);
    let dir = out.path().to_owned();
    let (ok, text) = verify(&dir, "pki/pi.pem", true);
    assert!(!ok && text.contains("certificate revoked"), "{text}");
    let (ok, text) = verify(&dir, "pki/ipxe.pem", true);
    assert!(ok, "{text}");
    let (ok, crl) = openssl(&["crl", "-noout", "-text", "-in", "pki/crl.pem"], &dir);
    assert!(ok && crl.contains("Key Compromise"), "{crl}");
    assert!(
        crl.contains("X509v3 CRL Number: \n                2"),
        "{crl}"
    );

    let old = fs::read(dir.join("pki/pi.pem")).expect("pi.pem");
    let out = out
        .again()
        .no_config()
        .args(["pki", "client", "pki", "pi"])
        .expect_exit(2)
        .run();
    assert!(out.stderr.contains("--renew"), "{}", out.stderr);
    assert_eq!(fs::read(dir.join("pki/pi.pem")).expect("pi.pem"), old);

    let out = pki(out, &["client", "pki", "pi", "--renew"]);
    assert_ne!(fs::read(dir.join("pki/pi.pem")).expect("pi.pem"), old);
    let (ok, text) = verify(&dir, "pki/pi.pem", true);
    assert!(ok, "the renewed certificate: {text}");

    let out = out
        .again()
        .no_config()
        .args(["pki", "revoke", "pki", "nobody"])
        .expect_exit(2)
        .run();
    assert!(
        out.stderr.contains("no certificate named nobody"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_ca_is_never_replaced_and_names_stay_in_the_directory() {
    let out = Test::bare().no_config().args(["pki", "init", "pki"]).run();
    let ca = fs::read(out.path().join("pki/ca.pem")).expect("ca.pem");
    let out = out
        .again()
        .no_config()
        .args(["pki", "init", "pki"])
        .expect_exit(2)
        .run();
    assert!(out.stderr.contains("never replaces"), "{}", out.stderr);
    assert_eq!(fs::read(out.path().join("pki/ca.pem")).expect("ca.pem"), ca);
    for name in ["../escape", "ca", ".hidden", "a/b"] {
        let refused = Test::with_tempdir(tempfile::tempdir().expect("tempdir"))
            .no_config()
            .args([
                "pki",
                "client",
                out.path().join("pki").to_str().expect("utf-8"),
                name,
            ])
            .expect_exit(2)
            .run();
        assert!(
            refused.stderr.contains("a certificate's name"),
            "{name}: {}",
            refused.stderr
        );
    }
}

#[test]
fn the_crl_lists_only_revoked_certificates_that_have_not_expired() {
    let out = Test::bare().no_config().args(["pki", "init", "pki"]).run();
    let out = pki(out, &["client", "pki", "expired", "--days", "0"]);
    let out = pki(out, &["client", "pki", "live"]);
    let out = pki(out, &["revoke", "pki", "expired"]);
    let (ok, crl) = openssl(
        &["crl", "-noout", "-text", "-in", "pki/crl.pem"],
        out.path(),
    );
    assert!(ok && crl.contains("No Revoked Certificates"), "{crl}");
    let out = pki(out, &["revoke", "pki", "live", "--reason", "superseded"]);
    let (ok, crl) = openssl(
        &["crl", "-noout", "-text", "-in", "pki/crl.pem"],
        out.path(),
    );
    assert!(ok && crl.contains("Superseded"), "{crl}");
    assert_eq!(crl.matches("Serial Number:").count(), 1, "{crl}");
}
