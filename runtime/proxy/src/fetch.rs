//! Getting an object: from the verified cache, or from the origin while it is streamed to
//! whoever asked.
//!
//! A download writes into a temporary file and hashes as it goes; readers tail that file
//! (each at its own offset, with `pread`) as bytes arrive, so a cold TFTP or HTTP request
//! starts at once instead of after the whole object. Readers are never given the object's
//! last byte before the download has checked the sha256: a client can only ever receive a
//! complete object if it is the right one. A mismatch fails every reader, deletes the file
//! and is logged; a verified file is renamed into the cache. One download per object at a
//! time, however many clients ask (single flight), and it runs to completion even if they
//! all go away, so a firmware retry finds the object cached.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures::Stream;
use netboot_bundle::{Digest, object_path};
use sha2::{Digest as _, Sha256};
use std::io::Write as _;
use tokio::sync::watch;

use crate::cache::{Cache, Lookup};
use crate::metrics::ProxyMetrics;
use crate::origin::{Origin, OriginError};

/// Bytes read from a download in progress at a time.
const TAIL_CHUNK: usize = 64 * 1024;

/// Where a download is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Progress {
    /// This many bytes are in the file.
    Receiving(u64),
    /// All bytes are in and hash to the object's name.
    Verified,
    Failed(Arc<str>),
}

/// A download in progress, shared by its readers.
#[derive(Debug)]
pub struct Download {
    file: Arc<fs::File>,
    size: u64,
    progress: watch::Receiver<Progress>,
}

/// An object ready to be read.
#[derive(Debug)]
pub enum ObjectSource {
    /// A verified cache file.
    Cached(fs::File),
    /// A download in progress.
    Streaming(Arc<Download>),
}

/// Why an object cannot be had now. Clients are told apart: an origin problem is a 502 (TFTP
/// ERROR 0), the proxy's own disk a 503 (TFTP ERROR 3), so an operator looks in the right
/// place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Not cached, and the origin gave no usable answer (unreachable, a timeout, an error
    /// status, not there, a download that failed or did not verify).
    Origin(String),
    /// The proxy's cache could not be written or read.
    Disk(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Origin(reason) => write!(f, "origin: {reason}"),
            Self::Disk(reason) => write!(f, "local disk: {reason}"),
        }
    }
}

/// One object's download: started by the first request, joined by the others.
type Slot = Arc<tokio::sync::OnceCell<Arc<Download>>>;

/// Single-flight downloads into the cache.
#[derive(Debug)]
pub struct Fetcher {
    origin: Origin,
    cache: Arc<Cache>,
    metrics: Arc<ProxyMetrics>,
    in_flight: Mutex<HashMap<Digest, Slot>>,
    /// What the current release references: never evicted.
    referenced: ArcSwap<HashSet<Digest>>,
}

impl Fetcher {
    pub fn new(origin: Origin, cache: Arc<Cache>, metrics: Arc<ProxyMetrics>) -> Self {
        Self {
            origin,
            cache,
            metrics,
            in_flight: Mutex::default(),
            referenced: ArcSwap::default(),
        }
    }

    /// Marks what the release being installed references, so eviction spares it.
    pub fn set_referenced(&self, referenced: HashSet<Digest>) {
        self.referenced.store(Arc::new(referenced));
    }

