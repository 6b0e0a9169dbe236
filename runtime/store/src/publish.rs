//! Publishing a built bundle directory to a store, in this order (so a crash at any point
//! leaves readers on the old, complete release, and of two racing publishers exactly one
//! wins):
//!
//! 1. read `current` and its version (ETag / generation);
//! 2. list `objects/sha256/` once;
//! 3. upload every missing object create-only (`PutMode::Create`; "already exists" is
//!    success) with `Cache-Control: public, max-age=31536000, immutable` and its
//!    Content-Type; objects above the multipart threshold are checked with HEAD first and
//!    go multipart (which cannot be conditional); the manifest goes last;
//! 4. enter the store's [fence](crate::fence) (no gc runs until this leaves) and verify
//!    with a second listing that nothing the release needs is missing;
//! 5. store a release record naming the manifest and the record it replaces;
//! 6. replace `current` conditionally on the version of step 1 (`PutMode::Update`, or
//!    `PutMode::Create` if there was none), `Cache-Control: no-cache`.
//!
//! An unchanged bundle uploads nothing and leaves `current` alone.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use netboot_bundle::{BundleDir, CONTENT_TYPE_JSON, Digest, object_path};
use object_store::{ObjectStoreExt, PutMode, PutMultipartOptions, WriteMultipart};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt;

use crate::fence::{self, Operation};
use crate::read::{Observed, list_objects, read_pointer};
use crate::write::{attributes, put_object};
use crate::{Location, StoreError};

/// Uploads in flight at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Tunables; the defaults are what the CLI uses.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub concurrency: usize,
    /// Objects larger than this go multipart.
    pub multipart_threshold: u64,
    /// Multipart part size (S3 needs at least 5 MiB except for the last part).
    pub part_size: usize,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            multipart_threshold: 64 * 1024 * 1024,
            part_size: 16 * 1024 * 1024,
        }
    }
}

/// What a publish tells its caller as it goes (a progress bar, log lines, or nothing).
pub trait Progress: Sync {
    /// The upload is about to start with this many objects.
    fn start(&self, _objects: u64) {}
    /// One more object of `bytes` bytes is in the store.
    fn uploaded(&self, _bytes: u64) {}
    /// Something worth a line of its own.
    fn note(&self, _line: &str) {}
    /// The upload is over (done or failed).
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}

/// One object of the local bundle.
#[derive(Debug, Clone)]
pub struct Needed {
    pub digest: Digest,
    pub size: u64,
    pub content_type: String,
    /// A route that serves it (for the plan), or `manifest`.
    pub label: String,
    pub path: PathBuf,
}

/// What a publish will do, computed without writing anything.
#[derive(Debug)]
pub struct PublishPlan {
    pub source: PathBuf,
    pub manifest: Digest,
    pub observed: Observed,
    /// Every object the release needs.
    pub needed: Vec<Needed>,
    /// Not in the store (the manifest last).
    pub upload: Vec<Needed>,
    /// In the store with the wrong size (overwritten with the right bytes).
    pub repair: Vec<Needed>,
    pub present: usize,
    pub present_bytes: u64,
    /// `current` will point elsewhere.
    pub changes_pointer: bool,
}

impl PublishPlan {
    pub fn upload_bytes(&self) -> u64 {
        self.upload.iter().chain(&self.repair).map(|n| n.size).sum()
    }

    /// Whether `current` has no record yet (publishing stores an `adopted` one for it).
    pub fn adopts(&self) -> bool {
        self.observed
            .pointer
            .as_ref()
            .is_some_and(|p| p.release.is_none())
    }
}

/// The outcome of [`execute_publish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    pub manifest: Digest,
    /// The new release record; `None` when `current` was left as it was.
    pub record: Option<Digest>,
    /// The manifest `current` named before.
    pub previous: Option<Digest>,
    pub previous_record: Option<Digest>,
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    /// Uploads the store answered with "already exists" (a racing publisher's).
    pub raced: usize,
    pub skipped: usize,
    pub skipped_bytes: u64,
}

