//! The accept loop: TLS, limits, timeouts and graceful shutdown for one TCP listener.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::tls_reload::ReloadableTls;
use crate::{Body, metrics, representation};

/// Bounds on what one client can hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time allowed to send a request's headers (HTTP/1.1), counted from when the
    /// connection is ready for the next request, so it also bounds idle keep-alive.
    pub header_read_timeout: Duration,
    /// Largest request head accepted: HTTP/1.1 read buffer (at least 8 KiB, hyper's floor)
    /// and HTTP/2 header list size.
    pub max_header_bytes: usize,
    /// A connection that moves no byte either way for this long is closed. This covers
    /// idle HTTP/2 connections and clients that stop reading a response.
    pub idle_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// What the handler knows about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub remote: SocketAddr,
    /// `CN=…,O=…` of the verified client certificate, if one was presented.
    pub client_subject: Option<Arc<str>>,
    /// `TLSv1_3`, `TLSv1_2`, or `None` on plain HTTP.
    pub tls_version: Option<&'static str>,
}

/// Counters about connections, exported by the servers' `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionMetrics {
    pub accepted: AtomicU64,
    pub active: AtomicU64,
    pub handshake_failures: AtomicU64,
    pub idle_closed: AtomicU64,
}

impl ConnectionMetrics {
    /// Appends this listener's counters to a Prometheus text exposition.
    pub fn render(&self, out: &mut metrics::Exposition, listener: &str) {
        let labels = [("listener", listener)];
        out.counter(
            "connections_accepted_total",
            "TCP connections accepted.",
            &labels,
            self.accepted.load(Ordering::Relaxed),
        );
        out.gauge(
            "connections_active",
            "Connections open now.",
            &labels,
            self.active.load(Ordering::Relaxed),
        );
        out.counter(
            "tls_handshake_failures_total",
            "TLS handshakes that failed or timed out (includes refused client certificates).",
            &labels,
            self.handshake_failures.load(Ordering::Relaxed),
        );
        out.counter(
            "connections_idle_closed_total",
            "Connections closed by the idle timeout.",
            &labels,
            self.idle_closed.load(Ordering::Relaxed),
        );
    }
}

/// Binds a listening socket; the error names `what` (the flag) and the address.
pub async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{what} on {addr}: {e}"))
}

/// Serves connections from `listener` until `shutdown` is cancelled, then drains them.
/// `tls` of `None` serves plain HTTP (the health listener, or a sink behind a terminating
/// load balancer).
pub async fn serve<H, F>(
    listener: TcpListener,
    tls: Option<Arc<ReloadableTls>>,
    limits: Limits,
    handler: H,
    shutdown: CancellationToken,
    metrics: Arc<ConnectionMetrics>,
) where
    H: Fn(Request<Incoming>, Arc<ConnectionInfo>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let tracker = TaskTracker::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(128);
    let builder = Arc::new(builder);
    let local = listener.local_addr().ok();

    loop {
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        metrics.accepted.fetch_add(1, Ordering::Relaxed);
        let connection = Connection {
            tls: tls.clone(),
            limits: limits.clone(),
            builder: builder.clone(),
            shutdown: shutdown.clone(),
            metrics: metrics.clone(),
        };
        let handler = handler.clone();
        tracker.spawn(async move {
            connection.run(stream, remote, handler).await;
            drop(slot);
        });
    }
    drop(listener);
    tracker.close();
    let open = tracker.len();
    if open > 0 {
        tracing::info!(?local, open, "draining connections");
    }
    if tokio::time::timeout(limits.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            ?local,
            open = tracker.len(),
            "shutdown grace period over; closing remaining connections"
        );
    }
}

struct Connection {
    tls: Option<Arc<ReloadableTls>>,
    limits: Limits,
    builder: Arc<auto::Builder<TokioExecutor>>,
    shutdown: CancellationToken,
    metrics: Arc<ConnectionMetrics>,
}

impl Connection {
    async fn run<H, F>(self, stream: TcpStream, remote: SocketAddr, handler: H)
    where
        H: Fn(Request<Incoming>, Arc<ConnectionInfo>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<Body>> + Send + 'static,
    {
        self.metrics.active.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new());
        let io = Tracked {
            inner: stream,
            activity: activity.clone(),
        };
        match &self.tls {
            None => {
                let info = ConnectionInfo {
                    remote,
                    client_subject: None,
                    tls_version: None,
                };
                self.http(io, info, activity, handler).await;
            }
            Some(tls) => {
                // The configuration of this moment: a reload affects new handshakes only.
                let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
                let handshake =
                    tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(io)).await;
                match handshake {
                    Ok(Ok(tls)) => {
                        let (_, session) = tls.get_ref();
                        let info = ConnectionInfo {
                            remote,
                            client_subject: session
                                .peer_certificates()
                                .and_then(|chain| chain.first())
                                .and_then(netboot_tls::peer_subject)
                                .map(Arc::from),
                            tls_version: session.protocol_version().and_then(|v| v.as_str()),
                        };
                        self.http(tls, info, activity, handler).await;
                    }
                    Ok(Err(e)) => {
                        self.metrics
                            .handshake_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::info!(%remote, error = %e, "TLS handshake refused");
                    }
                    Err(_) => {
                        self.metrics
                            .handshake_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::info!(%remote, "TLS handshake timed out");
                    }
                }
            }
        }
        self.metrics.active.fetch_sub(1, Ordering::Relaxed);
    }

    async fn http<I, H, F>(&self, io: I, info: ConnectionInfo, activity: Arc<Activity>, handler: H)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        H: Fn(Request<Incoming>, Arc<ConnectionInfo>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<Body>> + Send + 'static,
    {
        let info_remote = info.remote;
        let info = Arc::new(info);
        let service = service_fn(move |req| {
            let handled = match bad_host(&req) {
                Some(rejected) => Err(rejected),
                None => Ok(handler(req, info.clone())),
            };
            async move {
                Ok::<_, Infallible>(match handled {
                    Ok(response) => response.await,
                    Err(rejected) => rejected,
                })
            }
        });
        let conn = self.builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut draining = false;
        loop {
            let idle_deadline = activity.last() + self.limits.idle_timeout;
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(remote = %info_remote, error = %e, "connection ended with an error");
                    }
                    break;
                }
                () = self.shutdown.cancelled(), if !draining => {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep_until(idle_deadline.into()) => {
                    if activity.last() + self.limits.idle_timeout <= Instant::now() {
                        self.metrics.idle_closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host` header, else 400 (a
/// missing or doubled one is how request-routing confusion starts between proxies).
/// HTTP/1.0 may omit it; HTTP/2 has `:authority` instead.
fn bad_host<B>(req: &Request<B>) -> Option<Response<Body>> {
    if req.version() != Version::HTTP_11 || req.headers().get_all(header::HOST).iter().count() == 1
    {
        return None;
    }
    tracing::debug!(path = %req.uri().path(), "400: not exactly one Host header");
    Some(representation::plain(
        StatusCode::BAD_REQUEST,
        "bad request: an HTTP/1.1 request needs exactly one Host header\n",
    ))
}

/// When the connection last moved a byte. Written from poll_read/poll_write, read by the
/// idle timer in the same task; atomic only because the IO is owned by hyper.
#[derive(Debug)]
struct Activity {
    start: Instant,
    millis: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            millis: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.millis.store(elapsed, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.millis.load(Ordering::Relaxed))
    }
}

/// A stream that records activity on every successful read or write.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
