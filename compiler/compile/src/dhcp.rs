//! `netbootc dhcp-config`: the router's side of a network boot, written from the site.
//!
//! Every format says the same four things:
//! - a client whose DHCP user class is `iPXE` (iPXE itself, whatever loaded it) gets the
//!   dispatcher's URL, so a machine never loops back to a first-stage boot file;
//! - any other PXE client gets the boot file of its firmware class, chosen by DHCP option
//!   93 (client system architecture: 0 BIOS, 7 and 9 x86_64 UEFI, 11 arm64 UEFI), from the
//!   TFTP next-server (the Pi, or `--next-server`);
//! - a UEFI HTTP Boot client (option 93 = 16 x86_64, 19 arm64) gets the same file as a
//!   URL on the Pi's LAN listener, with vendor class `HTTPClient` in the answer, as UEFI
//!   requires (only in `via-proxy` mode: the origin wants a client certificate, which
//!   firmware cannot present);
//! - a firmware class the site declares no boot file for gets nothing, and a comment says
//!   so;
//! - a Secure Boot machine's PXE firmware gets its class's `secure-boot=#true` first stage,
//!   by MAC (DHCP cannot see whether Secure Boot is on), over the class's usual file.
//! - a Raspberry Pi 4 or 5 bootloader (vendor class `PXEClient:Arch:00000:UNDI:002001`
//!   *and* a MAC in a Raspberry Pi OUI: a PC's BIOS PXE ROM sends the same class) gets PXE
//!   option 43 naming "Raspberry Pi Boot" and option 66 naming the TFTP next-server, where
//!   it fetches its tree under its serial number (`netboot_protocol::rpi`); nothing else
//!   gets option 43, which a PC's ROM would read as a boot menu.
//!
//! The text is for a file the router's DHCP server includes (dnsmasq: a `dnsmasq.d`
//! file; ISC dhcpd: `include`; Kea: `<?include?>` inside `Dhcp4`); the README says which
//! fields appliances (OPNsense, pfSense, UniFi, MikroTik) call these.
//!
//! No value becomes a directive: `check` allows origin and proxy URLs only in characters
//! no format reads as syntax (`netbootc::unsafe-url`) and boot file names only as safe
//! names; the plan refuses any value with a control or non-ASCII character whatever built
//! the site; and each format quotes what it writes (ISC and dnsmasq strings with their
//! escapes, Kea through serde_json).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use netboot_protocol::{BootFileAnswer, Firmware, Mac, Named, Transport, rpi};
use serde::Serialize;

use crate::model::{ChainMode, Config, Site};

/// Which DHCP server the configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DhcpFormat {
    /// dnsmasq (`--test` checks it): OpenWrt, Pi-hole, most small routers.
    Dnsmasq,
    /// ISC dhcpd (`dhcpd -t` checks it): pfSense, many Linux routers.
    Isc,
    /// Kea DHCPv4 (`kea-dhcp4 -t` checks it): OPNsense and pfSense's newer backend.
    Kea,
}

/// One answer: clients of these option-93 types get `answer`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    tag: String,
    arch_types: &'static [u16],
    answer: BootFileAnswer,
}

/// The Secure Boot machines of one firmware class: their PXE firmware gets `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SecureBootHosts {
    tag: String,
    arch_types: &'static [u16],
    macs: Vec<Mac>,
    file: String,
}

/// What the configuration says, whatever its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpPlan {
    /// Where iPXE fetches the dispatcher.
    dispatcher_url: String,
    /// The TFTP server PXE clients fetch boot files from.
    next_server: Option<Ipv4Addr>,
    rules: Vec<Rule>,
    /// Written after `rules`, so they win where both match.
    secure_boot: Vec<SecureBootHosts>,
    /// Why some clients get nothing (for comments).
    notes: Vec<String>,
}

/// Why no configuration can be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpError {
    /// PXE boot files need a TFTP server address and none can be derived.
    NoNextServer(String),
    /// A value with a control or non-ASCII character, which dnsmasq's config cannot carry
    /// and DHCP's boot file field should not (`check` refuses such URLs in a config).
    Unwritable(String),
    /// A file name or URL longer than DHCP's boot file field.
    TooLong(String),
}

/// The BOOTP `file` field: 128 bytes with its terminating NUL. Given a longer name, ISC
/// dhcpd 4.4.3 sends none and dnsmasq 2.90 cuts it to this length (tried on the test LAN).
pub const FILE_FIELD_BYTES: usize = 127;

