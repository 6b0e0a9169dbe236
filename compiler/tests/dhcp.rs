//! `netbootc dhcp-config`: each format is checked by its own server's configuration
//! checker (Debian's dnsmasq, isc-dhcp-server and kea-dhcp4-server; `.ci/packages`), and
//! says the same thing: iPXE gets the dispatcher, every other client the boot file of its
//! firmware class from the next-server. A missing checker fails the test.
//!
//! No config value becomes a directive: `check` refuses every URL a router config would
//! read as syntax, and, as root, the real dhcpd and dnsmasq serve the output on a test LAN
//! in network namespaces, where a DHCP client sees exactly the planned answers and values
//! built to break out (written past `check`) arrive as one file name and run nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::secure_boot::{config as secure_boot_config, minimal_efi, test_pki};
use common::{Output, Test, kernel_sha256};
use dhcproto::v4::{
    Architecture, Decoder, DhcpOption, Encoder, Flags, Message, MessageType, Opcode, OptionCode,
};
use dhcproto::{Decodable, Encodable};
use netboot_compile::dhcp::{DhcpFormat, DhcpPlan};
use netboot_compile::model::{ChainMode, Site};
use netboot_protocol::rpi;
use netboot_testkit::wait_until;
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use socket2::{Domain, Socket, Type};

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

/// The test clients' hardware address, and the Secure Boot machine's of `secure_boot_fleet`.
const PLAIN_MAC: [u8; 6] = [0x52, 0x54, 0, 0x77, 0, 9];
const SECURE_BOOT_MAC: [u8; 6] = [0x52, 0x54, 0, 0xaa, 0, 1];

/// A via-proxy site whose x86_64 UEFI clients get `snponly.efi`, except its Secure Boot
/// machine (the base machine, `52:54:00:aa:00:01`, its images signed so `check` passes),
/// which gets `snponly-sb.efi`; a plain machine at [`PLAIN_MAC`] beside it.
fn secure_boot_fleet(proxy: &str) -> Test {
    let pki = test_pki();
    let signed = pki.sign(&minimal_efi(), "signer");
    let db = pki.read("db.pem");
    let digest = common::sha256_hex(&signed);
    let site = format!(
        "site {{\n    origin \"https://boot.example.com\"\n    chain \"via-proxy\" proxy=\"{proxy}\"\n    boot-file \"snponly.efi\" path=\"images/kernel.efi\" sha256=\"{digest}\" firmware=\"uefi-x86_64\"\n    boot-file \"snponly-sb.efi\" path=\"images/ipxe.efi\" sha256=\"{digest}\" firmware=\"uefi-x86_64\" secure-boot=#true\n    secure-boot {{\n        db path=\"keys/db.pem\" sha256=\"{}\"\n    }}\n}}\n",
        common::sha256_hex(&db)
    );
    secure_boot_config(&signed, &signed, &db)
        .file("profiles/site.kdl", site)
        .file(
            "machines/plain.kdl",
            "machine \"plain\" {\n    mac \"52:54:00:77:00:09\"\n    profile \"flatcar-stable\"\n}\n",
        )
}

fn dhcp_config(test: Test, format: &str) -> Output {
    test.args(["dhcp-config", "--format", format])
        .expect_exit(0)
        .run()
}

/// Includes `dhcp-config`'s output in a minimal configuration of its server and runs that
/// server's checker on it (`dnsmasq --test`, `dhcpd -t`, `kea-dhcp4 -t`).
fn check_with_its_server(format: &str, dir: &Path, text: &str) {
    let generated = dir.join(format!("netboot.{format}"));
    fs::write(&generated, text).unwrap();
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
    check_with_its_server("dnsmasq", out.path(), &out.stdout);
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
    check_with_its_server("isc", out.path(), &out.stdout);
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
    check_with_its_server("kea", out.path(), &out.stdout);
}

