//! netboot-tftp: a TFTP server (read requests only): RFC 1350, option negotiation (RFC 2347), blksize
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
//!
//! Modules, each depending only on those below it (`tests/layering.rs` holds them to it):
//! [`serve`] (server: the listening port) → session (one transfer) → window (the blocks in
//! flight); under both, admission (each transfer's place within the limits), [`packet`]
//! and [`name`] (the wire), files (the source), limits, metrics and budget.
//! [`DirFiles`] serves a plain directory; netboot-proxy serves its verified cache through
//! the same trait.

mod admission;
mod args;
mod budget;
mod dir;
mod files;
mod limits;
mod metrics;
pub mod name;
pub mod packet;
mod server;
mod session;
mod window;

pub use args::TftpArgs;
pub use dir::DirFiles;
pub use files::{Files, OpenError, Opened, TransferEvent};
pub use limits::TftpLimits;
pub use metrics::{Reason, TftpMetrics};
pub use server::serve;
