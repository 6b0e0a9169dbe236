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
//! [`crate::release`] work unchanged. The cost is disk for one release (plus the previous
//! one) and a swap that waits for the download. Objects already in the cache (by digest)
//! are not fetched again, so a new release only moves what changed; a cache file that
//! fails verification is deleted and fetched again once. Objects up to
//! [`release::MEMORY_OBJECT_LIMIT`] are then held in memory, as in directory mode.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use netboot_bundle::{BundleDir, CURRENT, Digest, Pointer, object_path, temporary_sibling};
use netboot_store::object_store::{self, GetOptions, ObjectStore, ObjectStoreExt, path::Path};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::release::{self, LoadError, Release, Releases};

/// Objects fetched at once.
const FETCH_CONCURRENCY: usize = 16;
const POINTER_LIMIT: u64 = 64 * 1024;
/// Bound on objects the manifest gives no size for (the manifest itself, image manifests):
/// the same limit the directory reader puts on a manifest.
const UNSIZED_LIMIT: u64 = 256 * 1024 * 1024;

/// A bundle read from an object store through a local cache directory.
#[derive(Debug)]
pub struct StoreSource {
    /// The location as given, for logs.
    pub label: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    cache: BundleDir,
    _tmp: Option<tempfile::TempDir>,
    /// The last `current` read: its ETag and bytes (a 304 reuses the bytes).
    last: Option<(String, Bytes)>,
}

impl StoreSource {
    /// Opens a location (`gs://…`, `s3://…`, `file://…`). Without `cache_dir` the cache is
    /// a temporary directory removed at exit.
    pub fn open(location: &str, cache_dir: Option<&FsPath>) -> Result<Self, String> {
        let opened = netboot_store::open(location, false)
            .map_err(|e| format!("--bundle {location}: {e}"))?;
        Self::new(opened.store, &opened.prefix, location, cache_dir)
    }

    /// Any store (tests use `LocalFileSystem` and `InMemory`).
    pub fn new(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        label: &str,
        cache_dir: Option<&FsPath>,
    ) -> Result<Self, String> {
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
            label: label.to_owned(),
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            cache: BundleDir::new(root),
            _tmp: tmp,
            last: None,
        })
    }

    /// The local cache directory (a bundle directory).
    pub fn cache_dir(&self) -> &FsPath {
        self.cache.root()
    }

    fn key(&self, rel: &str) -> Path {
        netboot_store::key(&self.prefix, rel)
    }

    /// Reads `current` (a conditional GET on the ETag of the last read) and parses it.
    pub async fn read_pointer(&mut self) -> Result<(Bytes, Pointer), LoadError> {
        let key = self.key(CURRENT);
        let options = GetOptions {
            if_none_match: self.last.as_ref().map(|(etag, _)| etag.clone()),
            ..GetOptions::default()
        };
        let bytes = match self.store.get_opts(&key, options).await {
            Ok(result) => {
                if result.meta.size > POINTER_LIMIT {
                    return Err(LoadError::Pointer("larger than 64 KiB".into()));
                }
                let etag = result.meta.e_tag.clone();
                let bytes = result
                    .bytes()
                    .await
                    .map_err(|e| LoadError::Pointer(format!("{}: {e}", self.label)))?;
                self.last = etag.map(|etag| (etag, bytes.clone()));
                bytes
            }
            Err(object_store::Error::NotModified { .. }) => match &self.last {
                Some((_, bytes)) => bytes.clone(),
                None => return Err(LoadError::Pointer("304 without an earlier read".into())),
            },
            Err(object_store::Error::NotFound { .. }) => {
                self.last = None;
                return Err(LoadError::NoPointer);
            }
            Err(e) => return Err(LoadError::Pointer(format!("{}: {e}", self.label))),
        };
        release::parse_pointer(bytes.to_vec())
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
                if let release::ObjectError::Corrupt { path, .. }
                | release::ObjectError::WrongSize { path, .. } = &error
                {
                    if path.starts_with(self.cache.root()) {
                        tracing::warn!(file = %path.display(), %error, "cached object is bad; fetching it again");
                        let _ = std::fs::remove_file(path);
                        return self.try_load(&pointer_bytes, pointer, releases).await;
                    }
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

        let mut wanted: BTreeMap<Digest, (String, Option<u64>)> = BTreeMap::new();
        for (route, entry) in &manifest.routes {
            wanted
                .entry(entry.object)
                .or_insert_with(|| (route.clone(), Some(entry.size)));
        }
        for (profile, entry) in &manifest.profiles {
            wanted
                .entry(entry.image_manifest)
                .or_insert_with(|| (format!("image manifest of profile {profile}"), None));
        }
        futures::stream::iter(wanted)
            .map(|(digest, (route, size))| async move { self.fetch(&digest, size, &route).await })
            .buffer_unordered(FETCH_CONCURRENCY)
            .try_collect::<()>()
            .await?;

        // The pointer goes into the cache last, and the release is loaded (every object
        // hashed again, small ones into memory) by the directory code.
        let cache = self.cache.clone();
        let bytes = pointer_bytes.clone();
        let releases = releases.clone();
        blocking(move || {
            netboot_bundle::write_atomic(&cache.root().join(CURRENT), &bytes, false)
                .map_err(LoadError::Bundle)?;
            release::load(&cache, &releases.verified)
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
        let limit = size.unwrap_or(UNSIZED_LIMIT);
        let key = self.key(&object_path(digest));
        let fail = |reason: String| LoadError::Fetch {
            route: route.to_owned(),
            location: format!(
                "{}/{}",
                self.label.trim_end_matches('/'),
                object_path(digest)
            ),
            reason,
        };
        let result = self
            .store
            .get(&key)
            .await
            .map_err(|e| fail(e.to_string()))?;
        if let Some(expected) = size.filter(|&s| s != result.meta.size) {
            return Err(fail(format!(
                "{} bytes in the store, the manifest says {expected}",
                result.meta.size
            )));
        }
        if result.meta.size > limit {
            return Err(fail(format!(
                "{} bytes in the store, over the {limit}-byte limit",
                result.meta.size
            )));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(format!("cache: {e}")))?;
        }
        let tmp = temporary_sibling(&path);
        let outcome = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| format!("cache: {e}"))?;
            let mut hasher = Sha256::new();
            let mut len = 0u64;
            let mut stream = result.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| e.to_string())?;
                hasher.update(&chunk);
                len += chunk.len() as u64;
                // The store's metadata said it fits; a body that runs on is cut off.
                if len > limit {
                    return Err(format!("longer than the {limit}-byte limit"));
                }
                file.write_all(&chunk)
                    .await
                    .map_err(|e| format!("cache: {e}"))?;
            }
            file.flush().await.map_err(|e| format!("cache: {e}"))?;
            drop(file);
            let actual = Digest::from_hasher(hasher);
            if actual != *digest {
                return Err(format!("content hashes to {actual}, not to its name"));
            }
            if let Some(expected) = size.filter(|&s| s != len) {
                return Err(format!("{len} bytes, the manifest says {expected}"));
            }
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| format!("cache: {e}"))
        }
        .await;
        if let Err(reason) = outcome {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(reason));
        }
        Ok(())
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
