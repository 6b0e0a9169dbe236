//! Boot status, no database: per client (by IP address), the progress of its last boots as
//! the proxy sees its requests, served as JSON at `GET /status` on the admin listener, a
//! page of clients at a time ([`Tracker::page`]).
//!
//! ```text
//! boot file (tftp/<name>) → dispatcher (boot.ipxe) → script (machines/…) → kernel → initrd
//!   → provisioning files (files/…, fetched by the booted OS)
//! ```
//! Each request is a [`stage::Stage`] of the client's current [`boot::Boot`]; a step back
//! to the start of that chain begins the next boot. The machine script the proxy served
//! says which objects are the kernel and the initrd ([`script`]); a boot is done once all
//! of them were fetched completely (handed over to the OS), stalled when the kernel was
//! fetched and the initrd not within the stall timeout, and an unknown machine when it
//! got `machines/unknown.ipxe` or a 404 for its by-MAC script (whose route tells its MAC).
//!
//! Memory is bounded in bytes ([`clients`]): routes cut short, a few stages per boot, a
//! few boots and [`clients::MAX_CLIENT_BYTES`] per client, `--status-max-bytes` in all,
//! and clients whose transfers completed are the last to be forgotten. A page of
//! `/status` is about [`PAGE_BYTES`], written one client at a time. Only routes, digests, sizes and times are kept: never the bytes of
//! a provisioning file (they hold secrets), and a script's bytes only long enough to read
//! its `kernel` and `initrd` lines. Time comes from a [`Clock`] so tests can move it; stalls
//! are measured on its monotonic time, wall time is only shown.

pub mod boot;
pub mod clients;
pub mod journal;
pub mod script;
pub mod stage;

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use netboot_bundle::Digest;
use netboot_http::flags::positive_duration;
use netboot_http::metrics::Exposition;
use netboot_protocol::status::{
    BootState, ClientStatus, JournalLine, StageKind, StatusPage, UnknownMac, UnknownSerial,
};
use netboot_protocol::{Named, Transport, routes};
use serde_json::value::RawValue;

use self::boot::Boot;
use self::clients::{Client, Clients};
use self::journal::Journal;
use self::script::ScriptImages;
use self::stage::{Stage, kind_of_route};
use crate::clock::{Clock, Timestamp, rfc3339};

/// About how much of the status one `GET /status` returns: clients are written until the
/// page passes this, and `next_after` names where the next page starts.
pub const PAGE_BYTES: usize = 256 * 1024;

/// The boot status's bounds and timeout. Every flag also reads the environment variable
/// shown in `--help`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Clients whose boots are kept (by IP address); past it clients are forgotten, those
    /// that never completed a transfer first, the least recently seen first.
    #[arg(long, env = "NETBOOT_PROXY_STATUS_MAX_CLIENTS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub status_max_clients: u32,
    /// Bytes the boot status may hold in all (routes, stages, boots, as counted by the
    /// proxy); past it clients are forgotten, those that never completed a transfer first.
    #[arg(long, env = "NETBOOT_PROXY_STATUS_MAX_BYTES", default_value_t = 16 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(64 * 1024..=1 << 40))]
    pub status_max_bytes: u64,
    /// Boots kept per client, the last ones.
    #[arg(long, env = "NETBOOT_PROXY_STATUS_BOOTS_PER_CLIENT", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub status_boots_per_client: u32,
    /// How long after its kernel a boot without its initrd counts as stalled.
    #[arg(long, env = "NETBOOT_PROXY_STATUS_STALL_TIMEOUT", default_value = "2m", value_parser = positive_duration)]
    pub status_stall_timeout: Duration,
    /// Also append each boot, as one JSON line, to this file when it comes to something
    /// (done, stalled, unknown machine, failed) or is left unfinished by the next boot.
    #[arg(long, env = "NETBOOT_PROXY_STATUS_LOG", value_name = "FILE")]
    pub status_log: Option<std::path::PathBuf>,
    /// Rotate the boot journal (to `<file>.1`) before it would pass this size.
    #[arg(long, env = "NETBOOT_PROXY_STATUS_LOG_MAX_BYTES", default_value_t = 16 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..))]
    pub status_log_max_bytes: u64,
}

