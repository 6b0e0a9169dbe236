//! `netbootc dhcp-config`: each format is checked by its own server's configuration
//! checker (Debian's dnsmasq, isc-dhcp-server and kea-dhcp4-server; `.ci/packages`), and
//! says the same thing: iPXE gets the dispatcher, every other client the boot file of its
//! firmware class from the next-server. A missing checker fails the test.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Output, Test, kernel_sha256};

/// The base config with a via-proxy site declaring boot files for BIOS and x86_64 UEFI
/// (the base kernel's bytes stand in for the iPXE builds).
fn site(chain: &str) -> Test {
    let file = |name: &str, firmware: &str| {
        format!(
            "    boot-file \"{name}\" path=\"images/vmlinuz\" sha256=\"{}\" firmware=\"{firmware}\"\n",
            kernel_sha256()
        )
    };
    Test::new().base().file(
        "profiles/site.kdl",
        format!(
            "site {{\n    origin \"https://boot.example.com\"\n    {chain}\n{}{}}}\n",
            file("undionly.kpxe", "bios"),
            file("ipxe.efi", "uefi-x86_64"),
        ),
    )
}

const VIA_PROXY: &str = "chain \"via-proxy\" proxy=\"http://10.0.0.2:8080\"";

fn dhcp_config(test: Test, format: &str) -> Output {
    test.args(["dhcp-config", "--format", format])
        .expect_exit(0)
        .run()
}

/// Runs a checker; panics with its output unless it accepts the file.
fn accepted(program: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} (from .ci/packages) cannot run: {e}"));
    assert!(
        out.status.success(),
        "{program} refused the configuration:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dnsmasq_accepts_it_and_it_routes_by_user_class_and_client_arch() {
    let out = dhcp_config(site(VIA_PROXY), "dnsmasq");
    let conf = out.stdout.clone();
    for line in [
        "dhcp-userclass=set:ipxe,iPXE",
        "dhcp-match=set:bios,option:client-arch,0",
        "dhcp-match=set:efi-x86_64,option:client-arch,7",
        "dhcp-match=set:efi-x86_64,option:client-arch,9",
        "dhcp-match=set:efi-x86_64-http,option:client-arch,16",
        "dhcp-boot=tag:ipxe,\"http://10.0.0.2:8080/boot.ipxe\"",
        "dhcp-option=tag:ipxe,encap:175,176,1",
        "dhcp-boot=tag:!ipxe,tag:bios,\"undionly.kpxe\",,10.0.0.2",
        "dhcp-boot=tag:!ipxe,tag:efi-x86_64,\"ipxe.efi\",,10.0.0.2",
        "dhcp-option-force=tag:efi-x86_64-http,option:vendor-class,HTTPClient",
        "dhcp-boot=tag:!ipxe,tag:efi-x86_64-http,\"http://10.0.0.2:8080/tftp/ipxe.efi\"",
    ] {
        assert!(conf.lines().any(|l| l == line), "missing `{line}`:\n{conf}");
    }
    // No arm64 boot file, so no arm64 answer, and a note saying why.
    assert!(!conf.contains("client-arch,11"), "{conf}");
    assert!(
        conf.contains("# Note: uefi-arm64 clients get no boot file"),
        "{conf}"
    );
    let path = out.path().join("netboot.dnsmasq");
    fs::write(&path, &conf).unwrap();
    accepted(
        "dnsmasq",
        &["--test", &format!("--conf-file={}", path.display())],
        out.path(),
    );
}

#[test]
fn dhcpd_accepts_it_at_global_scope() {
    let out = dhcp_config(site(VIA_PROXY), "isc");
    let conf = out.stdout.clone();
    for text in [
        "option netboot-client-arch code 93 = unsigned integer 16;",
        "next-server 10.0.0.2;",
        "if exists user-class and option user-class = \"iPXE\" {\n  filename \"http://10.0.0.2:8080/boot.ipxe\";",
        "} elsif option netboot-client-arch = 00:00 {\n  filename \"undionly.kpxe\";",
        "} elsif option netboot-client-arch = 00:07 or option netboot-client-arch = 00:09 {\n  filename \"ipxe.efi\";",
        "} elsif option netboot-client-arch = 00:10 {\n  filename \"http://10.0.0.2:8080/tftp/ipxe.efi\";\n  option vendor-class-identifier \"HTTPClient\";",
    ] {
        assert!(conf.contains(text), "missing `{text}`:\n{conf}");
    }
    fs::write(out.path().join("netboot.conf"), &conf).unwrap();
    let main = format!(
        "authoritative;\ninclude \"{}\";\nsubnet 10.0.0.0 netmask 255.255.255.0 {{\n  range 10.0.0.100 10.0.0.200;\n}}\n",
        out.path().join("netboot.conf").display()
    );
    fs::write(out.path().join("dhcpd.conf"), main).unwrap();
    accepted("dhcpd", &["-t", "-cf", "dhcpd.conf"], out.path());
}