impl std::fmt::Display for DhcpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoNextServer(why) => write!(f, "{why}; pass --next-server <IPv4 address>"),
            Self::Unwritable(value) => write!(
                f,
                "`{}` cannot be written into a DHCP configuration: it has a control or non-ASCII character",
                value.escape_debug()
            ),
            Self::TooLong(value) => write!(
                f,
                "`{value}` is {} bytes, and DHCP's boot file field holds {FILE_FIELD_BYTES}: shorten the proxy (or origin) URL or the boot file's name",
                value.len()
            ),
        }
    }
}

impl DhcpPlan {
    /// What the site's boot files and chain mode call for. `next_server` overrides the
    /// address derived from the proxy URL.
    pub fn new(site: &Site, next_server: Option<Ipv4Addr>) -> Result<Self, DhcpError> {
        let proxy = match &site.chain {
            ChainMode::ViaProxy { proxy } => Some(proxy.trim_end_matches('/')),
            ChainMode::Direct => None,
        };
        let mut rules = Vec::new();
        let mut notes = Vec::new();
        for &firmware in Firmware::ALL {
            let Some(file) = site.boot_file(firmware) else {
                notes.push(format!(
                    "{firmware} clients get no boot file: the site declares none (boot-file … firmware=\"{firmware}\")"
                ));
                continue;
            };
            let name = &file.image.role;
            let tag = firmware.dhcp_tag();
            rules.push(Rule {
                tag: tag.to_owned(),
                arch_types: firmware.arch_types(Transport::Tftp),
                answer: BootFileAnswer::pxe(firmware, name),
            });
            let http = firmware.arch_types(Transport::Http);
            match proxy {
                Some(proxy) if !http.is_empty() => rules.push(Rule {
                    tag: format!("{tag}-http"),
                    arch_types: http,
                    answer: BootFileAnswer::http_boot(firmware, name, proxy),
                }),
                None if !http.is_empty() => notes.push(format!(
                    "{firmware} HTTP Boot clients get nothing: in direct mode the origin wants a client certificate, which firmware cannot present"
                )),
                _ => {}
            }
        }
        let next_server = match (next_server, proxy) {
            (Some(ip), _) => Some(ip),
            _ if !rules.iter().any(|r| r.answer.transport == Transport::Tftp) => None,
            (None, Some(proxy)) => Some(proxy_ipv4(proxy).ok_or_else(|| {
                DhcpError::NoNextServer(format!(
                    "the proxy `{proxy}` is not named by an IPv4 address, which DHCP's next-server must be"
                ))
            })?),
            (None, None) => {
                return Err(DhcpError::NoNextServer(
                    "in direct mode there is no proxy to serve boot files over TFTP".into(),
                ));
            }
        };
        let dispatcher_url = BootFileAnswer::dispatcher_url(site.base_url());
        for value in std::iter::once(&dispatcher_url).chain(rules.iter().map(|r| &r.answer.file)) {
            if !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
                return Err(DhcpError::Unwritable(value.clone()));
            }
            if value.len() > FILE_FIELD_BYTES {
                return Err(DhcpError::TooLong(value.clone()));
            }
        }
        Ok(Self {
            dispatcher_url,
            next_server,
            rules,
            secure_boot: Vec::new(),
            notes,
        })
    }

    /// [`DhcpPlan::new`] for the config's site, plus its Secure Boot machines by MAC.
    pub fn for_config(config: &Config, next_server: Option<Ipv4Addr>) -> Result<Self, DhcpError> {
        let mut plan = Self::new(&config.site, next_server)?;
        for &firmware in Firmware::ALL {
            let Some(file) = config.site.secure_boot_file(firmware) else {
                continue;
            };
            let macs: Vec<Mac> = config
                .machines
                .iter()
                .filter(|m| m.secure_boot)
                .filter(|m| {
                    config
                        .profiles
                        .get(&m.profile)
                        .is_some_and(|p| p.arch.uefi() == firmware)
                })
                .flat_map(|m| m.macs.iter().copied())
                .collect();
            if macs.is_empty() {
                continue;
            }
            if plan.next_server.is_none() {
                plan.notes.push(format!(
                    "{firmware} Secure Boot machines get nothing: no TFTP server (pass --next-server)"
                ));
                continue;
            }
            plan.secure_boot.push(SecureBootHosts {
                tag: format!("secure-boot-{}", firmware.dhcp_tag()),
                arch_types: firmware.arch_types(Transport::Tftp),
                macs,
                file: file.image.role.clone(),
            });
        }
        Ok(plan)
    }

    /// The configuration in `format`.
    pub fn render(&self, format: DhcpFormat) -> String {
        match format {
            DhcpFormat::Dnsmasq => self.dnsmasq(),
            DhcpFormat::Isc => self.isc(),
            DhcpFormat::Kea => self.kea(),
        }
    }

    fn header(&self, comment: &str) -> String {
        let mut out = format!(
            "{comment} Network boot, generated by `netbootc dhcp-config` from the site's KDL.\n\
             {comment} Regenerate it when the site changes instead of editing it.\n"
        );
        for note in &self.notes {
            let _ = writeln!(out, "{comment} Note: {note}.");
        }
        out
    }

    fn dnsmasq(&self) -> String {
        let mut out = self.header("#");
        out += "# iPXE itself (whatever loaded it) gets the dispatcher, so nothing loops.\n";
        out += "dhcp-userclass=set:ipxe,iPXE\n";
        for rule in &self.rules {
            for code in rule.arch_types {
                let _ = writeln!(out, "dhcp-match=set:{},option:client-arch,{code}", rule.tag);
            }
        }
        if let Some(server) = self.next_server {
            out += &pi_dnsmasq(server);
        }
        let _ = writeln!(out, "dhcp-boot=tag:ipxe,{}", quoted(&self.dispatcher_url));
        out +=
            "# ... and need not wait for proxyDHCP offers (iPXE's option 175.176, no-pxedhcp).\n";
        out += "dhcp-option=tag:ipxe,encap:175,176,1\n";
        for rule in &self.rules {
            let file = quoted(&rule.answer.file);
            match (rule.answer.vendor_class_to_force(), self.next_server) {
                (None, Some(server)) => {
                    let _ = writeln!(out, "dhcp-boot=tag:!ipxe,tag:{},{file},,{server}", rule.tag);
                }
                (None, None) => {}
                (Some(class), _) => {
                    let _ = writeln!(
                        out,
                        "# UEFI HTTP Boot answers must carry vendor class {class}."
                    );
                    let _ = writeln!(
                        out,
                        "dhcp-option-force=tag:{},option:vendor-class,{class}",
                        rule.tag
                    );
                    let _ = writeln!(out, "dhcp-boot=tag:!ipxe,tag:{},{file}", rule.tag);
                }
            }
        }
        for hosts in &self.secure_boot {
            out +=
                "# Secure Boot machines, by MAC; written last, as dnsmasq takes the last match.\n";
            for mac in &hosts.macs {
                let _ = writeln!(out, "dhcp-mac=set:{},{mac}", hosts.tag);
            }
            for code in hosts.arch_types {
                let _ = writeln!(
                    out,
                    "dhcp-match=set:{}-pxe,option:client-arch,{code}",
                    hosts.tag
                );
            }
            if let Some(server) = self.next_server {
                let _ = writeln!(
                    out,
                    "dhcp-boot=tag:!ipxe,tag:{0},tag:{0}-pxe,{1},,{server}",
                    hosts.tag,
                    quoted(&hosts.file)
                );
            }
        }
        out
    }

    fn isc(&self) -> String {
        let mut out = self.header("#");
        out += "# Include it from dhcpd.conf at global scope (an option definition cannot be scoped).\n";
        out += "option netboot-client-arch code 93 = unsigned integer 16;\n";
        if let Some(server) = self.next_server {
            let _ = writeln!(out, "next-server {server};");
        }
        out += "# iPXE itself (whatever loaded it) gets the dispatcher, so nothing loops.\n";
        let _ = write!(
            out,
            "if exists user-class and option user-class = \"iPXE\" {{\n  filename {};\n}}",
            quoted(&self.dispatcher_url)
        );
        if let Some(server) = self.next_server {
            let macs: Vec<String> = rpi::OUIS
                .iter()
                .map(|o| format!("substring(hardware, 1, 3) = {}", hex_colon(o)))
                .collect();
            let _ = write!(
                out,
                " elsif substring(option vendor-class-identifier, 0, {}) = \"{}\" and ({}) {{\n  \
                 # A Raspberry Pi 4/5 bootloader: its tree over TFTP from {server}, options\n  \
                 # 43 and 66 sent even if its parameter request list does not name them.\n  \
                 option vendor-encapsulated-options {};\n  option tftp-server-name \"{server}\";\n  \
                 option dhcp-parameter-request-list = concat(option dhcp-parameter-request-list, 2b, 42);\n}}",
                rpi::VENDOR_CLASS.len(),
                rpi::VENDOR_CLASS,
                macs.join(" or "),
                hex_colon(rpi::OPTION_43),
            );
        }
        // Secure Boot machines first: the first matching branch answers.
        for hosts in &self.secure_boot {
            let macs: Vec<String> = hosts
                .macs
                .iter()
                .map(|mac| format!("substring(hardware, 1, 6) = {mac}"))
                .collect();
            let _ = write!(
                out,
                // Wrapped whole: dhcpd 4.4 reads `elsif (a) and (b)` as `elsif (a)`.
                " elsif (({}) and ({})) {{\n  filename {};\n}}",
                macs.join(" or "),
                isc_arch_test(hosts.arch_types),
                quoted(&hosts.file)
            );
        }
        for rule in &self.rules {
            let _ = write!(
                out,
                " elsif {} {{\n  filename {};\n",
                isc_arch_test(rule.arch_types),
                quoted(&rule.answer.file)
            );
            if let Some(class) = rule.answer.vendor_class_to_force() {
                let _ = writeln!(out, "  option vendor-class-identifier \"{class}\";");
            }
            out += "}";
        }
        out += "\n";
        out
    }

    /// Kea's classes of Secure Boot machines: before the firmware classes, as the first
    /// class that names a boot file wins.
    fn kea_secure_boot(&self) -> impl Iterator<Item = KeaClass<'_>> {
        self.secure_boot.iter().map(|hosts| {
            let macs: Vec<String> = hosts
                .macs
                .iter()
                .map(|mac| format!("pkt4.mac == 0x{}", mac.to_string().replace(':', "")))
                .collect();
            KeaClass {
                name: &hosts.tag,
                test: format!(
                    "not member('ipxe') and ({}) and ({})",
                    macs.join(" or "),
                    kea_arch_test(hosts.arch_types)
                ),
                boot_file_name: &hosts.file,
                next_server: self.next_server,
                option_data: Vec::new(),
            }
        })
    }

    fn kea(&self) -> String {
        let mut out = self.header("//");
        out += "// Include it inside \"Dhcp4\": <?include \"/etc/kea/netboot-classes.json\"?>\n";
        out += "// iPXE itself (whatever loaded it) gets the dispatcher, so nothing loops.\n";
        let mut classes = vec![KeaClass {
            name: "ipxe",
            test: "substring(option[77].hex,0,4) == 'iPXE'".into(),
            boot_file_name: &self.dispatcher_url,
            next_server: None,
            option_data: Vec::new(),
        }];
        if let Some(server) = self.next_server {
            let macs: Vec<String> = rpi::OUIS
                .iter()
                .map(|o| format!("substring(pkt4.mac,0,3) == 0x{}", hex(o)))
                .collect();
            let option_data = vec![
                KeaOption {
                    name: "vendor-encapsulated-options",
                    data: hex(rpi::OPTION_43),
                    csv_format: Some(false),
                    always_send: true,
                },
                KeaOption {
                    name: "tftp-server-name",
                    data: server.to_string(),
                    csv_format: None,
                    always_send: true,
                },
            ];
            classes.push(KeaClass {
                name: "raspberry-pi",
                test: format!(
                    "not member('ipxe') and option[60].text == '{}' and ({})",
                    rpi::VENDOR_CLASS,
                    macs.join(" or ")
                ),
                boot_file_name: "",
                next_server: Some(server),
                option_data,
            });
        }
        classes.extend(self.kea_secure_boot());
        for rule in &self.rules {
            let (next_server, option_data) = match rule.answer.vendor_class_to_force() {
                None => (self.next_server, Vec::new()),
                Some(class) => (
                    None,
                    vec![KeaOption {
                        name: "vendor-class-identifier",
                        data: class.to_owned(),
                        csv_format: None,
                        always_send: false,
                    }],
                ),
            };
            classes.push(KeaClass {
                name: &rule.tag,
                test: format!(
                    "not member('ipxe') and ({})",
                    kea_arch_test(rule.arch_types)
                ),
                boot_file_name: &rule.answer.file,
                next_server,
                option_data,
            });
        }
        let classes = serde_json::to_string_pretty(&classes)
            .expect("client classes are strings and addresses, which always serialise");
        out += "\"client-classes\": ";
        out += &classes;
        out += "\n";
        out
    }
}

