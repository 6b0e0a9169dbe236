//! proxyDHCP (opt-in, `--proxy-dhcp <interface>`): for routers that cannot name a
//! next-server or a boot file per architecture, the proxy answers PXE clients itself while
//! the router keeps handing out addresses, as the PXE specification's proxyDHCP allows
//! (and dnsmasq's proxy mode, pixiecore and Tinkerbell's smee do).
//!
//! - It never leases: every answer has no address (`yiaddr` 0.0.0.0).
//! - It answers DHCPDISCOVER on port 67 and DHCPREQUEST on port 4011 from clients whose
//!   vendor class is `PXEClient…` (or `HTTPClient…`, UEFI HTTP Boot): firmware gets the
//!   boot file of its class (option 93) from the release's `firmware` map, with the proxy
//!   as next-server; iPXE (user class `iPXE`) gets the dispatcher on the proxy's LAN
//!   listener. A Raspberry Pi 4/5 bootloader (its vendor class from a Raspberry Pi MAC:
//!   a PC's BIOS ROM sends the same class) gets option 43 naming "Raspberry Pi Boot" and
//!   the proxy as TFTP server (option 66), and fetches its tree under its serial.
//!   Everyone else, and every packet it cannot parse, gets silence and a count
//!   ([`answer`]).
//! - Both sockets are bound to the one interface (`SO_BINDTODEVICE`); replies to clients
//!   without an address are broadcast on it; a relay's address (`giaddr`) gets the reply
//!   only if a relay can have it (never loopback, multicast, broadcast or the proxy's own),
//!   and a REQUEST on 4011 is answered to its source only if a client can have that.
//! - At most `--proxy-dhcp-client-rate` replies a second go to one client (by hardware
//!   address) and `--proxy-dhcp-rate` to all, the client's own limit checked first: one
//!   host flooding the proxy uses up its own allowance, not the one other PXE clients
//!   share, and a flood cannot turn the proxy into an amplifier. Rates are measured on
//!   the monotonic [`Clock`]. Datagrams over 1500 bytes are dropped unread.

pub mod answer;
mod args;
mod metrics;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use netboot_bundle::Manifest;
use netboot_http::Shutdown;
use netboot_protocol::Named;
use tokio::net::UdpSocket;

pub use answer::{Answered, Identity, Silence};
pub use args::{DhcpArgs, Rates};
pub use metrics::DhcpMetrics;

use answer::{CLIENT_PORT, PXE_PORT, SERVER_PORT};

use crate::clock::Clock;

/// The largest DHCP message read (an Ethernet MTU); anything longer is dropped.
const MAX_MESSAGE: usize = 1500;

/// The two sockets of the server and where broadcasts go.
#[derive(Debug)]
pub struct Sockets {
    /// Port 67: DISCOVERs, broadcast by clients without an address.
    pub server: UdpSocket,
    /// Port 4011: REQUESTs from clients that have one.
    pub pxe: UdpSocket,
    /// Where replies to clients without an address go (255.255.255.255:68 on a LAN).
    pub broadcast: SocketAddrV4,
}

impl Sockets {
    /// Binds ports 67 and 4011 on `interface` and finds the interface's IPv4 address.
    pub fn bind(interface: &str) -> io::Result<(Self, Ipv4Addr)> {
        let address = interface_address(interface)?;
        let server = bound(interface, SERVER_PORT)?;
        let pxe = bound(interface, PXE_PORT)?;
        Ok((
            Self {
                server,
                pxe,
                broadcast: SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT),
            },
            address,
        ))
    }
}

fn socket(interface: &str) -> io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket
        .bind_device(Some(interface.as_bytes()))
        .map_err(|e| io::Error::new(e.kind(), format!("interface {interface}: {e}")))?;
    socket.set_broadcast(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn bound(interface: &str, port: u16) -> io::Result<UdpSocket> {
    let socket = socket(interface)?;
    // The router's DHCP server may run on this host too (a router that is the Pi).
    socket.set_reuse_address(true)?;
    let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    socket
        .bind(&address.into())
        .map_err(|e| io::Error::new(e.kind(), format!("port {port} on {interface}: {e}")))?;
    UdpSocket::from_std(socket.into())
}

/// The address the kernel would send from on `interface` (a connected, unsent UDP socket:
/// no packet leaves).
fn interface_address(interface: &str) -> io::Result<Ipv4Addr> {
    let probe = socket(interface)?;
    probe.connect(&SocketAddr::from((Ipv4Addr::BROADCAST, CLIENT_PORT)).into())?;
    match probe.local_addr()?.as_socket() {
        Some(SocketAddr::V4(local)) if !local.ip().is_unspecified() => Ok(*local.ip()),
        _ => Err(io::Error::other(format!(
            "interface {interface} has no IPv4 address (or pass --proxy-dhcp-address)"
        ))),
    }
}

/// Replies allowed per second: a token bucket refilled continuously, one second deep,
/// on monotonic time (a [`Clock`] reading's `monotonic`).
#[derive(Debug)]
pub struct RateLimit {
    per_second: f64,
    tokens: f64,
    last: Duration,
}

impl RateLimit {
    pub fn new(per_second: u32, now: Duration) -> Self {
        Self {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second),
            last: now,
        }
    }

    fn refill(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
    }

    /// Whether one more reply may go out at `now`.
    pub fn allow(&mut self, now: Duration) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full again at `now`: forgetting it changes nothing.
    fn idle(&mut self, now: Duration) -> bool {
        self.refill(now);
        self.tokens >= self.per_second
    }
}

