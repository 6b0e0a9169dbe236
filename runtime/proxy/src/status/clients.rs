//! The clients the proxy tracks, keyed by IP address, in bounded memory: at most
//! `max_clients` clients and `max_bytes` bytes in all, each client at most
//! [`MAX_CLIENT_BYTES`] (its oldest boots go first), each boot at most
//! [`super::boot::MAX_STAGES`] stages of routes cut to [`super::stage::MAX_ROUTE_BYTES`].
//!
//! Which clients are forgotten to make room (a sixteenth of the bounds at a time): first
//! the least recently seen of those that never completed a transfer, then the least
//! recently seen of the rest. A completed
//! transfer needs the client's answers (TFTP ACKs, a TCP handshake), so a host spoofing
//! thousands of source addresses with requests for names nobody has only ever displaces
//! its own phantoms, never a machine that really booted.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::ops::Bound;

use netboot_protocol::Mac;

use super::boot::Boot;
use crate::clock::Timestamp;

/// The most one client's boots may hold; past it its oldest boots are forgotten (the
/// last one is always kept, and is bounded by its stage count and route length).
pub const MAX_CLIENT_BYTES: usize = 16 * 1024;

/// One client and its last boots.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    /// As a by-MAC script route named it.
    pub mac: Option<Mac>,
    /// Oldest first.
    pub boots: VecDeque<Boot>,
    pub last_seen: Timestamp,
    /// A transfer to it completed: it answers at its address (not a spoofed source).
    pub proven: bool,
    /// Orders clients by their last request (the clock may stand still in tests).
    seen: u64,
    /// Its [`weight`](Self::weight) when last settled.
    counted: usize,
}

impl Client {
    /// Starts a boot, forgetting the oldest past `keep`.
    pub fn begin_boot(&mut self, boot: Boot, keep: usize) {
        if self.boots.len() >= keep {
            self.boots.pop_front();
        }
        self.boots.push_back(boot);
    }

    /// The bytes this client holds, as counted against the bounds.
    pub fn weight(&self) -> usize {
        size_of::<Self>()
            + self.boots.iter().map(Boot::weight).sum::<usize>()
            + (self.boots.capacity() - self.boots.len()) * size_of::<Boot>()
    }
}

#[derive(Debug)]
pub struct Clients {
    by_ip: BTreeMap<IpAddr, Client>,
    max_clients: usize,
    max_bytes: usize,
    pub boots_per_client: usize,
    /// The sum of every client's weight when last settled.
    bytes: usize,
    next_seen: u64,
    /// Clients forgotten to make room.
    pub dropped: u64,
}

impl Clients {
    pub fn new(max_clients: usize, max_bytes: usize, boots_per_client: usize) -> Self {
        Self {
            by_ip: BTreeMap::new(),
            max_clients,
            max_bytes,
            boots_per_client,
            bytes: 0,
            next_seen: 0,
            dropped: 0,
        }
    }

    /// The client at `ip`, created if new, and marked as seen now. Call
    /// [`settle`](Self::settle) once done changing it.
    pub fn touch(&mut self, ip: IpAddr, now: Timestamp) -> &mut Client {
        self.next_seen += 1;
        let seen = self.next_seen;
        let client = self.by_ip.entry(ip).or_insert_with(|| Client {
            ip,
            mac: None,
            boots: VecDeque::new(),
            last_seen: now,
            proven: false,
            seen,
            counted: 0,
        });
        client.seen = seen;
        client.last_seen = now;
        client
    }

    /// Counts `ip`'s client again after a change, trims its oldest boots past
    /// [`MAX_CLIENT_BYTES`], and forgets other clients while over either bound.
    pub fn settle(&mut self, ip: IpAddr) {
        if let Some(client) = self.by_ip.get_mut(&ip) {
            while client.boots.len() > 1 && client.weight() > MAX_CLIENT_BYTES {
                client.boots.pop_front();
            }
            let weight = client.weight();
            self.bytes = self.bytes - client.counted + weight;
            client.counted = weight;
        }
        if self.by_ip.len() > self.max_clients || self.bytes > self.max_bytes {
            self.make_room(ip);
        }
    }

    /// Forgets clients other than `keep`, unproven before proven, then the least recently
    /// seen first, until both bounds have a sixteenth to spare: one sort per sixteenth of
    /// the bounds rather than a scan per new client, so a flood of spoofed sources costs
    /// little per request.
    fn make_room(&mut self, keep: IpAddr) {
        let max_clients = self.max_clients - self.max_clients / 16;
        let max_bytes = self.max_bytes - self.max_bytes / 16;
        let mut order: Vec<(bool, u64, IpAddr)> = self
            .by_ip
            .values()
            .filter(|c| c.ip != keep)
            .map(|c| (c.proven, c.seen, c.ip))
            .collect();
        order.sort_unstable();
        for (_, _, ip) in order {
            if self.by_ip.len() <= max_clients && self.bytes <= max_bytes {
                break;
            }
            if let Some(gone) = self.by_ip.remove(&ip) {
                self.bytes -= gone.counted;
                self.dropped += 1;
            }
        }
    }