#[test]
fn every_format_gives_secure_boot_machines_their_first_stage_by_mac() {
    let expected: [(&str, &[&str]); 3] = [
        (
            "dnsmasq",
            &[
                "dhcp-mac=set:secure-boot-efi-x86_64,52:54:00:aa:00:01\n",
                "dhcp-match=set:secure-boot-efi-x86_64-pxe,option:client-arch,7\n",
                "dhcp-boot=tag:!ipxe,tag:secure-boot-efi-x86_64,tag:secure-boot-efi-x86_64-pxe,\"snponly-sb.efi\",,10.0.0.2\n",
            ],
        ),
        (
            "isc",
            &[
                "} elsif ((substring(hardware, 1, 6) = 52:54:00:aa:00:01) and (option netboot-client-arch = 00:07 or option netboot-client-arch = 00:09)) {\n  filename \"snponly-sb.efi\";\n} elsif option netboot-client-arch = 00:07",
            ],
        ),
        (
            "kea",
            &[
                "\"test\": \"not member('ipxe') and (pkt4.mac == 0x525400aa0001) and (option[93].hex == 0x0007 or option[93].hex == 0x0009)\",\n    \"boot-file-name\": \"snponly-sb.efi\"",
            ],
        ),
    ];
    for (format, texts) in expected {
        let out = dhcp_config(secure_boot_fleet("http://10.0.0.2:8080"), format);
        for text in texts {
            assert!(
                out.stdout.contains(text),
                "{format}: missing `{text}`:\n{}",
                out.stdout
            );
        }
        // The plain machine's MAC is in no Secure Boot rule.
        assert!(!out.stdout.contains("52:54:00:77:00:09"), "{}", out.stdout);
        check_with_its_server(format, out.path(), &out.stdout);
    }
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

/// A URL DHCP's 128-byte boot file field cannot hold would reach clients cut (dnsmasq) or
/// not at all (dhcpd): `check` says so, on the site, and `dhcp-config` writes nothing. The
/// proxy fits; its HTTP Boot URL (`<proxy>/tftp/ipxe.efi`) is one byte over.
#[test]
fn check_refuses_a_boot_url_longer_than_the_boot_file_field() {
    let base = "http://10.0.0.2:8080/";
    let proxy = format!(
        "{base}{}",
        "p".repeat(127 - base.len() - "/tftp/ipxe.efi".len() + 1)
    );
    let over = format!("{proxy}/tftp/ipxe.efi");
    assert_eq!(over.len(), 128);
    let mut out = site(&format!("chain \"via-proxy\" proxy=\"{proxy}\""))
        .args(["check", "--format", "json"])
        .expect_exit(1)
        .run();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let messages: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "netbootc::bad-value")
        .filter_map(|d| d["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with(&format!(
            "`{over}` is 128 bytes, and DHCP's boot file field holds 127"
        ))),
        "{}",
        out.stdout
    );
    for format in ["dnsmasq", "isc", "kea"] {
        out = out
            .again()
            .args(["dhcp-config", "--format", format])
            .expect_exit(1)
            .run();
        assert!(out.stdout.is_empty(), "{format}: {}", out.stdout);
    }
    let fits = &proxy[..proxy.len() - 1];
    dhcp_config(
        site(&format!("chain \"via-proxy\" proxy=\"{fits}\"")),
        "isc",
    );
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
        check_with_its_server(format, out.path(), &out.stdout);
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

/// A test LAN in network namespaces, built by the LAN boot matrix's own helpers
/// (runtime/e2e/lan/net.sh): the DHCP server runs in the router's namespace, the client in
/// the Pi's, on the same switch. Dropping it stops what runs there and deletes them all.
struct Lan {
    prefix: String,
}

const NET_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime/e2e/lan/net.sh");

