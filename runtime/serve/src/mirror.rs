//! A bundle in an object store (`gs://bucket/prefix`, `s3://…`, `file://…`): the store is
//! mirrored into a local cache directory laid out like a bundle, and the release is then
//! loaded from that directory by the very code that serves a plain `--bundle DIR`.
//!
//! ```text
//! store: current ─ GET (If-None-Match: last ETag) ─ manifest object ─ every object it names
//!          │                                             │ streamed, hashed, renamed into place
//!          ▼                                             ▼
//! cache dir: current ─────────────── release::load (verify) ─ Releases::install (arc-swap)
//! ```
//!
//! Every object is downloaded and verified before the swap, never streamed from the store
//! to a client: a release is only served once all of it is local and proven, so a store
//! outage, a slow bucket or a corrupt object can never fail or truncate a download that
//! already sent its headers, and byte ranges, ETags and the large-file identity checks of
//! [`crate::verified`] work unchanged. The cost is disk for one release (plus the previous
//! one) and a swap that waits for the download. Objects already in the cache (by digest)
//! are not fetched again, so a new release only moves what changed; a cache file that
//! fails verification is deleted and fetched again once. Objects up to
//! [`verified::MEMORY_OBJECT_LIMIT`] are then held in memory, as in directory mode.

use std::collections::HashSet;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use netboot_bundle::{BundleDir, Digest, Manifest, Pointer, object_path};
use netboot_store::read::{Polled, download_object, read_pointer_since};
use netboot_store::{Location, object_store::ObjectStore};

use crate::verified::{self, LoadError, Release, Releases};

/// Objects fetched at once.
const FETCH_CONCURRENCY: usize = 16;

/// A bundle read from an object store through a local cache directory.
#[derive(Debug)]
pub struct StoreSource {
    location: Location,
    cache: BundleDir,
    _tmp: Option<tempfile::TempDir>,
    /// The last `current` read: its ETag, bytes and content (a 304 reuses them).
    last: Option<(String, Bytes, Pointer)>,
}

impl StoreSource {
    /// Opens a location (`gs://…`, `s3://…`, `file://…`). Without `cache_dir` the cache is
    /// a temporary directory removed at exit.
    pub fn open(location: &str, cache_dir: Option<&FsPath>) -> Result<Self, String> {
        let location =
            Location::open(location, false).map_err(|e| format!("--bundle {location}: {e}"))?;
        Self::with_location(location, cache_dir)
    }

    /// Any store (tests use `LocalFileSystem` and `InMemory`).
    pub fn new(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        label: &str,
        cache_dir: Option<&FsPath>,
    ) -> Result<Self, String> {
        Self::with_location(Location::new(store, prefix, label), cache_dir)
    }

