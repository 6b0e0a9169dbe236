//! An `ObjectStore` wrapper for the store tests: counts requests by kind (so a test can
//! say "a republish is one GET and one LIST"), and injects faults: a crash after N puts, a
//! put that lands but whose answer is lost, a store that ignores conditional puts.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path as Key;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// Counts requests by kind and can fail every put after the first `fail_after`.
#[derive(Debug)]
pub struct CountingStore {
    pub inner: Arc<dyn ObjectStore>,
    pub puts: AtomicUsize,
    pub gets: AtomicUsize,
    pub lists: AtomicUsize,
    pub deletes: AtomicUsize,
    pub multiparts: AtomicUsize,
    /// GETs answered "not modified" (a conditional GET that matched).
    pub not_modified: AtomicUsize,
    /// Puts allowed before every further put fails (a crash); `usize::MAX` = never.
    pub fail_after: AtomicUsize,
    /// Puts to a key whose last segment is this land, then answer with an error, as a
    /// request that timed out after the store applied it.
    pub lose_replies_to: std::sync::Mutex<Option<&'static str>>,
    /// Puts to a key whose last segment is this fail without landing.
    pub fail_puts_to: std::sync::Mutex<Option<&'static str>>,
    /// Puts are unconditional whatever their mode, as on S3-compatible stores that ignore
    /// `If-Match` and `If-None-Match`.
    pub ignore_conditions: AtomicBool,
    /// Puts in flight now, and the most there ever were at once.
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// When not 0, every put waits (up to [`GATE_LIMIT`]) until this many are in flight
    /// together: a test proves uploads overlap by event, not by timing.
    pub gate: AtomicUsize,
    opened: tokio::sync::Notify,
}

/// How long a gated put waits for the others before it gives up (and fails the put).
pub const GATE_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

impl CountingStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            puts: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
            lists: AtomicUsize::new(0),
            deletes: AtomicUsize::new(0),
            multiparts: AtomicUsize::new(0),
            not_modified: AtomicUsize::new(0),
            fail_after: AtomicUsize::new(usize::MAX),
            lose_replies_to: std::sync::Mutex::new(None),
            fail_puts_to: std::sync::Mutex::new(None),
            ignore_conditions: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            gate: AtomicUsize::new(0),
            opened: tokio::sync::Notify::new(),
        })
    }

    pub fn reset(&self) {
        for c in [
            &self.puts,
            &self.gets,
            &self.lists,
            &self.deletes,
            &self.multiparts,
            &self.not_modified,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }

    pub fn count(c: &AtomicUsize) -> usize {
        c.load(Ordering::SeqCst)
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Key,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let n = self.puts.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let gate = self.gate.load(Ordering::SeqCst);
        let passed = if gate == 0 {
            true
        } else {
            self.opened.notify_waiters();
            tokio::time::timeout(GATE_LIMIT, async {
                while self.max_in_flight.load(Ordering::SeqCst) < gate {
                    let opened = self.opened.notified();
                    if self.max_in_flight.load(Ordering::SeqCst) >= gate {
                        break;
                    }
                    opened.await;
                }
            })
            .await
            .is_ok()
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !passed {
            return Err(object_store::Error::Generic {
                store: "CountingStore",
                source: format!("fewer than {gate} puts ever overlapped").into(),
            });
        }
        if n >= self.fail_after.load(Ordering::SeqCst) {
            return Err(object_store::Error::Generic {
                store: "CountingStore",
                source: "injected crash".into(),
            });
        }
        let named = |faulty: &std::sync::Mutex<Option<&'static str>>| {
            let name = *faulty.lock().expect("lock");
            name.is_some_and(|name| location.filename() == Some(name))
        };
        if named(&self.fail_puts_to) {
            return Err(object_store::Error::Generic {
                store: "CountingStore",
                source: "injected failure (the put did not land)".into(),
            });
        }
        let mut opts = opts;
        if self.ignore_conditions.load(Ordering::SeqCst) {
            opts.mode = PutMode::Overwrite;
        }
        let result = self.inner.put_opts(location, payload, opts).await;
        if result.is_ok() && named(&self.lose_replies_to) {
            return Err(object_store::Error::Generic {
                store: "CountingStore",
                source: "injected lost reply (the put landed)".into(),
            });
        }
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Key,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.multiparts.fetch_add(1, Ordering::SeqCst);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Key,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let result = self.inner.get_opts(location, options).await;
        if matches!(result, Err(object_store::Error::NotModified { .. })) {
            self.not_modified.fetch_add(1, Ordering::SeqCst);
        }
        result
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Key>>,
    ) -> BoxStream<'static, object_store::Result<Key>> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Key>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Key>) -> object_store::Result<ListResult> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Key,
        to: &Key,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
