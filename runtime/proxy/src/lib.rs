//! netboot-proxy: the boot proxy on the LAN (a Raspberry Pi next to the fleet).
//!
//! ```text
//! firmware ─ TFTP (netboot_tftp + tftp) ─┐                                   ┌─ cache (verified, on disk)
//!                                        ├─ follow::Served ─ fetch::Fetcher ─┤
//! iPXE ──── LAN HTTP (http) ─────────────┘            │                      └─ origin (HTTPS + client cert)
//!                                                     └─ follow::Follower: the origin's `current`
//! ```
//! TFTP file `X` is bundle route `tftp/X`; LAN HTTP `GET /<route>` is the same route as
//! at the origin, so stock iPXE (no HTTPS) chain-loads through the proxy and the client
//! key never leaves it. Every object is checked against its sha256 before it is cached or
//! completed to a client ([`fetch`]); the last good release and its objects stay on disk
//! ([`cache`]), so the proxy keeps serving while the origin is down and after a restart.
//! What each client asked for is kept, briefly and in bounded memory, as the progress of
//! its last boots ([`status`], `GET /status` on the admin listener, [`http::admin`]).
//!
//! Every module depends only on its siblings below it, never on this root
//! (`tests/layering.rs` holds them to it): [`run`] builds the shared parts (the release
//! served, the fetcher, the metrics, the boot status) and hands each listener only what it
//! reads ([`tftp::ReleaseFiles`], [`http::Lan`], [`http::Admin`], [`follow::Follower`],
//! the proxyDHCP answerer's release getter).

pub mod cache;
pub mod clock;
pub mod dhcp;
pub mod fetch;
pub mod file_access;
pub mod follow;
pub mod http;
pub mod metrics;
pub mod origin;
pub mod status;
pub mod tftp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use netboot_http::Shutdown;
use netboot_http::flags::{LimitArgs, LogArgs, positive_duration};
use netboot_tftp::{TftpArgs, TftpMetrics};

use crate::dhcp::{DhcpArgs, DhcpMetrics};
use crate::fetch::Fetcher;
use crate::file_access::{FileAccess, FileAccessArgs};
use crate::follow::{Follower, Served};
use crate::metrics::ProxyMetrics;
use crate::origin::{Origin, Patience};
use crate::status::{StatusArgs, Tracker};

