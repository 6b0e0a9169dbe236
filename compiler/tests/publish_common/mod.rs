//! Shared by the publish tests: hand-made bundles, a request-counting / crash-injecting
//! store wrapper, and a reader that checks a release is complete.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::stream::BoxStream;
use netboot_bundle::{BundleDir, Digest, MachineEntry, Manifest, ProfileEntry, RouteEntry};
use netbootc::publish::{self, Progress, PublishError, PublishOptions, PublishReport};
use netbootc::release;
use netbootc::store::Target;
use object_store::path::Path as Key;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// Writes a bundle like `netbootc build` does: `machines` scripts (their text depends on
/// `variant`), a dispatcher shared by all variants, one profile, `current` last.
pub fn make_bundle(dir: &Path, machines: usize, variant: &str) -> Digest {
    let bundle = BundleDir::new(dir);
    let mut manifest = Manifest::new();
    let add = |m: &mut Manifest, route: &str, bytes: &[u8], ct: &str| {
        let (digest, _) = bundle.store_object(bytes).unwrap();
        m.routes.insert(
            route.to_owned(),
            RouteEntry {
                object: digest,
                size: bytes.len() as u64,
                content_type: ct.to_owned(),
            },
        );
        digest
    };
    add(
        &mut manifest,
        "boot.ipxe",
        b"#!ipxe\nchain machines/by-name/x.ipxe\n",
        "text/plain; charset=utf-8",
    );
    let images = format!("{{\"images\":[],\"variant\":\"{variant}\"}}\n");
    let image_manifest = add(
        &mut manifest,
        "images/p.json",
        images.as_bytes(),
        "application/json",
    );
    manifest
        .profiles
        .insert("p".into(), ProfileEntry { image_manifest });
    for i in 0..machines {
        let name = format!("node-{i:03}");
        let route = format!("machines/by-name/{name}.ipxe");
        let text = format!("#!ipxe\necho {name} {variant}\n");
        add(
            &mut manifest,
            &route,
            text.as_bytes(),
            "text/plain; charset=utf-8",
        );
        manifest.machines.insert(
            name,
            MachineEntry {
                profile: "p".into(),
                macs: vec![],
                routes: vec![route],
            },
        );
    }
    let (digest, _) = bundle.store_object(&manifest.to_canonical()).unwrap();
    bundle.write_pointer(&digest).unwrap();
    digest
}

/// Counts requests by kind and can fail every put after the first `fail_after`.
#[derive(Debug)]
pub struct Counting {
    pub inner: Arc<dyn ObjectStore>,
    pub puts: AtomicUsize,
    pub gets: AtomicUsize,
    pub lists: AtomicUsize,
    pub deletes: AtomicUsize,
    pub multiparts: AtomicUsize,
    /// Puts allowed before every further put fails (a crash); `usize::MAX` = never.
    pub fail_after: AtomicUsize,
    /// Added to every put, like a network round trip.
    pub put_delay_ms: AtomicUsize,
}

impl Counting {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            puts: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
            lists: AtomicUsize::new(0),
            deletes: AtomicUsize::new(0),
            multiparts: AtomicUsize::new(0),
            fail_after: AtomicUsize::new(usize::MAX),
            put_delay_ms: AtomicUsize::new(0),
        })
    }

    pub fn reset(&self) {
        for c in [
            &self.puts,
            &self.gets,
            &self.lists,
            &self.deletes,
            &self.multiparts,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }

    pub fn count(c: &AtomicUsize) -> usize {
        c.load(Ordering::SeqCst)
    }
}

impl fmt::Display for Counting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Counting {
    async fn put_opts(
        &self,
        location: &Key,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let n = self.puts.fetch_add(1, Ordering::SeqCst);
        let delay = self.put_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay as u64)).await;
        }
        if n >= self.fail_after.load(Ordering::SeqCst) {
            return Err(object_store::Error::Generic {
                store: "Counting",
                source: "injected crash".into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
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
        self.inner.get_opts(location, options).await
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

/// A target whose store is wrapped in [`Counting`], keeping the target's other settings.
pub fn counted(target: &Target) -> (Target, Arc<Counting>) {
    let counting = Counting::new(target.store.clone());
    let mut wrapped = target.clone();
    wrapped.store = counting.clone();
    (wrapped, counting)
}

pub async fn publish(source: &Path, target: &Target) -> Result<PublishReport, PublishError> {
    publish_with(source, target, &PublishOptions::default()).await
}

pub async fn publish_with(
    source: &Path,
    target: &Target,
    options: &PublishOptions,
) -> Result<PublishReport, PublishError> {
    let plan = publish::plan_publish(source, target).await?;
    publish::execute_publish(&plan, target, options, &Progress::quiet()).await
}

/// What a server would do: read `current`, the manifest, and every object it routes to,
/// each verified. Returns the manifest digest.
pub async fn read_complete(target: &Target) -> Digest {
    let (digest, manifest) = publish::load_current(target).await.unwrap();
    for d in release::reachable_from(&digest, &manifest) {
        release::get_object(target, &d, u64::MAX).await.unwrap();
    }
    digest
}
