//! `netbootc simulate`: the example fleet traced from the dispatcher to what each machine
//! boots, the same trace from a built bundle, and the ways a boot fails (a build without
//! HTTPS, the arch guard, a script that loops).

mod common;

use common::{EXAMPLE_MACHINES, EXAMPLE_PROFILES, Test};

fn example() -> Test {
    Test::new()
        .copy_tree(EXAMPLE_MACHINES, "machines")
        .copy_tree(EXAMPLE_PROFILES, "profiles")
}

fn simulate(args: &[&str], exit: i32) -> String {
    let mut all = vec!["simulate"];
    all.extend(args);
    example().args(all).expect_exit(exit).run().stdout
}

/// The fetched routes of the trace, in order.
fn routes(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("→ "))
        .map(|r| r.split_whitespace().next().unwrap_or(""))
        .collect()
}

#[test]
fn each_example_machine_boots_what_its_kdl_says() {
    let out = simulate(&["node-01"], 0);
    // Both firmware classes the site declares for x86_64, each traced in full.
    assert!(out.contains("node-01 on bios firmware, iPXE 2.0"), "{out}");
    assert!(
        out.contains("node-01 on uefi-x86_64 firmware, iPXE 2.0"),
        "{out}"
    );
    let bios = out.split("\n\n").next().unwrap();
    assert_eq!(
        routes(bios),
        [
            "boot.ipxe",
            "machines/by-uuid/4c4c4544-0042-3510-8052-b4c04f4d4e31.ipxe",
            "objects/sha256/8d53eaeaf1f2eeb15149901cc093dd2f0d65b15bc0929cb07541a937a7e71162",
            "objects/sha256/dcf44eea226213b425b5a5eab217230d34d2a8b1a8e970db1a66e2cdc6837e07",
        ]
    );
    assert!(
        bios.contains("cmdline: initrd=initrd flatcar.first_boot=1"),
        "{bios}"
    );
    assert!(
        bios.contains("ok      as configured: profile flatcar-stable"),
        "{bios}"
    );

    // A machine without a UUID goes by MAC; the rescue template's menu picks its default.
    let out = simulate(&["52-54-00-BB-00-01", "--firmware", "bios"], 0);
    assert_eq!(routes(&out)[1], "machines/by-mac/52-54-00-bb-00-01.ipxe");
    assert!(
        out.contains("as configured: profile alpine-rescue"),
        "{out}"
    );
    // Installed: its local disk.
    let out = simulate(&["node-03", "--firmware", "uefi-x86_64"], 0);
    assert!(out.contains("end     boots its local disk"), "{out}");
    // arm64 boards: the one arm64 class.
    let out = simulate(&["arm-02"], 0);
    assert!(out.contains("arm-02 on uefi-arm64 firmware"), "{out}");
    assert!(!out.contains("bios"), "{out}");
}

/// The example's Raspberry Pi 5: its bootloader's TFTP fetches under its serial, in the
/// documented order, each named by what it is; explain lists the same.
#[test]
fn a_pi_board_is_traced_as_its_bootloader_fetches() {
    let out = simulate(&["arm-01"], 0);
    let fetched: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tftp    "))
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        fetched,
        [
            "3a8b1c01/config.txt",
            "3a8b1c01/bcm2712-rpi-5-b.dtb",
            "3a8b1c01/cmdline.txt",
            "3a8b1c01/kernel8.img",
            "3a8b1c01/initramfs8",
        ],
        "{out}"
    );
    assert!(
        out.contains("arm-01 on its Raspberry Pi 5 bootloader (serial 3a8b1c01)"),
        "{out}"
    );
    assert!(!out.contains("MISSING"), "{out}");
    let explained = example().args(["explain", "arm-01"]).run().stdout;
    assert!(
        explained.contains("pi        Raspberry Pi 5, serial 3a8b1c01  [machines/arm.kdl:6]"),
        "{explained}"
    );
    assert_eq!(
        explained.matches("pi fetch  3a8b1c01/").count(),
        5,
        "{explained}"
    );
}

