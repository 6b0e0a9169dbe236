//! TFTP server (read requests only): RFC 1350, option negotiation (RFC 2347), blksize
//! (RFC 2348), timeout and tsize (RFC 2349), windowsize (RFC 7440).
//!
//! The server knows nothing about bundles or the origin: it asks a [`Files`] for a
//! sanitised name and streams the [`Opened`] reader in blocks. Integrity is the reader's
//! job: the proxy's reader withholds the object's last byte until its sha256 has been
//! checked and fails instead if it does not match, so a block holding the last byte (the
//! final DATA packet) is only ever sent for a verified object.
//!
//! In brief (details at each item):
//! - [`packet`] parses strictly (requests over 512 bytes, unterminated strings, modes other
//!   than octet/netascii → ERROR 4; bad values of known options → ERROR 8; unknown options
//!   ignored); netascii is served as the same bytes. [`name::sanitize`] refuses `..`,
//!   backslashes, control characters and empty segments (ERROR 2) after stripping one
//!   leading `/`. Write requests get ERROR 2.
//! - Each transfer runs on its own `connect()`ed socket (a new TID) bound to the listener's
//!   IP; packets from anyone else at that port get ERROR 5 from a `SO_REUSEPORT` twin.
//! - Windowed sending (RFC 7440) from a read-ahead buffer; only the timer resends, never a
//!   duplicate ACK (no Sorcerer's Apprentice); an ACK inside the window rolls back to it;
//!   block numbers wrap from 65535 to 0.
//! - Against spoofed requests: until the client's first ACK only the first packet (OACK or
//!   DATA 1) is sent, at most `1 + initial_retries` times; transfers are capped per client
//!   IP and in all; ERROR replies from the listening port are rate-limited.
//! - A slow [`Files`] reader never times the client out: the timer only retransmits what
//!   was sent; the reader gets `stall_timeout` to yield each awaited byte.

mod args;
mod budget;
mod dir;
mod metrics;
pub mod name;
pub mod packet;
mod server;
mod session;
mod window;

pub use args::TftpArgs;
pub use dir::DirFiles;
pub use metrics::{Reason, TftpMetrics};
pub use server::{TftpLimits, serve};

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::io::AsyncRead;

/// An open file: its exact size (sent as `tsize`) and a reader yielding exactly `size`
/// bytes, or an error (sent to the client as an ERROR packet).
pub struct Opened {
    pub size: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("size", &self.size).finish()
    }
}

/// Why a name could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// No such file (TFTP error 1).
    NotFound,
    /// Known but not obtainable now, e.g. not cached and the origin is down (TFTP error 0
    /// with this message).
    Unavailable(String),
    /// The server's own disk failed (TFTP error 3).
    Disk,
}

/// What became of a read request that passed the server's checks, for a [`Files`] that
/// keeps track (netboot-proxy's boot status).
#[derive(Debug, Clone, Copy)]
pub enum TransferEvent<'a> {
    /// Opened: its first packet is about to go out.
    Started { client: SocketAddr, name: &'a str },
    /// [`Files::open`] failed (or took too long: `Unavailable`); the client got an ERROR.
    Refused {
        client: SocketAddr,
        name: &'a str,
        error: &'a OpenError,
    },
    /// A started transfer ended: `bytes` acknowledged by the client, `complete` if it got
    /// the whole file.
    Ended {
        client: SocketAddr,
        name: &'a str,
        bytes: u64,
        complete: bool,
    },
}

/// Where the TFTP server gets its files. `name` has already passed the server's
/// sanitising (one leading `/` stripped; no `..`, no other leading `/`, no `\`, no
/// control characters).
pub trait Files: Send + Sync + 'static {
    fn open(&self, name: &str) -> impl Future<Output = Result<Opened, OpenError>> + Send;

    /// Told what became of each request that reached [`open`](Self::open).
    fn observe(&self, _event: TransferEvent<'_>) {}
}
