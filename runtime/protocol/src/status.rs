//! The proxy's boot status document (`GET /status` on its admin listener, one page at a
//! time) and its boot journal lines (`--status-log`), as the proxy writes them and
//! `netbootc status` reads them. runtime/README.md describes the document.
//!
//! Digests (`sha256:<hex>`) and times (RFC 3339, UTC, which compare as text) are kept as
//! the text the proxy writes: this crate sits below the bundle format.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr, VariantArray, VariantNames};

use crate::firmware::Transport;
use crate::mac::Mac;

/// One page of `/status`. The proxy writes its clients one at a time, so it fills
/// `Clients` with already-written JSON; readers take the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPage<Clients = Vec<ClientStatus>> {
    /// The release the proxy serves now.
    pub release: Option<String>,
    pub now: String,
    pub stall_timeout_seconds: u64,
    /// In address order, from the first after the page's `?after=`.
    pub clients: Clients,
    /// The clients of this page whose last boot was an unknown machine.
    pub unknown_macs: Vec<UnknownMac>,
    /// The Raspberry Pi bootloaders of this page that asked for a tree no machine has.
    #[serde(default)]
    pub unknown_serials: Vec<UnknownSerial>,
    /// Where the next page starts (`?after=`); `None` on the last page.
    #[serde(default)]
    pub next_after: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStatus {
    pub ip: IpAddr,
    /// When a by-MAC script request told it.
    pub mac: Option<Mac>,
    pub last_seen: String,
    /// Most recent first.
    pub boots: Vec<BootStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootStatus {
    pub started: String,
    pub state: BootState,
    /// The release this boot got: its script's, else its first request's.
    pub release: Option<String>,
    /// The machine script served (`machines/by-mac/…`, `by-uuid`, `by-name`).
    pub script: Option<String>,
    /// The objects the script names, once it was served completely.
    pub kernel: Option<String>,
    pub initrds: Option<Vec<String>>,
    /// Oldest first.
    pub stages: Vec<StageStatus>,
    /// New routes past the proxy's bound on stages per boot.
    pub stages_not_kept: u64,
}

/// One request of a boot: the last one for its route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageStatus {
    pub stage: StageKind,
    /// Cut to a bounded prefix ending in `…` when long.
    pub route: String,
    pub transport: Transport,
    /// The object served (none for a 404).
    pub object: Option<String>,
    /// The HTTP status; for TFTP its equivalent.
    pub status: u16,
    pub release: Option<String>,
    pub started: String,
    /// `None` while the transfer runs.
    pub ended: Option<String>,
    pub bytes: u64,
    /// Every byte of the whole object went out.
    pub complete: bool,
}

/// A MAC whose machine is not in the config, with a block to paste into `machines/*.kdl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownMac {
    pub mac: Mac,
    pub ip: IpAddr,
    pub stanza: String,
}

impl UnknownMac {
    pub fn new(mac: Mac, ip: IpAddr) -> Self {
        Self {
            mac,
            ip,
            stanza: stanza(&mac),
        }
    }
}

/// A Raspberry Pi serial whose machine is not in the config (its bootloader asked for
/// `<serial>/config.txt`), with a block to paste into `machines/*.kdl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownSerial {
    pub serial: String,
    pub ip: IpAddr,
    pub stanza: String,
}

impl UnknownSerial {
    /// `None` unless `serial` is eight hex digits, as a Pi tree route spells it (so the
    /// stanza needs no quoting).
    pub fn new(serial: &str, ip: IpAddr) -> Option<Self> {
        (serial.len() == 8 && serial.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self {
            serial: serial.to_owned(),
            ip,
            stanza: format!(
                "machine \"new-{serial}\" {{\n    mac \"<its Ethernet MAC>\"\n    pi \"<pi4 or pi5>\" serial=\"{serial}\"\n    profile \"<choose one>\"\n}}\n"
            ),
        })
    }
}

/// A line of the boot journal: a boot, when it was journaled, and its client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalLine {
    pub journaled: String,
    pub ip: IpAddr,
    pub mac: Option<Mac>,
    #[serde(flatten)]
    pub boot: BootStatus,
}

/// What a boot came to.
#[derive(EnumString, IntoStaticStr, VariantArray, VariantNames)]
#[strum(serialize_all = "kebab-case")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootState {
    /// Every image the machine script names was fetched completely: handed over to the OS.
    Done,
    InProgress,
    /// The kernel was fetched and the initrd was not, for longer than the stall timeout.
    Stalled,
    /// The machine is not registered: it got `machines/unknown.ipxe` or a 404 for its
    /// by-MAC script.
    UnknownMachine,
    /// The last request ended with an error or was cut short.
    Failed,
    /// The machine's script refused an image whose sha256 is not the one compiled into it
    /// (it asked for a `refused/…` route): something between the store and the machine
    /// served other bytes.
    Refused,
}

