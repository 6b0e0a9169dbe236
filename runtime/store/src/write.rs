//! Writing to a store: create-only objects, and the conditional swap of `current`.

use std::time::Duration;

use bytes::Bytes;
use netboot_bundle::{
    CACHE_IMMUTABLE, CACHE_NO_CACHE, CONTENT_TYPE_JSON, CURRENT, Digest, Pointer,
};
use object_store::{Attribute, Attributes, PutMode, PutOptions, PutPayload};

use crate::read::{Observed, read_pointer};
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
pub async fn put_object(
    location: &Location,
    digest: &Digest,
    bytes: Bytes,
    content_type: &str,
    mode: PutMode,
) -> Result<bool, StoreError> {
    let key = location.key(&netboot_bundle::object_path(digest));
    match location
        .store
        .put_opts(
            &key,
            PutPayload::from(bytes),
            object_options(location, mode, content_type),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(StoreError::store(&location.label, e)),
    }
}

/// Replaces `current` with `new` if it still is what `observed` saw; otherwise nothing is
/// written and the error is [`StoreError::Conflict`].
///
/// Stores with conditional updates (S3, GCS, memory) get `PutMode::Update` with the
/// version read at the start, or `PutMode::Create` if there was no pointer. A local
/// directory has no conditional update in `object_store`, so there the compare and the
/// write happen under an exclusive `flock` on `.current.lock`, which every netbootc process
/// takes for the swap (advisory: one host, local disks), and the write is the bundle
/// format's durable one ([`netboot_bundle::BundleDir::write_pointer`]).
pub async fn write_pointer(
    location: &Location,
    observed: &Observed,
    new: &Pointer,
) -> Result<(), StoreError> {
    if let Some(dir) = &location.local {
        let _lock = lock_local(dir.root()).await?;
        let now = read_pointer(location).await?;
        if now.bytes != observed.bytes {
            return Err(conflict(location, observed, &now));
        }
        let (dir, new) = (dir.clone(), new.clone());
        return tokio::task::spawn_blocking(move || dir.write_pointer(&new))
            .await
            .map_err(|e| StoreError::io(CURRENT, std::io::Error::other(e)))?
            .map_err(StoreError::Bundle);
    }
    let bytes = Bytes::from(new.to_canonical());
    let mode = match (&observed.pointer, &observed.version) {
        (None, _) => PutMode::Create,
        (Some(_), Some(v)) if v.e_tag.is_some() || v.version.is_some() => {
            PutMode::Update(v.clone())
        }
        (Some(_), _) => {
            return Err(StoreError::Unsupported(format!(
                "{} returned no ETag or version for `current`, so it cannot be replaced conditionally",
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
    let result = location
        .store
        .put_opts(
            &location.key(CURRENT),
            PutPayload::from(bytes.clone()),
            options,
        )
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(
            object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. },
        ) => {
            // A retried request whose first attempt landed also ends here: if `current`
            // now holds exactly our bytes (they name our own record), we won.
            let now = read_pointer(location).await?;
            if now.bytes.as_deref() == Some(&bytes[..]) {
                Ok(())
            } else {
                Err(conflict(location, observed, &now))
            }
        }
        Err(object_store::Error::NotFound { .. }) => {
            let now = read_pointer(location).await?;
            Err(conflict(location, observed, &now))
        }
        Err(e) => Err(StoreError::store(&location.label, e)),
    }
}

/// The error for `current` having moved from `observed` to `now`.
pub(crate) fn conflict(location: &Location, observed: &Observed, now: &Observed) -> StoreError {
    StoreError::Conflict {
        location: location.label.clone(),
        expected: observed.manifest(),
        found: now.manifest(),
    }
}

pub(crate) async fn lock_local(root: &std::path::Path) -> Result<std::fs::File, StoreError> {
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
