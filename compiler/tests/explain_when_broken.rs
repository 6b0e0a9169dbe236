//! `explain` and `simulate` answer for the machine asked for whenever it can be resolved,
//! whatever else is wrong: another machine's boot, template or KDL, or this machine's own
//! boot (shown as part of the answer, exit 1). A machine the errors leave unresolved, or a
//! config that does not compile, ends them with the errors.

mod common;

use common::{MACHINE_KDL, Test, kernel_sha256};

/// The base config (node-01 on `flatcar-stable`) and node-02 on profile `other`, whose
/// machine script is `template`.
fn two_machines(template: &str) -> Test {
    Test::new()
        .base()
        .file(
            "profiles/other.kdl",
            format!(
                "profile \"other\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n    template \"templates/other.ipxe.j2\"\n}}\n",
                kernel_sha256()
            ),
        )
        .file("profiles/templates/other.ipxe.j2", template)
        .file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"other\"\n}\n",
        )
}

/// A machine script that boots its kernel.
const BOOTS: &str = "#!ipxe\nkernel {{ images.kernel.url }}\nboot\n";
/// One that loops without progress.
const SPINS: &str = "#!ipxe\n:again\necho trying\ngoto again\n";
/// One that does not render (strict undefined).
const UNDEFINED: &str = "#!ipxe\nkernel {{ images.kernel.url }} {{ vars.missing }}\nboot\n";
/// One that renders, but fails the lint (no such iPXE command).
const MISSPELT: &str = "#!ipxe\nkernal {{ images.kernel.url }}\nboot\n";

/// Runs `args` on `test`: exit code, stdout, stderr.
fn run(test: Test, args: &[&str]) -> (i32, String, String) {
    let out = test.args(args).any_exit().run();
    (out.status, out.stdout, out.stderr)
}

#[test]
fn another_machine_that_fails_does_not_stop_the_answer() {
    for (template, error) in [
        (SPINS, "netbootc::simulation-failed"),
        (UNDEFINED, "netbootc::template-undefined"),
        (MISSPELT, "netbootc::lint-unknown-command"),
    ] {
        let (status, stdout, stderr) = run(two_machines(template), &["explain", "node-01"]);
        assert_eq!(status, 0, "{template:?}: {stdout}{stderr}");
        assert!(
            stdout.starts_with("machine node-01"),
            "{template:?}: {stdout}"
        );
        assert!(
            stdout.contains("  boots     boots its kernel with: console=ttyS0 hostname=node-01  [simulated: uefi-x86_64, iPXE custom]"),
            "{template:?}: {stdout}"
        );
        // What else is wrong is shown, on stderr.
        assert!(stderr.contains(error), "{template:?}: {stderr}");
        assert!(stderr.contains("node-02"), "{template:?}: {stderr}");

        let (status, stdout, stderr) = run(two_machines(template), &["simulate", "node-01"]);
        assert_eq!(status, 0, "{template:?}: {stdout}{stderr}");
        assert!(
            stdout.contains("ok      as configured: profile flatcar-stable"),
            "{template:?}: {stdout}"
        );
        assert!(stderr.contains(error), "{template:?}: {stderr}");
    }
}

