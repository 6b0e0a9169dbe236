//! Who may fetch a machine's provisioning files (`files/<set>/<name>`): the LAN client
//! that was served, in its current boot, the machine script naming that set, and only for
//! a window after it ([`FileAccess`], `--files-window`). Everyone else gets 403, which the
//! boot status records like any other request of a boot.
//!
//! The files hold a machine's secrets (Ignition and Talos configs, cloud-init user data),
//! and the LAN is not trusted: any host there can ask. The proxy has no identity for a
//! client but its address, so it ties a set to the address that fetched its script: the
//! script is what only the machine asks for at that point of its boot. A new boot of that
//! address (a dispatcher or another script) ends the grant; so does the window, which must
//! be long enough for an installer that fetches late. An OS that takes another address than
//! its firmware's (a new DHCP lease, another client identifier) is refused: give the
//! machine a fixed lease, or have the OS keep its firmware's one (docs/lan-security.md).
//!
//! Memory is bounded: at most [`MAX_GRANTS`] clients, the oldest grant going first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use netboot_http::flags::positive_duration;
use netboot_protocol::routes;

use crate::clock::{Clock, Timestamp};

/// Clients with a grant at once; past it the oldest grant is dropped (its machine's OS
/// would then get 403 and may retry after the next boot).
pub const MAX_GRANTS: usize = 65_536;

/// File sets one script may name (a script names its machine's one set; more is odd).
const MAX_SETS_PER_SCRIPT: usize = 8;

/// The window flag. Every flag also reads the environment variable shown in `--help`.
#[derive(Debug, Clone, clap::Args)]
pub struct FileAccessArgs {
    /// How long after a client fetched its machine script it may fetch that machine's
    /// provisioning files (`files/<set>/…`); other clients, and this one after the window
    /// or a new boot, get 403.
    #[arg(long, env = "NETBOOT_PROXY_FILES_WINDOW", default_value = "1h", value_parser = positive_duration)]
    pub files_window: Duration,
}

/// What [`FileAccess::check`] decided for one request of `files/…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// The client fetched no script naming this set in its current boot.
    NotThisClients,
    /// It did, longer ago than the window.
    WindowOver,
}

#[derive(Debug, Clone)]
struct Grant {
    sets: Vec<String>,
    at: Timestamp,
}

/// The file sets each client may fetch now.
#[derive(Debug)]
pub struct FileAccess {
    grants: Mutex<HashMap<IpAddr, Grant>>,
    window: Duration,
    clock: Clock,
}

impl FileAccess {
    pub fn new(args: &FileAccessArgs, clock: Clock) -> Self {
        Self {
            grants: Mutex::new(HashMap::new()),
            window: args.files_window,
            clock,
        }
    }