/// ISC dhcpd's test for option 93 being one of `codes`.
fn isc_arch_test(codes: &[u16]) -> String {
    let tests: Vec<String> = codes
        .iter()
        .map(|code| {
            format!(
                "option netboot-client-arch = {:02x}:{:02x}",
                code >> 8,
                code & 0xff
            )
        })
        .collect();
    tests.join(" or ")
}

/// Kea's test for option 93 being one of `codes`.
fn kea_arch_test(codes: &[u16]) -> String {
    let tests: Vec<String> = codes
        .iter()
        .map(|code| format!("option[93].hex == 0x{code:04x}"))
        .collect();
    tests.join(" or ")
}

/// One entry of Kea's `client-classes`, in the order Kea's documentation writes them.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct KeaClass<'a> {
    name: &'a str,
    test: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    boot_file_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_server: Option<Ipv4Addr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    option_data: Vec<KeaOption>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct KeaOption {
    name: &'static str,
    data: String,
    /// `false` for raw bytes in hex (option 43).
    #[serde(skip_serializing_if = "Option::is_none")]
    csv_format: Option<bool>,
    /// Sent whether or not the client's parameter request list (option 55) names it: Kea
    /// sends only requested options otherwise, and the Pi's answer must not depend on it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    always_send: bool,
}

