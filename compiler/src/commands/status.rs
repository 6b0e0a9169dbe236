//! `netbootc status`: what the fleet's machines did on their last boot, from a
//! netboot-proxy's `GET /status` on its admin listener (runtime/README.md has the
//! document's shape; [`fetch`] follows its pages) joined with
//! the config: machines never seen, done, stuck (a stalled, failed or unfinished boot),
//! booted from a release older than the one the proxy serves now, and MACs the proxy saw
//! that no machine has, each with a stanza to paste into `machines/*.kdl`.
//!
//! [`join`] is pure (a status document and the config's machines in, a [`Report`] out),
//! so it is tested without a proxy; [`fetch`] and the CLI glue do the I/O.

use std::net::IpAddr;
use std::time::Duration;

use netboot_compile::loader::Loader;
use netboot_compile::model::Machine;
use netboot_protocol::status::{
    BootState, BootStatus, ClientStatus, StatusPage, UnknownMac, UnknownSerial,
};
use netboot_protocol::{Named, routes};
use serde::Serialize;

use crate::cli::{StatusArgs, StatusFormat};
use crate::error::Error;

/// What a machine's last boot came to, or that the proxy never saw it boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastBoot {
    NeverSeen,
    Boot(BootState),
}

impl LastBoot {
    pub fn name(self) -> &'static str {
        match self {
            Self::NeverSeen => "never-seen",
            Self::Boot(state) => state.name(),
        }
    }
}

impl std::fmt::Display for LastBoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for LastBoot {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// One machine of the config and its last boot, if the proxy saw one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineStatus {
    pub name: String,
    pub state: LastBoot,
    pub ip: Option<IpAddr>,
    pub started: Option<String>,
    pub release: Option<String>,
    /// Its last boot got a release other than the one the proxy serves now.
    pub old_release: bool,
}

impl MachineStatus {
    pub fn seen(&self) -> bool {
        self.state != LastBoot::NeverSeen
    }

    pub fn done(&self) -> bool {
        self.state == LastBoot::Boot(BootState::Done)
    }

    /// Its last boot stalled, failed or refused an image.
    pub fn stuck(&self) -> bool {
        match self.state {
            LastBoot::Boot(BootState::Stalled | BootState::Failed | BootState::Refused) => true,
            LastBoot::Boot(BootState::Done | BootState::InProgress | BootState::UnknownMachine)
            | LastBoot::NeverSeen => false,
        }
    }
}

/// The join of a proxy's status and the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What the proxy serves now.
    pub release: Option<String>,
    /// In the config's order (by name).
    pub machines: Vec<MachineStatus>,
    pub unknown_macs: Vec<UnknownMac>,
    pub unknown_serials: Vec<UnknownSerial>,
}

impl Report {
    /// Every machine seen is done and no unknown MAC or Pi serial asked: nothing to look at.
    pub fn all_well(&self) -> bool {
        self.unknown_macs.is_empty()
            && self.unknown_serials.is_empty()
            && self.machines.iter().all(|m| !m.seen() || m.done())
    }
}

/// Whether `boot` of `client` was `machine`'s: its script is one of the machine's routes,
/// or, without a script, the client's MAC is one of the machine's.
fn identifies(machine: &Machine, client: &ClientStatus, boot: &BootStatus) -> bool {
    let by_script = boot.script.as_deref().is_some_and(|route| {
        let lowercase = route.to_ascii_lowercase();
        routes::mac_of_machine_by_mac(route).is_some_and(|mac| machine.macs.contains(&mac))
            || lowercase == routes::machine_by_name(&machine.name)
            || machine
                .uuid
                .as_ref()
                .is_some_and(|uuid| lowercase == routes::machine_by_uuid(uuid))
    });
    let by_mac = boot.script.is_none() && client.mac.is_some_and(|mac| machine.macs.contains(&mac));
    by_script || by_mac
}