impl Lan {
    /// `None` (after saying why) when not root: namespaces need it; CI runs as root.
    fn up(test: &str) -> Option<Self> {
        let uid = Command::new("id").arg("-u").output().unwrap();
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("SKIP {test}: network namespaces need root");
            return None;
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let lan = Self {
            prefix: format!(
                "nbd{}x{}-",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        };
        lan.net_sh("lan_up");
        Some(lan)
    }

    fn net_sh(&self, script: &str) {
        let status = Command::new("bash")
            .args([
                "-c",
                &format!("source \"$1\" && {script}"),
                "net.sh",
                NET_SH,
            ])
            .env("LAN_PREFIX", &self.prefix)
            .status()
            .unwrap();
        assert!(status.success(), "net.sh: {script} failed");
    }

    fn namespace(&self, role: &str) -> String {
        format!("{}{role}", self.prefix)
    }

    /// Starts `program` in the router's namespace; waits for `ready` in its log.
    fn serve(&self, program: &str, args: &[&str], ready: &str) -> Daemon {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.namespace("router"), program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} (from .ci/packages) cannot run: {e}"));
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let daemon = Daemon { child, log };
        let started = wait_until(WAIT, || {
            daemon.log().contains(ready) || daemon.log().contains("exiting")
        });
        assert!(
            started && daemon.log().contains(ready),
            "{program} did not start:\n{}",
            daemon.log()
        );
        daemon
    }

    /// Broadcasts a DISCOVER from the Pi's namespace (user class `user_class` if given,
    /// option 93 = `arch`) and returns the server's OFFER.
    fn discover(&self, user_class: Option<&[u8]>, arch: u16) -> Message {
        self.discover_from(&PLAIN_MAC, None, user_class, arch, None)
    }

    /// [`discover`](Self::discover) from hardware address `mac`, with vendor class
    /// `vendor_class` (option 60) and parameter request list `requested` (option 55) if
    /// given.
    fn discover_from(
        &self,
        mac: &[u8; 6],
        vendor_class: Option<&str>,
        user_class: Option<&[u8]>,
        arch: u16,
        requested: Option<&[u8]>,
    ) -> Message {
        let netns = File::open(format!("/run/netns/{}", self.namespace("pi"))).unwrap();
        let mut request = Message::new(
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            mac,
        );
        if let Some(class) = vendor_class {
            request
                .opts_mut()
                .insert(DhcpOption::ClassIdentifier(class.as_bytes().to_vec()));
        }
        if let Some(codes) = requested {
            request.opts_mut().insert(DhcpOption::ParameterRequestList(
                codes.iter().map(|&c| OptionCode::from(c)).collect(),
            ));
        }
        request.set_flags(Flags::default().set_broadcast());
        request
            .opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Discover));
        request
            .opts_mut()
            .insert(DhcpOption::ClientSystemArchitecture(Architecture::from(
                arch,
            )));
        if let Some(class) = user_class {
            request
                .opts_mut()
                .insert(DhcpOption::UserClass(class.to_vec()));
        }
        // A namespace is entered per thread: this one becomes the client, the test stays put.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    move_into_link_name_space(netns.as_fd(), Some(LinkNameSpaceType::Network))
                        .unwrap();
                    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
                    socket.set_broadcast(true).unwrap();
                    socket.bind_device(Some(b"eth0")).unwrap();
                    socket
                        .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 68)).into())
                        .unwrap();
                    let socket = UdpSocket::from(socket);
                    socket.set_read_timeout(Some(WAIT)).unwrap();
                    socket
                        .send_to(&request.to_vec().unwrap(), (Ipv4Addr::BROADCAST, 67))
                        .unwrap();
                    let mut buf = [0u8; 1500];
                    loop {
                        let (n, _) = socket.recv_from(&mut buf).expect("an OFFER");
                        let Ok(answer) = Message::decode(&mut Decoder::new(&buf[..n])) else {
                            continue;
                        };
                        if answer.xid() == request.xid() && answer.opcode() == Opcode::BootReply {
                            return answer;
                        }
                    }
                })
                .join()
                .unwrap()
        })
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        self.net_sh(
            "LAN_CREATED=(\"$NS_LAN\" \"$NS_ROUTER\" \"$NS_PI\" \"$NS_ORIGIN\") && lan_down",
        );
    }
}

/// A DHCP server in the router's namespace, stopped when dropped (net.sh's `lan_down` also
/// ends anything left in the namespaces).
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const WAIT: Duration = Duration::from_secs(30);

