//! The command line: exit codes, `render`, `fmt`, and inputs that must never panic.

mod common;

use std::fs;

use common::{MACHINE_KDL, Test};

// --- exit codes ---------------------------------------------------------------------------

#[test]
fn clean_config_exits_0() {
    Test::new().base().args(["check"]).expect_exit(0).run();
}

#[test]
fn missing_config_dir_exits_2() {
    let test = Test::new();
    let missing = test.path().join("nowhere");
    test.config(missing)
        .args(["check"])
        .expect_exit(2)
        .expect_stdout("")
        .expect_stderr(
            "error: config directory `[CONFIG]/nowhere` does not exist or lacks `machines/` and `profiles/`\n",
        )
        .run();
}

#[test]
fn config_dir_without_machines_exits_2() {
    Test::bare()
        .dir("profiles")
        .args(["check"])
        .expect_exit(2)
        .run();
}

#[test]
fn bad_format_exits_2() {
    let out = Test::new()
        .base()
        .args(["check", "--format", "bogus"])
        .expect_exit(2)
        .run();
    assert!(
        out.stderr
            .contains("invalid value 'bogus' for '--format <FORMAT>'"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("human, json, github"), "{}", out.stderr);
}

#[test]
fn unknown_subcommand_exits_2() {
    Test::new().base().args(["chekc"]).expect_exit(2).run();
}

#[test]
fn build_with_errors_exits_1_and_writes_nothing() {
    let out = Test::new()
        .base()
        .file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"nope\"\n    profile \"flatcar-stable\"\n}\n",
        )
        .args(["build"])
        .expect_exit(1)
        .run();
    assert!(!out.path().join("out").exists());
}

// --- render -------------------------------------------------------------------------------

/// The built-in arch guard: each `echo` on a line of its own (a block tag at the end of an
/// `echo` line once swallowed the newline and ran two commands together), and the remark
/// about 64-bit mode only where iPXE says i386.
#[test]
fn the_arch_guard_prints_each_line_on_its_own() {
    let out = Test::new()
        .base()
        .args(["render", "node-01"])
        .expect_exit(0)
        .run();
    let script = &out.stdout;
    assert!(script.contains("goto wrong_arch"), "{script}");
    for line in script.lines() {
        assert!(
            line.matches("echo ").count() <= 1,
            "two commands on one line: {line}"
        );
        if line.contains("64-bit mode") {
            assert!(
                line.starts_with("iseq ${buildarch} i386 && echo "),
                "{line}"
            );
        }
    }
    assert!(script.contains("64-bit mode"), "{script}");
}

#[test]
fn render_by_name_mac_and_uuid_agree() {
    let out = Test::new()
        .base()
        .args(["render", "node-01"])
        .expect_exit(0)
        .expect_stderr("")
        .run();
    let script = out.stdout.clone();
    assert!(script.starts_with("#!ipxe\n"), "{script}");
    assert!(script.contains("node-01"), "{script}");
    assert!(
        script.contains("console=ttyS0 hostname=node-01"),
        "{script}"
    );

    // The MAC in another case and with other separators, and the UUID in upper case.
    let out = out
        .again()
        .args(["render", "52-54-00-AA-00-01"])
        .expect_stdout(script.clone())
        .run();
    let out = out
        .again()
        .args(["render", "525400aa0001"])
        .expect_stdout(script.clone())
        .run();
    let out = out
        .again()
        .args(["render", "4C4C4544-0042-3510-8052-B4C04F4D4E31"])
        .expect_stdout(script.clone())
        .run();

    // What render prints is exactly what the bundle serves at the machine's routes.
    let out = out.again().args(["build"]).run();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(out.path().join("out/manifest.json")).expect("manifest"))
            .expect("JSON");
    for route in [
        "machines/by-name/node-01.ipxe",
        "machines/by-mac/52-54-00-aa-00-01.ipxe",
        "machines/by-uuid/4c4c4544-0042-3510-8052-b4c04f4d4e31.ipxe",
    ] {
        let object = manifest["routes"][route]["object"]
            .as_str()
            .unwrap_or_else(|| panic!("route {route}"));
        let hex = object.strip_prefix("sha256:").expect("sha256: prefix");
        let bytes = fs::read(out.path().join("out/objects/sha256").join(hex)).expect("object");
        assert_eq!(String::from_utf8(bytes).expect("UTF-8"), script, "{route}");
    }
}

#[test]
fn render_unknown_machine_exits_2_with_suggestion() {
    Test::new()
        .base()
        .args(["render", "node-1"])
        .expect_exit(2)
        .expect_stdout("")
        .expect_stderr(
            "error: no machine has the name, MAC or UUID `node-1` (did you mean `node-01`?)\n",
        )
        .run();
}

#[test]
fn render_unknown_mac_exits_2() {
    Test::new()
        .base()
        .args(["render", "52:54:00:aa:00:99"])
        .expect_exit(2)
        .expect_stderr("error: no machine has the name, MAC or UUID `52:54:00:aa:00:99`\n")
        .run();
}

