//! TFTP server (read requests only): RFC 1350, option negotiation (RFC 2347), blksize
//! (RFC 2348), timeout and tsize (RFC 2349), windowsize (RFC 7440).
//!
//! The server knows nothing about bundles or the origin: it asks a [`Files`] for a
//! sanitised name and streams the [`Opened`] reader in blocks. Integrity is the reader's
//! job: the proxy's reader withholds the object's last byte until its sha256 has been
//! checked and fails instead if it does not match, so a block holding the last byte (the
//! final DATA packet) is only ever sent for a verified object.

mod args;
mod dir;
mod metrics;
pub mod name;
pub mod packet;
mod server;
mod session;

pub use args::TftpArgs;
pub use dir::DirFiles;
pub use metrics::{Reason, TftpMetrics};
pub use server::{TftpLimits, serve};

use std::future::Future;
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
}

/// Where the TFTP server gets its files. `name` has already passed the server's
/// sanitising (no `..`, no leading `/`, no `\`, no control characters).
pub trait Files: Send + Sync + 'static {
    fn open(&self, name: &str) -> impl Future<Output = Result<Opened, OpenError>> + Send;
}