    pub fn get_mut(&mut self, ip: &IpAddr) -> Option<&mut Client> {
        self.by_ip.get_mut(ip)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.by_ip.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Client> {
        self.by_ip.values_mut()
    }

    /// Clients in address order, from the first after `after` (from the first with
    /// `None`): how `/status` pages through them.
    pub fn from_after(&self, after: Option<IpAddr>) -> impl Iterator<Item = &Client> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.by_ip.range((start, Bound::Unbounded)).map(|(_, c)| c)
    }

    pub fn count(&self) -> usize {
        self.by_ip.len()
    }

    /// The bytes held, as counted against `max_bytes`.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use netboot_protocol::Transport;
    use netboot_protocol::status::StageKind;

    use crate::status::stage::Stage;

    fn now() -> Timestamp {
        Timestamp {
            wall: SystemTime::UNIX_EPOCH,
            monotonic: Duration::ZERO,
        }
    }

    fn ip(n: u16) -> IpAddr {
        IpAddr::from([127, 1, (n >> 8) as u8, n as u8])
    }

    /// A request for a name nobody has, as a spoofed TFTP client makes them.
    fn not_found(clients: &mut Clients, at: IpAddr, name: &str) {
        let keep = clients.boots_per_client;
        let client = clients.touch(at, now());
        let route = crate::status::stage::kept_route(name).into_owned();
        let stage = Stage {
            kind: StageKind::BootFile,
            route,
            transport: Transport::Tftp,
            object: None,
            status: 404,
            release: None,
            started: now(),
            ended: Some(now()),
            bytes: 0,
            complete: false,
        };
        match client.boots.back_mut() {
            Some(boot) => boot.push(stage),
            None => client.begin_boot(Boot::new(stage), keep),
        }
        clients.settle(at);
    }

    #[test]
    fn the_least_recently_seen_client_is_forgotten_first() {
        let mut clients = Clients::new(3, usize::MAX, 4);
        for n in [1, 2, 3, 1, 4] {
            clients.touch(ip(n), now());
            clients.settle(ip(n));
        }
        let kept: Vec<IpAddr> = clients.iter().map(|c| c.ip).collect();
        assert_eq!(kept, vec![ip(1), ip(3), ip(4)]);
        assert_eq!(clients.dropped, 1);
    }

    #[test]
    fn spoofed_clients_stay_within_the_bytes_and_never_displace_real_ones() {
        let max_bytes = 1 << 20;
        let mut clients = Clients::new(4096, max_bytes, 4);
        let real = [ip(60_000), ip(60_001)];
        for at in real {
            clients.touch(at, now()).proven = true;
            clients.settle(at);
        }
        // 4,096 source addresses, 4 names of 490 bytes each: without bounds, ~10 MB.
        let name = |i: usize| format!("tftp/{i:04}{}", "x".repeat(486));
        for round in 0..4 {
            for n in 0..4096 {
                not_found(&mut clients, ip(n), &name(round));
                assert!(clients.bytes() <= max_bytes, "{} bytes", clients.bytes());
            }
        }
        let counted: usize = clients.iter().map(Client::weight).sum();
        assert_eq!(
            counted,
            clients.bytes(),
            "the running count is the real sum"
        );
        for at in real {
            assert!(clients.get_mut(&at).is_some(), "{at} was forgotten");
        }
        assert!(clients.dropped > 0);
        // One client asking for ever more names stays within its own bound.
        let mut greedy = Clients::new(10, usize::MAX, 64);
        for i in 0..10_000 {
            not_found(&mut greedy, ip(1), &name(i));
            if i % 7 == 0 {
                let client = greedy.touch(ip(1), now());
                let boot = client.boots.back().unwrap().clone();
                client.begin_boot(boot, 64);
                greedy.settle(ip(1));
            }
        }
        assert!(greedy.bytes() <= MAX_CLIENT_BYTES, "{}", greedy.bytes());
    }

    #[test]
    fn pages_follow_address_order() {
        let mut clients = Clients::new(10, usize::MAX, 4);
        for n in [3, 1, 2] {
            clients.touch(ip(n), now());
            clients.settle(ip(n));
        }
        let page = |after| clients.from_after(after).map(|c| c.ip).collect::<Vec<_>>();
        assert_eq!(page(None), vec![ip(1), ip(2), ip(3)]);
        assert_eq!(page(Some(ip(1))), vec![ip(2), ip(3)]);
        assert!(page(Some(ip(3))).is_empty());
    }
}
