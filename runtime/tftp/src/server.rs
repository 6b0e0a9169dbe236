//! The listening port: parses requests, refuses what must be refused, enforces the
//! transfer limits and starts one session per accepted read request.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netboot_http::Shutdown;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

use crate::admission::{Admission, Registry, admit};
use crate::budget::Budget;
use crate::files::Files;
use crate::limits::TftpLimits;
use crate::metrics::{Reason, TftpMetrics};
use crate::packet::{self, Packet, code};
use crate::{name, session};

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
                let name = match name::sanitize(request.filename) {
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
