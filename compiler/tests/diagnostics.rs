//! One fixture per diagnostic rule: the base config plus the one thing that breaks it,
//! `netbootc check` (or `build`), and a snapshot of the colourless human report.

mod common;

use std::collections::BTreeSet;

use common::{Test, closed_port, kernel_sha256, several_errors};
use insta::assert_snapshot;
use netboot_compile::diagnostic::Code;

/// Every code with a fixture below. `every_code_has_a_fixture` keeps this honest.
const COVERED: &[&str] = &[
    "io",
    "not-utf8",
    "file-too-large",
    "too-deep",
    "too-many-problems",
    "empty-config",
    "kdl-syntax",
    "unknown-node",
    "unknown-property",
    "unexpected-argument",
    "missing-field",
    "duplicate-field",
    "bad-value",
    "bad-name",
    "bad-mac",
    "bad-uuid",
    "placeholder-uuid",
    "bad-sha256",
    "bad-url",
    "insecure-url",
    "unsafe-url",
    "unpinned-image",
    "missing-site",
    "duplicate-site",
    "duplicate-machine",
    "duplicate-mac",
    "duplicate-uuid",
    "duplicate-serial",
    "duplicate-profile",
    "duplicate-firmware",
    "no-boot-file",
    "unknown-profile",
    "extends-cycle",
    "unused-profile",
    "unreachable-image",
    "image-not-found",
    "image-fetch",
    "digest-mismatch",
    "template-not-found",
    "template-syntax",
    "template-undefined",
    "template-error",
    "lint-shebang",
    "lint-unknown-command",
    "lint-missing-label",
    "simulation-failed",
    "provisioning-invalid",
    "pi-tree",
    "pi-kernel",
    "secret-missing",
    "secret-from-example",
    "secret-in-config",
    "secret-in-git",
    // Fixtures with real signatures (openssl + sbsign) in secure_boot.rs.
    "secure-boot-chain",
    "secure-boot-refused",
    "secure-boot-expired",
];

/// Codes no config in a test directory can raise reliably.
const EXEMPT: &[&str] = &[];

#[test]
fn every_code_has_a_fixture() {
    let all: BTreeSet<&str> = Code::ALL.iter().map(|c| c.name()).collect();
    let tested: BTreeSet<&str> = COVERED.iter().chain(EXEMPT).copied().collect();
    let missing: Vec<_> = all.difference(&tested).collect();
    let unknown: Vec<_> = tested.difference(&all).collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
    assert!(
        unknown.is_empty(),
        "fixtures for codes that do not exist: {unknown:?}"
    );
}