/// The Pi bootloader's answer in dnsmasq: tagged by class and OUI both, before any
/// `dhcp-boot` so the Pi's tag is known when those are matched.
fn pi_dnsmasq(server: Ipv4Addr) -> String {
    let mut out = String::from(
        "# Raspberry Pi 4/5 bootloaders: PXE option 43 (\"Raspberry Pi Boot\") and the TFTP\n\
         # server, only to a Raspberry Pi MAC with the bootloader's vendor class (a PC's BIOS\n\
         # PXE ROM sends the same class and must not get option 43).\n",
    );
    let _ = writeln!(out, "dhcp-vendorclass=set:rpi-class,{}", rpi::VENDOR_CLASS);
    for oui in rpi::OUIS {
        let _ = writeln!(out, "dhcp-mac=set:rpi-mac,{}:*:*:*", hex_colon(oui));
    }
    out += "tag-if=set:rpi,tag:rpi-class,tag:rpi-mac
";
    let _ = writeln!(
        out,
        "dhcp-option-force=tag:rpi,tag:!ipxe,43,{}",
        hex_colon(rpi::OPTION_43)
    );
    let _ = writeln!(out, "dhcp-option-force=tag:rpi,tag:!ipxe,66,\"{server}\"");
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_colon(bytes: &[u8]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    pairs.join(":")
}

/// A string for ISC dhcpd or dnsmasq: quoted, so no `;`, `{`, `}`, `#`, `,` or space inside
/// ends the value, and with `"` and `\` escaped (both read `\"` and `\\` inside quotes
/// as the character itself). The plan holds printable ASCII only, which this spells
/// completely.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The IPv4 address in `http://<address>:<port>/…`, if the host is one.
fn proxy_ipv4(proxy: &str) -> Option<Ipv4Addr> {
    let rest = proxy.split_once("://").map_or(proxy, |(_, rest)| rest);
    let host = rest.split(['/', ':']).next()?;
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via_proxy(proxy: &str) -> Site {
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

    /// `check` refuses these in a config; a site built any other way still cannot put a
    /// line break (a new directive in every format) or bytes dnsmasq would garble into one.
    #[test]
    fn control_and_non_ascii_values_are_never_written() {
        for proxy in [
            "http://10.0.0.2:8080/x\ndhcp-script=/bin/sh",
            "http://10.0.0.2:8080/x\r",
            "http://10.0.0.2:8080/\u{1}",
            "http://10.0.0.2:8080/\t",
            "http://bööt.lan:8080",
        ] {
            assert_eq!(
                DhcpPlan::new(&via_proxy(proxy), None),
                Err(DhcpError::Unwritable(format!("{proxy}/boot.ipxe"))),
                "{proxy:?}"
            );
        }
        assert!(DhcpPlan::new(&via_proxy("http://10.0.0.2:8080/a b"), None).is_ok());
    }

    #[test]
    fn file_names_fit_the_boot_file_field() {
        let base = "http://10.0.0.2:8080/";
        let fits = format!("{base}{}", "a".repeat(FILE_FIELD_BYTES - base.len() - 10));
        assert_eq!(format!("{fits}/boot.ipxe").len(), FILE_FIELD_BYTES);
        assert!(DhcpPlan::new(&via_proxy(&fits), None).is_ok());
        let over = format!("{fits}a");
        assert_eq!(
            DhcpPlan::new(&via_proxy(&over), None),
            Err(DhcpError::TooLong(format!("{over}/boot.ipxe")))
        );
    }

    #[test]
    fn quoted_strings_escape_quotes_and_backslashes() {
        assert_eq!(quoted("plain"), "\"plain\"");
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted(r#"\""#), r#""\\\"""#);
    }

    #[test]
    fn the_proxy_address_is_the_next_server_only_when_it_is_an_ip() {
        assert_eq!(
            proxy_ipv4("http://10.0.0.2:8080"),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(
            proxy_ipv4("http://10.0.0.2"),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(proxy_ipv4("http://pi.lan:8080"), None);
    }
}
