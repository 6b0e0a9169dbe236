//! netboot-sink: answers `503 Service Unavailable` with `Retry-After` to every request
//! except its health path (200) and metrics path (Prometheus text), on its main listener
//! and, with `--health-listen`, on a plain-HTTP one that needs no client certificate.
//!
//! It stands behind the load balancer's default route, so requests that match no bundle
//! route (a misconfigured machine, a scanner) get a cheap, cacheable-never answer instead
//! of reaching netboot-serve. It shares the accept loop, limits, TLS flags and shutdown
//! with netboot-serve (netboot-http, netboot-tls) and nothing else: no bundle code, no
//! object store, no compiler dependencies. It runs on a current-thread runtime: one core
//! is plenty for fixed answers, and it keeps idle memory to a few megabytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use clap::Parser;
use http::{HeaderValue, Request, Response, StatusCode, header};
use netboot_http::flags::{LimitArgs, LogArgs, TlsArgs};
use netboot_http::metrics::Exposition;
use netboot_http::tls_reload::{self, ReloadableTls};
use netboot_http::{Body, ConnectionInfo, ConnectionMetrics, Shutdown, full};

/// netboot-sink's command line. Every flag also reads an environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "netboot-sink",
    version,
    about = "Answer 503 with Retry-After to everything but the health path"
)]
struct Config {
    /// Address to listen on (HTTPS if --cert is given, else plain HTTP).
    #[arg(long, env = "NETBOOT_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Also answer on this address in plain HTTP, with no client certificate: for a load
    /// balancer's health checks when the main listener requires mTLS. Off unless given.
    #[arg(long, env = "NETBOOT_HEALTH_LISTEN")]
    health_listen: Option<SocketAddr>,
    /// Path answered with 200 (for load balancer health checks).
    #[arg(long, env = "NETBOOT_HEALTH_PATH", default_value = "/healthz")]
    health_path: String,
    /// Path answered with Prometheus metrics; empty to answer it with 503 like the rest.
    #[arg(long, env = "NETBOOT_METRICS_PATH", default_value = "/metrics")]
    metrics_path: String,
    /// What Retry-After tells clients to wait (sent in whole seconds).
    #[arg(long, env = "NETBOOT_RETRY_AFTER", default_value = "5m", value_parser = netboot_http::flags::duration)]
    retry_after: std::time::Duration,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, Default)]
struct Counters {
    unavailable: AtomicU64,
    health: AtomicU64,
    connections: Arc<ConnectionMetrics>,
}

#[derive(Debug)]
struct Sink {
    health_path: String,
    metrics_path: String,
    retry_after: HeaderValue,
    counters: Counters,
}

const BODY: &[u8] = b"service unavailable\n";

impl Sink {
    fn respond<B>(&self, req: &Request<B>) -> Response<Body> {
        let path = req.uri().path();
        if path == self.health_path {
            self.counters.health.fetch_add(1, Ordering::Relaxed);
            return text(StatusCode::OK, Bytes::from_static(b"ok\n"));
        }
        if !self.metrics_path.is_empty() && path == self.metrics_path {
            let mut response = text(StatusCode::OK, Bytes::from(self.metrics()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(netboot_http::metrics::CONTENT_TYPE),
            );
            return response;
        }
        self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
        let mut response = text(StatusCode::SERVICE_UNAVAILABLE, Bytes::from_static(BODY));
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, self.retry_after.clone());
        response
    }

    fn metrics(&self) -> String {
        let mut out = Exposition::new("netboot_sink");
        let c = &self.counters;
        out.counter(
            "requests_total",
            "Requests answered, by status code.",
            &[("code", "503")],
            c.unavailable.load(Ordering::Relaxed),
        );
        out.counter(
            "requests_total",
            "Requests answered, by status code.",
            &[("code", "200")],
            c.health.load(Ordering::Relaxed),
        );
        c.connections.render(&mut out, "main");
        out.finish()
    }
}