    fn grants(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Grant>> {
        // Each change is one insert or remove: the map is consistent across a panic.
        self.grants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `client` was served a whole machine script: it may fetch the sets the script names
    /// (none for a script without files), and nothing it was granted before.
    pub fn script_served(&self, client: IpAddr, script: &[u8]) {
        let sets = file_sets(script);
        let mut grants = self.grants();
        if sets.is_empty() {
            grants.remove(&client);
            return;
        }
        let now = self.clock.now();
        if grants.len() >= MAX_GRANTS && !grants.contains_key(&client) {
            let window = self.window;
            grants.retain(|_, grant| now.since(&grant.at) <= window);
            if grants.len() >= MAX_GRANTS
                && let Some(oldest) = grants
                    .iter()
                    .min_by_key(|(_, grant)| grant.at.monotonic)
                    .map(|(ip, _)| *ip)
            {
                grants.remove(&oldest);
            }
        }
        grants.insert(client, Grant { sets, at: now });
    }

    /// `client` began another boot (asked for the dispatcher or a script): what its last
    /// boot was granted ends.
    pub fn boot_began(&self, client: IpAddr) {
        self.grants().remove(&client);
    }

    /// Whether `client` may fetch `route` (a `files/<set>/…` route) now.
    pub fn check(&self, client: IpAddr, route: &str) -> Access {
        let set = route
            .strip_prefix(routes::FILES)
            .and_then(|rest| rest.split_once('/'))
            .map(|(set, _)| set);
        let grants = self.grants();
        let Some(grant) = grants.get(&client) else {
            return Access::NotThisClients;
        };
        if !set.is_some_and(|set| grant.sets.iter().any(|s| s == set)) {
            return Access::NotThisClients;
        }
        if self.clock.now().since(&grant.at) > self.window {
            return Access::WindowOver;
        }
        Access::Allowed
    }
}

/// The file sets a machine script names: each `files/<64 hex>/` in it (in a kernel
/// argument's URL, NoCloud's `s=` seed, anywhere), first seen first.
pub fn file_sets(script: &[u8]) -> Vec<String> {
    let mut sets: Vec<String> = Vec::new();
    let needle = routes::FILES.as_bytes();
    let mut rest = script;
    while let Some(at) = find(rest, needle) {
        rest = &rest[at + needle.len()..];
        let Some(set) = rest.get(..64) else { break };
        if rest.get(64) == Some(&b'/')
            && set
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        {
            let set = String::from_utf8_lossy(set).into_owned();
            if !sets.contains(&set) {
                sets.push(set);
                if sets.len() == MAX_SETS_PER_SCRIPT {
                    break;
                }
            }
        }
    }
    sets
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(all(test, feature = "test-clock"))]
mod tests {
    use super::*;

    const SET: &str = "8e0b8606c61f6f82a0a2b015d7d2ab66bac2e65b814864ca2b680124b0ceb3c3";
    const OTHER: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    fn script(set: &str) -> Vec<u8> {
        format!(
            "#!ipxe\nkernel http://10.0.0.2:8080/objects/sha256/{OTHER} ignition.config.url=http://10.0.0.2:8080/files/{set}/ignition ds=nocloud;s=http://10.0.0.2:8080/files/{set}/ || goto failed\nboot\n"
        )
        .into_bytes()
    }

    /// A file clock at `seconds` of monotonic time.
    fn clock_at(dir: &tempfile::TempDir, seconds: u64) -> Clock {
        let path = dir.path().join("clock");
        set_clock(&path, seconds);
        Clock::File(path)
    }

    fn set_clock(path: &std::path::Path, seconds: u64) {
        std::fs::write(
            path,
            format!("2026-01-01T00:00:00Z\nmonotonic {seconds}s\n"),
        )
        .expect("writing the test clock");
    }

    fn access(dir: &tempfile::TempDir, window: u64) -> FileAccess {
        FileAccess::new(
            &FileAccessArgs {
                files_window: Duration::from_secs(window),
            },
            clock_at(dir, 100),
        )
    }

    #[test]
    fn a_scripts_sets_are_read_once_each_and_only_when_well_formed() {
        assert_eq!(file_sets(&script(SET)), vec![SET.to_owned()]);
        let odd = format!("files/{}/x files/{SET}x files/{OTHER}/y", &SET[..63]);
        assert_eq!(file_sets(odd.as_bytes()), vec![OTHER.to_owned()]);
        assert_eq!(
            file_sets(b"#!ipxe\nsanboot --drive 0x80\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn only_the_client_served_the_script_gets_its_files_within_the_window() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = access(&dir, 600);
        let (machine, neighbour) = (IpAddr::from([10, 0, 0, 7]), IpAddr::from([10, 0, 0, 8]));
        let route = format!("files/{SET}/ignition");
        assert_eq!(files.check(machine, &route), Access::NotThisClients);
        files.script_served(machine, &script(SET));
        assert_eq!(files.check(machine, &route), Access::Allowed);
        assert_eq!(files.check(neighbour, &route), Access::NotThisClients);
        assert_eq!(
            files.check(machine, &format!("files/{OTHER}/ignition")),
            Access::NotThisClients
        );
        set_clock(&dir.path().join("clock"), 700);
        assert_eq!(
            files.check(machine, &route),
            Access::Allowed,
            "at the window's end"
        );
        set_clock(&dir.path().join("clock"), 701);
        assert_eq!(files.check(machine, &route), Access::WindowOver);
    }

    #[test]
    fn a_new_boot_or_a_script_without_files_ends_the_grant() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = access(&dir, 600);
        let machine = IpAddr::from([10, 0, 0, 7]);
        let route = format!("files/{SET}/ignition");
        files.script_served(machine, &script(SET));
        files.boot_began(machine);
        assert_eq!(files.check(machine, &route), Access::NotThisClients);
        files.script_served(machine, &script(SET));
        files.script_served(machine, b"#!ipxe\nsanboot --drive 0x80\n");
        assert_eq!(files.check(machine, &route), Access::NotThisClients);
        files.script_served(machine, &script(OTHER));
        assert_eq!(files.check(machine, &route), Access::NotThisClients);
    }

    #[test]
    fn past_the_bound_the_oldest_grant_goes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = access(&dir, 600);
        let clock = dir.path().join("clock");
        let client = |i: usize| IpAddr::from((i as u32 + 1).to_be_bytes());
        // Client 0 alone at 100 s, the others later, a thousand to each second.
        for i in 0..MAX_GRANTS {
            if i <= 1 || i % 1000 == 0 {
                set_clock(&clock, 100 + u64::from(i > 0) + i as u64 / 1000);
            }
            files.script_served(client(i), &script(SET));
        }
        let route = format!("files/{SET}/ignition");
        files.script_served(client(MAX_GRANTS), &script(SET));
        assert_eq!(files.check(client(0), &route), Access::NotThisClients);
        assert_eq!(files.check(client(1), &route), Access::Allowed);
        assert_eq!(files.check(client(MAX_GRANTS), &route), Access::Allowed);
        assert_eq!(files.grants().len(), MAX_GRANTS);
    }
}