#[test]
fn kea_accepts_it_inside_dhcp4() {
    let out = dhcp_config(site(VIA_PROXY), "kea");
    let conf = out.stdout.clone();
    for text in [
        "\"test\": \"substring(option[77].hex,0,4) == 'iPXE'\",\n    \"boot-file-name\": \"http://10.0.0.2:8080/boot.ipxe\"",
        "\"test\": \"not member('ipxe') and (option[93].hex == 0x0000)\",\n    \"boot-file-name\": \"undionly.kpxe\",\n    \"next-server\": \"10.0.0.2\"",
        "\"test\": \"not member('ipxe') and (option[93].hex == 0x0007 or option[93].hex == 0x0009)\"",
        "\"data\": \"HTTPClient\"",
    ] {
        assert!(conf.contains(text), "missing `{text}`:\n{conf}");
    }
    fs::write(out.path().join("netboot-classes.json"), &conf).unwrap();
    let main = format!(
        "{{\"Dhcp4\": {{\n  \"interfaces-config\": {{\"interfaces\": []}},\n  \"subnet4\": [{{\"id\": 1, \"subnet\": \"10.0.0.0/24\", \"pools\": [{{\"pool\": \"10.0.0.100-10.0.0.200\"}}]}}],\n<?include \"{}\"?>\n}}}}\n",
        out.path().join("netboot-classes.json").display()
    );
    fs::write(out.path().join("kea-dhcp4.conf"), main).unwrap();
    accepted("kea-dhcp4", &["-t", "kea-dhcp4.conf"], out.path());
}

#[test]
fn a_proxy_named_by_host_name_needs_next_server() {
    let named = site("chain \"via-proxy\" proxy=\"http://pi.lan:8080\"");
    let out = named
        .args(["dhcp-config", "--format", "dnsmasq"])
        .expect_exit(2)
        .run();
    assert!(
        out.stderr.contains("not named by an IPv4 address") && out.stderr.contains("--next-server"),
        "{}",
        out.stderr
    );
    let given = out
        .again()
        .args([
            "dhcp-config",
            "--format",
            "dnsmasq",
            "--next-server",
            "10.9.8.7",
        ])
        .expect_exit(0)
        .run();
    assert!(
        given
            .stdout
            .contains("dhcp-boot=tag:!ipxe,tag:bios,\"undionly.kpxe\",,10.9.8.7"),
        "{}",
        given.stdout
    );
    assert!(given.stdout.contains("http://pi.lan:8080/boot.ipxe"));
}

#[test]
fn direct_mode_points_ipxe_at_the_origin_and_offers_no_http_boot() {
    let out = site("chain \"direct\"")
        .args([
            "dhcp-config",
            "--format",
            "dnsmasq",
            "--next-server",
            "10.0.0.3",
        ])
        .expect_exit(0)
        .run();
    assert!(
        out.stdout
            .contains("dhcp-boot=tag:ipxe,\"https://boot.example.com/boot.ipxe\""),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("HTTPClient"), "{}", out.stdout);
    assert!(out.stdout.contains("HTTP Boot clients get nothing"));
}

#[test]
fn a_broken_config_writes_no_router_configuration() {
    let out = site(VIA_PROXY)
        .file(
            "machines/rack-b.kdl",
            "machine \"node-09\" {\n    mac \"nope\"\n    profile \"flatcar-stable\"\n}\n",
        )
        .args(["dhcp-config", "--format", "kea"])
        .expect_exit(1)
        .run();
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("netbootc::bad-mac"), "{}", out.stderr);
}