/// Clients (by hardware address) whose rate limit is kept, at most: past it, idle ones
/// are forgotten, and all of them if that leaves the table over half full (a forgotten
/// client starts with a full bucket, so the bound only ever errs on the side of
/// answering, within the global limit). Clearing in bulk keeps a flood of ever new
/// hardware addresses from costing a scan of the table per packet.
const MAX_LIMITED_CLIENTS: usize = 4096;

/// A [`RateLimit`] per client, in bounded memory.
#[derive(Debug)]
pub struct ClientLimits {
    per_second: u32,
    by_client: HashMap<String, RateLimit>,
}

impl ClientLimits {
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            by_client: HashMap::new(),
        }
    }

    /// Whether one more reply may go to `client` at `now`.
    pub fn allow(&mut self, client: &str, now: Duration) -> bool {
        if !self.by_client.contains_key(client) && self.by_client.len() >= MAX_LIMITED_CLIENTS {
            self.by_client.retain(|_, limit| !limit.idle(now));
            if self.by_client.len() > MAX_LIMITED_CLIENTS / 2 {
                self.by_client.clear();
            }
        }
        let per_second = self.per_second;
        self.by_client
            .entry(client.to_owned())
            .or_insert_with(|| RateLimit::new(per_second, now))
            .allow(now)
    }
}

/// Answers on `sockets` until `shutdown`. `release` gives the release served now.
pub async fn serve<R: AsRef<Manifest>>(
    sockets: Sockets,
    identity: Identity,
    release: impl Fn() -> Option<Arc<R>>,
    rates: Rates,
    clock: Clock,
    metrics: Arc<DhcpMetrics>,
    shutdown: Shutdown,
) {
    let mut limit = RateLimit::new(rates.total, clock.now().monotonic);
    let mut client_limits = ClientLimits::new(rates.per_client);
    let mut server_buf = vec![0u8; MAX_MESSAGE + 1];
    let mut pxe_buf = vec![0u8; MAX_MESSAGE + 1];
    loop {
        let (received, port, buf) = tokio::select! {
            () = shutdown.cancelled() => return,
            r = sockets.server.recv_from(&mut server_buf) => (r, SERVER_PORT, &server_buf),
            r = sockets.pxe.recv_from(&mut pxe_buf) => (r, PXE_PORT, &pxe_buf),
        };
        let (n, from) = match received {
            Ok((n, SocketAddr::V4(from))) => (n, from),
            Ok(_) => continue,
            Err(e) => {
                // ICMP errors from earlier sends surface here; nothing to do but go on.
                tracing::debug!(target: "dhcp", error = %e, "receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let outcome = if n > MAX_MESSAGE {
            Err(Silence::Oversize)
        } else {
            let release = release();
            answer::answer(
                &buf[..n],
                from,
                port,
                &identity,
                release.as_deref().map(AsRef::as_ref),
                sockets.broadcast,
            )
            .and_then(|reply| {
                // The client's own allowance first: what it is refused does not use up
                // the one every client shares.
                let now = clock.now().monotonic;
                if client_limits.allow(&reply.client, now) && limit.allow(now) {
                    Ok(reply)
                } else {
                    Err(Silence::RateLimited)
                }
            })
        };
        match outcome {
            Ok(reply) => {
                let socket = if port == PXE_PORT {
                    &sockets.pxe
                } else {
                    &sockets.server
                };
                match socket.send_to(&reply.bytes, reply.to).await {
                    Ok(_) => {
                        metrics.answered(reply.kind);
                        tracing::info!(target: "dhcp", mac = %reply.client, client = %from, to = %reply.to, answer = ?reply.kind, file = %reply.file, "proxyDHCP answer");
                    }
                    Err(e) => {
                        tracing::warn!(target: "dhcp", to = %reply.to, error = %e, "cannot send a proxyDHCP answer");
                    }
                }
            }
            Err(silence) => {
                metrics.silent(silence);
                tracing::debug!(target: "dhcp", client = %from, reason = silence.name(), "no proxyDHCP answer");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_refills_with_time_and_holds_a_second_at_most() {
        let start = Duration::from_secs(1000);
        let mut limit = RateLimit::new(3, start);
        assert!((0..3).all(|_| limit.allow(start)));
        assert!(!limit.allow(start));
        let later = start + Duration::from_millis(400);
        assert!(limit.allow(later), "1.2 tokens after 400 ms");
        assert!(!limit.allow(later));
        let much_later = start + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| limit.allow(much_later)).count(), 3);
    }

    #[test]
    fn each_client_has_its_own_allowance_in_bounded_memory() {
        let now = Duration::from_secs(5);
        let mut limits = ClientLimits::new(2);
        assert!((0..2).all(|_| limits.allow("flooder", now)));
        assert!(!limits.allow("flooder", now));
        assert!(
            limits.allow("other", now),
            "another client is not held back"
        );
        assert!(limits.allow("flooder", now + Duration::from_millis(500)));
        // Ever new hardware addresses: the table stays bounded, and a client forgotten
        // meanwhile starts again with a full bucket.
        for n in 0..3 * MAX_LIMITED_CLIENTS {
            limits.allow(&format!("spoofed-{n}"), now);
        }
        assert!(limits.by_client.len() <= MAX_LIMITED_CLIENTS);
        let later = now + Duration::from_secs(2);
        for n in 0..MAX_LIMITED_CLIENTS {
            limits.allow(&format!("again-{n}"), later);
        }
        assert!(limits.by_client.len() <= MAX_LIMITED_CLIENTS);
    }
}