/// What a route is to a booting machine. The order is the order of a boot: a request for
/// an earlier kind than the boot has reached begins the next boot.
#[derive(EnumString, IntoStaticStr, VariantArray, VariantNames)]
#[strum(serialize_all = "kebab-case")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StageKind {
    /// `tftp/<name>` other than the dispatcher: what PXE firmware loads (an iPXE binary).
    BootFile,
    /// `boot.ipxe`, `tftp/boot.ipxe`.
    Dispatcher,
    /// `machines/…`: the machine's script, or `machines/unknown.ipxe`.
    Script,
    /// An image object; which one the machine script's `kernel` and `initrd` lines say.
    Kernel,
    Initrd,
    /// An image object the boot's script does not name (or before any script).
    Image,
    /// `files/<set>/<name>`: a provisioning file, fetched by the booted OS.
    File,
    /// `refused/…`: the script refused an image (last, so it never begins a boot).
    Refused,
}

crate::serde_by_name!(BootState, StageKind);

/// A machine block to paste into `machines/*.kdl` for an unknown MAC. Only the MAC varies,
/// and a [`Mac`] is spelt in hex digits and colons, so nothing in it needs quoting.
pub fn stanza(mac: &Mac) -> String {
    format!(
        "machine \"new-{}\" {{\n    mac \"{mac}\"\n    profile \"<choose one>\"\n}}\n",
        mac.hexhyp()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Named;

    #[test]
    fn states_and_stage_kinds_have_their_document_names() {
        assert_eq!(
            BootState::NAMES,
            [
                "done",
                "in-progress",
                "stalled",
                "unknown-machine",
                "failed",
                "refused"
            ]
        );
        assert_eq!(
            StageKind::NAMES,
            [
                "boot-file",
                "dispatcher",
                "script",
                "kernel",
                "initrd",
                "image",
                "file",
                "refused"
            ]
        );
    }

    #[test]
    fn a_page_reads_back_as_written() {
        let mac = Mac::parse("52-54-00-1a-00-99");
        let page = StatusPage {
            release: Some("sha256:00".into()),
            now: "2026-01-01T00:00:00Z".into(),
            stall_timeout_seconds: 120,
            clients: vec![ClientStatus {
                ip: IpAddr::from([10, 0, 0, 7]),
                mac,
                last_seen: "2026-01-01T00:00:00Z".into(),
                boots: vec![BootStatus {
                    started: "2026-01-01T00:00:00Z".into(),
                    state: BootState::UnknownMachine,
                    release: None,
                    script: None,
                    kernel: None,
                    initrds: None,
                    stages: vec![StageStatus {
                        stage: StageKind::Script,
                        route: "machines/by-mac/52-54-00-1a-00-99.ipxe".into(),
                        transport: Transport::Http,
                        object: None,
                        status: 404,
                        release: None,
                        started: "2026-01-01T00:00:00Z".into(),
                        ended: None,
                        bytes: 0,
                        complete: false,
                    }],
                    stages_not_kept: 0,
                }],
            }],
            unknown_macs: mac
                .map(|mac| UnknownMac::new(mac, IpAddr::from([10, 0, 0, 7])))
                .into_iter()
                .collect(),
            unknown_serials: UnknownSerial::new("0badc0de", IpAddr::from([10, 0, 0, 8]))
                .into_iter()
                .collect(),
            next_after: None,
        };
        let text = serde_json::to_string(&page).unwrap_or_default();
        for field in [
            "\"state\":\"unknown-machine\"",
            "\"stage\":\"script\"",
            "\"transport\":\"http\"",
            "\"mac\":\"52:54:00:1a:00:99\"",
            "\"ip\":\"10.0.0.7\"",
            "\"next_after\":null",
            "\"serial\":\"0badc0de\"",
        ] {
            assert!(text.contains(field), "{field} in {text}");
        }
        let back: Result<StatusPage, _> = serde_json::from_str(&text);
        assert_eq!(back.ok(), Some(page));
    }

    #[test]
    fn a_stanza_names_the_mac_in_both_spellings() {
        let mac = Mac::parse("52:54:00:1A:00:99");
        assert_eq!(
            mac.as_ref().map(stanza).as_deref(),
            Some(
                "machine \"new-52-54-00-1a-00-99\" {\n    mac \"52:54:00:1a:00:99\"\n    profile \"<choose one>\"\n}\n"
            )
        );
    }
}