/// Reads the local bundle's release and everything it needs, with sizes; the manifest
/// comes last.
fn local_release(source: &Path) -> Result<(Digest, Vec<Needed>), StoreError> {
    let dir = BundleDir::new(source);
    let Some((pointer, manifest)) = dir.open_current()? else {
        return Err(StoreError::NoRelease {
            location: source.display().to_string(),
            hint: "run `netbootc build` first",
        });
    };
    let mut needed = Vec::new();
    for (digest, referenced) in manifest.referenced() {
        if digest == pointer.manifest {
            continue;
        }
        let path = dir.object_file(&digest);
        let on_disk = std::fs::metadata(&path)
            .map_err(|e| StoreError::io(&path, e))?
            .len();
        if let Some(expected) = referenced.size.filter(|&size| size != on_disk) {
            return Err(StoreError::SourceSize {
                path,
                expected,
                actual: on_disk,
            });
        }
        needed.push(Needed {
            digest,
            size: on_disk,
            content_type: referenced.content_type,
            label: referenced.used_by,
            path,
        });
    }
    let path = dir.object_file(&pointer.manifest);
    needed.push(Needed {
        digest: pointer.manifest,
        size: std::fs::metadata(&path)
            .map_err(|e| StoreError::io(&path, e))?
            .len(),
        content_type: CONTENT_TYPE_JSON.to_owned(),
        label: "manifest".to_owned(),
        path,
    });
    Ok((pointer.manifest, needed))
}

/// Steps 1 and 2: read the pointer, list the objects, and work out what to upload.
pub async fn plan_publish(source: &Path, location: &Location) -> Result<PublishPlan, StoreError> {
    let (manifest, needed) = local_release(source)?;
    let observed = read_pointer(location).await?;
    let (listed, _) = list_objects(location).await?;
    let mut plan = PublishPlan {
        source: source.to_owned(),
        manifest,
        changes_pointer: observed.manifest() != Some(manifest),
        observed,
        needed: Vec::new(),
        upload: Vec::new(),
        repair: Vec::new(),
        present: 0,
        present_bytes: 0,
    };
    for n in &needed {
        match listed.get(&n.digest) {
            None => plan.upload.push(n.clone()),
            Some(l) if l.size != n.size => plan.repair.push(n.clone()),
            Some(_) => {
                plan.present += 1;
                plan.present_bytes += n.size;
            }
        }
    }
    plan.needed = needed;
    Ok(plan)
}

/// Steps 3 to 6; 4 to 6 inside the store's [`fence`](crate::fence), so no gc deletes
/// between the check and the commit.
pub async fn execute_publish(
    plan: &PublishPlan,
    location: &Location,
    options: &PublishOptions,
    progress: &dyn Progress,
) -> Result<PublishReport, StoreError> {
    let mut report = PublishReport {
        manifest: plan.manifest,
        record: None,
        previous: plan.observed.manifest(),
        previous_record: plan.observed.pointer.as_ref().and_then(|p| p.release),
        uploaded: 0,
        uploaded_bytes: 0,
        raced: 0,
        skipped: plan.present,
        skipped_bytes: plan.present_bytes,
    };
    let work: Vec<(&Needed, PutMode)> = plan
        .upload
        .iter()
        .map(|n| (n, PutMode::Create))
        .chain(plan.repair.iter().map(|n| (n, PutMode::Overwrite)))
        .collect();
    progress.start(work.len() as u64);
    for n in &plan.repair {
        progress.note(&format!(
            "  replacing {} in the store: wrong size (expected {} bytes)",
            n.digest, n.size
        ));
    }
    // Everything but the manifest, concurrently; then the manifest.
    let (last, rest): (Vec<_>, Vec<_>) = work
        .into_iter()
        .partition(|(n, _)| n.digest == plan.manifest);
    let concurrency = options.concurrency.max(1);
    for batch in [rest, last] {
        // The uploads as a list of futures first (not a closure over the stream), so the
        // whole publish is a `Send` future that callers can spawn.
        let uploads: Vec<_> = batch
            .into_iter()
            .map(|(n, mode)| async move {
                let created = upload_one(location, n, mode, options).await?;
                progress.uploaded(n.size);
                Ok::<_, StoreError>((created, n.size))
            })
            .collect();
        let results: Vec<(bool, u64)> = futures::stream::iter(uploads)
            .buffer_unordered(concurrency)
            .try_collect()
            .await
            .inspect_err(|_| progress.finish())?;
        for (created, size) in results {
            if created {
                report.uploaded += 1;
                report.uploaded_bytes += size;
            } else {
                report.raced += 1;
            }
        }
    }
    progress.finish();

    if !plan.changes_pointer && report.uploaded + report.raced == 0 {
        return Ok(report);
    }
    fence::within(location, Operation::Publish, async {
        // Verify: everything the release needs is in the store now. Also when nothing was
        // uploaded but the pointer is about to move: objects found at plan time may have
        // been deleted since (by a gc that ran before this entered the fence; none can run
        // until it leaves). An unchanged republish does none of this: one GET, one LIST.
        let (listed, _) = list_objects(location).await?;
        let missing: Vec<&Needed> = plan
            .needed
            .iter()
            .filter(|n| listed.get(&n.digest).is_none_or(|l| l.size != n.size))
            .collect();
        if let Some(first) = missing.first() {
            return Err(StoreError::Incomplete {
                location: location.label.clone(),
                missing: missing.len(),
                example: first.digest,
            });
        }
        if plan.changes_pointer {
            let (record, previous) =
                crate::history::commit(location, &plan.observed, plan.manifest, "publish").await?;
            report.record = Some(record);
            report.previous_record = previous;
        }
        Ok(report)
    })
    .await
}

