//! What the server asks of its file source ([`Files`]) and what it tells it back
//! ([`TransferEvent`]).

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