/// Runs `netbootc <command>`, expects exit 1 and diagnostic `code`, returns stderr.
fn diagnose(test: Test, command: &str, code: &str) -> String {
    let out = test.args([command]).expect_exit(1).run();
    assert!(
        out.stderr.contains(&format!("netbootc::{code}")),
        "expected netbootc::{code} in:\n{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "check prints nothing on stdout");
    out.stderr
}

fn check(test: Test, code: &str) -> String {
    diagnose(test, "check", code)
}

/// The base profile, with `body` in place of its kernel line and cmdline.
fn profile(body: &str) -> String {
    format!("profile \"flatcar-stable\" {{\n{body}}}\n")
}

fn kernel_line() -> String {
    format!(
        "    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n",
        kernel_sha256()
    )
}

/// The base config with the profile rendered through `profiles/templates/custom.ipxe.j2`.
fn with_template(template: &str) -> Test {
    Test::new()
        .base()
        .file(
            "profiles/flatcar.kdl",
            profile(&format!(
                "{}    cmdline \"console=ttyS0\"\n    template \"templates/custom.ipxe.j2\"\n",
                kernel_line()
            )),
        )
        .file("profiles/templates/custom.ipxe.j2", template)
}

// --- files and KDL ---------------------------------------------------------------------

#[test]
fn clean_base_config_passes() {
    Test::new()
        .base()
        .args(["check"])
        .expect_exit(0)
        .expect_stdout("")
        .expect_stderr("")
        .run();
}

#[cfg(unix)]
#[test]
fn io() {
    // A dangling symlink (permissions would not do: the tests may run as root).
    let stderr = check(
        Test::new()
            .base()
            .symlink("machines/rack-b.kdl", "../../elsewhere/rack-b.kdl"),
        "io",
    );
    assert_snapshot!(stderr);
}

#[test]
fn not_utf8() {
    let mut bytes =
        b"machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flat".to_vec();
    bytes.extend([0xff, 0xfe]);
    bytes.extend(b"car-stable\"\n}\n");
    let stderr = check(
        Test::new().base().file("machines/latin1.kdl", bytes),
        "not-utf8",
    );
    assert_snapshot!(stderr);
}

#[test]
fn file_too_large() {
    // 9 MiB of valid KDL comments: over the 8 MiB limit, refused before parsing.
    let line = format!("// {}\n", "x".repeat(1020));
    let big = line.repeat(9 * 1024);
    assert!(big.len() >= 9 << 20);
    let stderr = check(
        Test::new().base().file("machines/huge.kdl", big),
        "file-too-large",
    );
    assert_snapshot!(stderr);
}

#[test]
fn too_deep() {
    let deep = "a {\n".repeat(10_000) + &"}\n".repeat(10_000);
    let stderr = check(
        Test::new().base().file("machines/deep.kdl", deep),
        "too-deep",
    );
    assert_snapshot!(stderr);
}

#[test]
fn empty_config() {
    let stderr = check(Test::new(), "empty-config");
    assert_snapshot!(stderr);
}

#[test]
fn kdl_syntax() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\n    profile \"flatcar-stable\"\n}\n",
        ),
        "kdl-syntax",
    );
    assert_snapshot!(stderr);
}

#[test]
fn too_many_problems() {
    let nodes: String = (0..105).map(|i| format!("bogus-{i}\n")).collect();
    let stderr = check(
        Test::new().base().file("machines/rack-b.kdl", nodes),
        "too-many-problems",
    );
    assert_eq!(
        stderr.matches("netbootc::unknown-node").count(),
        100,
        "{stderr}"
    );
    let summary = &stderr[stderr.find("netbootc::too-many-problems").unwrap()..];
    assert_snapshot!(summary);
}

#[test]
fn unknown_node() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    uiid \"4c4c4544-0042-3510-8052-b4c04f4d4e32\"\n    profile \"flatcar-stable\"\n}\n",
        ),
        "unknown-node",
    );
    assert!(stderr.contains("did you mean `uuid`?"), "{stderr}");
    assert_snapshot!(stderr);
}

#[test]
fn unknown_property() {
    let stderr = check(
        Test::new()
            .base()
            .file(
                "profiles/debug.kdl",
                format!(
                    "profile \"flatcar-debug\" extend=\"flatcar-stable\" {{\n{}}}\n",
                    kernel_line()
                ),
            )
            .file(
                "machines/rack-b.kdl",
                "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-debug\"\n}\n",
            ),
        "unknown-property",
    );
    assert!(stderr.contains("did you mean `extends`?"), "{stderr}");
    assert_snapshot!(stderr);
}

#[test]
fn unexpected_argument() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stable\" \"flatcar-debug\"\n}\n",
        ),
        "unexpected-argument",
    );
    assert_snapshot!(stderr);
}

#[test]
fn missing_field() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n}\n",
        ),
        "missing-field",
    );
    assert_snapshot!(stderr);
}

#[test]
fn missing_kernel() {
    let stderr = check(
        Test::new().base().file(
            "profiles/flatcar.kdl",
            profile("    cmdline \"console=ttyS0\"\n"),
        ),
        "missing-field",
    );
    assert_snapshot!(stderr);
}

#[test]
fn duplicate_field() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stable\"\n    profile \"flatcar-stable\"\n}\n",
        ),
        "duplicate-field",
    );
    assert_snapshot!(stderr);
}

#[test]
fn bad_value() {
    let stderr = check(
        Test::new().base().file(
            "profiles/site.kdl",
            "site {\n    origin \"https://boot.example.com\"\n    mirror \"yes\"\n}\n",
        ),
        "bad-value",
    );
    assert_snapshot!(stderr);
}

