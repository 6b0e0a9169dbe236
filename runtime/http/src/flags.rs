//! Command-line flags (and their environment variables) the servers share, so they spell
//! TLS, limits and logging the same way.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use netboot_tls::{ClientAuth, ServerIdentity};
use rustls::ServerConfig;

use crate::Limits;

/// TLS for a server listener.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Server certificate chain (PEM): the leaf first, then intermediates.
    #[arg(long, env = "NETBOOT_TLS_CERT", value_name = "PEM")]
    pub cert: Option<PathBuf>,
    /// Private key for --cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "NETBOOT_TLS_KEY", value_name = "PEM")]
    pub key: Option<PathBuf>,
    /// CA certificate(s) that client certificates must chain to. Repeat the flag, or
    /// separate with commas in the variable.
    #[arg(
        long,
        env = "NETBOOT_CLIENT_CA",
        value_name = "PEM",
        value_delimiter = ','
    )]
    pub client_ca: Vec<PathBuf>,
    /// Certificate revocation list(s) (PEM) checked for every client certificate.
    #[arg(long, env = "NETBOOT_CRL", value_name = "PEM", value_delimiter = ',')]
    pub crl: Vec<PathBuf>,
    /// Accept clients without a certificate. Only for local tests, or behind a load
    /// balancer that verifies client certificates itself.
    #[arg(long, env = "NETBOOT_INSECURE_NO_CLIENT_AUTH")]
    pub insecure_no_client_auth: bool,
}

impl TlsArgs {
    /// The server config these flags describe; `None` when no certificate is given and
    /// `tls_required` is false (plain HTTP).
    pub fn server_config(&self, tls_required: bool) -> Result<Option<Arc<ServerConfig>>, String> {
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) if !tls_required => {
                if !self.client_ca.is_empty() || !self.crl.is_empty() {
                    return Err("--client-ca and --crl need --cert and --key".into());
                }
                return Ok(None);
            }
            (None, None) => return Err("--cert and --key are required".into()),
            _ => return Err("--cert and --key go together".into()),
        };
        let auth = if self.client_ca.is_empty() {
            if !self.insecure_no_client_auth {
                return Err("no --client-ca given: refusing to serve without client \
                     certificates (pass --insecure-no-client-auth to do so on purpose)"
                    .into());
            }
            if !self.crl.is_empty() {
                return Err("--crl needs --client-ca".into());
            }
            ClientAuth::None
        } else {
            if self.insecure_no_client_auth {
                return Err(
                    "--client-ca and --insecure-no-client-auth contradict each other".into(),
                );
            }
            ClientAuth::Required {
                ca_files: self.client_ca.clone(),
                crl_files: self.crl.clone(),
            }
        };
        let identity = ServerIdentity {
            cert_file: cert.clone(),
            key_file: key.clone(),
        };
        netboot_tls::server_config(&identity, &auth)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// A duration flag: `90s`, `500ms`, `10m`, `1h 30m` (humantime's syntax, the one every
/// netboot command line uses).
pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (e.g. 10s, 500ms, 2m)"))
}

/// A [`duration`] that must be more than zero (a timeout of nothing is a mistake).
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        d if d.is_zero() => Err("must be more than zero".into()),
        d => Ok(d),
    }
}

/// `--max-header-bytes`: hyper needs at least 8192 for HTTP/1.1, and a head larger than
/// 1 MiB is no request a netboot client makes, only memory an attacker gets to pin.
fn header_bytes(text: &str) -> Result<usize, String> {
    const RANGE: std::ops::RangeInclusive<usize> = 8192..=1024 * 1024;
    match text.parse::<usize>() {
        Ok(n) if RANGE.contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a number of bytes from {} to {}",
            RANGE.start(),
            RANGE.end()
        )),
    }
}

/// Connection limits.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Connections served at once (further ones wait in the accept queue).
    #[arg(long, env = "NETBOOT_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Time allowed for a TLS handshake.
    #[arg(long, env = "NETBOOT_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub handshake_timeout: Duration,
    /// Time allowed to send request headers (HTTP/1.1; also bounds keep-alive idle).
    #[arg(long, env = "NETBOOT_HEADER_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub header_timeout: Duration,
    /// Largest request head, in bytes (8192 to 1048576).
    #[arg(long, env = "NETBOOT_MAX_HEADER_BYTES", default_value_t = 16384, value_parser = header_bytes)]
    pub max_header_bytes: usize,
    /// Time a connection may move no byte before it is closed.
    #[arg(long, env = "NETBOOT_IDLE_TIMEOUT", default_value = "60s", value_parser = positive_duration)]
    pub idle_timeout: Duration,
    /// Time shutdown waits for requests in flight.
    #[arg(long, env = "NETBOOT_SHUTDOWN_GRACE", default_value = "30s", value_parser = positive_duration)]
    pub shutdown_grace: Duration,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections as usize,
            handshake_timeout: self.handshake_timeout,
            header_read_timeout: self.header_timeout,
            max_header_bytes: self.max_header_bytes,
            idle_timeout: self.idle_timeout,
            shutdown_grace: self.shutdown_grace,
        }
    }
}

/// Logging flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// error, warn, info (one line per request) or debug.
    #[arg(long, env = "NETBOOT_LOG", default_value = "info")]
    pub log_level: tracing::Level,
}

impl LogArgs {
    /// Installs the global subscriber: plain text lines on stderr, colour only on a TTY.
    /// A line that cannot be written is dropped: tracing-subscriber would otherwise report
    /// it with `eprintln!`, which panics on the same broken stderr.
    pub fn init(&self) {
        use std::io::IsTerminal;
        tracing_subscriber::fmt()
            .with_max_level(self.log_level)
            .log_internal_errors(false)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }
}
