//! Following `current`: poll it (and re-read it on SIGHUP); when it names another
//! manifest, load and verify that release off the async workers, then swap it in
//! atomically. A release that fails verification is refused with an error log, and the
//! old one keeps serving; requests in flight hold their own `Arc` of the release they
//! started with, so a swap never fails them.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use netboot_bundle::{BundleDir, Digest, Pointer};
use netboot_http::Shutdown;

use crate::handler::State;
use crate::mirror::StoreSource;
use crate::verified::{self, LoadError, Release};

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

/// Where releases come from.
#[derive(Debug)]
pub enum Source {
    /// A bundle directory, served in place.
    Dir(BundleDir),
    /// An object store, mirrored into a local cache first (see [`crate::mirror`]).
    Store(Box<StoreSource>),
}

impl Source {
    /// The location, for logs.
    pub fn label(&self) -> String {
        match self {
            Self::Dir(dir) => dir.root().display().to_string(),
            Self::Store(store) => store.label().to_owned(),
        }
    }

    async fn read_pointer(&mut self) -> Result<(Bytes, Pointer), LoadError> {
        match self {
            Self::Dir(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || verified::read_pointer(&dir))
                    .await
                    .map_err(|e| LoadError::Pointer(format!("release check task failed: {e}")))?
            }
            Self::Store(store) => store.read_pointer().await,
        }
    }

    async fn load(
        &self,
        pointer_bytes: Bytes,
        pointer: &Pointer,
        state: &State,
    ) -> Result<Release, LoadError> {
        match self {
            Self::Dir(dir) => {
                let dir = dir.clone();
                let releases = state.releases.clone();
                tokio::task::spawn_blocking(move || verified::load(&dir, &releases.verified))
                    .await
                    .map_err(|e| LoadError::Pointer(format!("release load task failed: {e}")))?
            }
            Self::Store(store) => store.load(pointer_bytes, pointer, &state.releases).await,
        }
    }
}

/// Follows `current` until shutdown.
#[derive(Debug)]
pub struct Follower {
    pub source: Source,
    pub state: State,
    /// The manifest last refused and when: a bad release is retried (rehashing can be
    /// costly) at most every [`RETRY_REFUSED`], or at once on SIGHUP.
    refused: Option<(Digest, Instant)>,
}

impl Follower {
    pub fn new(dir: BundleDir, state: State) -> Self {
        Self::with_source(Source::Dir(dir), state)
    }

    pub fn with_source(source: Source, state: State) -> Self {
        Self {
            source,
            state,
            refused: None,
        }
    }

    /// Looks at `current` once and installs what it names if that is new and sound.
    /// `loud` reports a refusal even if the same release was refused before (SIGHUP).
    pub async fn check(&mut self, loud: bool) -> Outcome {
        let current = self.state.releases.current().map(|r| r.manifest_digest);
        let (pointer_bytes, pointer) = match self.source.read_pointer().await {
            Ok(read) => read,
            Err(LoadError::NoPointer) => {
                if current.is_none() && loud {
                    tracing::warn!(bundle = %self.source.label(), "no release yet: `current` is missing");
                }
                return Outcome::NoRelease;
            }
            Err(e) => {
                tracing::error!(bundle = %self.source.label(), error = %e, "cannot read `current`; still serving the old release");
                return Outcome::Refused;
            }
        };
        if Some(pointer.manifest) == current {
            return Outcome::Unchanged;
        }
        if let Some((digest, when)) = self.refused
            && digest == pointer.manifest
            && !loud
            && when.elapsed() < RETRY_REFUSED
        {
            return Outcome::Refused;
        }
        let started = Instant::now();
        let loaded = self
            .source
            .load(pointer_bytes, &pointer, &self.state)
            .await
            .map(|r| (r, started.elapsed()));
        match loaded {
            Ok((release, took)) => {
                let digest = release.manifest_digest;
                let (routes, objects) = (release.manifest.routes.len(), release.object_count());
                self.state.releases.install(release);
                // Logged once installed: the line means requests now get this release.
                tracing::info!(
                    manifest = %digest,
                    previous = %current.map_or("none".into(), |d| d.to_string()),
                    routes,
                    objects,
                    verify_ms = took.as_millis() as u64,
                    "serving new release"
                );
                if let Source::Store(store) = &self.source {
                    store.prune(&self.state.releases);
                }
                self.state
                    .metrics
                    .release_swaps
                    .fetch_add(1, Ordering::Relaxed);
                self.refused = None;
                Outcome::Installed(digest)
            }
            Err(e) => {
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
