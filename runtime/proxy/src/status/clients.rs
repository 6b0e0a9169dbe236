//! The clients the proxy tracks, keyed by IP address, in bounded memory: at most
//! `max_clients` (the least recently seen is forgotten first), each with its last
//! `boots_per_client` boots of at most [`super::boot::MAX_STAGES`] stages.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::SystemTime;

use super::boot::Boot;

/// One client and its last boots.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    /// As iPXE's `${mac:hexhyp}` names it in a by-MAC script route (`52-54-00-1a-00-99`).
    pub mac: Option<String>,
    /// Oldest first.
    pub boots: VecDeque<Boot>,
    pub last_seen: SystemTime,
    /// Orders clients by their last request (the clock may stand still in tests).
    seen: u64,
}

impl Client {
    /// Starts a boot, forgetting the oldest past `keep`.
    pub fn begin_boot(&mut self, boot: Boot, keep: usize) {
        if self.boots.len() >= keep {
            self.boots.pop_front();
        }
        self.boots.push_back(boot);
    }
}

#[derive(Debug)]
pub struct Clients {
    by_ip: HashMap<IpAddr, Client>,
    max_clients: usize,
    pub boots_per_client: usize,
    next_seen: u64,
    /// Clients forgotten to make room.
    pub dropped: u64,
}

impl Clients {
    pub fn new(max_clients: usize, boots_per_client: usize) -> Self {
        Self {
            by_ip: HashMap::new(),
            max_clients,
            boots_per_client,
            next_seen: 0,
            dropped: 0,
        }
    }

    /// The client at `ip`, created (forgetting the least recently seen one if the map is
    /// full) if new, and marked as seen now.
    pub fn touch(&mut self, ip: IpAddr, now: SystemTime) -> &mut Client {
        if !self.by_ip.contains_key(&ip) && self.by_ip.len() >= self.max_clients {
            // A linear scan, only when a new client arrives at a full map: at 4096
            // clients that is microseconds, and there is no second index to keep right.
            if let Some(oldest) = self.by_ip.values().min_by_key(|c| c.seen).map(|c| c.ip) {
                self.by_ip.remove(&oldest);
                self.dropped += 1;
            }
        }
        self.next_seen += 1;
        let seen = self.next_seen;
        let client = self.by_ip.entry(ip).or_insert_with(|| Client {
            ip,
            mac: None,
            boots: VecDeque::new(),
            last_seen: now,
            seen,
        });
        client.seen = seen;
        client.last_seen = now;
        client
    }

    pub fn get_mut(&mut self, ip: &IpAddr) -> Option<&mut Client> {
        self.by_ip.get_mut(ip)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Client> {
        self.by_ip.values_mut()
    }

    pub fn count(&self) -> usize {
        self.by_ip.len()
    }

    /// Most recently seen first.
    pub fn by_recency(&self) -> Vec<&Client> {
        let mut clients: Vec<&Client> = self.by_ip.values().collect();
        clients.sort_by_key(|c| std::cmp::Reverse(c.seen));
        clients
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_seen_client_is_forgotten_first() {
        let now = SystemTime::UNIX_EPOCH;
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        let mut clients = Clients::new(3, 4);
        for n in 1..=3 {
            clients.touch(ip(n), now);
        }
        clients.touch(ip(1), now);
        clients.touch(ip(4), now);
        let kept: Vec<IpAddr> = clients.by_recency().iter().map(|c| c.ip).collect();
        assert_eq!(kept, vec![ip(4), ip(1), ip(3)]);
        assert_eq!(clients.dropped, 1);
    }
}
