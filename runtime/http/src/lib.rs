//! The HTTP server kit the netboot servers share.
//!
//! ```text
//! flags (clap: TLS, limits, logging) ─ process::main_with (runtime, exit code, signals)
//!    │
//!    └─ listener::serve (accept loop: TLS, limits, timeouts, graceful drain)
//!          ├─ tls_reload (the TLS configuration, rebuilt on SIGHUP or when its files change)
//!          └─ the server's handler: (request, ConnectionInfo) → response
//!                 ├─ representation (ETag, Repr-Digest, 304/412, Range, HEAD)
//!                 └─ metrics (Prometheus text)
//! ```
//!
//! [`listener::serve`] owns a TCP listener and runs every connection on it: an optional
//! rustls handshake (bounded by a timeout), then hyper's HTTP/1.1 + HTTP/2 auto connection,
//! with the limits a public server needs (connection cap, header read timeout against
//! slowloris, header size, idle timeout that also ends stalled readers) and graceful
//! shutdown. The request handler is an async function from a request and its
//! [`ConnectionInfo`] to a response; the servers keep their HTTP logic there, testable
//! without a socket. [`representation`] holds the HTTP rules of a content-addressed object
//! that netboot-serve and netboot-proxy both follow.

use bytes::Bytes;
use http_body_util::BodyExt;

pub mod flags;
pub mod listener;
pub mod metrics;
pub mod observed;
pub mod process;
pub mod representation;
pub mod tls_reload;

pub use listener::{ConnectionInfo, ConnectionMetrics, Limits, bind, serve};
pub use tokio_util::sync::CancellationToken as Shutdown;

/// The response body every handler returns.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body (HEAD, 304).
pub fn empty() -> Body {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}
