//! Writing to a store: create-only objects, and the conditional swap of its small mutable
//! documents (`current`, the fence).

use std::time::Duration;

use bytes::Bytes;
use netboot_bundle::{
    BundleDir, BundleError, CACHE_IMMUTABLE, CACHE_NO_CACHE, CONTENT_TYPE_JSON, CURRENT, Digest,
    Pointer,
};
use object_store::{Attribute, Attributes, PutMode, PutOptions, PutPayload};

use crate::read::{Document, Observed, Versioned, read_document, read_pointer};
use crate::{Location, StoreError};

/// How long a writer waits for another one's lock on a local store's pointer.
const LOCK_WAIT: Duration = Duration::from_secs(60);

pub(crate) fn attributes(cache_control: &str, content_type: &str) -> Attributes {
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::CacheControl, cache_control.to_owned().into());
    attributes.insert(Attribute::ContentType, content_type.to_owned().into());
    attributes
}

/// The options every object upload carries: its mode, and on stores that keep them,
/// `Cache-Control: immutable` and its Content-Type.
pub(crate) fn object_options(location: &Location, mode: PutMode, content_type: &str) -> PutOptions {
    let mut options = PutOptions {
        mode,
        ..Default::default()
    };
    if location.attributes {
        options.attributes = attributes(CACHE_IMMUTABLE, content_type);
    }
    options
}

/// Stores `bytes` as object `digest` (create-only unless `mode` says otherwise; "already
/// exists" is success). Returns whether it was newly written.
///
/// object_store does not retry a create-only put that was sent and got no answer (a reset
/// connection, a timeout): in general it is not idempotent. An object is, because its name
/// is its digest: if the first attempt landed, the second finds it ("already exists"). So
/// such failures are retried here, [`UNANSWERED_TRIES`] times in all.
pub async fn put_object(
    location: &Location,
    digest: &Digest,
    bytes: Bytes,
    content_type: &str,
    mode: PutMode,
) -> Result<bool, StoreError> {
    let key = location.key(&netboot_bundle::object_path(digest));
    let payload = PutPayload::from(bytes);
    let mut tries = 1;
    loop {
        let options = object_options(location, mode.clone(), content_type);
        match location
            .store
            .put_opts(&key, payload.clone(), options)
            .await
        {
            Ok(_) => return Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(false),
            Err(e) if tries < UNANSWERED_TRIES && unanswered(&e) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(200 * tries)).await;
            }
            Err(e) => return Err(StoreError::store(&location.label, e)),
        }
    }
}

/// Attempts at an object upload whose request got no answer.
pub const UNANSWERED_TRIES: u64 = 3;

/// Whether the request behind `error` was sent and got no answer (as opposed to an answer
/// with an error status, which object_store has already retried where that is safe).
pub(crate) fn unanswered(error: &object_store::Error) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(http) = e.downcast_ref::<HttpError>() {
            return matches!(
                http.kind(),
                HttpErrorKind::Request | HttpErrorKind::Interrupted | HttpErrorKind::Timeout
            );
        }
        source = e.source();
    }
    false
}

/// Replaces `current` with `new` if it still is what `observed` saw; otherwise nothing is
/// written and the error is [`StoreError::Conflict`] (see [`swap`]; on a local directory
/// the write is the bundle format's durable one, [`BundleDir::write_current`]).
pub async fn write_pointer(
    location: &Location,
    observed: &Observed,
    new: &Pointer,
) -> Result<(), StoreError> {
    let seen = observed
        .bytes
        .clone()
        .zip(observed.version.clone())
        .map(|(bytes, version)| Versioned { bytes, version });
    let bytes = Bytes::from(new.to_canonical());
    if swap(
        location,
        CURRENT,
        seen.as_ref(),
        bytes,
        BundleDir::write_current,
    )
    .await?
    {
        Ok(())
    } else {
        Err(conflict(location, observed, &read_pointer(location).await?))
    }
}