/// ISC dhcpd serving `generated` (the `isc` output) on the test LAN.
fn dhcpd(lan: &Lan, dir: &Path, generated: &str) -> Daemon {
    fs::write(dir.join("netboot.conf"), generated).unwrap();
    let main = format!(
        "authoritative;\ndefault-lease-time 600;\ninclude \"{}\";\nsubnet 192.168.77.0 netmask 255.255.255.0 {{\n  range 192.168.77.100 192.168.77.200;\n}}\n",
        dir.join("netboot.conf").display()
    );
    fs::write(dir.join("dhcpd.conf"), main).unwrap();
    fs::write(dir.join("dhcpd.leases"), "").unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    lan.serve(
        "dhcpd",
        &[
            "-f",
            "-d",
            "-4",
            "-cf",
            &path("dhcpd.conf"),
            "-lf",
            &path("dhcpd.leases"),
            "-pf",
            &path("dhcpd.pid"),
            "eth0",
        ],
        "Server starting service.",
    )
}

/// dnsmasq (DHCP only) serving `generated` (the `dnsmasq` output) on the test LAN.
fn dnsmasq(lan: &Lan, dir: &Path, generated: &str) -> Daemon {
    fs::write(dir.join("netboot.dnsmasq"), generated).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    lan.serve(
        "dnsmasq",
        &[
            "--keep-in-foreground",
            "--log-facility=-",
            "--log-dhcp",
            "--port=0",
            "--user=root",
            "--interface=eth0",
            "--bind-interfaces",
            "--dhcp-range=192.168.77.100,192.168.77.200,255.255.255.0",
            &format!("--dhcp-leasefile={}", path("dnsmasq.leases")),
            &format!("--pid-file={}", path("dnsmasq.pid")),
            &format!("--conf-file={}", path("netboot.dnsmasq")),
        ],
        "DHCP, IP range 192.168.77.100",
    )
}

/// Kea (DHCPv4, raw sockets) serving `generated` (the `kea` output) on the test LAN.
fn kea(lan: &Lan, dir: &Path, generated: &str) -> Daemon {
    fs::write(dir.join("netboot-classes.json"), generated).unwrap();
    let main = format!(
        r#"{{"Dhcp4": {{
  "interfaces-config": {{"interfaces": ["eth0"], "dhcp-socket-type": "raw"}},
  "lease-database": {{"type": "memfile", "persist": false}},
  "subnet4": [{{"id": 1, "subnet": "192.168.77.0/24", "pools": [{{"pool": "192.168.77.100 - 192.168.77.200"}}]}}],
  <?include "{}"?>,
  "loggers": [{{"name": "kea-dhcp4", "output_options": [{{"output": "stderr"}}], "severity": "INFO"}}]
}}}}"#,
        dir.join("netboot-classes.json").display()
    );
    fs::write(dir.join("kea-dhcp4.conf"), main).unwrap();
    // Its PID and lock files go where the test can write, not /run/kea.
    let run = format!("{}", dir.display());
    lan.serve(
        "env",
        &[
            &format!("KEA_PIDFILE_DIR={run}"),
            &format!("KEA_LOCKFILE_DIR={run}"),
            "kea-dhcp4",
            "-c",
            &dir.join("kea-dhcp4.conf").display().to_string(),
        ],
        "DHCP4_STARTED",
    )
}

/// What an OFFER says about booting.
#[derive(Debug)]
struct BootAnswer {
    /// The BOOTP file field.
    file: String,
    server_name: String,
    next_server: Ipv4Addr,
    /// Every option the server put in, as code → payload, by code.
    options: Vec<(u8, Vec<u8>)>,
}