/// One request, as it starts.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub client: IpAddr,
    pub route: &'a str,
    pub transport: Transport,
    pub object: Option<Digest>,
    pub status: u16,
    pub release: Option<Digest>,
}

/// Every client's boots.
#[derive(Debug)]
pub struct Tracker {
    clients: Mutex<Clients>,
    clock: Clock,
    stall_timeout: Duration,
    journal: Option<Journal>,
}

impl Tracker {
    /// The tracker; an error if the boot journal (`--status-log`) cannot be opened.
    pub fn new(args: &StatusArgs, clock: Clock) -> Result<Self, String> {
        let journal = args
            .status_log
            .clone()
            .map(|path| {
                Journal::open(path.clone(), args.status_log_max_bytes)
                    .map_err(|e| format!("--status-log {}: {e}", path.display()))
            })
            .transpose()?;
        Ok(Self {
            clients: Mutex::new(Clients::new(
                args.status_max_clients as usize,
                usize::try_from(args.status_max_bytes).unwrap_or(usize::MAX),
                args.status_boots_per_client as usize,
            )),
            clock,
            stall_timeout: args.status_stall_timeout,
            journal,
        })
    }

    /// How often [`sweep`](Self::sweep) should run so the journal records a stall soon
    /// after it happens; `None` without a journal.
    pub fn sweep_interval(&self) -> Option<Duration> {
        self.journal.as_ref().map(|_| {
            (self.stall_timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(15))
        })
    }

    /// Journals the boots that came to something since they were last looked at (a stall
    /// happens with no request to notice it).
    pub fn sweep(&self) {
        let now = self.clock.now();
        let lines = {
            let mut clients = self.clients();
            let mut lines = Vec::new();
            for client in clients.iter_mut() {
                lines.extend(self.journal_lines(client, now, false));
            }
            lines
        };
        self.write_journal(&lines);
    }

    /// The journal lines of `client`'s boots that came to a new state; with `superseded`,
    /// its last boot's whatever its state (the client is starting another).
    fn journal_lines(&self, client: &mut Client, now: Timestamp, superseded: bool) -> Vec<String> {
        if self.journal.is_none() {
            return Vec::new();
        }
        let last = client.boots.len().saturating_sub(1);
        let mut lines = Vec::new();
        for (i, boot) in client.boots.iter_mut().enumerate() {
            if boot
                .to_journal(now, self.stall_timeout, superseded && i == last)
                .is_none()
            {
                continue;
            }
            let line = JournalLine {
                journaled: rfc3339(now.wall),
                ip: client.ip,
                mac: client.mac,
                boot: boot.to_status(now, self.stall_timeout),
            };
            lines.push(to_json(&line));
        }
        lines
    }