/// Joins the proxy's status with the config's machines.
pub fn join(status: &StatusPage, machines: &[Machine]) -> Report {
    let machines = machines
        .iter()
        .map(|machine| {
            let last = status
                .clients
                .iter()
                .flat_map(|client| client.boots.iter().map(move |boot| (client, boot)))
                .filter(|(client, boot)| identifies(machine, client, boot))
                .max_by(|(_, a), (_, b)| a.started.cmp(&b.started));
            match last {
                Some((client, boot)) => MachineStatus {
                    name: machine.name.clone(),
                    state: LastBoot::Boot(boot.state),
                    ip: Some(client.ip),
                    started: Some(boot.started.clone()),
                    release: boot.release.clone(),
                    old_release: boot.release.is_some() && boot.release != status.release,
                },
                None => MachineStatus {
                    name: machine.name.clone(),
                    state: LastBoot::NeverSeen,
                    ip: None,
                    started: None,
                    release: None,
                    old_release: false,
                },
            }
        })
        .collect();
    Report {
        release: status.release.clone(),
        machines,
        unknown_macs: status.unknown_macs.clone(),
        unknown_serials: status.unknown_serials.clone(),
    }
}

/// GETs `<proxy>/status` and every page after it, and joins them. The proxy lists its
/// clients in address order, so each page must start past the last: a proxy whose pages
/// do not advance is an error, not an endless loop.
pub fn fetch(proxy: &str) -> Result<StatusPage, String> {
    let base = format!("{}/status", proxy.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut url = base.clone();
    let mut joined: Option<StatusPage> = None;
    let mut last_after: Option<IpAddr> = None;
    loop {
        let page = fetch_page(&agent, &url)?;
        let next = page.next_after;
        match &mut joined {
            None => joined = Some(page),
            Some(joined) => {
                joined.clients.extend(page.clients);
                joined.unknown_macs.extend(page.unknown_macs);
                joined.unknown_serials.extend(page.unknown_serials);
            }
        }
        let Some(after) = next else {
            break;
        };
        if last_after.is_some_and(|last| after <= last) {
            return Err(format!(
                "{url}: the status pages do not advance (next_after {after} again)"
            ));
        }
        last_after = Some(after);
        url = format!("{base}?after={after}");
    }
    let mut joined = joined.ok_or_else(|| format!("{base}: no status"))?;
    joined.next_after = None;
    Ok(joined)
}

/// One page of `/status`: a few hundred KiB from the proxy, read up to 16 MiB.
fn fetch_page(agent: &ureq::Agent, url: &str) -> Result<StatusPage, String> {
    let text = agent
        .get(url)
        .call()
        .and_then(|mut response| {
            response
                .body_mut()
                .with_config()
                .limit(16 << 20)
                .read_to_string()
        })
        .map_err(|e| match e {
            // The LAN listener (8080) no longer serves the status.
            ureq::Error::StatusCode(404) => format!(
                "{url}: 404: give the proxy's admin listener (--admin-listen, \
                 http://127.0.0.1:9180 on the proxy's host), not its LAN listener"
            ),
            e => format!("{url}: {e}"),
        })?;
    serde_json::from_str(&text).map_err(|e| format!("{url}: not a netboot-proxy status: {e}"))
}

/// `netbootc status`: exit 0 when every machine seen is done, 1 when one is not or an
/// unknown MAC asked, 2 when the proxy or the config cannot be read.
pub fn command(args: &StatusArgs) -> Result<(), Error> {
    let config = super::checked_config(&Loader::new(&args.config.dir)?)?;
    let status = fetch(&args.proxy).map_err(Error::Proxy)?;
    let report = join(&status, &config.machines);
    let text = match args.format {
        StatusFormat::Human => human(&report),
        StatusFormat::Json => {
            let mut json =
                serde_json::to_string_pretty(&report).map_err(|e| Error::Proxy(e.to_string()))?;
            json.push('\n');
            json
        }
    };
    crate::output::print(&text)?;
    if report.all_well() {
        Ok(())
    } else {
        Err(Error::NeedsAttention)
    }
}

/// The report for people: one section per kind of news, the problems first.
pub fn human(report: &Report) -> String {
    let mut out = format!(
        "proxy serves {}\n",
        report.release.as_deref().unwrap_or("no release yet")
    );
    let section = |out: &mut String, title: &str, pick: &dyn Fn(&MachineStatus) -> bool| {
        let picked: Vec<&MachineStatus> = report.machines.iter().filter(|m| pick(m)).collect();
        if picked.is_empty() {
            return;
        }
        out.push_str(&format!("\n{title} ({})\n", picked.len()));
        for m in picked {
            out.push_str(&format!(
                "  {:<20} {:<16} {:<12} {}\n",
                m.name,
                m.ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
                m.state,
                m.started.as_deref().unwrap_or("-"),
            ));
        }
    };
    section(&mut out, "stuck", &|m| m.stuck());
    section(&mut out, "in progress", &|m| {
        m.seen() && !m.done() && !m.stuck()
    });
    section(&mut out, "old release", &|m| m.old_release);
    section(&mut out, "done", &|m| m.done());
    section(&mut out, "never seen", &|m| !m.seen());
    if !report.unknown_macs.is_empty() {
        out.push_str(&format!(
            "\nunknown MACs ({}): add to machines/*.kdl\n",
            report.unknown_macs.len()
        ));
        for unknown in &report.unknown_macs {
            out.push_str(&format!("\n  {} at {}\n", unknown.mac, unknown.ip));
            for line in unknown.stanza.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    if !report.unknown_serials.is_empty() {
        out.push_str(&format!(
            "\nunknown Raspberry Pi serials ({}): add to machines/*.kdl\n",
            report.unknown_serials.len()
        ));
        for unknown in &report.unknown_serials {
            out.push_str(&format!("\n  {} at {}\n", unknown.serial, unknown.ip));
            for line in unknown.stanza.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_compile::model::BootTarget;

    fn mac(text: &str) -> netboot_protocol::Mac {
        netboot_protocol::Mac::parse(text).unwrap()
    }

    fn machine(name: &str, mac_address: &str, uuid: Option<&str>) -> Machine {
        Machine {
            name: name.into(),
            boot: BootTarget::Network,
            macs: vec![mac(mac_address)],
            uuid: uuid.map(Into::into),
            pi: None,
            profile: "p".into(),
            secure_boot: false,
            vars: Default::default(),
            files: Default::default(),
        }
    }

    fn boot(started: &str, state: BootState, release: &str, script: Option<&str>) -> BootStatus {
        BootStatus {
            started: started.into(),
            state,
            release: Some(release.into()),
            script: script.map(Into::into),
            kernel: None,
            initrds: None,
            stages: Vec::new(),
            stages_not_kept: 0,
        }
    }

    fn client(ip: [u8; 4], mac_address: Option<&str>, boots: Vec<BootStatus>) -> ClientStatus {
        ClientStatus {
            ip: IpAddr::from(ip),
            mac: mac_address.map(mac),
            last_seen: "2026-01-01T00:30:00Z".into(),
            boots,
        }
    }

    #[test]
    fn the_join_tells_never_seen_done_stuck_old_and_unknown() {
        let status = StatusPage {
            release: Some("sha256:new".into()),
            now: "2026-01-01T01:00:00Z".into(),
            stall_timeout_seconds: 120,
            clients: vec![
                client(
                    [10, 0, 0, 11],
                    Some("52:54:00:00:00:01"),
                    vec![
                        boot(
                            "2026-01-01T00:10:00Z",
                            BootState::Done,
                            "sha256:new",
                            Some("machines/by-mac/52-54-00-00-00-01.ipxe"),
                        ),
                        boot(
                            "2026-01-01T00:00:00Z",
                            BootState::Stalled,
                            "sha256:old",
                            Some("machines/by-mac/52-54-00-00-00-01.ipxe"),
                        ),
                    ],
                ),
                client(
                    [10, 0, 0, 12],
                    None,
                    vec![boot(
                        "2026-01-01T00:05:00Z",
                        BootState::Stalled,
                        "sha256:old",
                        Some("machines/by-uuid/4c4c4544-0000.ipxe"),
                    )],
                ),
            ],
            unknown_macs: vec![UnknownMac::new(
                mac("52:54:00:1a:00:99"),
                IpAddr::from([10, 0, 0, 13]),
            )],
            unknown_serials: UnknownSerial::new("0badc0de", IpAddr::from([10, 0, 0, 14]))
                .into_iter()
                .collect(),
            next_after: None,
        };
        let machines = [
            machine("node-01", "52-54-00-00-00-01", None),
            machine("node-02", "52-54-00-00-00-02", Some("4c4c4544-0000")),
            machine("node-03", "52-54-00-00-00-03", None),
        ];
        let report = join(&status, &machines);
        let states: Vec<(&str, &str, bool)> = report
            .machines
            .iter()
            .map(|m| (m.name.as_str(), m.state.name(), m.old_release))
            .collect();
        assert_eq!(
            states,
            [
                ("node-01", "done", false),
                ("node-02", "stalled", true),
                ("node-03", "never-seen", false)
            ]
        );
        assert!(!report.all_well());
        let text = human(&report);
        assert!(text.contains("\nstuck (1)\n  node-02"), "{text}");
        assert!(text.contains("\nold release (1)\n  node-02"), "{text}");
        assert!(text.contains("\nnever seen (1)\n  node-03"), "{text}");
        assert!(
            text.contains("  machine \"new-52-54-00-1a-00-99\" {"),
            "{text}"
        );
        assert!(
            text.contains("unknown Raspberry Pi serials (1)")
                && text.contains("      pi \"<pi4 or pi5>\" serial=\"0badc0de\""),
            "{text}"
        );

        let calm = StatusPage {
            clients: status.clients[..1].to_vec(),
            unknown_macs: Vec::new(),
            unknown_serials: Vec::new(),
            ..status
        };
        assert!(
            join(&calm, &machines).all_well(),
            "done and never seen is all well"
        );
    }

    /// A stand-in proxy on loopback answering each `/status` request line with the page
    /// `pages` gives for its query (`None` for none); one connection per request.
    fn fake_proxy(pages: fn(Option<&str>) -> String, requests: usize) -> String {
        use std::io::{BufRead as _, BufReader, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut header = String::new();
                while reader.read_line(&mut header).unwrap() > 2 {
                    header.clear();
                }
                let target = request_line.split(' ').nth(1).unwrap_or_default();
                let body = pages(target.split_once('?').map(|(_, query)| query));
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
        });
        format!("http://{address}")
    }

    fn page(ips: &[&str], unknown: Option<&str>, next_after: Option<&str>) -> String {
        let clients: Vec<serde_json::Value> = ips
            .iter()
            .map(|ip| {
                serde_json::json!({"ip": ip, "mac": null, "last_seen": "2026-01-01T00:00:00Z", "boots": []})
            })
            .collect();
        let unknown: Vec<serde_json::Value> = unknown
            .iter()
            .map(|ip| serde_json::json!({"mac": "52:54:00:1a:00:99", "ip": ip, "stanza": "s"}))
            .collect();
        serde_json::json!({
            "release": "sha256:r",
            "now": "2026-01-01T00:00:00Z",
            "stall_timeout_seconds": 120,
            "clients": clients,
            "unknown_macs": unknown,
            "next_after": next_after,
        })
        .to_string()
    }

    #[test]
    fn every_page_of_the_status_is_read() {
        let proxy = fake_proxy(
            |query| match query {
                None => page(&["10.0.0.1", "10.0.0.2"], None, Some("10.0.0.2")),
                Some("after=10.0.0.2") => page(&["10.0.0.3"], Some("10.0.0.3"), Some("10.0.0.3")),
                Some("after=10.0.0.3") => page(&["10.0.0.9"], None, None),
                Some(other) => panic!("unexpected query {other}"),
            },
            3,
        );
        let status = fetch(&proxy).unwrap();
        let ips: Vec<String> = status.clients.iter().map(|c| c.ip.to_string()).collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9"]);
        assert_eq!(status.unknown_macs.len(), 1);
        assert_eq!(status.release.as_deref(), Some("sha256:r"));
    }

    #[test]
    fn the_lan_listener_gets_a_hint_towards_the_admin_listener() {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).unwrap();
            stream
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 10\r\nconnection: close\r\n\r\nnot found\n")
                .unwrap();
        });
        let error = fetch(&format!("http://{address}")).unwrap_err();
        assert!(error.contains("admin listener"), "{error}");
    }

    #[test]
    fn pages_that_do_not_advance_are_an_error() {
        let proxy = fake_proxy(
            |query| match query {
                None => page(&["10.0.0.5"], None, Some("10.0.0.5")),
                _ => page(&["10.0.0.1"], None, Some("10.0.0.1")),
            },
            2,
        );
        let error = fetch(&proxy).unwrap_err();
        assert!(error.contains("do not advance"), "{error}");
    }
}
