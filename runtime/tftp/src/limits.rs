//! The TFTP server's limits, shared by the listening port and each transfer.

use std::time::Duration;

/// The TFTP server's limits (see [`crate::TftpArgs`] for the flags and defaults).
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