    fn with_location(location: Location, cache_dir: Option<&FsPath>) -> Result<Self, String> {
        let (root, tmp) = match cache_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("--cache-dir {}: {e}", dir.display()))?;
                (dir.to_owned(), None)
            }
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix("netboot-serve-cache-")
                    .tempdir()
                    .map_err(|e| format!("cache directory: {e}"))?;
                (tmp.path().to_owned(), Some(tmp))
            }
        };
        Ok(Self {
            location,
            cache: BundleDir::new(root),
            _tmp: tmp,
            last: None,
        })
    }

    /// The location as given, for logs.
    pub fn label(&self) -> &str {
        &self.location.label
    }

    /// The local cache directory (a bundle directory).
    pub fn cache_dir(&self) -> &FsPath {
        self.cache.root()
    }

    /// Reads `current` (a conditional GET on the ETag of the last read) and parses it.
    pub async fn read_pointer(&mut self) -> Result<(Bytes, Pointer), LoadError> {
        let etag = self.last.as_ref().map(|(etag, _, _)| etag.as_str());
        match read_pointer_since(&self.location, etag).await {
            Ok(Polled::Unchanged) => match &self.last {
                Some((_, bytes, pointer)) => Ok((bytes.clone(), pointer.clone())),
                None => Err(LoadError::Pointer("304 without an earlier read".into())),
            },
            Ok(Polled::Changed(observed)) => {
                let (Some(bytes), Some(pointer)) = (observed.bytes, observed.pointer) else {
                    self.last = None;
                    return Err(LoadError::NoPointer);
                };
                self.last = observed
                    .version
                    .and_then(|v| v.e_tag)
                    .map(|etag| (etag, bytes.clone(), pointer.clone()));
                Ok((bytes, pointer))
            }
            Err(e) => Err(LoadError::Pointer(e.to_string())),
        }
    }

    /// Fetches and verifies everything the release `pointer_bytes` names into the cache,
    /// then loads and verifies it from there.
    pub async fn load(
        &self,
        pointer_bytes: Bytes,
        pointer: &Pointer,
        releases: &Arc<Releases>,
    ) -> Result<Release, LoadError> {
        match self.try_load(&pointer_bytes, pointer, releases).await {
            Err(LoadError::Object { route, error }) => {
                // A cache file that does not verify (disk trouble, a tampered cache): drop
                // it and fetch again, once.
                if let verified::ObjectError::Corrupt { path, .. }
                | verified::ObjectError::WrongSize { path, .. } = &error
                    && path.starts_with(self.cache.root())
                {
                    tracing::warn!(file = %path.display(), %error, "cached object is bad; fetching it again");
                    let _ = std::fs::remove_file(path);
                    return self.try_load(&pointer_bytes, pointer, releases).await;
                }
                Err(LoadError::Object { route, error })
            }
            other => other,
        }
    }

    async fn try_load(
        &self,
        pointer_bytes: &Bytes,
        pointer: &Pointer,
        releases: &Arc<Releases>,
    ) -> Result<Release, LoadError> {
        self.fetch(&pointer.manifest, None, "manifest").await?;
        let cache = self.cache.clone();
        let digest = pointer.manifest;
        let manifest =
            blocking(move || cache.read_manifest(&digest).map_err(LoadError::Bundle)).await?;

        futures::stream::iter(manifest.referenced())
            .map(|(digest, referenced)| async move {
                self.fetch(&digest, referenced.size, &referenced.used_by)
                    .await
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .try_collect::<()>()
            .await?;

        // The pointer goes into the cache last, and the release is loaded (every object
        // hashed again, small ones into memory) by the directory code.
        let cache = self.cache.clone();
        let bytes = pointer_bytes.clone();
        let releases = releases.clone();
        blocking(move || {
            cache.write_current(&bytes).map_err(LoadError::Bundle)?;
            verified::load(&cache, &releases.verified)
        })
        .await
    }

    /// Makes sure the cache holds object `digest`: a file of the right size is kept (the
    /// load hashes it), anything else is fetched, hashed while written, and renamed into
    /// place only if it matches its name (and `size`, when the manifest gives one).
    async fn fetch(
        &self,
        digest: &Digest,
        size: Option<u64>,
        route: &str,
    ) -> Result<(), LoadError> {
        let path = self.cache.object_file(digest);
        if let Ok(meta) = std::fs::metadata(&path)
            && meta.is_file()
        {
            // A sized object is hashed again when the release loads; an unsized one (a
            // manifest) is read before anything checks it, so check it here: a corrupt
            // cached manifest must be refetched, not refuse every release forever.
            let good = match size {
                Some(expected) => expected == meta.len(),
                None => {
                    let (check, expected) = (path.clone(), *digest);
                    tokio::task::spawn_blocking(move || {
                        std::fs::read(&check).is_ok_and(|bytes| Digest::of(&bytes) == expected)
                    })
                    .await
                    .unwrap_or(false)
                }
            };
            if good {
                return Ok(());
            }
        }
        // Unsized objects (manifests) are bounded by the manifest limit.
        download_object(
            &self.location,
            digest,
            size,
            Manifest::MAX_BYTES,
            &self.cache,
        )
        .await
        .map_err(|reason| LoadError::Fetch {
            route: route.to_owned(),
            location: format!(
                "{}/{}",
                self.location.label.trim_end_matches('/'),
                object_path(digest)
            ),
            reason,
        })
    }

    /// Deletes cached objects that neither the current nor the previous release names.
    pub fn prune(&self, releases: &Releases) {
        let keep: HashSet<Digest> = [releases.current(), releases.previous()]
            .into_iter()
            .flatten()
            .flat_map(|r| r.digests().collect::<Vec<_>>())
            .collect();
        let dir = self.cache.root().join(netboot_bundle::OBJECTS_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let keep_it = name
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
                .is_some_and(|d| keep.contains(&d));
            if !keep_it {
                let path: PathBuf = entry.path();
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(file = %path.display(), error = %e, "cannot prune the cache");
                }
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LoadError> + Send + 'static,
) -> Result<T, LoadError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LoadError::Pointer(format!("load task failed: {e}")))?
}
