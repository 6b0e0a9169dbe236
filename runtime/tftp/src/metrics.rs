//! The TFTP server's counters.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::budget::Budget;
use netboot_http::metrics::{Exposition, Histogram, LATENCY_BOUNDS};

/// Why a request was refused or a transfer failed (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not a valid request: too long, unterminated, bad mode, unknown opcode (ERROR 4).
    Malformed,
    /// Options refused (ERROR 8).
    BadOption,
    /// Name refused by the sanitiser (ERROR 2).
    AccessViolation,
    /// Write request (ERROR 2).
    WriteRefused,
    /// `Files::open` said not found (ERROR 1).
    NotFound,
    /// `Files::open` said unavailable (ERROR 0).
    Unavailable,
    /// `Files::open` said the server's disk failed (ERROR 3).
    Disk,
    /// Over the global or per-client transfer limit (ERROR 0).
    Limit,
    /// No ACK after the retries (or, before the client's first ACK, the initial retries).
    Timeout,
    /// The client sent an ERROR (e.g. 8: it refused our OACK).
    ClientError,
    /// The client's port is gone (ICMP port unreachable) or the socket failed.
    Network,
    /// The reader failed, stalled, or ended early (ERROR 0 to the client).
    ReadError,
    /// Stopped by shutdown after the grace period.
    Shutdown,
}

impl Reason {
    const ALL: [Reason; 13] = [
        Reason::Malformed,
        Reason::BadOption,
        Reason::AccessViolation,
        Reason::WriteRefused,
        Reason::NotFound,
        Reason::Unavailable,
        Reason::Disk,
        Reason::Limit,
        Reason::Timeout,
        Reason::ClientError,
        Reason::Network,
        Reason::ReadError,
        Reason::Shutdown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::BadOption => "bad_option",
            Reason::AccessViolation => "access_violation",
            Reason::WriteRefused => "write_refused",
            Reason::NotFound => "not_found",
            Reason::Unavailable => "unavailable",
            Reason::Disk => "disk",
            Reason::Limit => "limit",
            Reason::Timeout => "timeout",
            Reason::ClientError => "client_error",
            Reason::Network => "network",
            Reason::ReadError => "read_error",
            Reason::Shutdown => "shutdown",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Every TFTP counter. Shared (`Arc`) between the server and the metrics route.
#[derive(Debug)]
pub struct TftpMetrics {
    /// Datagrams received on the listening port.
    pub(crate) datagrams: AtomicU64,
    /// Requests refused before a transfer started, by reason.
    refused: [AtomicU64; Reason::ALL.len()],
    pub(crate) started: AtomicU64,
    pub(crate) completed: AtomicU64,
    /// Transfers that started and then failed, by reason.
    failed: [AtomicU64; Reason::ALL.len()],
    pub(crate) retransmissions: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) active: AtomicU64,
    /// Packets at a transfer's port from another address (answered with ERROR 5).
    pub(crate) stray: AtomicU64,
    /// ERROR replies from the listening port not sent because of the rate limit.
    pub(crate) replies_suppressed: AtomicU64,
    /// Log lines of refused requests (not found, unavailable), at most
    /// [`REFUSAL_LOG_LINES_PER_SECOND`]; the counters above count them all.
    pub(crate) refusal_log: std::sync::Mutex<Budget>,
    duration: Histogram,
}

/// Log lines a second for refused requests: enough to see what a firmware asked for.
pub(crate) const REFUSAL_LOG_LINES_PER_SECOND: u32 = 10;

impl Default for TftpMetrics {
    fn default() -> Self {
        Self {
            datagrams: AtomicU64::new(0),
            refused: Default::default(),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: Default::default(),
            retransmissions: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            active: AtomicU64::new(0),
            stray: AtomicU64::new(0),
            replies_suppressed: AtomicU64::new(0),
            refusal_log: std::sync::Mutex::new(Budget::new(REFUSAL_LOG_LINES_PER_SECOND)),
            duration: Histogram::new(LATENCY_BOUNDS),
        }
    }
}

impl TftpMetrics {
    pub(crate) fn refuse(&self, reason: Reason) {
        self.refused[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fail(&self, reason: Reason) {
        self.failed[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn observe_duration(&self, seconds: f64) {
        self.duration.observe(seconds);
    }

    /// Requests refused for `reason` so far (tests, health).
    pub fn refused(&self, reason: Reason) -> u64 {
        self.refused[reason.index()].load(Ordering::Relaxed)
    }

    /// Transfers failed for `reason` so far.
    pub fn failed(&self, reason: Reason) -> u64 {
        self.failed[reason.index()].load(Ordering::Relaxed)
    }

    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    pub fn retransmissions(&self) -> u64 {
        self.retransmissions.load(Ordering::Relaxed)
    }

    pub fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Writes the TFTP families (all named `<prefix>_tftp_…`).
    pub fn render(&self, out: &mut Exposition) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.counter(
            "tftp_datagrams_total",
            "Datagrams received on the TFTP listening port.",
            &[],
            load(&self.datagrams),
        );
        for reason in Reason::ALL {
            let n = self.refused(reason);
            if n > 0 {
                out.counter(
                    "tftp_requests_refused_total",
                    "Requests answered with an ERROR (or dropped) before a transfer started, by reason.",
                    &[("reason", reason.as_str())],
                    n,
                );
            }
        }
        out.counter(
            "tftp_transfers_started_total",
            "Transfers started (file opened, first OACK or DATA sent).",
            &[],
            load(&self.started),
        );
        out.counter(
            "tftp_transfers_completed_total",
            "Transfers whose last block was acknowledged.",
            &[],
            load(&self.completed),
        );
        for reason in Reason::ALL {
            let n = self.failed(reason);
            if n > 0 {
                out.counter(
                    "tftp_transfers_failed_total",
                    "Transfers that started and did not complete, by reason.",
                    &[("reason", reason.as_str())],
                    n,
                );
            }
        }
        out.counter(
            "tftp_retransmissions_total",
            "DATA and OACK packets sent again (timeouts and window rollbacks).",
            &[],
            load(&self.retransmissions),
        );
        out.counter(
            "tftp_data_bytes_sent_total",
            "DATA payload bytes sent, retransmissions included.",
            &[],
            load(&self.bytes_sent),
        );
        out.gauge(
            "tftp_transfers_active",
            "Transfers in progress (including ones opening their file).",
            &[],
            load(&self.active),
        );
        out.counter(
            "tftp_stray_packets_total",
            "Packets at a transfer's port from another address (answered with ERROR 5).",
            &[],
            load(&self.stray),
        );
        out.counter(
            "tftp_error_replies_suppressed_total",
            "ERROR replies not sent by the listening port's rate limit.",
            &[],
            load(&self.replies_suppressed),
        );
        out.histogram(
            "tftp_transfer_duration_seconds",
            "Time from request to the end of a transfer that started.",
            &self.duration,
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let m = TftpMetrics::default();
        m.refuse(Reason::Limit);
        m.fail(Reason::Timeout);
        let mut out = Exposition::new("netboot_proxy");
        m.render(&mut out);
        let text = out.finish();
        assert!(
            text.contains("netboot_proxy_tftp_requests_refused_total{reason=\"limit\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("netboot_proxy_tftp_transfers_failed_total{reason=\"timeout\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("netboot_proxy_tftp_transfers_active 0\n"));
    }
}