#[test]
fn bad_name() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node 02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stable\"\n}\n",
        ),
        "bad-name",
    );
    assert_snapshot!(stderr);
}

#[test]
fn bad_mac() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00\"\n    profile \"flatcar-stable\"\n}\n",
        ),
        "bad-mac",
    );
    assert_snapshot!(stderr);
}

#[test]
fn bad_uuid() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    uuid \"4c4c4544-0042-3510-8052\"\n    profile \"flatcar-stable\"\n}\n",
        ),
        "bad-uuid",
    );
    assert_snapshot!(stderr);
}

#[test]
fn placeholder_uuid() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    uuid \"00000000-0000-0000-0000-000000000000\"\n    profile \"flatcar-stable\"\n}\n",
        ),
        "placeholder-uuid",
    );
    assert_snapshot!(stderr);
}

#[test]
fn bad_sha256() {
    let stderr = check(
        Test::new().base().file(
            "profiles/flatcar.kdl",
            profile("    kernel path=\"images/vmlinuz\" sha256=\"8d53eaeaf1f2\"\n"),
        ),
        "bad-sha256",
    );
    assert_snapshot!(stderr);
}

#[test]
fn bad_url() {
    let stderr = check(
        Test::new().base().file(
            "profiles/flatcar.kdl",
            profile(&format!(
                "    kernel \"ftp://mirror.example.com/vmlinuz\" sha256=\"{}\"\n",
                kernel_sha256()
            )),
        ),
        "bad-url",
    );
    assert_snapshot!(stderr);
}

#[test]
fn unsafe_url() {
    let stderr = check(
        Test::new().base().file(
            "profiles/site.kdl",
            "site {\n    origin \"https://boot.example.com\"\n    chain \"via-proxy\" proxy=\"http://10.0.0.2:8080/x,,10.6.6.6\"\n}\n",
        ),
        "unsafe-url",
    );
    assert_snapshot!(stderr);
}

#[test]
fn insecure_url() {
    let stderr = check(
        Test::new().base().file(
            "profiles/flatcar.kdl",
            profile(&format!(
                "    kernel \"http://mirror.example.com/vmlinuz\" sha256=\"{}\"\n",
                kernel_sha256()
            )),
        ),
        "insecure-url",
    );
    assert_snapshot!(stderr);
}

#[test]
fn unpinned_image() {
    let stderr = check(
        Test::new().base().file(
            "profiles/flatcar.kdl",
            profile("    kernel \"https://mirror.example.com/vmlinuz\"\n"),
        ),
        "unpinned-image",
    );
    assert_snapshot!(stderr);
}

// --- the config as a whole ----------------------------------------------------------------

#[test]
fn missing_site() {
    let stderr = check(
        Test::new().base().remove("profiles/site.kdl"),
        "missing-site",
    );
    assert_snapshot!(stderr);
}

#[test]
fn duplicate_site() {
    let stderr = check(
        Test::new().base().file(
            "profiles/site-lab.kdl",
            "site {\n    origin \"https://lab.example.com\"\n}\n",
        ),
        "duplicate-site",
    );
    assert_snapshot!(stderr);
}

#[test]
fn duplicate_machine() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-01\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stable\"\n}\n",
        ),
        "duplicate-machine",
    );
    assert_snapshot!(stderr);
}

#[test]
fn duplicate_mac() {
    // Same address as node-01, written in another case and with other separators.
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52-54-00-AA-00-01\"\n    profile \"flatcar-stable\"\n}\n",
        ),
        "duplicate-mac",
    );
    assert_snapshot!(stderr);
}

#[test]
fn duplicate_uuid() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    uuid \"4C4C4544-0042-3510-8052-B4C04F4D4E31\"\n    profile \"flatcar-stable\"\n}\n",
        ),
        "duplicate-uuid",
    );
    assert_snapshot!(stderr);
}