    /// Spares `digest` from eviction as well until the next
    /// [`set_referenced`](Self::set_referenced): a new manifest between entering the cache
    /// and its release being installed.
    pub fn also_keep(&self, digest: Digest) {
        self.referenced.rcu(|referenced| {
            let mut referenced = HashSet::clone(referenced);
            referenced.insert(digest);
            referenced
        });
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// The object `digest` of `size` bytes, from the cache or by starting (or joining) a
    /// download. Returns once the origin has answered with a response head, so an
    /// unreachable origin fails here, before any byte is promised to a client.
    pub async fn object(
        self: &Arc<Self>,
        digest: Digest,
        size: u64,
    ) -> Result<ObjectSource, FetchError> {
        let cache = self.cache.clone();
        let lookup = tokio::task::spawn_blocking(move || cache.open_verified(&digest, size))
            .await
            .map_err(|e| FetchError::Disk(format!("cache lookup: {e}")))?;
        match lookup {
            Ok(Lookup::Hit(file)) => {
                self.metrics.note_cache(true);
                return Ok(ObjectSource::Cached(file));
            }
            Ok(Lookup::Corrupt) => self.metrics.note_corrupt_cache_file(),
            Ok(Lookup::Miss) => {}
            Err(e) => {
                tracing::warn!(object = %digest, error = %e, "reading the cache; fetching instead")
            }
        }
        self.metrics.note_cache(false);
        // The slot is taken before the origin is asked, so concurrent requests for one
        // object make one request to the origin.
        let slot = self.lock_in_flight().entry(digest).or_default().clone();
        let started = slot.get_or_try_init(|| self.start(digest, size)).await;
        match started {
            Ok(download) => Ok(ObjectSource::Streaming(download.clone())),
            Err(e) => {
                self.release_slot(&digest, &slot);
                Err(e)
            }
        }
    }

    /// Fetches `digest` into the cache unless it is there; for prefetching.
    pub async fn ensure_cached(
        self: &Arc<Self>,
        digest: Digest,
        size: u64,
    ) -> Result<(), FetchError> {
        match self.object(digest, size).await? {
            ObjectSource::Cached(_) => Ok(()),
            ObjectSource::Streaming(download) => download.finished().await,
        }
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Slot>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets `slot` (a download that ended, or never started) unless a newer one took
    /// its place.
    fn release_slot(&self, digest: &Digest, slot: &Slot) {
        let mut in_flight = self.lock_in_flight();
        if in_flight.get(digest).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            in_flight.remove(digest);
        }
    }

    /// Asks the origin for the object and, once it answers, starts receiving it in the
    /// background.
    async fn start(
        self: &Arc<Self>,
        digest: Digest,
        size: u64,
    ) -> Result<Arc<Download>, FetchError> {
        let route = object_path(&digest);
        // While the last look found the origin down, one short attempt: a PXE ROM gives up
        // long before the retries would, and a stuck request holds a slot.
        let patience = if self.metrics.origin_down() {
            self.origin.patience().when_down()
        } else {
            self.origin.patience()
        };
        let response = match self.origin.get_with(&route, None, patience).await {
            Ok(response) => response,
            Err(e) => {
                self.metrics.note_origin_fetch(false);
                let reason = match e {
                    OriginError::NotFound => "the origin does not have it".to_owned(),
                    OriginError::Unreachable(reason) => reason,
                };
                return Err(FetchError::Origin(reason));
            }
        };
        let path = self.cache.temporary(&digest);
        let (writer, reader) = crate::cache::create_private(&path)
            .and_then(|w| fs::File::open(&path).map(|r| (w, r)))
            .map_err(|e| FetchError::Disk(format!("cache file {}: {e}", path.display())))?;
        let (progress_tx, progress) = watch::channel(Progress::Receiving(0));
        let download = Arc::new(Download {
            file: Arc::new(reader),
            size,
            progress,
        });
        let fetcher = self.clone();
        let body = response.into_body();
        tokio::spawn(async move {
            let outcome = fetcher
                .receive(digest, size, body, writer, &progress_tx)
                .await;
            // The rename into the cache, a failed file's removal and eviction's deletes wait
            // on the disk's metadata (an SD card under write-back can stall for hundreds of
            // milliseconds), so they run on the blocking pool, not a runtime thread that
            // TFTP retransmit timers share.
            let cache = fetcher.cache.clone();
            let progress = match outcome {
                Ok(()) => {
                    let stored = tokio::task::spawn_blocking(move || cache.insert(&digest, &path))
                        .await
                        .map_err(io::Error::other)
                        .and_then(|stored| stored);
                    fetcher.metrics.note_origin_fetch(stored.is_ok());
                    match stored {
                        Ok(()) => Progress::Verified,
                        Err(e) => {
                            tracing::error!(object = %digest, error = %e, "storing a verified object");
                            Progress::Failed(Arc::from("cache write failed"))
                        }
                    }
                }
                Err(reason) => {
                    fetcher.metrics.note_origin_fetch(false);
                    let _ = tokio::task::spawn_blocking(move || fs::remove_file(path)).await;
                    Progress::Failed(Arc::from(reason))
                }
            };
            let verified = progress == Progress::Verified;
            let _ = progress_tx.send(progress);
            // Later requests find the object in the cache (or start afresh after a failure).
            let slot = fetcher.lock_in_flight().get(&digest).cloned();
            if let Some(slot) = slot {
                fetcher.release_slot(&digest, &slot);
            }
            if verified {
                let _ = tokio::task::spawn_blocking(move || fetcher.evict()).await;
            }
        });
        Ok(download)
    }

    /// Receives the body into `file`, hashing it; `Err` with the reason readers are told.
    async fn receive(
        &self,
        digest: Digest,
        size: u64,
        mut body: hyper::body::Incoming,
        mut file: fs::File,
        progress: &watch::Sender<Progress>,
    ) -> Result<(), String> {
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        loop {
            let chunk = match self.origin.chunk(&mut body).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(object = %digest, error = %e, "download from the origin failed");
                    return Err("origin transfer failed".into());
                }
            };
            received += chunk.len() as u64;
            if received > size {
                break;
            }
            hasher.update(&chunk);
            // A plain write on the runtime thread: it lands in the page cache in a few
            // microseconds, where a blocking-pool hop per chunk cost more than the copy and
            // halved cold throughput. Readers pread the file, so it must not be buffered.
            if let Err(e) = file.write_all(&chunk) {
                tracing::error!(object = %digest, error = %e, "writing a download to the cache");
                return Err("cache write failed".into());
            }
            let _ = progress.send(Progress::Receiving(received));
        }
        let actual = Digest::from_hasher(hasher);
        if received != size || actual != digest {
            self.metrics.note_verification_failure();
            tracing::error!(
                object = %digest,
                expected_size = size,
                received,
                actual = %if received == size { actual.to_string() } else { "-".into() },
                "the origin sent bytes that do not match the object's digest; refusing them"
            );
            return Err("object failed verification".into());
        }
        Ok(())
    }

    /// Evicts down to the cache limit, keeping what the current release needs.
    fn evict(&self) {
        let evicted = self.cache.evict(&self.referenced.load());
        if evicted > 0 {
            self.metrics.note_evictions(evicted as u64);
        }
    }
}

