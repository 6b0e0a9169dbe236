//! Following `current`: poll it (and re-read it on SIGHUP); when it names another
//! manifest, load and verify that release off the async workers, then swap it in
//! atomically. A release that fails verification is refused with an error log, and the
//! old one keeps serving; requests in flight hold their own `Arc` of the release they
//! started with, so a swap never fails them.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use netboot_bundle::{BundleDir, Digest};
use netboot_listener::Shutdown;

use crate::handler::State;
use crate::release::{self, LoadError};

/// How long a refused release is left alone before it is verified again.
pub const RETRY_REFUSED: Duration = Duration::from_secs(60);

/// What one look at `current` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Installed(Digest),
    Refused,
    NoRelease,
}

/// Follows `current` until shutdown.
#[derive(Debug)]
pub struct Follower {
    pub dir: BundleDir,
    pub state: State,
    /// The manifest last refused and when: a bad release is retried (rehashing can be
    /// costly) at most every [`RETRY_REFUSED`], or at once on SIGHUP.
    refused: Option<(Digest, Instant)>,
}

impl Follower {
    pub fn new(dir: BundleDir, state: State) -> Self {
        Self {
            dir,
            state,
            refused: None,
        }
    }

    /// Looks at `current` once and installs what it names if that is new and sound.
    /// `loud` reports a refusal even if the same release was refused before (SIGHUP).
    pub async fn check(&mut self, loud: bool) -> Outcome {
        let dir = self.dir.clone();
        let releases = self.state.releases.clone();
        let current = releases.current().map(|r| r.manifest_digest);
        let pointer = match tokio::task::spawn_blocking(move || release::read_pointer(&dir)).await {
            Ok(Ok((_, pointer))) => pointer,
            Ok(Err(LoadError::NoPointer)) => {
                if current.is_none() && loud {
                    tracing::warn!(bundle = %self.dir.root().display(), "no release yet: `current` is missing");
                }
                return Outcome::NoRelease;
            }
            Ok(Err(e)) => {
                tracing::error!(bundle = %self.dir.root().display(), error = %e, "cannot read `current`; still serving the old release");
                return Outcome::Refused;
            }
            Err(e) => {
                tracing::error!(error = %e, "release check task failed");
                return Outcome::Refused;
            }
        };
        if Some(pointer.manifest) == current {
            return Outcome::Unchanged;
        }
        if let Some((digest, when)) = self.refused {
            if digest == pointer.manifest && !loud && when.elapsed() < RETRY_REFUSED {
                return Outcome::Refused;
            }
        }
        let dir = self.dir.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            release::load(&dir, &releases.verified).map(|r| (r, started.elapsed()))
        })
        .await;
        match loaded {
            Ok(Ok((release, took))) => {
                let digest = release.manifest_digest;
                tracing::info!(
                    manifest = %digest,
                    previous = %current.map_or("none".into(), |d| d.to_string()),
                    routes = release.manifest.routes.len(),
                    objects = release.object_count(),
                    verify_ms = took.as_millis() as u64,
                    "serving new release"
                );
                self.state.releases.install(release);
                self.state
                    .metrics
                    .release_swaps
                    .fetch_add(1, Ordering::Relaxed);
                self.refused = None;
                Outcome::Installed(digest)
            }
            Ok(Err(e)) => {
                self.state
                    .metrics
                    .release_refusals
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    manifest = %pointer.manifest,
                    still_serving = %current.map_or("nothing".into(), |d| d.to_string()),
                    error = %e,
                    "REFUSED new release: it failed verification"
                );
                self.refused = Some((pointer.manifest, Instant::now()));
                Outcome::Refused
            }
            Err(e) => {
                tracing::error!(error = %e, "release load task failed");
                Outcome::Refused
            }
        }
    }

    /// Polls every `interval` (never if `None`) and on SIGHUP, until `shutdown`.
    pub async fn run(mut self, interval: Option<Duration>, shutdown: Shutdown) {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup()).ok();
        loop {
            let loud = tokio::select! {
                () = shutdown.cancelled() => return,
                () = sleep_or_forever(interval) => false,
                Some(()) = async {
                    match hup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    tracing::info!("SIGHUP: re-reading `current`");
                    true
                }
            };
            self.check(loud).await;
        }
    }
}

async fn sleep_or_forever(interval: Option<Duration>) {
    match interval {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