#[test]
fn an_unregistered_mac_gets_the_unknown_script_and_retries() {
    let out = simulate(&["52:54:00:99:99:99", "--firmware", "bios"], 0);
    assert_eq!(
        routes(&out),
        ["boot.ipxe", "404:", "machines/unknown.ipxe", "boot.ipxe",]
    );
    assert!(
        out.contains("an unregistered machine on bios firmware"),
        "{out}"
    );
    assert!(
        out.contains("it waits and retries for ever (60 s simulated; last message: \"netbootc: add it to machines/*.kdl"),
        "{out}"
    );
}

#[test]
fn the_wrong_firmware_meets_the_arch_guard() {
    let out = simulate(&["node-02", "--firmware", "uefi-arm64"], 1);
    assert!(
        out.contains("FAILS   it waits and retries for ever (60 s simulated; last message: \"netbootc: not booting it;"),
        "{out}"
    );
    // The guard fetches no kernel.
    assert!(!out.contains("kernel  "), "{out}");
}

#[test]
fn https_on_an_ipxe_without_it_fails_at_the_first_fetch() {
    // The base config is `direct`: scripts fetch from the HTTPS origin.
    let out = Test::new()
        .base()
        .args(["simulate", "node-01", "--ipxe", "debian-2019"])
        .expect_exit(1)
        .run()
        .stdout;
    assert!(
        out.contains("fails: iPXE debian-2019 for uefi-x86_64 has no HTTPS: it cannot fetch https://boot.example.com/boot.ipxe"),
        "{out}"
    );
    // The site's own build (direct mode) has HTTPS.
    let out = Test::new()
        .base()
        .args(["simulate", "node-01"])
        .run()
        .stdout;
    assert!(
        out.contains("iPXE custom") && out.contains("as configured"),
        "{out}"
    );
}

#[test]
fn a_built_bundle_gives_the_same_trace() {
    let built = example().args(["build"]).run();
    let from_config = built.again().args(["simulate", "node-04"]).run();
    let expected = from_config.stdout.clone();
    assert!(
        expected.contains("as configured: profile flatcar-debug"),
        "{expected}"
    );
    let from_bundle = from_config
        .again()
        .args(["simulate", "node-04", "--bundle", "out"])
        .run();
    assert_eq!(from_bundle.stdout, expected);
    // An empty directory has no release to simulate against.
    let none = from_bundle
        .again()
        .dir("empty")
        .args(["simulate", "node-04", "--bundle", "empty"])
        .expect_exit(2)
        .run();
    assert!(none.stderr.contains("has no `current`"), "{}", none.stderr);
}

#[test]
fn a_script_that_loops_without_progress_is_caught() {
    let template = "#!ipxe\n:again\necho trying\ngoto again\n";
    let out = Test::new()
        .base()
        .file(
            "profiles/flatcar.kdl",
            common::profile_kdl().replace("}\n", "    template \"templates/spin.ipxe.j2\"\n}\n"),
        )
        .file("profiles/templates/spin.ipxe.j2", template)
        .args(["check"])
        .expect_exit(1)
        .run()
        .stderr;
    assert!(out.contains("netbootc::simulation-failed"), "{out}");
    assert!(out.contains("it loops without"), "{out}");
}