/// A stand-in arm64 Linux `Image`: the header's magic `ARM\x64` at byte 56.
fn arm64_image() -> Vec<u8> {
    let mut image = vec![b'.'; 56];
    image.extend_from_slice(b"ARM\x64 stand-in arm64 Image\n");
    image
}

/// The base config plus profile `rpi` (arm64; `kernel` the named image, `body` more
/// lines) and `machines` in machines/pis.kdl.
fn pi_fleet(kernel: &str, body: &str, machines: &str) -> Test {
    let image = arm64_image();
    let pin = |path: &str, bytes: &[u8]| {
        format!(
            "path=\"{path}\" sha256=\"{}\"",
            netboot_bundle::Digest::of(bytes).hex()
        )
    };
    let kernel_bytes: &[u8] = if kernel == "images/Image" {
        &image
    } else {
        common::KERNEL
    };
    Test::new()
        .base()
        .file("profiles/images/Image", &image)
        .file(
            "profiles/rpi.kdl",
            format!(
                "profile \"rpi\" {{\n    arch \"arm64\"\n    kernel {}\n    pi-file \"bcm2711-rpi-4-b.dtb\" {}\n{body}}}\n",
                pin(kernel, kernel_bytes),
                pin("images/vmlinuz", common::KERNEL),
            ),
        )
        .file("machines/pis.kdl", machines)
}

const PI4: &str = "machine \"pi4-a\" {\n    mac \"dc:a6:32:00:00:04\"\n    pi \"pi4\" serial=\"c0ffee04\"\n    profile \"rpi\"\n}\n";

fn pi4_firmware() -> String {
    let sha = kernel_sha256();
    format!(
        "    pi-file \"start4.elf\" path=\"images/vmlinuz\" sha256=\"{sha}\"\n    pi-file \"fixup4.dat\" path=\"images/vmlinuz\" sha256=\"{sha}\"\n"
    )
}

#[test]
fn duplicate_serial() {
    // The same serial in its 16-digit /proc/cpuinfo form, upper case.
    let machines = format!(
        "{PI4}machine \"pi4-b\" {{\n    mac \"dc:a6:32:00:00:05\"\n    pi \"pi4\" serial=\"10000000C0FFEE04\"\n    profile \"rpi\"\n}}\n"
    );
    let stderr = check(
        pi_fleet("images/Image", &pi4_firmware(), &machines),
        "duplicate-serial",
    );
    assert_snapshot!(stderr);
}

/// A Pi 4's tree without its firmware: the bootloader's second and third fetches.
#[test]
fn pi_tree() {
    let stderr = check(pi_fleet("images/Image", "", PI4), "pi-tree");
    assert!(stderr.contains("`start4.elf`") && stderr.contains("`fixup4.dat`"));
    assert_snapshot!(stderr);
}

/// `config.txt` naming an overlay the tree lacks.
#[test]
fn pi_tree_config_names_a_missing_overlay() {
    let body = pi4_firmware() + "    pi-config \"dtoverlay=disable-bt\"\n";
    let stderr = check(pi_fleet("images/Image", &body, PI4), "pi-tree");
    assert!(stderr.contains("`overlays/disable-bt.dtbo`"), "{stderr}");
    assert_snapshot!(stderr);
}

/// A kernel without the arm64 `Image` magic.
#[test]
fn pi_kernel() {
    let stderr = check(
        pi_fleet("images/vmlinuz", &pi4_firmware(), PI4),
        "pi-kernel",
    );
    assert_snapshot!(stderr);
}

#[test]
fn duplicate_profile() {
    let stderr = check(
        Test::new()
            .base()
            .file("profiles/flatcar-copy.kdl", profile(&kernel_line())),
        "duplicate-profile",
    );
    assert_snapshot!(stderr);
}

/// The base site with boot files (the base kernel's bytes stand in for iPXE builds).
fn site_with_boot_files(files: &[(&str, &str)]) -> Test {
    let mut site = "site {\n    origin \"https://boot.example.com\"\n".to_owned();
    for (name, firmware) in files {
        site += &format!(
            "    boot-file \"{name}\" path=\"images/vmlinuz\" sha256=\"{}\" firmware=\"{firmware}\"\n",
            kernel_sha256()
        );
    }
    site += "}\n";
    Test::new().base().file("profiles/site.kdl", site)
}