/// netboot-proxy's command line. Every flag also reads an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "netboot-proxy",
    version,
    about = "Serve a netboot bundle on the LAN over TFTP and HTTP, fetched from the origin over mutual TLS"
)]
pub struct Config {
    /// The origin (netboot-serve, or the load balancer in front of it).
    #[arg(long, env = "NETBOOT_PROXY_ORIGIN", value_name = "URL")]
    pub origin: String,
    /// The proxy's client certificate chain (PEM).
    #[arg(long, env = "NETBOOT_PROXY_CERT", value_name = "PEM")]
    pub cert: PathBuf,
    /// The key for --cert (PEM).
    #[arg(long, env = "NETBOOT_PROXY_KEY", value_name = "PEM")]
    pub key: PathBuf,
    /// CA certificate(s) the origin's server certificate must chain to (not the system
    /// store: the proxy talks to one origin). Repeat, or separate with commas.
    #[arg(
        long,
        env = "NETBOOT_PROXY_ORIGIN_CA",
        value_name = "PEM",
        value_delimiter = ',',
        required = true
    )]
    pub origin_ca: Vec<PathBuf>,
    /// UDP address for TFTP.
    #[arg(long, env = "NETBOOT_PROXY_TFTP_LISTEN", default_value = "0.0.0.0:69")]
    pub tftp_listen: SocketAddr,
    /// TCP address for LAN HTTP: the boot routes and `/healthz`, nothing else.
    #[arg(
        long,
        env = "NETBOOT_PROXY_HTTP_LISTEN",
        default_value = "0.0.0.0:8080"
    )]
    pub http_listen: SocketAddr,
    /// TCP address for LAN HTTPS: the same routes as `--http-listen`, over TLS with
    /// `--lan-cert` (for iPXE builds that trust the site's LAN CA; see
    /// docs/lan-security.md). Off unless given; plain HTTP stays for builds without TLS.
    #[arg(
        long,
        env = "NETBOOT_PROXY_HTTPS_LISTEN",
        requires = "lan_cert",
        value_name = "ADDR"
    )]
    pub https_listen: Option<SocketAddr>,
    /// The LAN HTTPS listener's certificate chain (PEM), from the site's LAN CA.
    #[arg(
        long,
        env = "NETBOOT_PROXY_LAN_CERT",
        value_name = "PEM",
        requires_all = ["lan_key", "https_listen"]
    )]
    pub lan_cert: Option<PathBuf>,
    /// The key for `--lan-cert` (PEM).
    #[arg(
        long,
        env = "NETBOOT_PROXY_LAN_KEY",
        value_name = "PEM",
        requires = "lan_cert"
    )]
    pub lan_key: Option<PathBuf>,
    /// TCP address for the operator: `/status` (each client's last boots), `/metrics` and
    /// `/healthz`. Loopback unless told otherwise: what the LAN learns from them (every
    /// client's address, MAC and boots) is not for the LAN.
    #[arg(
        long,
        env = "NETBOOT_PROXY_ADMIN_LISTEN",
        default_value = "127.0.0.1:9180"
    )]
    pub admin_listen: SocketAddr,
    /// The disk cache (verified objects and the last good release); kept across restarts.
    #[arg(
        long,
        env = "NETBOOT_PROXY_CACHE_DIR",
        default_value = "/var/cache/netboot-proxy"
    )]
    pub cache_dir: PathBuf,
    /// Size limit of the cache in MiB; past it, objects the current release does not
    /// reference are evicted, least recently used first.
    #[arg(long, env = "NETBOOT_PROXY_CACHE_MAX_MIB", default_value_t = 4096)]
    pub cache_max_mib: u64,
    /// Time between looks at the origin's `current` (SIGHUP looks at once).
    #[arg(long, env = "NETBOOT_PROXY_POLL_INTERVAL", default_value = "10s", value_parser = positive_duration)]
    pub poll_interval: Duration,
    /// Time to wait for the origin: connection, response head, and between body chunks.
    #[arg(long, env = "NETBOOT_PROXY_ORIGIN_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub origin_timeout: Duration,
    /// Further attempts after a transient origin failure (connection, timeout, 5xx), with
    /// exponential backoff from 250 ms.
    #[arg(long, env = "NETBOOT_PROXY_ORIGIN_RETRIES", default_value_t = 3)]
    pub origin_retries: u32,
    #[command(flatten)]
    pub tftp: TftpArgs,
    #[command(flatten)]
    pub dhcp: DhcpArgs,
    #[command(flatten)]
    pub status: StatusArgs,
    #[command(flatten)]
    pub files: FileAccessArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Runs the proxy until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), String> {
    let tls = netboot_tls::client_config(
        &config.origin_ca,
        Some((config.cert.as_path(), config.key.as_path())),
        &[],
    )
    .map_err(|e| e.to_string())?;
    let patience = Patience {
        timeout: config.origin_timeout,
        retries: config.origin_retries,
        backoff: Duration::from_millis(250),
    };
    let origin = Origin::new(&config.origin, tls, patience)?;
    let poll = config.poll_interval;
    let tftp_limits = config.tftp.limits()?;
    let limits = config.limits.limits();
    let cache = cache::Cache::open(
        &config.cache_dir,
        config.cache_max_mib.saturating_mul(1024 * 1024),
    )
    .map_err(|e| format!("cache directory {}: {e}", config.cache_dir.display()))?;

    let udp = tokio::net::UdpSocket::bind(config.tftp_listen)
        .await
        .map_err(|e| format!("TFTP listen on {}: {e}", config.tftp_listen))?;
    let tcp = netboot_http::bind(config.http_listen, "HTTP listen").await?;
    let https = match (&config.https_listen, &config.lan_cert, &config.lan_key) {
        (Some(addr), Some(cert_file), Some(key_file)) => {
            let identity = netboot_tls::ServerIdentity {
                cert_file: cert_file.clone(),
                key_file: key_file.clone(),
            };
            let tls = netboot_tls::server_config(&identity, &netboot_tls::ClientAuth::None)
                .map_err(|e| format!("--lan-cert/--lan-key: {e}"))?;
            let listener = netboot_http::bind(*addr, "HTTPS listen").await?;
            Some((listener, netboot_http::tls_reload::ReloadableTls::new(tls)))
        }
        _ => None,
    };
    let admin_tcp = netboot_http::bind(config.admin_listen, "admin listen").await?;
    let dhcp = match &config.dhcp.interface {
        Some(interface) => {
            let (sockets, found) =
                dhcp::Sockets::bind(interface).map_err(|e| format!("proxyDHCP: {e}"))?;
            let address = config.dhcp.address.unwrap_or(found);
            let http_base = format!("http://{address}:{}", config.http_listen.port());
            let dispatcher_base = match config.https_listen {
                Some(https) if config.dhcp.https => format!("https://{address}:{}", https.port()),
                _ => http_base.clone(),
            };
            let identity = dhcp::Identity {
                address,
                http_base,
                dispatcher_base,
            };
            Some((sockets, identity))
        }
        None => None,
    };

    let clock = clock::Clock::from_env();
    let metrics = Arc::new(ProxyMetrics::default());
    let tftp_metrics = Arc::new(TftpMetrics::default());
    let dhcp_metrics = Arc::new(DhcpMetrics::default());
    let served = Arc::new(Served::empty());
    let fetcher = Arc::new(Fetcher::new(origin, Arc::new(cache), metrics.clone()));
    let status = Arc::new(Tracker::new(&config.status, clock.clone())?);
    let files = FileAccess::new(&config.files, clock.clone());
    let follower = Follower::new(served.clone(), fetcher.clone(), metrics.clone());
    follower.load_cached_release();

    let shutdown = Shutdown::new();
    tokio::spawn(netboot_http::process::cancel_on_signal(shutdown.clone()));
    let follower = tokio::spawn(follower.follow(poll, shutdown.clone()));
    if let Some(every) = status.sweep_interval() {
        // Stalls happen with no request to notice them: look for them now and then.
        let (sweeping, shutdown) = (status.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => sweeping.sweep(),
                }
            }
        });
    }

    let https_addr = https
        .as_ref()
        .and_then(|(listener, _)| listener.local_addr().ok());
    tracing::info!(
        listen = %tcp.local_addr().map_err(|e| e.to_string())?,
        https = %https_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        admin = %admin_tcp.local_addr().map_err(|e| e.to_string())?,
        tftp = %udp.local_addr().map_err(|e| e.to_string())?,
        origin = %config.origin,
        cache = %config.cache_dir.display(),
        "netboot-proxy ready"
    );
    let dhcp_task = dhcp.map(|(sockets, identity)| {
        tracing::info!(target: "dhcp", address = %identity.address, "proxyDHCP answering PXE clients");
        let serving = served.clone();
        tokio::spawn(dhcp::serve(
            sockets,
            identity,
            move || serving.load_full(),
            config.dhcp.rates(),
            clock,
            dhcp_metrics.clone(),
            shutdown.clone(),
        ))
    });
    let tftp_task = tokio::spawn(netboot_tftp::serve(
        udp,
        Arc::new(tftp::ReleaseFiles {
            served: served.clone(),
            fetcher: fetcher.clone(),
            status: status.clone(),
        }),
        tftp_limits,
        tftp_metrics.clone(),
        shutdown.clone(),
    ));
    let admin_metrics = metrics.admin_http.clone();
    let admin = Arc::new(http::Admin {
        served: served.clone(),
        cache: fetcher.cache().clone(),
        metrics: metrics.clone(),
        tftp_metrics,
        dhcp_metrics,
        status: status.clone(),
    });
    let admin_task = tokio::spawn(netboot_http::serve(
        admin_tcp,
        None,
        limits.clone(),
        move |req, _conn| {
            let response = http::admin(&req, &admin);
            async move { response }
        },
        shutdown.clone(),
        admin_metrics,
    ));
    let http_metrics = metrics.http.clone();
    let lan = Arc::new(http::Lan {
        served,
        fetcher,
        metrics,
        status,
        files,
    });
    let https_task = https.map(|(listener, tls)| {
        let (lan, https_metrics) = (lan.clone(), http_metrics.clone());
        tokio::spawn(netboot_http::serve(
            listener,
            Some(tls),
            limits.clone(),
            move |req, conn| lan_request(lan.clone(), req, conn.remote),
            shutdown.clone(),
            // One LAN, counted together.
            https_metrics,
        ))
    });
    netboot_http::serve(
        tcp,
        None,
        limits,
        move |req, conn| lan_request(lan.clone(), req, conn.remote),
        shutdown.clone(),
        http_metrics,
    )
    .await;
    if let Some(task) = https_task {
        let _ = task.await;
    }
    let _ = tftp_task.await;
    let _ = admin_task.await;
    if let Some(task) = dhcp_task {
        let _ = task.await;
    }
    let _ = follower.await;
    tracing::info!("netboot-proxy stopped");
    Ok(())
}

/// One request on a LAN listener (HTTP or HTTPS): answered, tracked in the boot status,
/// counted and logged.
async fn lan_request<B>(
    lan: Arc<http::Lan>,
    req: ::http::Request<B>,
    remote: SocketAddr,
) -> ::http::Response<netboot_http::Body> {
    let response = http::respond(&req, &lan, remote.ip()).await;
    let response = http::track(&req, response, &lan, remote.ip());
    lan.metrics.note_http(response.status());
    // Paths are chosen by whoever is on the LAN: cap what reaches the log.
    let path: String = req.uri().path().chars().take(256).collect();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
    };
    tracing::info!(
        target: "access",
        method = %req.method(),
        path = %path,
        status = response.status().as_u16(),
        bytes = %header(::http::header::CONTENT_LENGTH),
        object = %header(::http::header::ETAG).trim_matches('"'),
        remote = %remote,
    );
    response
}
