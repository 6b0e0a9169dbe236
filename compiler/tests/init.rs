//! `netbootc init`: the site it writes passes `check`, `fmt --check` and `build`, and its
//! machine boots in the simulator on every firmware class it was given a build for; an
//! existing site is never overwritten; values that could change the KDL's shape are refused.

mod common;

use common::{Test, sha256_hex};

const UNDIONLY: &[u8] = b"a BIOS first-stage iPXE";
const SNPONLY: &[u8] = b"an x86_64 UEFI first-stage iPXE";
const ARM64: &[u8] = b"an arm64 UEFI first-stage iPXE, built from source";

/// `init` into `<temp>/site` with the kernel, initrd and iPXE builds in the temp dir.
fn init(extra: &[&str]) -> Test {
    Test::bare()
        .file("downloads/vmlinuz", common::KERNEL)
        .file("downloads/initrd.img", b"an initrd")
        .file("ipxe/undionly.kpxe", UNDIONLY)
        .file("ipxe/snponly.efi", SNPONLY)
        .no_config()
        .args([
            "init",
            "site",
            "--origin",
            "https://boot.example.net",
            "--mac",
            "52-54-00-12-34-AB",
            "--kernel",
            "downloads/vmlinuz",
            "--initrd",
            "downloads/initrd.img",
        ])
        .args(extra)
}

#[test]
fn the_site_it_writes_checks_builds_and_boots() {
    let out = init(&["--pi", "192.168.1.2", "--ipxe-dir", "ipxe"])
        .file("ipxe-src/bin-arm64-efi/snp.efi", ARM64)
        .args(["--boot-file", "uefi-arm64=ipxe-src/bin-arm64-efi/snp.efi"])
        .run();
    insta::assert_snapshot!(out.stdout_redacted());
    let site = out.path().join("site");
    let kdl = std::fs::read_to_string(site.join("profiles/site.kdl")).expect("site.kdl");
    assert!(
        kdl.contains("chain \"via-proxy\" proxy=\"http://192.168.1.2:8080\""),
        "{kdl}"
    );
    assert!(
        kdl.contains(&format!(
            "boot-file \"undionly.kpxe\" path=\"bootfiles/undionly.kpxe\" sha256=\"{}\" firmware=\"bios\"",
            sha256_hex(UNDIONLY)
        )),
        "{kdl}"
    );
    assert!(
        kdl.contains(&format!(
            "boot-file \"snp.efi\" path=\"bootfiles/snp.efi\" sha256=\"{}\" firmware=\"uefi-arm64\"",
            sha256_hex(ARM64)
        )),
        "{kdl}"
    );
    // Debian's builds have no `sha256sum`: the site says so, or UEFI scripts would run it.
    for class in ["bios", "uefi-x86_64"] {
        assert!(
            kdl.contains(&format!("ipxe-build \"debian-2019\" firmware=\"{class}\"")),
            "{kdl}"
        );
    }
    assert!(
        !kdl.contains("ipxe-build \"debian-2019\" firmware=\"uefi-arm64\""),
        "{kdl}"
    );
    let machine = std::fs::read_to_string(site.join("machines/machine-01.kdl")).expect("machine");
    assert!(machine.contains("mac \"52:54:00:12:34:ab\""), "{machine}");

    let out = out
        .again()
        .config(&site)
        .args(["check", "--deny-warnings"])
        .run();
    let out = out.again().config(&site).args(["fmt", "--check"]).run();
    let out = out.again().config(&site).args(["build"]).run();
    let manifest = std::fs::read_to_string(site.join("out/manifest.json")).expect("manifest");
    assert!(manifest.contains("tftp/undionly.kpxe"), "{manifest}");
    assert!(
        manifest.contains("machines/by-mac/52-54-00-12-34-ab.ipxe"),
        "{manifest}"
    );
    let out = out
        .again()
        .config(&site)
        .args(["simulate", "52:54:00:12:34:ab"])
        .run();
    assert_eq!(
        out.stdout.matches("as configured: profile linux").count(),
        2,
        "{}",
        out.stdout
    );
}

#[test]
fn direct_mode_without_ipxe_builds_checks_and_says_what_is_missing() {
    let out = init(&["--chain", "direct"]).run();
    assert!(out.stdout.contains("first-stage iPXE"), "{}", out.stdout);
    assert!(
        out.stdout.contains("direct mode: build iPXE"),
        "{}",
        out.stdout
    );
    let site = out.path().join("site");
    let kdl = std::fs::read_to_string(site.join("profiles/site.kdl")).expect("site.kdl");
    assert!(kdl.contains("chain \"direct\""), "{kdl}");
    assert!(!kdl.contains("boot-file"), "{kdl}");
    out.again().config(&site).args(["check"]).run();
}

#[test]
fn an_existing_site_is_never_overwritten() {
    let out = init(&["--pi", "192.168.1.2"]).run();
    let site = out.path().join("site");
    let before = common::snapshot_tree(&site);
    let out = out
        .again()
        .no_config()
        .args([
            "init",
            "site",
            "--origin",
            "https://other.example.net",
            "--pi",
            "10.0.0.2",
        ])
        .args([
            "--mac",
            "52:54:00:00:00:01",
            "--kernel",
            "downloads/vmlinuz",
            "--initrd",
        ])
        .arg("downloads/initrd.img")
        .expect_exit(2)
        .run();
    assert!(out.stderr.contains("never overwrites"), "{}", out.stderr);
    assert_eq!(common::snapshot_tree(&site), before);
}

#[test]
fn values_that_would_change_the_kdl_are_refused_before_anything_is_written() {
    for (extra, message) in [
        (
            &["--pi", "10.0.0.2", "--machine", "../escape"][..],
            "--machine ../escape",
        ),
        (&["--pi", "10.0.0.2", "--cmdline", "a\" b"][..], "--cmdline"),
        (&[][..], "--pi <IPV4>"),
        (
            &["--chain", "direct", "--pi", "10.0.0.2"][..],
            "--pi is for --chain via-proxy",
        ),
        (
            &["--pi", "10.0.0.2", "--ipxe-dir", "downloads"][..],
            "none of undionly.kpxe",
        ),
        (
            &[
                "--pi",
                "10.0.0.2",
                "--ipxe-dir",
                "ipxe",
                "--boot-file",
                "bios=ipxe/undionly.kpxe",
            ][..],
            "bios has a build already",
        ),
        (
            &[
                "--pi",
                "10.0.0.2",
                "--boot-file",
                "coreboot=ipxe/undionly.kpxe",
            ][..],
            "CLASS one of bios",
        ),
    ] {
        let out = init(extra).expect_exit(2).run();
        assert!(out.stderr.contains(message), "{extra:?}: {}", out.stderr);
        assert!(
            !out.path().join("site").exists(),
            "{extra:?} wrote something"
        );
    }
    let out = Test::bare()
        .no_config()
        .args([
            "init",
            "site",
            "--origin",
            "https://boot.example.net",
            "--pi",
            "10.0.0.2",
        ])
        .args([
            "--mac",
            "52:54:00:00:00:01",
            "--initrd",
            "https://example.net/initrd",
        ])
        .args([
            "--initrd-sha256",
            &"ab".repeat(32),
            "--kernel",
            "https://example.net/k",
        ])
        .expect_exit(2)
        .run();
    assert!(
        out.stderr.contains("--kernel-sha256 <64 hex>"),
        "{}",
        out.stderr
    );
}