#[test]
fn a_machine_whose_boot_fails_is_explained_with_the_failure() {
    let (status, stdout, stderr) = run(two_machines(SPINS), &["explain", "node-02"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(stdout.starts_with("machine node-02"), "{stdout}");
    assert!(
        stdout.contains(
            "  template  profiles/templates/other.ipxe.j2  [profiles/other.kdl:3, profile other]"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("  boots     FAILS: it loops without progress, never waiting; last message: \"trying\"  [simulated: uefi-x86_64, iPXE custom]"),
        "{stdout}"
    );
    assert!(stderr.contains("netbootc::simulation-failed"), "{stderr}");

    // A boot that fails on a line says which.
    let (status, stdout, _) = run(
        two_machines("#!ipxe\nset a xxxxxxxxxxxxxxxx\n:loop\nset a ${a}${a}\ngoto loop\n"),
        &["explain", "node-02"],
    );
    assert_eq!(status, 1);
    assert!(
        stdout.contains("  boots     FAILS: setting `a` would hold 32768 bytes, over the simulator's limit of 16 KiB for one setting (at machines/by-mac/52-54-00-aa-00-02.ipxe line 4)"),
        "{stdout}"
    );

    let (status, stdout, _) = run(two_machines(SPINS), &["simulate", "node-02"]);
    assert_eq!(status, 1);
    assert!(
        stdout.contains("  FAILS   it loops without progress"),
        "{stdout}"
    );
}

#[test]
fn a_machine_the_errors_leave_unresolved_ends_with_them() {
    // Its script does not render: the errors say why, and no trace or explanation is
    // made up, nor is its MAC simulated as an unregistered machine's.
    for args in [
        &["explain", "node-02"][..],
        &["simulate", "node-02"],
        &["simulate", "52:54:00:aa:00:02"],
    ] {
        let (status, stdout, stderr) = run(two_machines(UNDEFINED), args);
        assert_eq!((status, stdout.as_str()), (1, ""), "{args:?}");
        assert!(
            stderr.contains("netbootc::template-undefined") && stderr.contains("vars.missing"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.ends_with(&format!(
                "error: `{}` is no machine of what compiled; the errors above may concern it\n",
                args[1]
            )),
            "{args:?}: {stderr}"
        );
    }
    // Two machines with one MAC: validation keeps the first, and the second (the MAC's
    // other owner) is not answered for as if it were an unregistered machine.
    let test = two_machines(BOOTS).file(
        "machines/rack-b.kdl",
        "machine \"node-02\" {\n    mac \"52:54:00:aa:00:01\"\n    profile \"other\"\n}\n",
    );
    let (status, stdout, stderr) = run(test, &["explain", "node-02"]);
    assert_eq!((status, stdout.as_str()), (1, ""));
    assert!(stderr.contains("netbootc::duplicate-mac"), "{stderr}");

    // A MAC that is none: the machine is explained as its KDL resolves (by its UUID,
    // without the MAC), and the error is shown with it.
    let bad_mac = || {
        two_machines(BOOTS).file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00\"\n    uuid \"4c4c4544-0042-3510-8052-b4c04f4d4e32\"\n    profile \"other\"\n}\n",
        )
    };
    let (status, stdout, stderr) = run(bad_mac(), &["explain", "node-02"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("  mac "), "{stdout}");
    assert!(stdout.contains("  boots     boots its kernel"), "{stdout}");
    assert!(stderr.contains("netbootc::bad-mac"), "{stderr}");
    // node-01, which nothing is wrong with, is explained.
    let (status, stdout, _) = run(bad_mac(), &["explain", "node-01"]);
    assert_eq!(status, 0);
    assert!(stdout.starts_with("machine node-01"), "{stdout}");

    // No site: nothing can be resolved.
    let test = Test::new()
        .file("profiles/flatcar.kdl", common::profile_kdl())
        .file("machines/rack-a.kdl", MACHINE_KDL);
    let (status, stdout, stderr) = run(test, &["explain", "node-01"]);
    assert_eq!((status, stdout.as_str()), (1, ""));
    assert!(stderr.contains("netbootc::missing-site"), "{stderr}");
}

#[test]
fn unknown_names_and_unregistered_macs_are_as_before_when_only_boots_fail() {
    // With only simulations failing, every machine is in: a name no machine has is that,
    // and a MAC no machine has is simulated as an unregistered one.
    let (status, _, stderr) = run(two_machines(SPINS), &["explain", "node-99"]);
    assert_eq!(status, 2);
    assert!(
        stderr.contains("no machine has the name, MAC or UUID `node-99`"),
        "{stderr}"
    );
    let (status, stdout, _) = run(two_machines(SPINS), &["simulate", "52:54:00:99:99:99"]);
    assert_eq!(status, 0);
    assert!(
        stdout.contains("an unregistered machine on uefi-x86_64 firmware"),
        "{stdout}"
    );
}