impl BootAnswer {
    fn of(offer: &Message) -> Self {
        let text = |field: Option<&[u8]>| {
            String::from_utf8_lossy(field.unwrap_or_default())
                .trim_end_matches('\0')
                .to_owned()
        };
        let mut options: Vec<(u8, Vec<u8>)> = offer
            .opts()
            .iter()
            .map(|(code, option)| {
                let mut encoded = Vec::new();
                option.encode(&mut Encoder::new(&mut encoded)).unwrap();
                // Code and length first, then the payload.
                (u8::from(*code), encoded.split_off(2))
            })
            .collect();
        options.sort();
        Self {
            file: text(offer.fname()),
            server_name: text(offer.sname()),
            next_server: offer.siaddr(),
            options,
        }
    }

    fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, payload)| payload.as_slice())
    }
}

/// One client of the LAN test and what it must be given.
struct Client {
    user_class: Option<&'static [u8]>,
    arch: u16,
    file: String,
    next_server: Option<Ipv4Addr>,
    /// UEFI HTTP Boot: vendor class `HTTPClient` in the answer.
    http: bool,
}

/// A site as a library user might build it, past `check`, with `proxy` as given.
fn unchecked_site(proxy: &str) -> Site {
    Site {
        origin: "https://boot.example.com".into(),
        chain: ChainMode::ViaProxy {
            proxy: proxy.into(),
        },
        mirror: true,
        boot_files: Vec::new(),
        trust: Default::default(),
        secrets: Vec::new(),
        ipxe_builds: Vec::new(),
    }
}

/// The issue's injection, past `check`: a real dhcpd hands iPXE the whole value as its
/// file name, and the `execute` inside it never runs (its marker file is never made).
#[test]
fn dhcpd_hands_out_an_injected_value_as_one_string_and_runs_nothing() {
    let Some(lan) = Lan::up("dhcpd_hands_out_an_injected_value_as_one_string_and_runs_nothing")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("executed");
    let proxy = format!(
        r#"http://192.168.77.2:8080/x";execute("/usr/bin/touch","{}");filename""#,
        marker.display()
    );
    let plan = DhcpPlan::new(&unchecked_site(&proxy), None).unwrap();
    let server = dhcpd(&lan, dir.path(), &plan.render(DhcpFormat::Isc));
    let answer = BootAnswer::of(&lan.discover(Some(b"iPXE"), 7));
    assert!(!marker.exists(), "dhcpd ran the injected command");
    assert_eq!(
        answer.file,
        format!("{proxy}/boot.ipxe"),
        "{}",
        server.log()
    );
}

/// dnsmasq's fields: a `,` that would shift the value into the server-name and
/// next-server fields, a `#` that would start a comment, a quote and a backslash. Past
/// `check`, all of it reaches iPXE as one file name and nothing else changes.
#[test]
fn dnsmasq_hands_out_a_field_shifting_value_as_one_file_name() {
    let Some(lan) = Lan::up("dnsmasq_hands_out_a_field_shifting_value_as_one_file_name") else {
        return;
    };
    for proxy in [
        "http://192.168.77.2:8080/x ,evil.example,10.6.6.6 #y",
        r#"http://192.168.77.2:8080/x"y\"#,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let plan = DhcpPlan::new(&unchecked_site(proxy), None).unwrap();
        let server = dnsmasq(&lan, dir.path(), &plan.render(DhcpFormat::Dnsmasq));
        let answer = BootAnswer::of(&lan.discover(Some(b"iPXE"), 7));
        let context = format!("{proxy}: {answer:?}\n{}", server.log());
        assert_ne!(answer.next_server, Ipv4Addr::new(10, 6, 6, 6), "{context}");
        assert!(!answer.server_name.contains("evil"), "{context}");
        assert_eq!(answer.file, format!("{proxy}/boot.ipxe"), "{context}");
    }
}