#[test]
fn duplicate_firmware() {
    let stderr = check(
        site_with_boot_files(&[("ipxe.efi", "uefi-x86_64"), ("snponly.efi", "uefi-x86_64")]),
        "duplicate-firmware",
    );
    assert_snapshot!(stderr);
}

#[test]
fn no_boot_file_is_a_warning() {
    let out = site_with_boot_files(&[("snp-arm64.efi", "uefi-arm64")])
        .args(["check"])
        .expect_exit(0)
        .run();
    assert!(
        out.stderr.contains("netbootc::no-boot-file"),
        "{}",
        out.stderr
    );
    assert_snapshot!(out.stderr);
}

#[test]
fn unknown_firmware_class_gets_a_suggestion() {
    let stderr = check(
        site_with_boot_files(&[("ipxe.efi", "uefi-x86-64")]),
        "bad-value",
    );
    assert!(stderr.contains("did you mean \"uefi-x86_64\"?"), "{stderr}");
}

#[test]
fn unknown_boot_target_gets_a_suggestion() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stable\"\n    boot \"locale\"\n}\n",
        ),
        "bad-value",
    );
    assert!(stderr.contains("did you mean \"local\"?"), "{stderr}");
}

#[test]
fn unknown_profile() {
    let stderr = check(
        Test::new().base().file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stabel\"\n}\n",
        ),
        "unknown-profile",
    );
    assert!(
        stderr.contains("did you mean `flatcar-stable`?"),
        "{stderr}"
    );
    assert_snapshot!(stderr);
}

#[test]
fn extends_cycle() {
    let stderr = check(
        Test::new()
            .base()
            .file(
                "profiles/debug.kdl",
                "profile \"flatcar-debug\" extends=\"flatcar-verbose\" {\n    cmdline-append \"flatcar.autologin\"\n}\n\nprofile \"flatcar-verbose\" extends=\"flatcar-debug\" {\n    cmdline-append \"loglevel=7\"\n}\n",
            )
            .file(
                "machines/rack-b.kdl",
                "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-debug\"\n}\n",
            ),
        "extends-cycle",
    );
    assert_snapshot!(stderr);
}

fn unused_profile_test() -> Test {
    Test::new().base().file(
        "profiles/memtest.kdl",
        format!(
            "profile \"memtest\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n}}\n",
            kernel_sha256()
        ),
    )
}

#[test]
fn unused_profile_is_a_warning() {
    let out = unused_profile_test().args(["check"]).expect_exit(0).run();
    assert!(out.stderr.contains("netbootc::unused-profile"));
    assert_snapshot!(out.stderr);
}

#[test]
fn unused_profile_fails_with_deny_warnings() {
    let out = unused_profile_test()
        .args(["check", "--deny-warnings"])
        .expect_exit(1)
        .run();
    assert!(out.stderr.contains("netbootc::unused-profile"));
    assert!(out.stderr.contains("0 errors, 1 warning"), "{}", out.stderr);
}

#[test]
fn unreachable_image_is_a_warning() {
    let out = Test::new()
        .base()
        .file(
            "profiles/site.kdl",
            "site {\n    origin \"https://boot.example.com\"\n    chain \"via-proxy\" proxy=\"http://10.0.0.2:8080\"\n    mirror #false\n}\n",
        )
        .file(
            "profiles/flatcar.kdl",
            profile(&format!(
                "    kernel \"https://mirror.example.com/vmlinuz\" sha256=\"{}\"\n",
                kernel_sha256()
            )),
        )
        .args(["check"])
        .expect_exit(0)
        .run();
    assert!(out.stderr.contains("netbootc::unreachable-image"));
    assert_snapshot!(out.stderr);
}

// --- images -------------------------------------------------------------------------------

#[test]
fn image_not_found() {
    let stderr = check(
        Test::new().base().remove("profiles/images/vmlinuz"),
        "image-not-found",
    );
    assert_snapshot!(stderr);
}

