//! The release the proxy serves, and following the origin's `current`.
//!
//! The last good release is kept in the cache directory (`current` + the manifest object),
//! so a proxy restarted while the origin is down still serves it. A new release is
//! installed only after its manifest has been fetched, hashed and validated; then the
//! objects firmware asks for first (TFTP files, the dispatcher, machine scripts) are
//! prefetched. While the origin is unreachable nothing changes but a log line and the
//! `origin_up` metric.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use futures::StreamExt as _;
use netboot_bundle::{CURRENT, Digest, Manifest, Pointer, RouteEntry, object_path};
use netboot_http::Shutdown;
use netboot_protocol::routes;

use crate::fetch::Fetcher;
use crate::metrics::ProxyMetrics;
use crate::origin::OriginError;

/// Prefetch downloads at once.
const PREFETCH_CONCURRENCY: usize = 4;

/// The release served (none before the first): swapped whole by the [`Follower`], read by
/// every request.
pub type Served = ArcSwapOption<Release>;

/// A verified release.
#[derive(Debug)]
pub struct Release {
    pub manifest_digest: Digest,
    pub manifest: Manifest,
    /// The pointer the proxy serves at `current` on the LAN.
    pub pointer: Bytes,
    pub pointer_digest: Digest,
    /// Every object a route names, with its size.
    objects: HashMap<Digest, u64>,
    /// Objects only provisioning files (`files/…`) name: served by their route alone,
    /// where the proxy decides who may have them, never as `objects/sha256/<hex>`.
    file_only: HashSet<Digest>,
}

impl AsRef<Manifest> for Release {
    fn as_ref(&self) -> &Manifest {
        &self.manifest
    }
}

impl Release {
    pub fn new(manifest_digest: Digest, manifest: Manifest) -> Self {
        let pointer = Bytes::from(Pointer::new(manifest_digest).to_canonical());
        let objects = manifest
            .routes
            .values()
            .map(|entry| (entry.object, entry.size))
            .collect();
        let named_outside_files: HashSet<Digest> = manifest
            .routes
            .iter()
            .filter(|(route, _)| !route.starts_with(routes::FILES))
            .map(|(_, entry)| entry.object)
            .collect();
        let file_only = manifest
            .routes
            .values()
            .map(|entry| entry.object)
            .filter(|object| !named_outside_files.contains(object))
            .collect();
        Self {
            manifest_digest,
            pointer_digest: Digest::of(&pointer),
            pointer,
            manifest,
            objects,
            file_only,
        }
    }

    pub fn route(&self, route: &str) -> Option<&RouteEntry> {
        self.manifest.routes.get(route)
    }

    /// The size of an object served by its digest: one a route names, other than the
    /// provisioning files'.
    pub fn served_object_size(&self, digest: &Digest) -> Option<u64> {
        if self.file_only.contains(digest) {
            return None;
        }
        self.objects.get(digest).copied()
    }

    /// What the cache must keep for this release.
    fn referenced(&self) -> HashSet<Digest> {
        self.objects
            .keys()
            .copied()
            .chain([self.manifest_digest])
            .collect()
    }

    /// The objects fetched ahead of any request: what TFTP firmware asks for, the
    /// dispatcher, machine scripts and provisioning files (small, and needed by an OS that
    /// boots while the uplink is down). Images are fetched on first use.
    fn prefetch_list(&self) -> Vec<(Digest, u64)> {
        let mut wanted: Vec<(Digest, u64)> = self
            .manifest
            .routes
            .iter()
            .filter(|(route, _)| {
                route.starts_with(routes::TFTP)
                    || route.starts_with(routes::MACHINES)
                    || route.starts_with(routes::FILES)
                    || *route == routes::DISPATCHER
            })
            .map(|(_, entry)| (entry.object, entry.size))
            .collect();
        wanted.sort();
        wanted.dedup();
        wanted
    }
}

/// Follows the origin's `current` and installs what it names into [`Served`].
#[derive(Debug)]
pub struct Follower {
    served: Arc<Served>,
    fetcher: Arc<Fetcher>,
    metrics: Arc<ProxyMetrics>,
    /// The ETag of the origin's `current` last installed, for If-None-Match.
    origin_etag: tokio::sync::Mutex<Option<String>>,
}

impl Follower {
    pub fn new(served: Arc<Served>, fetcher: Arc<Fetcher>, metrics: Arc<ProxyMetrics>) -> Self {
        Self {
            served,
            fetcher,
            metrics,
            origin_etag: tokio::sync::Mutex::default(),
        }
    }

    /// Installs the release the cache directory holds, if any (at start, before the
    /// origin has been asked).
    pub fn load_cached_release(&self) {
        let dir = self.fetcher.cache().dir().clone();
        match dir.open_current() {
            Ok(Some((pointer, manifest))) => {
                tracing::info!(manifest = %pointer.manifest, "serving the last good release from the cache until the origin answers");
                self.install(Release::new(pointer.manifest, manifest));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the cached release is unusable; waiting for the origin")
            }
        }
    }