/// `dhcp-config`'s output for a checked site with a %-escaped proxy path, served by the
/// real dhcpd and dnsmasq: each firmware class gets its planned answer, byte for byte,
/// and no boot option the plan does not name.
#[test]
fn real_servers_give_each_client_exactly_its_planned_boot_answer() {
    let Some(lan) = Lan::up("real_servers_give_each_client_exactly_its_planned_boot_answer") else {
        return;
    };
    let proxy = "http://192.168.77.2:8080/a%22b%2C";
    let pi = Ipv4Addr::new(192, 168, 77, 2);
    for format in ["isc", "dnsmasq"] {
        let out = dhcp_config(
            site(&format!("chain \"via-proxy\" proxy=\"{proxy}\"")),
            format,
        );
        // What each server puts in every lease on this LAN (mask, lease time, message
        // type, server id; dnsmasq adds router, broadcast address, T1 and T2).
        let (server, lease_options): (Daemon, &[u8]) = match format {
            "isc" => (dhcpd(&lan, out.path(), &out.stdout), &[1, 51, 53, 54]),
            _ => (
                dnsmasq(&lan, out.path(), &out.stdout),
                &[1, 3, 28, 51, 53, 54, 58, 59],
            ),
        };
        let client = |user_class, arch, file: String, next_server, http| Client {
            user_class,
            arch,
            file,
            next_server,
            http,
        };
        let clients = [
            client(Some(b"iPXE"), 7, format!("{proxy}/boot.ipxe"), None, false),
            client(None, 0, "undionly.kpxe".into(), Some(pi), false),
            client(None, 9, "ipxe.efi".into(), Some(pi), false),
            client(None, 16, format!("{proxy}/tftp/ipxe.efi"), None, true),
            // No arm64 boot file: no file at all.
            client(None, 11, String::new(), None, false),
        ];
        for want in clients {
            let answer = BootAnswer::of(&lan.discover(want.user_class, want.arch));
            let context = format!("{format} arch {}: {answer:?}\n{}", want.arch, server.log());
            assert_eq!(answer.file, want.file, "{context}");
            if let Some(next_server) = want.next_server {
                assert_eq!(answer.next_server, next_server, "{context}");
            }
            assert_eq!(
                answer.option(60),
                want.http.then_some(&b"HTTPClient"[..]),
                "{context}"
            );
            // Exactly the options of a lease from this server, plus the planned ones:
            // HTTP Boot's vendor class, and dnsmasq's iPXE no-proxyDHCP-wait (175.176 = 1).
            let mut codes = lease_options.to_vec();
            if want.http {
                codes.push(60);
            }
            if format == "dnsmasq" && want.user_class.is_some() {
                codes.push(175);
                assert_eq!(answer.option(175), Some(&[176, 1, 1, 255][..]), "{context}");
            }
            codes.sort_unstable();
            let got: Vec<u8> = answer.options.iter().map(|(code, _)| *code).collect();
            assert_eq!(got, codes, "{context}");
        }
        drop(server);
    }
}

#[test]
fn real_servers_give_a_secure_boot_machine_its_first_stage_and_others_theirs() {
    let Some(lan) = Lan::up("real_servers_give_a_secure_boot_machine_its_first_stage") else {
        return;
    };
    let proxy = "http://192.168.77.2:8080";
    for format in ["isc", "dnsmasq"] {
        let out = dhcp_config(secure_boot_fleet(proxy), format);
        let server = match format {
            "isc" => dhcpd(&lan, out.path(), &out.stdout),
            _ => dnsmasq(&lan, out.path(), &out.stdout),
        };
        for (mac, user_class, arch, file) in [
            (SECURE_BOOT_MAC, None, 7, "snponly-sb.efi".to_owned()),
            (SECURE_BOOT_MAC, None, 9, "snponly-sb.efi".to_owned()),
            (PLAIN_MAC, None, 7, "snponly.efi".to_owned()),
            // iPXE, whatever started it, gets the dispatcher: no loop back to the shim.
            (
                SECURE_BOOT_MAC,
                Some(&b"iPXE"[..]),
                7,
                format!("{proxy}/boot.ipxe"),
            ),
        ] {
            let answer = BootAnswer::of(&lan.discover_from(&mac, None, user_class, arch, None));
            assert_eq!(
                answer.file,
                file,
                "{format} {mac:x?} arch {arch}: {answer:?}\n{}",
                server.log()
            );
        }
        drop(server);
    }
}