#[test]
fn digest_mismatch() {
    let out = Test::new()
        .base()
        .file("profiles/images/vmlinuz", b"a different kernel\n")
        .args(["build"])
        .expect_exit(1)
        .run();
    let stderr = out.stderr;
    assert!(stderr.contains("netbootc::digest-mismatch"), "{stderr}");
    // Both digests, in full.
    assert!(stderr.contains(&kernel_sha256()), "{stderr}");
    assert!(
        stderr.contains(&common::sha256_hex(b"a different kernel\n")),
        "{stderr}"
    );
    assert!(!out.tempdir.path().join("out").exists(), "nothing written");
    assert_snapshot!(stderr);
}

#[test]
fn image_fetch() {
    let port = closed_port();
    let port_text = port.to_string();
    // Ephemeral ports are 5 digits on Linux; the redaction keeps the width.
    assert_eq!(port_text.len(), 5, "port {port}");
    let test = Test::new();
    let cache = test.path().join("image-cache");
    let out = test
        .base()
        .file(
            "profiles/flatcar.kdl",
            profile(&format!(
                "    kernel \"http://127.0.0.1:{port}/vmlinuz\" sha256=\"{}\"\n",
                kernel_sha256()
            )),
        )
        .arg("build")
        .arg("--image-cache")
        .arg(&cache)
        .expect_exit(1)
        .run();
    assert!(
        out.stderr.contains("netbootc::image-fetch"),
        "{}",
        out.stderr
    );
    assert!(!out.tempdir.path().join("out").exists(), "nothing written");
    assert_snapshot!(out.stderr.replace(&port_text, "PORT_"));
}

// --- templates ----------------------------------------------------------------------------

const GOOD_TEMPLATE: &str = "#!ipxe\necho booting {{ machine.name }}\nkernel {{ images.kernel.url }} {{ cmdline }} || goto failed\nboot || goto failed\n:failed\necho boot failed\nreboot\n";

#[test]
fn custom_template_passes() {
    with_template(GOOD_TEMPLATE)
        .args(["check"])
        .expect_exit(0)
        .expect_stderr("")
        .run();
}

#[test]
fn template_not_found() {
    let stderr = check(
        with_template(GOOD_TEMPLATE).remove("profiles/templates/custom.ipxe.j2"),
        "template-not-found",
    );
    assert_snapshot!(stderr);
}

#[test]
fn template_syntax() {
    let stderr = check(
        with_template(&GOOD_TEMPLATE.replace("{{ cmdline }}", "{{ cmdline | }}")),
        "template-syntax",
    );
    assert_snapshot!(stderr);
}

#[test]
fn template_undefined() {
    let stderr = check(
        with_template(&GOOD_TEMPLATE.replace(
            "echo booting {{ machine.name }}",
            "echo booting {{ machine.hostname }}",
        )),
        "template-undefined",
    );
    assert!(stderr.contains("node-01"), "names the machine: {stderr}");
    assert_snapshot!(stderr);
}

#[test]
fn template_undefined_in_cmdline() {
    let stderr = check(
        Test::new().base().file(
            "profiles/flatcar.kdl",
            profile(&format!(
                "{}    cmdline \"console=ttyS0 role={{{{ vars.role }}}}\"\n",
                kernel_line()
            )),
        ),
        "template-undefined",
    );
    assert!(stderr.contains("node-01"), "names the machine: {stderr}");
    assert!(
        stderr.contains("profiles/flatcar.kdl:3:"),
        "points into the KDL string: {stderr}"
    );
    assert_snapshot!(stderr);
}

#[test]
fn template_error() {
    // A template that would loop for ever runs out of fuel instead of hanging the build.
    let stderr = check(
        with_template(&GOOD_TEMPLATE.replace(
            "boot || goto failed\n",
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\nboot || goto failed\n",
        )),
        "template-error",
    );
    assert_snapshot!(stderr);
}

#[test]
fn lint_shebang() {
    let stderr = check(
        with_template(&GOOD_TEMPLATE.replace("#!ipxe\n", "")),
        "lint-shebang",
    );
    assert_snapshot!(stderr);
}