#[test]
fn render_of_a_broken_config_reports_diagnostics() {
    let out = Test::new()
        .base()
        .file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stabel\"\n}\n",
        )
        .args(["render", "node-01"])
        .expect_exit(1)
        .expect_stdout("")
        .run();
    assert!(
        out.stderr.contains("netbootc::unknown-profile"),
        "{}",
        out.stderr
    );
}

#[cfg(unix)]
#[test]
fn symlinked_kdl_files_are_loaded() {
    let out = Test::new()
        .base()
        .file(
            "shared/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stable\"\n}\n",
        )
        .symlink("machines/rack-b.kdl", "../shared/rack-b.kdl")
        .args(["render", "node-02"])
        .run();
    assert!(out.stdout.contains("node-02"), "{}", out.stdout);
}

// --- fmt ----------------------------------------------------------------------------------

const MESSY: &str = "// rack B\nmachine   \"node-02\"{\nmac \"52:54:00:aa:00:02\"\n      profile \"flatcar-stable\"\n var   role=\"worker\"\n}\nmachine \"node-03\" { mac \"52:54:00:aa:00:03\"; profile \"flatcar-stable\"; }\n";
const TIDY: &str = "// rack B\nmachine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stable\"\n    var role=\"worker\"\n}\n\nmachine \"node-03\" {\n    mac \"52:54:00:aa:00:03\"\n    profile \"flatcar-stable\"\n}\n";

#[test]
fn base_config_is_formatted() {
    Test::new()
        .base()
        .args(["fmt", "--check"])
        .expect_exit(0)
        .expect_stdout("")
        .run();
}

#[test]
fn fmt_check_then_fmt() {
    let out = Test::new()
        .base()
        .file("machines/rack-b.kdl", MESSY)
        .args(["fmt", "--check"])
        .expect_exit(1)
        .expect_stdout("machines/rack-b.kdl is not formatted\n")
        .run();
    let file = out.path().join("machines/rack-b.kdl");
    assert_eq!(
        fs::read_to_string(&file).expect("read"),
        MESSY,
        "--check changes nothing"
    );

    let out = out
        .again()
        .args(["fmt"])
        .expect_exit(0)
        .expect_stdout("formatted machines/rack-b.kdl\n")
        .run();
    assert_eq!(fs::read_to_string(&file).expect("read"), TIDY);

    let out = out
        .again()
        .args(["fmt", "--check"])
        .expect_exit(0)
        .expect_stdout("")
        .run();
    // Formatting changed nothing the compiler sees.
    out.again()
        .args(["check"])
        .expect_exit(0)
        .expect_stderr("")
        .run();
}

#[cfg(unix)]
#[test]
fn fmt_writes_through_symlinks() {
    let out = Test::new()
        .base()
        .file("shared/rack-b.kdl", MESSY)
        .symlink("machines/rack-b.kdl", "../shared/rack-b.kdl")
        .args(["fmt"])
        .expect_stdout("formatted machines/rack-b.kdl\n")
        .run();
    let link = out.path().join("machines/rack-b.kdl");
    assert!(
        fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the link is still a link"
    );
    assert_eq!(
        fs::read_to_string(out.path().join("shared/rack-b.kdl")).expect("read"),
        TIDY
    );
}