/// Replaces the small document `rel` with `new` if it still is `seen` (`None`: absent).
/// `Ok(false)`: it changed meanwhile, and nothing was written.
///
/// Stores with conditional updates (S3, GCS, memory) get `PutMode::Update` on the version
/// read, or `PutMode::Create`. A local directory has no conditional update in
/// `object_store`, so there the compare and the write happen under an exclusive `flock` on
/// `.current.lock`, which every netbootc process takes (advisory: one host, local disks),
/// and `commit` writes the bytes.
pub(crate) async fn swap(
    location: &Location,
    rel: &'static str,
    seen: Option<&Versioned>,
    new: Bytes,
    commit: fn(&BundleDir, &[u8]) -> Result<(), BundleError>,
) -> Result<bool, StoreError> {
    let now = || async {
        match read_document(location, rel, u64::MAX, None).await? {
            Document::Found(found) => Ok(Some(found.bytes)),
            _ => Ok::<_, StoreError>(None),
        }
    };
    if let Some(dir) = &location.local {
        let _lock = lock_local(dir.root()).await?;
        if now().await? != seen.map(|s| s.bytes.clone()) {
            return Ok(false);
        }
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || commit(&dir, &new))
            .await
            .map_err(|e| StoreError::io(rel, std::io::Error::other(e)))?
            .map_err(StoreError::Bundle)?;
        return Ok(true);
    }
    let mode = match seen {
        None => PutMode::Create,
        Some(s) if s.version.e_tag.is_some() || s.version.version.is_some() => {
            PutMode::Update(s.version.clone())
        }
        Some(_) => {
            return Err(StoreError::Unsupported(format!(
                "{} returned no ETag or version for `{rel}`, so it cannot be replaced conditionally",
                location.label
            )));
        }
    };
    let mut options = PutOptions {
        mode,
        ..Default::default()
    };
    if location.attributes {
        options.attributes = attributes(CACHE_NO_CACHE, CONTENT_TYPE_JSON);
    }
    let put = location
        .store
        .put_opts(&location.key(rel), PutPayload::from(new.clone()), options)
        .await;
    match put {
        Ok(_) => Ok(true),
        // A retried request whose first attempt landed also ends here: if the document
        // now holds exactly our bytes, the write went through.
        Err(
            object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. },
        ) => Ok(now().await?.as_deref() == Some(&new[..])),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        // No answer (a timeout, a reset once the retries ran out): the write may or may not
        // have landed, so the document itself says which.
        Err(source) => match now().await {
            Ok(doc) if doc.as_deref() == Some(&new[..]) => Ok(true),
            Ok(doc) if doc != seen.map(|s| s.bytes.clone()) => Ok(false),
            Ok(_) => Err(StoreError::WriteFailed {
                location: location.label.clone(),
                document: rel,
                source,
            }),
            Err(reread) => Err(StoreError::OutcomeUnknown {
                location: location.label.clone(),
                document: rel,
                source,
                reread: Box::new(reread),
            }),
        },
    }
}

/// The probe's key, beside `current`: written once, never read by servers or deleted.
pub const PROBE: &str = "conditional-probe";

/// Checks that the store refuses a create-only put of an object that exists. Every
/// guarantee between concurrent operations (`current`'s compare-and-swap, the fence) rests
/// on conditional puts, and some S3-compatible stores accept `If-None-Match` / `If-Match`
/// and ignore them. Such a store is refused unless the operator allowed it
/// ([`Location::allow_unconditional`]); a local directory uses a lock instead. One request
/// once the probe object exists (a refused create), two the first time.
pub(crate) async fn probe_conditional_puts(location: &Location) -> Result<(), StoreError> {
    if location.local.is_some() || location.allow_unconditional {
        return Ok(());
    }
    let key = location.key(PROBE);
    for attempt in 0..2 {
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let body = PutPayload::from_static(
            b"netbootc checks that a second create-only write of this object is refused\n",
        );
        match location.store.put_opts(&key, body, options).await {
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(()),
            // Absent until now (or the condition was ignored): the second create tells.
            Ok(_) if attempt == 0 => {}
            Ok(_) => break,
            Err(e) => return Err(StoreError::store(&location.label, e)),
        }
    }
    Err(StoreError::Unsupported(format!(
        "{}: the store accepted a create-only write of `{PROBE}` over the existing object: it ignores conditional writes (If-None-Match / If-Match), so two publishers, or a gc during a publish, could lose a release. Use a store that honours them (GCS, AWS S3, R2, MinIO), or pass --allow-unconditional-store if only one netbootc ever writes this store",
        location.label
    )))
}

/// The error for `current` having moved from `observed` to `now`.
pub(crate) fn conflict(location: &Location, observed: &Observed, now: &Observed) -> StoreError {
    StoreError::Conflict {
        location: location.label.clone(),
        expected: observed.manifest(),
        found: now.manifest(),
    }
}

async fn lock_local(root: &std::path::Path) -> Result<std::fs::File, StoreError> {
    std::fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
    let path = root.join(".current.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    let started = std::time::Instant::now();
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(file),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                if started.elapsed() > LOCK_WAIT {
                    return Err(StoreError::io(
                        &path,
                        std::io::Error::other("another netbootc holds the lock"),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(StoreError::io(&path, e.into())),
        }
    }
}
