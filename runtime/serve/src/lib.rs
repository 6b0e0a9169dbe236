//! netboot-serve: serves a netboot bundle over HTTPS with mutual TLS.
//!
//! ```text
//! config ─ TLS (netboot-tls) ─ accept loop (netboot-http) ─ handler::respond
//!                                                               │ reads
//!  bundle dir ─ follow (poll + SIGHUP) ─ verified::load ─ Releases (arc-swap)
//!  bucket ─ mirror (fetch + verify into a cache dir) ─┘
//! ```
//! The handler is a plain async function of the request head and the [`verified::Releases`];
//! it never touches the file system by request path, only through digests a verified
//! manifest names. [`follow`] swaps releases atomically after verifying every object;
//! [`verified`] explains how large objects stay verified without hashing per request.
//! A second, plain-HTTP listener answers `/healthz` and `/metrics` for load balancers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use netboot_bundle::BundleDir;
use netboot_http::flags::{LimitArgs, LogArgs, TlsArgs, duration};
use netboot_http::tls_reload::{self, ReloadableTls};
use netboot_http::{Body, ConnectionInfo, Shutdown, full};
use netboot_store::LOCATION_FORMS;

pub mod follow;
pub mod handler;
pub mod metrics;
pub mod mirror;
pub mod verified;

use handler::State;

/// netboot-serve's command line. Every flag also reads an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "netboot-serve",
    version,
    about = "Serve a netboot bundle over HTTPS with mutual TLS"
)]
pub struct Config {
    // Help from the store's one list of locations.
    #[arg(long, env = "NETBOOT_BUNDLE", value_name = "DIR|URL", help = format!(
        "The bundle: a directory (holding `current` and `objects/sha256/`, e.g. the compiler's \
         `out/`), served in place; or a store ({LOCATION_FORMS}), mirrored into `--cache-dir` \
         and verified before each release is served"
    ))]
    pub bundle: String,
    /// Local cache for a bundle read from an object store (a temporary directory, removed
    /// at exit, if not given). Must not be shared by two servers.
    #[arg(long, env = "NETBOOT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Address for HTTPS.
    #[arg(long, env = "NETBOOT_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Address for the plain-HTTP health listener (`/healthz`, `/metrics`; no client
    /// certificate needed). Off unless given.
    #[arg(long, env = "NETBOOT_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
    /// Time between looks at `current` (`0s`: only on SIGHUP).
    #[arg(long, env = "NETBOOT_POLL_INTERVAL", default_value = "5s", value_parser = duration)]
    pub poll_interval: Duration,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Runs the server until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), String> {
    let tls = ReloadableTls::new(
        config
            .tls
            .server_config(true)?
            .ok_or("--cert and --key are required")?,
    );
    let limits = config.limits.limits();
    let poll = (!config.poll_interval.is_zero()).then_some(config.poll_interval);
    let listener = netboot_http::bind(config.listen, "listen").await?;
    let health = match config.health_listen {
        Some(addr) => Some(netboot_http::bind(addr, "health listen").await?),
        None => None,
    };

    let state = State {
        releases: Arc::default(),
        metrics: Arc::default(),
    };
    let source = if config.bundle.contains("://") {
        follow::Source::Store(Box::new(mirror::StoreSource::open(
            &config.bundle,
            config.cache_dir.as_deref(),
        )?))
    } else {
        follow::Source::Dir(BundleDir::new(&config.bundle))
    };
    let mut follower = follow::Follower::with_source(source, state.clone());
    // The first release is loaded before accepting, so a healthy start serves at once; a
    // bundle without a sound release still starts (and says 503) and keeps looking.
    match follower.check(true).await {
        follow::Outcome::Installed(_) | follow::Outcome::Unchanged => {}
        follow::Outcome::NoRelease | follow::Outcome::Refused => {
            tracing::error!(bundle = %config.bundle, "no sound release to serve yet; answering 503 until one appears");
        }
    }

    let shutdown = Shutdown::new();
    tokio::spawn(netboot_http::process::cancel_on_signal(shutdown.clone()));
    tokio::spawn(follower.run(poll, shutdown.clone()));
    tokio::spawn(tls_reload::reload(
        config.tls.clone(),
        true,
        tls.clone(),
        shutdown.clone(),
    ));

    tracing::info!(listen = %listener.local_addr().map_err(|e| e.to_string())?, health = ?health.as_ref().and_then(|l| l.local_addr().ok()), "netboot-serve ready");

    let health_task = health.map(|listener| {
        let state = state.clone();
        let limits = limits.clone();
        let metrics = state.metrics.health.clone();
        tokio::spawn(netboot_http::serve(
            listener,
            None,
            limits,
            move |req, _conn| {
                let state = state.clone();
                async move { health_response(&req, &state) }
            },
            shutdown.clone(),
            metrics,
        ))
    });
    let tls_metrics = state.metrics.tls.clone();
    netboot_http::serve(
        listener,
        Some(tls),
        limits,
        move |req, conn| {
            let state = state.clone();
            async move { handle(req, conn, state).await }
        },
        shutdown.clone(),
        tls_metrics,
    )
    .await;
    if let Some(task) = health_task {
        let _ = task.await;
    }
    tracing::info!("netboot-serve stopped");
    Ok(())
}

/// The HTTPS handler: [`handler::respond`] plus the access log.
pub async fn handle(
    req: Request<Incoming>,
    conn: Arc<ConnectionInfo>,
    state: State,
) -> Response<Body> {
    let start = Instant::now();
    let response = handler::respond(&req, &state).await;
    let (parts, body) = response.into_parts();
    let record = metrics::AccessRecord {
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
        status: parts.status,
        connection: conn,
        start,
        metrics: state.metrics.clone(),
    };
    Response::from_parts(parts, metrics::logged(body, record))
}

/// `/healthz`: 200 while a release is being served, 503 before the first one (so a load
/// balancer sends no traffic to an instance that would only say 503). `/metrics`:
/// Prometheus text.
pub fn health_response<B>(req: &Request<B>, state: &State) -> Response<Body> {
    let current = state.releases.current();
    match req.uri().path() {
        "/healthz" => match current {
            Some(release) => text(StatusCode::OK, format!("ok {}\n", release.manifest_digest)),
            None => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "no release loaded\n".into(),
            ),
        },
        "/metrics" => {
            let manifest = current.map(|r| r.manifest_digest.to_string());
            let mut response = text(StatusCode::OK, state.metrics.render(manifest.as_deref()));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(netboot_http::metrics::CONTENT_TYPE),
            );
            response
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
