//! A listener's TLS configuration, rebuilt from its files while the server runs: a new CRL
//! (or CA, certificate, key) takes effect on SIGHUP, or by itself within
//! [`LOOK_INTERVAL`] of the file changing. New handshakes use the new configuration;
//! connections already open keep theirs. A set of files that does not build (a CRL cut
//! short while it is copied in, a key that does not match) is logged and the configuration
//! in use is kept, so a bad edit never takes the listener down.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use tokio_util::sync::CancellationToken;

use crate::flags::TlsArgs;

/// How often the files are looked at (a few `stat` calls).
pub const LOOK_INTERVAL: Duration = Duration::from_secs(2);

/// The configuration handshakes use now.
#[derive(Debug)]
pub struct ReloadableTls {
    current: RwLock<Arc<ServerConfig>>,
}

impl ReloadableTls {
    pub fn new(config: Arc<ServerConfig>) -> Arc<Self> {
        Arc::new(Self {
            current: RwLock::new(config),
        })
    }

    /// The configuration for a new handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, config: Arc<ServerConfig>) {
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }
}

/// What a file looked like: `None` if it could not be looked at.
type Stamp = Vec<(PathBuf, Option<(SystemTime, u64, u64)>)>;

fn stamp(args: &TlsArgs) -> Stamp {
    let files = args
        .cert
        .iter()
        .chain(&args.key)
        .chain(&args.client_ca)
        .chain(&args.crl);
    files
        .map(|path| {
            let seen = fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len(), m.ino())));
            (path.clone(), seen)
        })
        .collect()
}

/// Rebuilds `tls` from `args` on SIGHUP and whenever one of its files changes, until
/// `shutdown`. Each outcome is logged once.
pub async fn reload(
    args: TlsArgs,
    tls_required: bool,
    tls: Arc<ReloadableTls>,
    shutdown: CancellationToken,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut seen = stamp(&args);
    loop {
        let reason = tokio::select! {
            () = shutdown.cancelled() => return,
            Some(()) = async { hup.as_mut()?.recv().await } => "SIGHUP",
            () = tokio::time::sleep(LOOK_INTERVAL) => {
                let now = stamp(&args);
                if now == seen {
                    continue;
                }
                seen = now;
                "files changed"
            }
        };
        match args.server_config(tls_required) {
            Ok(Some(config)) => {
                tls.replace(config);
                tracing::info!(reason, crl = ?args.crl, client_ca = ?args.client_ca, "TLS configuration reloaded");
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(reason, %error, "TLS configuration not reloaded; keeping the one in use");
            }
        }
    }
}