#[test]
fn lint_unknown_command() {
    let stderr = check(
        with_template(&GOOD_TEMPLATE.replace("reboot\n", "rebot\n")),
        "lint-unknown-command",
    );
    assert_snapshot!(stderr);
}

#[test]
fn lint_missing_label() {
    let stderr = check(
        with_template(&GOOD_TEMPLATE.replace("boot || goto failed\n", "boot || goto fail\n")),
        "lint-missing-label",
    );
    assert_snapshot!(stderr);
}

#[test]
fn simulation_failed() {
    // A kernel URL under the site that no route serves: the simulated boot gets a 404,
    // retries, and reboots; the report is on the line that fetched.
    let stderr = check(
        with_template(&GOOD_TEMPLATE.replace(
            "{{ images.kernel.url }}",
            "{{ site.base_url }}/images/flatcar-stable/kernal",
        )),
        "simulation-failed",
    );
    assert_snapshot!(stderr);
}

#[test]
fn simulation_reports_commands_it_cannot_follow() {
    let stderr = check(
        with_template(&GOOD_TEMPLATE.replace("echo booting", "login\necho booting")),
        "simulation-failed",
    );
    assert!(
        stderr.contains("`login` is not") && stderr.contains("2 │ login"),
        "{stderr}"
    );
}

// --- provisioning files and secrets -----------------------------------------------------

/// A secret value long enough to be masked; no diagnostic may print it.
const TOKEN: &str = "s3cr3t-j0in-t0ken-9f8e7d";

/// The base config whose profile compiles `templates/node.ign.j2` as an Ignition file and
/// whose site names `secret "join"` (given as `NETBOOT_JOIN` in the environment).
fn with_ignition(template: &str) -> Test {
    Test::new()
        .base()
        .file(
            "profiles/site.kdl",
            "site {\n    origin \"https://boot.example.com\"\n    secret \"join\" env=\"NETBOOT_JOIN\"\n}\n",
        )
        .file(
            "profiles/flatcar.kdl",
            profile(&format!(
                "{}    file \"ignition\" kind=\"ignition\" template=\"templates/node.ign.j2\"\n    cmdline \"ignition.config.url={{{{ files.ignition.url }}}}\"\n",
                kernel_line()
            )),
        )
        .file("profiles/templates/node.ign.j2", template)
        .env("NETBOOT_JOIN", TOKEN)
}

const IGNITION: &str = r#"{
  "ignition": { "version": "3.4.0" },
  "storage": {
    "files": [
      { "path": "/etc/hostname", "contents": { "source": "data:,{{ machine.name }}" } },
      { "path": "/etc/join-token", "contents": { "source": "data:,{{ secrets.join }}" } }
    ]
  }
}
"#;

#[test]
fn provisioning_invalid() {
    // A relative path on the line that also carries the secret: the report shows the
    // rendered line, masked, the `file` node that chose it and the template.
    let template = IGNITION.replace(
        r#""path": "/etc/join-token""#,
        r#""path": "etc/join-token""#,
    );
    let stderr = check(with_ignition(&template), "provisioning-invalid");
    assert!(!stderr.contains(TOKEN), "the secret leaked:\n{stderr}");
    assert!(stderr.contains("data:,SECRET-join"), "{stderr}");
    assert_snapshot!(stderr);
}