/// A Raspberry Pi 4/5 bootloader (its vendor class, a Raspberry Pi MAC) gets PXE option 43
/// naming "Raspberry Pi Boot" and option 66 naming the TFTP server from real dhcpd,
/// dnsmasq and Kea; a PC's BIOS PXE ROM sending the very same class gets neither, and its
/// boot file as before.
#[test]
fn real_servers_answer_a_pi_bootloader_and_not_a_pc_with_its_class() {
    let Some(lan) = Lan::up("real_servers_answer_a_pi_bootloader_and_not_a_pc_with_its_class")
    else {
        return;
    };
    let tftp = Ipv4Addr::new(192, 168, 77, 2);
    for format in ["isc", "dnsmasq", "kea"] {
        let out = dhcp_config(
            site("chain \"via-proxy\" proxy=\"http://192.168.77.2:8080\""),
            format,
        );
        let server = match format {
            "isc" => dhcpd(&lan, out.path(), &out.stdout),
            "kea" => kea(&lan, out.path(), &out.stdout),
            _ => dnsmasq(&lan, out.path(), &out.stdout),
        };
        let class = Some(rpi::VENDOR_CLASS);
        // With a parameter request list naming neither 43 nor 66 (option 55), and with
        // none: each server sends both either way.
        for requested in [Some(&[1u8, 3, 54][..]), None] {
            let pi = BootAnswer::of(&lan.discover_from(
                &[0xd8, 0x3a, 0xdd, 0, 0, 1],
                class,
                None,
                0,
                requested,
            ));
            let context = format!(
                "{format}, the Pi asking for {requested:?}: {pi:?}\n{}",
                server.log()
            );
            let menu = pi.option(43).unwrap_or_default();
            if format == "kea" {
                // Kea reads the bytes as PXE sub-options and writes them again, ordered by
                // code and without the end marker; the bootloader looks for the entry's text.
                assert!(
                    menu.windows(rpi::MENU_ENTRY.len())
                        .any(|w| w == rpi::MENU_ENTRY.as_bytes()),
                    "{context}"
                );
            } else {
                assert_eq!(menu, rpi::OPTION_43, "{context}");
            }
            // dnsmasq ends the string with a NUL, which the bootloader reads as its end.
            let server_name = pi.option(66).map(|v| v.strip_suffix(&[0]).unwrap_or(v));
            assert_eq!(server_name, Some(tftp.to_string().as_bytes()), "{context}");
        }
        let pc =
            BootAnswer::of(&lan.discover_from(&[0x52, 0x54, 0, 0x77, 0, 10], class, None, 0, None));
        let context = format!("{format}, the PC: {pc:?}\n{}", server.log());
        assert_eq!(pc.option(43), None, "{context}");
        assert_eq!(pc.option(66), None, "{context}");
        assert_eq!(pc.file, "undionly.kpxe", "{context}");
        assert_eq!(pc.next_server, tftp, "{context}");
        drop(server);
    }
}

/// Kea's configuration is JSON with comments and `<?include?>`: a value that closes its
/// string and object, opens a comment or names an include, past `check`, stays one string
/// (serde_json writes it), and kea-dhcp4 accepts the file.
#[test]
fn kea_keeps_a_json_breaking_value_one_string() {
    let proxy = r#"http://10.0.0.2:8080/x"}],"Dhcp4":{"a":"\u0022'//#/*<?include "/etc/passwd"?>"#;
    let text = DhcpPlan::new(&unchecked_site(proxy), None)
        .unwrap()
        .render(DhcpFormat::Kea);
    let dir = tempfile::tempdir().unwrap();
    check_with_its_server("kea", dir.path(), &text);
    let json: String = text.lines().filter(|l| !l.starts_with("//")).collect();
    let classes: serde_json::Value = serde_json::from_str(&format!("{{{json}}}")).unwrap();
    assert_eq!(
        classes["client-classes"][0]["boot-file-name"],
        format!("{proxy}/boot.ipxe"),
        "{text}"
    );
}