    fn install(&self, release: Release) {
        self.fetcher.set_referenced(release.referenced());
        self.served.store(Some(Arc::new(release)));
        self.metrics
            .release_swaps
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// One look at the origin's `current`: installs a new release, then prefetches what
    /// is missing, also when the release is unchanged, so objects an earlier prefetch
    /// could not get (the origin failing half-way) are fetched on a later look.
    pub async fn check_origin(&self) {
        let etag = self.origin_etag.lock().await.clone();
        let answer = self
            .fetcher
            .origin()
            .get_small(CURRENT, etag.as_deref(), Pointer::MAX_BYTES)
            .await;
        match answer {
            Ok(None) => self.origin_is(true, None),
            Ok(Some((etag, bytes))) => {
                self.origin_is(true, None);
                if !self.follow_pointer(&bytes).await {
                    return;
                }
                *self.origin_etag.lock().await = etag;
            }
            Err(e) => return self.origin_is(false, Some(&e)),
        }
        self.prefetch().await;
    }

    /// Installs the release a fresh `current` names, unless it is the one served; false
    /// if the pointer or its release is refused.
    async fn follow_pointer(&self, bytes: &[u8]) -> bool {
        let pointer = match Pointer::parse(bytes) {
            Ok(pointer) => pointer,
            Err(e) => {
                tracing::error!(error = %e, "the origin's current is not a bundle pointer; keeping the release served");
                return false;
            }
        };
        let served = self.served.load_full();
        if served.as_ref().map(|r| r.manifest_digest) != Some(pointer.manifest) {
            match self.fetch_release(pointer.manifest).await {
                Ok(release) => {
                    tracing::info!(manifest = %pointer.manifest, previous = ?served.as_ref().map(|r| r.manifest_digest.to_string()), "new release installed");
                    self.install(release);
                }
                Err(e) => {
                    tracing::error!(manifest = %pointer.manifest, error = %e, "refusing the origin's new release; keeping the release served");
                    return false;
                }
            }
        }
        true
    }

    fn origin_is(&self, up: bool, error: Option<&OriginError>) {
        if !self.metrics.note_origin_check(up) {
            return;
        }
        let release = self
            .served
            .load_full()
            .map(|r| r.manifest_digest.to_string());
        match error {
            Some(e) => {
                tracing::warn!(origin = %self.fetcher.origin().base(), error = %e, release = ?release, "origin unreachable: serving from the cache alone")
            }
            None => tracing::info!(origin = %self.fetcher.origin().base(), "origin reachable"),
        }
    }

    /// Fetches the manifest object, checks its digest and content, and keeps a copy (and
    /// the pointer) in the cache directory.
    async fn fetch_release(&self, digest: Digest) -> Result<Release, String> {
        let (_, bytes) = self
            .fetcher
            .origin()
            .get_small(&object_path(&digest), None, Manifest::MAX_BYTES)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the origin answered 304 to an unconditional request")?;
        if Digest::of(&bytes) != digest {
            self.metrics.note_verification_failure();
            return Err("the manifest's bytes do not match its digest".into());
        }
        self.fetcher.also_keep(digest);
        let cache = self.fetcher.cache().clone();
        tokio::task::spawn_blocking(move || {
            cache
                .insert_bytes(&digest, &bytes)
                .map_err(|e| format!("caching the manifest: {e}"))?;
            let manifest = cache
                .dir()
                .read_manifest(&digest)
                .map_err(|e| e.to_string())?;
            cache
                .dir()
                .write_pointer(&Pointer::new(digest))
                .map_err(|e| format!("recording the release in the cache: {e}"))?;
            Ok(Release::new(digest, manifest))
        })
        .await
        .map_err(|e| format!("release task failed: {e}"))?
    }

    /// Makes sure every object of [`Release::prefetch_list`] is cached.
    async fn prefetch(&self) {
        let Some(release) = self.served.load_full() else {
            return;
        };
        let wanted = release.prefetch_list();
        let missing: Vec<_> = wanted
            .into_iter()
            .filter(|(digest, _)| !self.fetcher.cache().contains(digest))
            .collect();
        if missing.is_empty() {
            return;
        }
        let count = missing.len();
        let failed = futures::stream::iter(missing)
            .map(|(digest, size)| {
                let fetcher = self.fetcher.clone();
                async move {
                    match fetcher.ensure_cached(digest, size).await {
                        Ok(()) => 0usize,
                        Err(e) => {
                            tracing::warn!(object = %digest, error = %e, "prefetch failed");
                            1
                        }
                    }
                }
            })
            .buffer_unordered(PREFETCH_CONCURRENCY)
            .fold(0, |sum, failed| async move { sum + failed })
            .await;
        tracing::info!(manifest = %release.manifest_digest, fetched = count - failed, failed, "prefetched");
    }

    /// Looks at the origin every `interval` (and at once on SIGHUP) until shutdown.
    pub async fn follow(self, interval: Duration, shutdown: Shutdown) {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = signal(SignalKind::hangup()).ok();
        loop {
            // A look at an origin that does not answer can take minutes (timeouts and
            // retries); shutdown must not wait for it.
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.check_origin() => {}
            }
            let hup = async {
                match hangup.as_mut() {
                    Some(hangup) => hangup.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
                _ = hup => tracing::info!("SIGHUP: looking at the origin now"),
            }
        }
    }
}