#[test]
fn explain_says_where_each_value_of_a_machine_was_set() {
    let out = example().args(["explain", "node-04"]).run().stdout;
    for expected in [
        "machine node-04  [machines/rack-a.kdl:26]",
        "  mac       52-54-00-aa-01-04  [machines/rack-a.kdl:27]",
        "  profile   flatcar-debug  [machines/rack-a.kdl:28]",
        "  extends   flatcar-debug → flatcar-stable  [profiles/flatcar.kdl:18]",
        "  arch      x86_64  [profiles/flatcar.kdl:7, profile flatcar-stable]",
        // The inherited cmdline, then the child's cmdline-append, each where it is written.
        "  cmdline   \"flatcar.autologin\"  [profiles/flatcar.kdl:19, profile flatcar-debug]",
        "  template  <built-in>/machine.ipxe.j2  [built-in]",
        // The machine's var next to the profile's.
        "  var       role = \"worker\"  [machines/rack-a.kdl:29]",
        "  var       ssh_key = \"ssh-ed25519 ",
        "  file      ignition (profiles/templates/flatcar.ign.j2) sha256:",
        "  boots     boots its kernel with: initrd=initrd flatcar.first_boot=1 ",
    ] {
        assert!(out.contains(expected), "{expected:?} missing in:\n{out}");
    }
    assert!(
        out.contains("kernel    path images/flatcar/flatcar_production_pxe.vmlinuz sha256:8d53"),
        "{out}"
    );
    let out = example().args(["explain", "nobody"]).expect_exit(2).run();
    assert!(
        out.stderr.contains("no machine has the name"),
        "{}",
        out.stderr
    );
}

/// The sha256 check of machine scripts (site `ipxe-build`): a kernel swapped in the store
/// is refused on the class whose build verifies, with the console line and the `refused/`
/// fetch the proxy records, and boots unseen on BIOS, whose iPXE 2.0 has no `sha256sum`.
#[test]
fn a_swapped_kernel_is_refused_where_the_build_verifies() {
    const KERNEL: &str = "8d53eaeaf1f2eeb15149901cc093dd2f0d65b15bc0929cb07541a937a7e71162";
    let built = example().args(["build"]).run();
    let object = built.path().join("out/objects/sha256").join(KERNEL);
    let mut permissions = std::fs::metadata(&object).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)] // the test's own temp copy
    permissions.set_readonly(false);
    std::fs::set_permissions(&object, permissions).unwrap();
    std::fs::write(&object, b"not the kernel\n").unwrap();
    let swapped = common::sha256_hex(b"not the kernel\n");

    let out = built
        .again()
        .args(["simulate", "node-01", "--bundle", "out"])
        .expect_exit(1)
        .run()
        .stdout;
    let (bios, uefi) = out.split_once("\n\n").unwrap();
    assert!(bios.contains("node-01 on bios firmware"), "{out}");
    assert!(
        bios.contains("as configured") && !bios.contains("REFUSED"),
        "BIOS cannot verify: {bios}"
    );
    assert!(
        uefi.contains("node-01 on uefi-x86_64 firmware, iPXE 2.0"),
        "{uefi}"
    );
    assert!(
        uefi.contains(&format!(
            "echo    netbootc: node-01: REFUSED kernel: its sha256 is {swapped}, not {KERNEL} as compiled into this script"
        )),
        "{uefi}"
    );
    assert!(
        uefi.contains("→ 404: no route refused/sha256/kernel"),
        "{uefi}"
    );
    assert!(
        uefi.contains("FAILS   it reboots without booting"),
        "{uefi}"
    );
}

