//! The listening port: parses requests, refuses what must be refused, enforces the
//! transfer limits and starts one session per accepted read request.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netboot_http::Shutdown;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

use super::Files;
use super::budget::Budget;
use super::metrics::{Reason, TftpMetrics};
use super::packet::{self, Packet, code};
use super::session;

/// The TFTP server's limits (see [`super::TftpArgs`] for the flags and defaults).
#[derive(Debug, Clone, Copy)]
pub struct TftpLimits {
    /// Largest block size granted (RFC 2348); larger requests are lowered to this.
    pub max_blksize: u16,
    /// Largest window granted (RFC 7440).
    pub max_windowsize: u16,
    /// Retransmission interval when the client does not ask for one (RFC 2349 timeout).
    pub timeout: Duration,
    /// Timeouts in a row after which a transfer is abandoned.
    pub retries: u32,
    /// Retransmissions of the first packet (OACK or DATA 1) before the client has sent
    /// any ACK: kept small so a spoofed request cannot make the server an amplifier.
    pub initial_retries: u32,
    /// Transfers at once, in all.
    pub max_transfers: usize,
    /// Transfers at once from one IP address.
    pub max_transfers_per_client: usize,
    /// How long the file source may take to open a file or to yield the next bytes the
    /// transfer is waiting for. The client is never timed out for a slow source.
    pub stall_timeout: Duration,
    /// How long shutdown lets transfers in flight finish before stopping them.
    pub shutdown_grace: Duration,
    /// ERROR replies the listening port sends per second at most (the rest are dropped).
    pub error_replies_per_second: u32,
}

impl Default for TftpLimits {
    fn default() -> Self {
        Self {
            max_blksize: 1468,
            max_windowsize: 64,
            timeout: Duration::from_secs(1),
            retries: 5,
            initial_retries: 2,
            max_transfers: 256,
            max_transfers_per_client: 8,
            stall_timeout: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(5),
            error_replies_per_second: 100,
        }
    }
}

/// Transfers in progress: counts per client IP and the exact client addresses (a client
/// retransmits its RRQ while the first one is being served; those are dropped).
#[derive(Debug, Default)]
struct Registry {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    peers: HashSet<SocketAddr>,
}

enum Admission {
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

fn admit(
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

/// Serves read requests arriving on `socket` until `shutdown` is cancelled; then lets
/// transfers in flight run for `limits.shutdown_grace` and stops the rest.
///
/// Each transfer gets its own socket bound to `socket`'s IP address. Bind the listening
/// socket to the address clients use (not `0.0.0.0`) on a host with several addresses,
/// so replies come from the address the client sent to.
pub async fn serve<F: Files>(
    socket: UdpSocket,
    files: Arc<F>,
    limits: TftpLimits,
    metrics: Arc<TftpMetrics>,
    shutdown: Shutdown,
) {
    let local_ip = match socket.local_addr() {
        Ok(addr) => addr.ip(),
        Err(e) => {
            tracing::error!(target: "tftp", "TFTP socket has no local address: {e}");
            return;
        }
    };
    let registry = Arc::new(Mutex::new(Registry::default()));
    let mut sessions = JoinSet::new();
    let mut budget = Budget::new(limits.error_replies_per_second);
    // Larger than any valid request, so an oversized one is seen as such (a longer
    // datagram is truncated to this, still over the limit).
    let mut buf = vec![0u8; 2048];
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            received = socket.recv_from(&mut buf) => {
                let (n, peer) = match received {
                    Ok(received) => received,
                    Err(e) => {
                        tracing::debug!(target: "tftp", "receiving on the TFTP port: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                metrics.datagrams.fetch_add(1, Ordering::Relaxed);
                let mut reply = |code: u16, message: &str, reason: Reason| {
                    metrics.refuse(reason);
                    if budget.take().is_some() {
                        let _ = socket.try_send_to(&packet::error_packet(code, message), peer);
                    } else {
                        metrics.replies_suppressed.fetch_add(1, Ordering::Relaxed);
                    }
                };
                let request = match packet::parse(&buf[..n]) {
                    Ok(Packet::Rrq(request)) => request,
                    Ok(Packet::Wrq(_)) => {
                        reply(code::ACCESS_VIOLATION, "write requests are refused", Reason::WriteRefused);
                        continue;
                    }
                    // An ERROR is never answered (RFC 1350), wherever it comes from.
                    Ok(Packet::Error { .. }) => {
                        metrics.refuse(Reason::Malformed);
                        continue;
                    }
                    Ok(_) => {
                        reply(code::ILLEGAL_OPERATION, "only read requests here", Reason::Malformed);
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(target: "tftp", client = %peer, "bad packet: {e}");
                        reply(code::ILLEGAL_OPERATION, &e.to_string(), Reason::Malformed);
                        continue;
                    }
                };
                let name = match super::name::sanitize(request.filename) {
                    Ok(name) => name.to_string(),
                    Err(e) => {
                        tracing::debug!(target: "tftp", client = %peer, "refused name: {e}");
                        reply(code::ACCESS_VIOLATION, &e.to_string(), Reason::AccessViolation);
                        continue;
                    }
                };
                let options = match packet::parse_options(&request.options) {
                    Ok(options) => options,
                    Err(e) => {
                        tracing::debug!(target: "tftp", client = %peer, file = %name, "refused options: {e}");
                        reply(code::OPTION_NEGOTIATION, &e.0, Reason::BadOption);
                        continue;
                    }
                };
                let slot = match admit(&registry, &metrics, &limits, peer) {
                    Admission::Admitted(slot) => slot,
                    Admission::Duplicate => continue,
                    Admission::OverLimit => {
                        tracing::debug!(target: "tftp", client = %peer, file = %name, "over the transfer limit");
                        reply(code::NOT_DEFINED, "too many transfers", Reason::Limit);
                        continue;
                    }
                };
                let params = session::Params {
                    peer,
                    local_ip,
                    name,
                    options,
                    limits,
                    metrics: metrics.clone(),
                    received: Instant::now(),
                };
                sessions.spawn(session::run(files.clone(), params, slot));
            }
        }
    }
    let drain = async { while sessions.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::info!(target: "tftp", active = sessions.len(), "stopping transfers still running after the shutdown grace");
        sessions.abort_all();
        while sessions.join_next().await.is_some() {}
    }
}