fn text(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn run(config: Config) -> Result<(), String> {
    let tls = config.tls.server_config(false)?.map(ReloadableTls::new);
    let limits = config.limits.limits();
    let listener = netboot_http::bind(config.listen, "listen").await?;
    let health = match config.health_listen {
        Some(addr) => Some(netboot_http::bind(addr, "health listen").await?),
        None => None,
    };
    let sink = Arc::new(Sink {
        health_path: config.health_path,
        metrics_path: config.metrics_path,
        retry_after: HeaderValue::from(config.retry_after.as_secs()),
        counters: Counters::default(),
    });
    let shutdown = Shutdown::new();
    tokio::spawn(netboot_http::process::cancel_on_signal(shutdown.clone()));
    if let Some(tls) = &tls {
        tokio::spawn(tls_reload::reload(
            config.tls.clone(),
            false,
            tls.clone(),
            shutdown.clone(),
        ));
    }
    tracing::info!(
        listen = %listener.local_addr().map_err(|e| e.to_string())?,
        health = ?health.as_ref().and_then(|l| l.local_addr().ok()),
        tls = tls.is_some(),
        "netboot-sink ready"
    );
    // The same answers on the plain listener (its health checks are not access-logged).
    let health_task = health.map(|listener| {
        let sink = sink.clone();
        tokio::spawn(netboot_http::serve(
            listener,
            None,
            limits.clone(),
            move |req, _conn| {
                let sink = sink.clone();
                async move { sink.respond(&req) }
            },
            shutdown.clone(),
            Arc::new(ConnectionMetrics::default()),
        ))
    });
    let connections = sink.counters.connections.clone();
    netboot_http::serve(
        listener,
        tls,
        limits,
        move |req, conn: Arc<ConnectionInfo>| {
            let sink = sink.clone();
            async move {
                let start = Instant::now();
                let response = sink.respond(&req);
                tracing::info!(
                    target: "access",
                    method = %req.method(),
                    path = %req.uri().path().chars().take(256).collect::<String>(),
                    status = response.status().as_u16(),
                    duration_ms = format_args!("{:.3}", start.elapsed().as_secs_f64() * 1e3),
                    remote = %conn.remote,
                    client = conn.client_subject.as_deref().unwrap_or("-"),
                );
                response
            }
        },
        shutdown,
        connections,
    )
    .await;
    if let Some(task) = health_task {
        let _ = task.await;
    }
    tracing::info!("netboot-sink stopped");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    config.log.init();
    // One thread: the sink answers a constant; a thread pool would only cost memory.
    netboot_http::process::main_with(
        "netboot-sink",
        tokio::runtime::Builder::new_current_thread(),
        run(config),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sink() -> Sink {
        Sink {
            health_path: "/healthz".into(),
            metrics_path: "/metrics".into(),
            retry_after: HeaderValue::from(120u32),
            counters: Counters::default(),
        }
    }

    #[test]
    fn everything_but_health_and_metrics_is_503_with_retry_after() {
        let sink = sink();
        for (method, path) in [
            ("GET", "/"),
            ("POST", "/boot.ipxe"),
            ("GET", "/healthz/x"),
            ("HEAD", "/metrics2"),
        ] {
            let req = Request::builder()
                .method(method)
                .uri(path)
                .body(())
                .unwrap();
            let response = sink.respond(&req);
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{method} {path}"
            );
            assert_eq!(response.headers()[header::RETRY_AFTER], "120");
        }
        let req = Request::builder().uri("/healthz").body(()).unwrap();
        assert_eq!(sink.respond(&req).status(), StatusCode::OK);
        let req = Request::builder().uri("/metrics").body(()).unwrap();
        assert_eq!(sink.respond(&req).status(), StatusCode::OK);
        let text = sink.metrics();
        assert!(
            text.contains("netboot_sink_requests_total{code=\"503\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("netboot_sink_requests_total{code=\"200\"} 1"),
            "{text}"
        );
    }
}