/// Reads, verifies and uploads one object. `Ok(false)` if the store already had it.
async fn upload_one(
    location: &Location,
    n: &Needed,
    mode: PutMode,
    options: &PublishOptions,
) -> Result<bool, StoreError> {
    if n.size > options.multipart_threshold {
        return upload_multipart(location, n, mode, options).await;
    }
    let bytes = tokio::fs::read(&n.path)
        .await
        .map_err(|e| StoreError::io(&n.path, e))?;
    let actual = Digest::of(&bytes);
    if actual != n.digest {
        return Err(StoreError::CorruptSource {
            path: n.path.clone(),
            expected: n.digest,
            actual,
        });
    }
    put_object(
        location,
        &n.digest,
        Bytes::from(bytes),
        &n.content_type,
        mode,
    )
    .await
}

/// Multipart uploads cannot be create-only, so the object's absence is checked (HEAD)
/// right before; the bytes are hashed as they stream and the upload is aborted, leaving
/// nothing visible, if they do not match the name.
async fn upload_multipart(
    location: &Location,
    n: &Needed,
    mode: PutMode,
    options: &PublishOptions,
) -> Result<bool, StoreError> {
    let key = location.key(&object_path(&n.digest));
    let store_err = |e| StoreError::store(&location.label, e);
    match location.store.head(&key).await {
        Ok(meta) if meta.size == n.size => return Ok(false),
        Ok(_) if matches!(mode, PutMode::Create) => return Ok(false),
        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(store_err(e)),
    }
    let mut mp_options = PutMultipartOptions::default();
    if location.attributes {
        mp_options.attributes = attributes(netboot_bundle::CACHE_IMMUTABLE, &n.content_type);
    }
    let upload = location
        .store
        .put_multipart_opts(&key, mp_options)
        .await
        .map_err(store_err)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, options.part_size);
    let result = async {
        let mut file = tokio::fs::File::open(&n.path)
            .await
            .map_err(|e| StoreError::io(&n.path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let read = file
                .read(&mut buf)
                .await
                .map_err(|e| StoreError::io(&n.path, e))?;
            if read == 0 {
                break;
            }
            hasher.update(&buf[..read]);
            writer.wait_for_capacity(4).await.map_err(store_err)?;
            writer.write(&buf[..read]);
        }
        let actual = Digest::from_hasher(hasher);
        if actual != n.digest {
            return Err(StoreError::CorruptSource {
                path: n.path.clone(),
                expected: n.digest,
                actual,
            });
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            writer.finish().await.map_err(store_err)?;
            Ok(true)
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}