impl Download {
    /// Waits until the download has ended.
    pub async fn finished(&self) -> Result<(), FetchError> {
        let mut progress = self.progress.clone();
        loop {
            match &*progress.borrow_and_update() {
                Progress::Verified => return Ok(()),
                Progress::Failed(reason) => {
                    return Err(FetchError::Origin(reason.to_string()));
                }
                Progress::Receiving(_) => {}
            }
            if progress.changed().await.is_err() {
                return Err(FetchError::Origin("download abandoned".into()));
            }
        }
    }

    /// The bytes `range` of the object as they arrive. The last byte of the object (and,
    /// for a range that stops short of it, everything) waits for verification.
    pub fn stream(
        self: Arc<Self>,
        range: std::ops::Range<u64>,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let progress = self.progress.clone();
        futures::stream::unfold(
            (self, progress, range.start, range.end),
            |(download, mut progress, offset, end)| async move {
                if offset >= end {
                    return None;
                }
                loop {
                    let state = progress.borrow_and_update().clone();
                    let readable = match state {
                        Progress::Verified => end,
                        Progress::Failed(reason) => {
                            let error = io::Error::other(reason.to_string());
                            return Some((Err(error), (download, progress, end, end)));
                        }
                        Progress::Receiving(_) if end < download.size => offset,
                        Progress::Receiving(n) => n.min(download.size.saturating_sub(1)),
                    };
                    if readable > offset {
                        let len = usize::try_from(readable - offset)
                            .unwrap_or(TAIL_CHUNK)
                            .min(TAIL_CHUNK);
                        // Bytes just written by the download: a page-cache copy, done in
                        // place for the same reason as the write.
                        let mut buf = vec![0u8; len];
                        let read = download
                            .file
                            .read_exact_at(&mut buf, offset)
                            .map(|()| Bytes::from(buf));
                        return match read {
                            Ok(bytes) => {
                                let next = offset + bytes.len() as u64;
                                Some((Ok(bytes), (download, progress, next, end)))
                            }
                            Err(e) => Some((Err(e), (download, progress, end, end))),
                        };
                    }
                    if progress.changed().await.is_err() {
                        let error = io::Error::other("download abandoned");
                        return Some((Err(error), (download, progress, end, end)));
                    }
                }
            },
        )
    }
}
