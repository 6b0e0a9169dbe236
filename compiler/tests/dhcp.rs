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

/// Includes `dhcp-config`'s output in a minimal configuration of its server and runs that
/// server's checker on it (`dnsmasq --test`, `dhcpd -t`, `kea-dhcp4 -t`).
fn check_with_its_server(format: &str, out: &Output) {
    let dir = out.path();
    let generated = dir.join(format!("netboot.{format}"));
    fs::write(&generated, &out.stdout).unwrap();
    match format {
        "dnsmasq" => accepted(
            "dnsmasq",
            &["--test", &format!("--conf-file={}", generated.display())],
            dir,
        ),
        "isc" => {
            let main = format!(
                "authoritative;\ninclude \"{}\";\nsubnet 10.0.0.0 netmask 255.255.255.0 {{\n  range 10.0.0.100 10.0.0.200;\n}}\n",
                generated.display()
            );
            fs::write(dir.join("dhcpd.conf"), main).unwrap();
            accepted("dhcpd", &["-t", "-cf", "dhcpd.conf"], dir);
        }
        "kea" => {
            let main = format!(
                "{{\"Dhcp4\": {{\n  \"interfaces-config\": {{\"interfaces\": []}},\n  \"subnet4\": [{{\"id\": 1, \"subnet\": \"10.0.0.0/24\", \"pools\": [{{\"pool\": \"10.0.0.100-10.0.0.200\"}}]}}],\n<?include \"{}\"?>\n}}}}\n",
                generated.display()
            );
            fs::write(dir.join("kea-dhcp4.conf"), main).unwrap();
            accepted("kea-dhcp4", &["-t", "kea-dhcp4.conf"], dir);
        }
        other => panic!("no checker for {other}"),
    }
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
    check_with_its_server("dnsmasq", &out);
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
    check_with_its_server("isc", &out);
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
    check_with_its_server("kea", &out);
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

/// Every way a value could leave its string or field in a router config: `check` refuses
/// each in `proxy=` and in `origin` with `netbootc::unsafe-url` pointing at the character,
/// and `dhcp-config` writes nothing. (KDL spelling, what the diagnostic must say.)
const HOSTILE_URLS: &[(&str, &str)] = &[
    // The issue's reproduction: ISC's `filename "…"` closed, a statement, a new string.
    (
        r###"##"http://10.0.0.2:8080/x";execute("/usr/bin/touch","/tmp/p");filename""##"###,
        "has `\"`",
    ),
    // A backslash-escaped quote (ISC and dnsmasq read `\"` inside a string as a quote).
    (r###"##"http://10.0.0.2:8080/x\";"##"###, "has `\\`"),
    // Newline injection: a new line is a new directive in all three formats.
    (
        r#""http://10.0.0.2:8080/x\ndhcp-script=/usr/bin/touch""#,
        "U+000A",
    ),
    (r#""http://10.0.0.2:8080/x\r""#, "U+000D"),
    (r#""http://10.0.0.2:8080/a\tb""#, "U+0009"),
    (r#""http://10.0.0.2:8080/a b""#, "U+0020"),
    // ISC blocks.
    (r#""http://10.0.0.2:8080/x}""#, "has `}`"),
    (r#""http://10.0.0.2:8080/x{""#, "has `{`"),
    (r#""http://10.0.0.2:8080/x;""#, "has `;`"),
    // dnsmasq: a comma shifts the next-server field, `#` starts a comment.
    (r#""http://10.0.0.2:8080/x,,10.6.6.6""#, "has `,`"),
    (r#""http://10.0.0.2:8080/#x""#, "a fragment (`#`)"),
    // Kea: closing the JSON string and object, and the quotes of its test expressions.
    (
        r###"##"http://10.0.0.2:8080/x"}],"Dhcp4":{"##"###,
        "has `\"`",
    ),
    (r#""http://10.0.0.2:8080/x'""#, "has `'`"),
    // iPXE expands `${…}` in the scripts these URLs are also written into.
    (r#""http://10.0.0.2:8080/${x}""#, "has `$`"),
    (r#""http://10.0.0.2:8080/?a=b""#, "a query (`?`)"),
    (
        r#""http://user:pw@10.0.0.2:8080""#,
        "user information (`@`)",
    ),
    (
        r#""http://10.0.0.2:8080/%zz""#,
        "`%` not followed by two hex digits",
    ),
    (r#""http://bööt.lan:8080""#, "non-ASCII character `ö`"),
    (r#""http://10.0.0.2:8080/\u{7}""#, "U+0007"),
];

fn site_with(origin: &str, chain: &str) -> Test {
    Test::new().base().file(
        "profiles/site.kdl",
        format!("site {{\n    origin {origin}\n    {chain}\n}}\n"),
    )
}

#[test]
fn check_refuses_every_origin_and_proxy_url_a_router_config_would_read_as_syntax() {
    for (kdl, why) in HOSTILE_URLS {
        let https = kdl.replacen("http://", "https://", 1);
        for (what, test) in [
            (
                "proxy",
                site_with(
                    "\"https://boot.example.com\"",
                    &format!("chain \"via-proxy\" proxy={kdl}"),
                ),
            ),
            ("origin", site_with(&https, "chain \"direct\"")),
        ] {
            let mut out = test.args(["check"]).expect_exit(1).run();
            assert!(
                out.stderr.contains("netbootc::unsafe-url") && out.stderr.contains(why),
                "{what} {kdl}: {}",
                out.stderr
            );
            for format in ["dnsmasq", "isc", "kea"] {
                out = out
                    .again()
                    .args([
                        "dhcp-config",
                        "--format",
                        format,
                        "--next-server",
                        "10.0.0.3",
                    ])
                    .expect_exit(1)
                    .run();
                assert!(
                    out.stdout.is_empty(),
                    "{what} {kdl} {format}: {}",
                    out.stdout
                );
            }
        }
    }
}

#[test]
fn the_unsafe_url_diagnostic_points_at_the_character() {
    let kdl = HOSTILE_URLS[0].0;
    let out = site_with(
        "\"https://boot.example.com\"",
        &format!("chain \"via-proxy\" proxy={kdl}"),
    )
    .args(["check", "--format", "json"])
    .expect_exit(1)
    .run();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let found = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "netbootc::unsafe-url")
        .unwrap_or_else(|| panic!("{}", out.stdout));
    let text = fs::read_to_string(out.path().join("profiles/site.kdl")).unwrap();
    let offset = usize::try_from(found["offset"].as_u64().unwrap()).unwrap();
    assert_eq!(found["length"], 1, "{found}");
    assert_eq!(&text[offset..offset + 1], "\"", "{found}");
    assert!(text[..offset].ends_with("8080/x"), "{found}");
}

/// What the grammar allows needs no escaping anywhere: a %-escaped quote and comma, `~`,
/// an IPv6 origin, a port and a path come out byte for byte, and every checker accepts them.
#[test]
fn allowed_urls_round_trip_into_every_format() {
    let proxy = "http://10.0.0.2:8080/a%22b%2C~c/";
    let dispatcher = "http://10.0.0.2:8080/a%22b%2C~c/boot.ipxe";
    for format in ["dnsmasq", "isc", "kea"] {
        let out = dhcp_config(
            site(&format!("chain \"via-proxy\" proxy=\"{proxy}\"")),
            format,
        );
        assert!(
            out.stdout.contains(&format!("\"{dispatcher}\"")),
            "{format}: {}",
            out.stdout
        );
        check_with_its_server(format, &out);
    }
    let direct = site_with("\"https://[2001:db8::1]:8443/boot\"", "chain \"direct\"")
        .args([
            "dhcp-config",
            "--format",
            "isc",
            "--next-server",
            "10.0.0.3",
        ])
        .expect_exit(0)
        .run();
    assert!(
        direct
            .stdout
            .contains("filename \"https://[2001:db8::1]:8443/boot/boot.ipxe\";"),
        "{}",
        direct.stdout
    );
}