    fn write_journal(&self, lines: &[String]) {
        if let Some(journal) = &self.journal
            && let Err(e) = journal.append(lines)
        {
            tracing::warn!(file = %journal.path().display(), error = %e, "cannot append to the boot journal");
        }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, Clients> {
        // The map stays consistent across a panic elsewhere: each change is one step.
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the start of a request; false if its route is not part of a boot (then
    /// there is nothing to [`end`](Self::end)).
    pub fn begin(&self, request: Request<'_>) -> bool {
        let Some(kind) = kind_of_route(request.route) else {
            return false;
        };
        let route = stage::kept_route(request.route);
        let now = self.clock.now();
        let mut clients = self.clients();
        let keep = clients.boots_per_client;
        let client = clients.touch(request.client, now);
        if let Some(mac) = routes::mac_of_machine_by_mac(request.route) {
            client.mac = Some(mac);
        }
        let current = client.boots.back().filter(|boot| boot.continues_with(kind));
        let kind = match (kind, current) {
            (StageKind::Image, Some(boot)) => boot.image_kind(request.object),
            _ => kind,
        };
        let stage = Stage {
            kind,
            route: route.into_owned(),
            transport: request.transport,
            object: request.object,
            status: request.status,
            release: request.release,
            started: now,
            ended: None,
            bytes: 0,
            complete: false,
        };
        let mut lines = Vec::new();
        match (current.is_some(), client.boots.back_mut()) {
            (true, Some(boot)) => boot.push(stage),
            _ => {
                lines = self.journal_lines(client, now, true);
                client.begin_boot(Boot::new(stage), keep);
            }
        }
        clients.settle(request.client);
        drop(clients);
        self.write_journal(&lines);
        true
    }

    /// Records the end of a request [`begin`](Self::begin) recorded: `bytes` sent, whether
    /// the whole object went out, and for a machine script the images it names.
    pub fn end(
        &self,
        client: IpAddr,
        route: &str,
        bytes: u64,
        complete: bool,
        images: Option<ScriptImages>,
    ) {
        let route = stage::kept_route(route);
        let route = route.as_ref();
        let ip = client;
        let now = self.clock.now();
        let mut clients = self.clients();
        let Some(client) = clients.get_mut(&ip) else {
            return; // forgotten meanwhile
        };
        let Some(boot) = client
            .boots
            .iter_mut()
            .rev()
            .find_map(|boot| boot.running(route).is_some().then_some(boot))
        else {
            return;
        };
        if boot.take_superseded(route) {
            return; // the end of the transfer this route's running stage replaced
        }
        if let Some(stage) = boot.running(route) {
            stage.ended = Some(now);
            stage.bytes = bytes;
            stage.complete = complete && stage.status == 200;
            client.proven |= stage.complete;
        }
        if let Some(images) = images {
            boot.set_images(images);
        }
        let lines = self.journal_lines(client, now, false);
        clients.settle(ip);
        drop(clients);
        self.write_journal(&lines);
    }

    /// One page of the `/status` document, as JSON: the clients from the first after
    /// `after` (in address order) until the page passes [`PAGE_BYTES`], the unknown MACs
    /// among them, and `next_after` (the last client listed) when more follow, else null.
    /// Written one client at a time, never as one value of the whole status.
    pub fn page(&self, release: Option<Digest>, after: Option<IpAddr>) -> String {
        let now = self.clock.now();
        let clients = self.clients();
        let mut listed = String::from("[");
        let mut unknown_macs = Vec::new();
        let mut unknown_serials = Vec::new();
        let mut last = None;
        let mut next_after = None;
        for client in clients.from_after(after) {
            if listed.len() >= PAGE_BYTES {
                next_after = last;
                break;
            }
            if last.is_some() {
                listed.push(',');
            }
            listed.push_str(&to_json(&self.client_status(client, now)));
            unknown_macs.extend(self.unknown_mac(client, now));
            unknown_serials.extend(self.unknown_serial(client, now));
            last = Some(client.ip);
        }
        listed.push(']');
        drop(clients);
        let page = StatusPage {
            release: release.map(|d| d.to_string()),
            now: rfc3339(now.wall),
            stall_timeout_seconds: self.stall_timeout.as_secs(),
            clients: RawValue::from_string(listed)
                .unwrap_or_else(|e| unreachable!("a list of serialised clients is JSON: {e}")),
            unknown_macs,
            unknown_serials,
            next_after,
        };
        to_json(&page) + "\n"
    }

    /// The client's MAC, with its stanza, if its last boot was an unknown machine.
    fn unknown_mac(&self, client: &Client, now: Timestamp) -> Option<UnknownMac> {
        let last = client.boots.back()?.state(now, self.stall_timeout);
        let mac = client.mac?;
        (last == BootState::UnknownMachine).then(|| UnknownMac::new(mac, client.ip))
    }

    /// The serial of a Raspberry Pi, with its stanza, if its last boot asked for a tree
    /// no machine has.
    fn unknown_serial(&self, client: &Client, now: Timestamp) -> Option<UnknownSerial> {
        let last = client.boots.back()?;
        if last.state(now, self.stall_timeout) != BootState::UnknownMachine {
            return None;
        }
        UnknownSerial::new(last.pi_serial()?, client.ip)
    }

    fn client_status(&self, client: &Client, now: Timestamp) -> ClientStatus {
        ClientStatus {
            ip: client.ip,
            mac: client.mac,
            last_seen: rfc3339(client.last_seen.wall),
            boots: client
                .boots
                .iter()
                .rev()
                .map(|b| b.to_status(now, self.stall_timeout))
                .collect(),
        }
    }

    /// `clients_tracked`, `clients_dropped_total` and the boots kept, by state.
    pub fn render_metrics(&self, out: &mut Exposition) {
        let now = self.clock.now();
        let clients = self.clients();
        let mut by_state = vec![0u64; BootState::ALL.len()];
        for client in clients.iter() {
            for boot in &client.boots {
                let state = boot.state(now, self.stall_timeout);
                if let Some(at) = BootState::ALL.iter().position(|s| *s == state) {
                    by_state[at] += 1;
                }
            }
        }
        out.gauge(
            "clients_tracked",
            "Clients whose last boots the proxy keeps (GET /status).",
            &[],
            clients.count() as u64,
        );
        out.gauge(
            "status_bytes",
            "Bytes the boot status holds, as counted against --status-max-bytes.",
            &[],
            clients.bytes() as u64,
        );
        out.counter(
            "clients_dropped_total",
            "Clients forgotten to keep the boot status within --status-max-clients and --status-max-bytes.",
            &[],
            clients.dropped,
        );
        for (state, n) in BootState::ALL.iter().zip(by_state) {
            out.gauge(
                "boots",
                "Boots kept in the boot status, by what they came to.",
                &[("state", state.name())],
                n,
            );
        }
    }
}

/// The status types are plain data (strings, numbers, addresses): serialising them cannot
/// fail.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|e| unreachable!("the status document serialises: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(max_clients: u32, max_bytes: u64) -> Tracker {
        let args = StatusArgs {
            status_max_clients: max_clients,
            status_max_bytes: max_bytes,
            status_boots_per_client: 4,
            status_stall_timeout: Duration::from_secs(120),
            status_log: None,
            status_log_max_bytes: 1 << 20,
        };
        Tracker::new(&args, Clock::system()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A Raspberry Pi bootloader's fetch: it asks the size and aborts, then asks again
    /// before the server has seen the abort; the abort's end is not the transfer's.
    #[test]
    fn a_transfer_asked_for_again_while_running_keeps_its_own_end() {
        let tracker = tracker(16, 1 << 20);
        let pi = IpAddr::from([10, 0, 0, 42]);
        let route = "tftp/3a8b1c01/kernel8.img";
        let request = || Request {
            client: pi,
            route,
            transport: Transport::Tftp,
            object: Some(Digest::of(b"kernel")),
            status: 200,
            release: None,
        };
        tracker.begin(request());
        tracker.begin(request());
        tracker.end(pi, route, 0, false, None); // the size probe, aborted
        tracker.end(pi, route, 6, true, None); // the transfer
        let page = &pages(&tracker)[0];
        let stage = &page.clients[0].boots[0].stages[0];
        assert!(stage.complete && stage.bytes == 6, "{stage:?}");
    }

    /// A TFTP request: `complete` a whole boot file, else a name nobody has.
    fn tftp(tracker: &Tracker, client: IpAddr, name: &str, complete: bool) {
        let route = format!("tftp/{name}");
        let status = if complete { 200 } else { 404 };
        tracker.begin(Request {
            client,
            route: &route,
            transport: Transport::Tftp,
            object: complete.then(|| Digest::of(name.as_bytes())),
            status,
            release: None,
        });
        tracker.end(client, &route, 0, complete, None);
    }

    fn spoofed(n: u16) -> IpAddr {
        IpAddr::from([127, 2, (n >> 8) as u8, n as u8])
    }

    /// Every page of the status, read as `netbootc status` reads it, following
    /// `next_after`.
    fn pages(tracker: &Tracker) -> Vec<StatusPage> {
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let text = tracker.page(None, after);
            assert!(text.len() < PAGE_BYTES + 32 * 1024, "{} bytes", text.len());
            let page: StatusPage = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            after = page.next_after;
            pages.push(page);
            if after.is_none() {
                return pages;
            }
        }
    }

    /// A Pi 4's bootloader, file by file in its order: one boot, in progress until its
    /// kernel and initramfs went out whole, then done; its next `config.txt` is its next
    /// boot. A serial with no tree is an unknown machine.
    #[test]
    fn a_raspberry_pi_boot_is_followed_stage_by_stage() {
        let tracker = tracker(16, 1 << 20);
        let pi = IpAddr::from([10, 0, 0, 40]);
        let state = |tracker: &Tracker, ip| {
            let page = &pages(tracker)[0];
            let client = page.clients.iter().find(|c| c.ip == ip).unwrap();
            let boot = client.boots.first().unwrap(); // the latest
            (client.boots.len(), boot.state, boot.stages.len())
        };
        let order = [
            "config.txt",
            "start4.elf",
            "fixup4.dat",
            "config.txt",
            "bcm2711-rpi-4-b.dtb",
            "cmdline.txt",
            "kernel8.img",
        ];
        for name in order {
            tftp(&tracker, pi, &format!("3a8b1c01/{name}"), true);
            assert_eq!(state(&tracker, pi).1, BootState::InProgress, "after {name}");
        }
        tftp(&tracker, pi, "3a8b1c01/initramfs8", true);
        assert_eq!(state(&tracker, pi), (1, BootState::Done, 7));
        tftp(&tracker, pi, "3a8b1c01/config.txt", true);
        assert_eq!(state(&tracker, pi), (2, BootState::InProgress, 1));

        let stranger = IpAddr::from([10, 0, 0, 41]);
        tftp(&tracker, stranger, "0badc0de/config.txt", false);
        assert_eq!(state(&tracker, stranger).1, BootState::UnknownMachine);
        let unknown = &pages(&tracker)[0].unknown_serials;
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert_eq!(
            (unknown[0].serial.as_str(), unknown[0].ip),
            ("0badc0de", stranger)
        );
        assert!(unknown[0].stanza.contains("serial=\"0badc0de\""));
    }

    #[test]
    fn spoofed_tftp_clients_leave_the_status_bounded_and_real_clients_listed() {
        let tracker = tracker(4096, 2 << 20);
        let real = IpAddr::from([10, 0, 0, 7]);
        tftp(&tracker, real, "ipxe.efi", true);
        // The issue's reproduction: 4,096 source addresses, ~490-byte names.
        for round in 0..4 {
            for n in 0..4096 {
                let name = format!("{round}{}", "n".repeat(485));
                tftp(&tracker, spoofed(n), &name, false);
            }
        }
        let clients = tracker.clients();
        assert!(clients.bytes() <= 2 << 20, "{} bytes", clients.bytes());
        assert!(clients.dropped > 0, "the bound was reached");
        drop(clients);
        let pages = pages(&tracker);
        assert!(pages.len() > 1, "more than one page");
        let parsed: Vec<IpAddr> = pages
            .iter()
            .flat_map(|p| p.clients.iter().map(|c| c.ip))
            .collect();
        assert!(
            parsed.windows(2).all(|w| w[0] < w[1]),
            "each client once, in order"
        );
        assert_eq!(
            parsed.len(),
            tracker.clients().count(),
            "every page followed"
        );
        assert!(parsed.contains(&real), "the real client was forgotten");
        let routes: Vec<&str> = pages
            .iter()
            .flat_map(|p| &p.clients)
            .flat_map(|c| c.boots.iter().flat_map(|b| &b.stages))
            .map(|s| s.route.as_str())
            .collect();
        assert!(routes.iter().all(|r| r.len() <= stage::MAX_ROUTE_BYTES));
    }
}