#[test]
fn fmt_leaves_files_alone_when_one_does_not_parse() {
    let broken = "machine \"node-04\" {\n    mac \"52:54:00:aa:00:04\"\n";
    let out = Test::new()
        .base()
        .file("machines/rack-b.kdl", MESSY)
        .file("machines/rack-c.kdl", broken)
        .args(["fmt"])
        .expect_exit(1)
        .expect_stdout("")
        .run();
    assert!(
        out.stderr.contains("netbootc::kdl-syntax"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("machines/rack-c.kdl"), "{}", out.stderr);
    assert_eq!(
        fs::read_to_string(out.path().join("machines/rack-b.kdl")).expect("read"),
        MESSY
    );
    assert_eq!(
        fs::read_to_string(out.path().join("machines/rack-c.kdl")).expect("read"),
        broken
    );
    assert_eq!(
        fs::read_to_string(out.path().join("machines/rack-a.kdl")).expect("read"),
        MACHINE_KDL
    );
}

// --- never a panic ------------------------------------------------------------------------

/// `check` on a config holding `bytes` (alone, and next to the base config): exit 1 or 2,
/// no panic (the harness fails on "panicked"), no stack overflow (the process would die by
/// signal and report no exit code), some diagnostic on stderr.
fn survives(name: &str, bytes: &[u8]) {
    for test in [Test::new(), Test::new().base()] {
        let out = test
            .file("machines/nasty.kdl", bytes)
            .args(["check"])
            .any_exit()
            .run();
        assert!(
            out.status == 1 || out.status == 2,
            "{name}: exit {}\n{}",
            out.status,
            out.stderr
        );
        assert!(out.stderr.contains("netbootc::"), "{name}: {}", out.stderr);
        let json = out
            .again()
            .args(["check", "--format", "json"])
            .any_exit()
            .run();
        assert!(json.status == 1 || json.status == 2, "{name} (json)");
        let _: serde_json::Value = serde_json::from_str(&json.stdout).expect("valid JSON");
    }
}

#[test]
fn deep_nesting_does_not_overflow() {
    survives(
        "10,000 levels",
        (" a {".repeat(10_000) + &"}".repeat(10_000)).as_bytes(),
    );
}

#[test]
fn unclosed_deep_nesting_does_not_overflow() {
    survives("10,000 open braces", "a {".repeat(10_000).as_bytes());
}

#[test]
fn nested_comments_do_not_overflow() {
    // KDL v2 block comments nest.
    survives(
        "10,000 nested comments",
        ("/*".repeat(10_000) + &"*/".repeat(10_000)).as_bytes(),
    );
}

#[test]
fn braces_after_a_raw_string_are_still_counted() {
    // `#"\"#` is a raw string holding one backslash, not an escaped quote.
    let kdl = r##"a #"\"# "##.to_owned() + &" b {".repeat(10_000) + &"}".repeat(10_000);
    survives("raw string, then 10,000 levels", kdl.as_bytes());
}

#[test]
fn braces_after_a_multiline_string_are_still_counted() {
    // One lone quote inside: a scanner that pairs quotes naively hides what follows.
    let kdl = "a \"\"\"\n  a 6\" board\n  \"\"\"".to_owned()
        + &" b {".repeat(10_000)
        + &"}".repeat(10_000);
    survives("multi-line string, then 10,000 levels", kdl.as_bytes());
}

#[test]
fn huge_file_is_refused() {
    survives("9 MiB", &vec![b'#'; 9 << 20]);
}

#[test]
fn not_utf8_is_reported() {
    survives("latin-1", b"machine \"n\xe9ud\" {}\n");
}

#[test]
fn empty_file_is_fine() {
    // An empty file is valid KDL; alone, the config lacks a site.
    let out = Test::new()
        .file("machines/empty.kdl", "")
        .args(["check"])
        .expect_exit(1)
        .run();
    assert!(
        out.stderr.contains("netbootc::missing-site"),
        "{}",
        out.stderr
    );
    Test::new()
        .base()
        .file("machines/empty.kdl", "")
        .args(["check"])
        .expect_exit(0)
        .run();
}

#[test]
fn lone_brace_is_a_syntax_error() {
    survives("{", b"{");
}

#[test]
fn garbage_is_a_syntax_error() {
    survives(
        "garbage",
        b"\x00\x01\x02 \"\\u{110000}\" #nan = = = ) ( }}}",
    );
}

#[test]
fn deeply_nested_template_does_not_overflow() {
    let template = "#!ipxe\n".to_owned()
        + &"{% if true %}".repeat(10_000)
        + "boot\n"
        + &"{% endif %}".repeat(10_000);
    let out = Test::new()
        .base()
        .file(
            "profiles/flatcar.kdl",
            format!(
                "profile \"flatcar-stable\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n    template \"templates/deep.ipxe.j2\"\n}}\n",
                common::kernel_sha256()
            ),
        )
        .file("profiles/templates/deep.ipxe.j2", template)
        .args(["check"])
        .expect_exit(1)
        .run();
    assert!(out.stderr.contains("netbootc::template-"), "{}", out.stderr);
}

#[test]
fn dev_certs_writes_a_ca_server_and_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netbootc"))
        .arg("dev-certs")
        .arg(&certs)
        .args([
            "--san",
            "10.77.0.1",
            "--san",
            "boot.lan",
            "--lan-san",
            "10.0.0.2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "ca.pem",
        "server.pem",
        "server.key",
        "client-ecdsa.pem",
        "client-rsa.key",
        "crl.pem",
    ] {
        let text = fs::read_to_string(certs.join(name)).unwrap();
        assert!(text.starts_with("-----BEGIN "), "{name} is not PEM");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(name),
            "{name} not reported"
        );
    }
    // openssl reads the server certificate's names: loopback plus the --san ones.
    let sans = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(certs.join("server.pem"))
        .output()
        .unwrap();
    let sans = String::from_utf8_lossy(&sans.stdout);
    for name in [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:10.77.0.1",
        "DNS:boot.lan",
    ] {
        assert!(sans.contains(name), "{name} missing from {sans}");
    }
    // The LAN server certificate: the Pi's LAN address, and openssl verifies it against the
    // LAN CA and not against the mTLS CA.
    let verify = |ca: &str| {
        std::process::Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(certs.join(ca))
            .arg(certs.join("lan-server.pem"))
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(verify("lan-ca.pem"));
    assert!(!verify("ca.pem"));
    let lan_sans = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(certs.join("lan-server.pem"))
        .output()
        .unwrap();
    let lan_sans = String::from_utf8_lossy(&lan_sans.stdout);
    assert!(lan_sans.contains("IP Address:10.0.0.2"), "{lan_sans}");
    assert!(!lan_sans.contains("boot.lan"), "{lan_sans}");
}