#[test]
fn provisioning_invalid_json_in_a_machine_override() {
    // The machine's own file (merged over the profile's) does not parse: the report is on
    // the machine's rendered text.
    let test = with_ignition(IGNITION).file(
        "machines/rack-a.kdl",
        common::MACHINE_KDL.replace(
            "}\n",
            "    file \"ignition\" template=\"../profiles/templates/extra.ign.j2\"\n}\n",
        ),
    );
    let stderr = check(
        test.file(
            "profiles/templates/extra.ign.j2",
            "{\"ignition\": {\"version\": \"3.4.0\"}, \"passwd\": {\"users\": [{\"name\": \"{{ secrets.join }}\"},]}}\n",
        ),
        "provisioning-invalid",
    );
    assert!(stderr.contains("not valid JSON"), "{stderr}");
    assert!(
        stderr.contains("extra.ign.j2 (rendered for `node-01`)"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "the secret leaked:\n{stderr}");
}

#[test]
fn secret_missing() {
    let test = with_ignition(IGNITION).env("NETBOOT_JOIN", "");
    // An empty variable is still set; remove it from the harness's environment instead.
    let stderr = check(test.env_remove("NETBOOT_JOIN"), "secret-missing");
    assert_snapshot!(stderr);
}

#[test]
fn secret_from_example() {
    let stderr = with_ignition(IGNITION)
        .env_remove("NETBOOT_JOIN")
        .file(
            "profiles/site.kdl",
            "site {\n    origin \"https://boot.example.com\"\n    secret \"join\" path=\"../../join-token\" example=\"secrets/join.example\"\n}\n",
        )
        .file("profiles/secrets/join.example", "example-token-not-real\n")
        .args(["check"])
        .expect_exit(0)
        .run()
        .stderr;
    assert!(stderr.contains("netbootc::secret-from-example"), "{stderr}");
    assert_snapshot!(stderr);
}

#[test]
fn secret_in_config() {
    // The token pasted into a KDL comment and a template: both reported by file and line,
    // neither quoted.
    let test = with_ignition(&IGNITION.replace("{{ secrets.join }}", TOKEN)).file(
        "machines/rack-a.kdl",
        format!("// join with {TOKEN}\n{}", common::MACHINE_KDL),
    );
    let stderr = check(test, "secret-in-config");
    assert!(!stderr.contains(TOKEN), "the secret leaked:\n{stderr}");
    assert!(stderr.contains("`machines/rack-a.kdl` line 1"), "{stderr}");
    assert!(
        stderr.contains("`profiles/templates/node.ign.j2` line 6"),
        "{stderr}"
    );
    assert_snapshot!(stderr);
}

#[test]
fn secret_in_git() {
    let test = with_ignition(IGNITION)
        .env_remove("NETBOOT_JOIN")
        .file(
            "profiles/site.kdl",
            "site {\n    origin \"https://boot.example.com\"\n    secret \"join\" path=\"secrets/join\"\n}\n",
        )
        .file("profiles/secrets/join", format!("{TOKEN}\n"));
    let dir = test.path().to_owned();
    let test = test.prepare();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-C"])
            .arg(&dir)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    // Untracked and not ignored: a warning (the check passes).
    let out = test.args(["check"]).expect_exit(0).run();
    assert!(
        out.stderr.contains("is not ignored by Git"),
        "{}",
        out.stderr
    );
    // Committed: an error.
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "oops"]);
    let out = out.again().args(["check"]).expect_exit(1).run();
    assert!(
        !out.stderr.contains(TOKEN),
        "the secret leaked:\n{}",
        out.stderr
    );
    assert_snapshot!(out.stderr);
    // Ignored: clean.
    std::fs::write(dir.join(".gitignore"), "/profiles/secrets/\n").unwrap();
    git(&["rm", "-q", "--cached", "profiles/secrets/join"]);
    out.again()
        .args(["check"])
        .expect_exit(0)
        .expect_stderr("")
        .run();
}

// --- several at once ----------------------------------------------------------------------

#[test]
fn several_errors_across_files_sorted() {
    let stderr = check(several_errors(), "bad-mac");
    let order: Vec<usize> = [
        "machines/rack-a.kdl:8:",
        "machines/rack-a.kdl:9:",
        "machines/rack-b.kdl:4:",
        "profiles/rescue.kdl:3:",
    ]
    .iter()
    .map(|at| {
        stderr
            .find(at)
            .unwrap_or_else(|| panic!("{at} missing in:\n{stderr}"))
    })
    .collect();
    assert!(
        order.is_sorted(),
        "not sorted by file and position:\n{stderr}"
    );
    assert!(stderr.contains("4 errors, 0 warnings"), "{stderr}");
    assert_snapshot!(stderr);
}