/// The site says which iPXE build each firmware class runs: scripts check images only
/// where that build has `sha256sum` and the site did not opt out, and the simulation
/// runs each class on its build.
#[test]
fn ipxe_build_decides_where_scripts_verify() {
    let site = |builds: &str| {
        std::fs::read_to_string(format!("{EXAMPLE_PROFILES}/site.kdl"))
            .unwrap()
            .replace(
                "    chain \"via-proxy\"",
                &format!("{builds}    chain \"via-proxy\""),
            )
    };
    let render = |builds: &str, machine: &str| {
        example()
            .file("profiles/site.kdl", site(builds))
            .args(["render", machine])
            .run()
            .stdout
    };
    assert!(
        render("", "node-01")
            .contains("iseq ${platform}/${buildarch} efi/x86_64 && goto verify_images ||")
    );
    assert!(
        render("", "arm-01")
            .contains("iseq ${platform}/${buildarch} efi/arm64 && goto verify_images ||")
    );
    for (builds, machine) in [
        (
            "    ipxe-build \"debian-2019\" firmware=\"uefi-arm64\"\n",
            "arm-01",
        ),
        ("    ipxe-build \"2.0\" verify-images=#false\n", "node-01"),
    ] {
        let script = render(builds, machine);
        assert!(!script.contains("sha256sum"), "{builds}: {script}");
        assert!(script.contains("kernel --name kernel "), "{script}");
    }

    let out = example()
        .file(
            "profiles/site.kdl",
            site("    ipxe-build \"debian-2019\" firmware=\"uefi-arm64\"\n"),
        )
        .args(["simulate", "arm-01"])
        .run()
        .stdout;
    assert!(
        out.contains("uefi-arm64 firmware, iPXE debian-2019"),
        "{out}"
    );
    // Debian's build on UEFI hands a local-disk machine (node-03) back to the firmware.
    let out = example()
        .file(
            "profiles/site.kdl",
            site("    ipxe-build \"debian-2019\" firmware=\"uefi-x86_64\"\n"),
        )
        .args(["simulate", "node-03", "--firmware", "uefi-x86_64"])
        .run()
        .stdout;
    assert!(
        out.contains("iPXE exits (status 1) without booting")
            && out.contains("ok      as configured: its local disk"),
        "{out}"
    );

    let broken = example()
        .file(
            "profiles/site.kdl",
            site("    ipxe-build \"2.1\"\n    ipxe-build \"2.0\" firmware=\"bios\"\n    ipxe-build \"custom\" firmware=\"bios\"\n    ipxe-build \"2.0\" verify-images=\"no\"\n"),
        )
        .args(["check"])
        .expect_exit(1)
        .run()
        .stderr;
    assert!(broken.contains("unknown iPXE build \"2.1\""), "{broken}");
    assert!(broken.contains("two `ipxe-build`s for bios"), "{broken}");
    assert!(
        broken.contains("`verify-images=` expects #true or #false, found a string"),
        "{broken}"
    );
}

/// HTTPS on the last hop for a fleet whose builds all trust the LAN CA: the Pi's
/// `--https-listen` as `proxy=`, `ipxe-build "custom"`; the router config and the
/// bootstrap script then name the https dispatcher. With the default build, BIOS has no
/// HTTPS, and `check` says so instead of building scripts those machines cannot fetch.
#[test]
fn an_https_proxy_needs_builds_with_https_and_is_what_the_router_hands_out() {
    let site = |extra: &str| {
        std::fs::read_to_string(format!("{EXAMPLE_PROFILES}/site.kdl"))
            .unwrap()
            .replace(
                "chain \"via-proxy\" proxy=\"http://10.0.0.2:8080\"",
                &format!("chain \"via-proxy\" proxy=\"https://10.0.0.2:8443\"\n{extra}"),
            )
    };
    let custom = site("    ipxe-build \"custom\"\n");
    let dhcp = example()
        .file("profiles/site.kdl", &custom)
        .args(["dhcp-config", "--format", "dnsmasq"])
        .run()
        .stdout;
    assert!(
        dhcp.contains("dhcp-boot=tag:ipxe,\"https://10.0.0.2:8443/boot.ipxe\""),
        "{dhcp}"
    );
    let bootstrap = example()
        .file("profiles/site.kdl", &custom)
        .args(["ipxe-bootstrap"])
        .run()
        .stdout;
    assert!(
        bootstrap.contains("chain --autofree https://10.0.0.2:8443/boot.ipxe"),
        "{bootstrap}"
    );
    let refused = example()
        .file("profiles/site.kdl", site(""))
        .args(["check"])
        .expect_exit(1)
        .run()
        .stderr;
    // (The report wraps at its fixed width.)
    assert!(
        refused.contains("on bios firmware: iPXE 2.0 for bios has no")
            && refused.contains("HTTPS: it cannot fetch https://10.0.0.2:8443/boot.ipxe"),
        "{refused}"
    );
}
