//! Admission: the transfer limits in all and per client, and each transfer's place
//! ([`Slot`]), released when the transfer ends however it ends.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::limits::TftpLimits;
use crate::metrics::{Reason, TftpMetrics};

/// Transfers in progress: counts per client IP and the exact client addresses (a client
/// retransmits its RRQ while the first one is being served; those are dropped).
#[derive(Debug, Default)]
pub(crate) struct Registry {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    peers: HashSet<SocketAddr>,
}

pub(crate) enum Admission {
    Admitted(Slot),
    Duplicate,
    OverLimit,
}

/// A transfer's place in the [`Registry`], released on drop (also when a session task is
/// aborted at shutdown, which then counts as a failure).
#[derive(Debug)]
pub(crate) struct Slot {
    registry: Arc<Mutex<Registry>>,
    metrics: Arc<TftpMetrics>,
    peer: SocketAddr,
    pub started: bool,
    pub finished: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.total -= 1;
            let ip = self.peer.ip();
            if let Some(n) = registry.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    registry.per_ip.remove(&ip);
                }
            }
            registry.peers.remove(&self.peer);
        }
        self.metrics.active.fetch_sub(1, Ordering::Relaxed);
        if self.started && !self.finished {
            self.metrics.fail(Reason::Shutdown);
        }
    }
}

pub(crate) fn admit(
    registry: &Arc<Mutex<Registry>>,
    metrics: &Arc<TftpMetrics>,
    limits: &TftpLimits,
    peer: SocketAddr,
) -> Admission {
    let Ok(mut r) = registry.lock() else {
        return Admission::OverLimit;
    };
    if r.peers.contains(&peer) {
        return Admission::Duplicate;
    }
    let per_ip = r.per_ip.get(&peer.ip()).copied().unwrap_or(0);
    if r.total >= limits.max_transfers || per_ip >= limits.max_transfers_per_client {
        return Admission::OverLimit;
    }
    r.total += 1;
    *r.per_ip.entry(peer.ip()).or_insert(0) += 1;
    r.peers.insert(peer);
    metrics.active.fetch_add(1, Ordering::Relaxed);
    Admission::Admitted(Slot {
        registry: registry.clone(),
        metrics: metrics.clone(),
        peer,
        started: false,
        finished: false,
    })
}
