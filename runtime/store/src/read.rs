//! Reading a bundle from a store: `current` (with the version a conditional write needs,
//! or conditionally on the last ETag), verified objects, the documents, the object listing,
//! and verified downloads into a local bundle directory.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use netboot_bundle::{
    BundleDir, CURRENT, Digest, FormatError, Manifest, OBJECTS_DIR, Pointer, Record, object_path,
    temporary_sibling,
};
use object_store::{GetOptions, ObjectStoreExt, UpdateVersion};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::{Location, StoreError};

/// `current` as read at the start of a command: what it said and the version to make the
/// final write conditional on.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub pointer: Option<Pointer>,
    pub bytes: Option<Bytes>,
    pub version: Option<UpdateVersion>,
}

impl Observed {
    /// The manifest `current` named, if there was one.
    pub fn manifest(&self) -> Option<Digest> {
        self.pointer.as_ref().map(|p| p.manifest)
    }
}

/// Reads `current` (`Observed::pointer` is `None` if the store has no release yet).
pub async fn read_pointer(location: &Location) -> Result<Observed, StoreError> {
    match read_pointer_since(location, None).await? {
        Polled::Changed(observed) => Ok(observed),
        // Only a conditional read can be answered "not modified".
        Polled::Unchanged => Err(StoreError::Unsupported(format!(
            "{}: the store answered an unconditional read of `{CURRENT}` with 304",
            location.label
        ))),
    }
}

/// The answer to a conditional read of `current`.
#[derive(Debug, Clone)]
pub enum Polled {
    /// Its ETag is still the one given.
    Unchanged,
    Changed(Observed),
}

/// Reads `current` unless its ETag is still `etag` (a conditional GET, so a server that
/// polls a bucket moves a few hundred bytes only when a release was published).
pub async fn read_pointer_since(
    location: &Location,
    etag: Option<&str>,
) -> Result<Polled, StoreError> {
    let found = match read_document(location, CURRENT, Pointer::MAX_BYTES, etag).await? {
        Document::Unchanged => return Ok(Polled::Unchanged),
        Document::Missing => return Ok(Polled::Changed(Observed::default())),
        Document::Found(found) => found,
    };
    let pointer = Pointer::parse(&found.bytes).map_err(|error| StoreError::Malformed {
        what: format!("{}/{CURRENT}", location.label),
        error,
    })?;
    Ok(Polled::Changed(Observed {
        pointer: Some(pointer),
        bytes: Some(found.bytes),
        version: Some(found.version),
    }))
}

/// One of a bundle's small mutable documents (`current`, `fence`) as read: its bytes and
/// the version a conditional write is made on.
#[derive(Debug, Clone)]
pub(crate) struct Versioned {
    pub bytes: Bytes,
    pub version: UpdateVersion,
}

/// The answer to a (conditional) read of a small document.
#[derive(Debug, Clone)]
pub(crate) enum Document {
    Missing,
    /// Its ETag is still the one given.
    Unchanged,
    Found(Versioned),
}

/// Reads `rel` (at most `limit` bytes) unless its ETag is still `etag`.
pub(crate) async fn read_document(
    location: &Location,
    rel: &str,
    limit: u64,
    etag: Option<&str>,
) -> Result<Document, StoreError> {
    let options = GetOptions {
        if_none_match: etag.map(str::to_owned),
        ..GetOptions::default()
    };
    let result = match location.store.get_opts(&location.key(rel), options).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return Ok(Document::Missing),
        Err(object_store::Error::NotModified { .. }) => return Ok(Document::Unchanged),
        Err(e) => return Err(StoreError::store(&location.label, e)),
    };
    if result.meta.size > limit {
        return Err(StoreError::Malformed {
            what: format!("{}/{rel}", location.label),
            error: FormatError::TooLarge { limit },
        });
    }
    let version = UpdateVersion {
        e_tag: result.meta.e_tag.clone(),
        version: result.meta.version.clone(),
    };
    let bytes = result
        .bytes()
        .await
        .map_err(|e| StoreError::store(&location.label, e))?;
    Ok(Document::Found(Versioned { bytes, version }))
}

/// Reads an object and checks that its bytes hash to its name.
pub async fn get_object(
    location: &Location,
    digest: &Digest,
    limit: u64,
) -> Result<Bytes, StoreError> {
    let key = location.key(&object_path(digest));
    let what = || format!("{}/{}", location.label, object_path(digest));
    let result = match location.store.get(&key).await {
        Ok(r) => r,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(StoreError::MissingObject {
                location: location.label.clone(),
                digest: *digest,
            });
        }
        Err(e) => return Err(StoreError::store(&location.label, e)),
    };
    if result.meta.size > limit {
        return Err(StoreError::Malformed {
            what: what(),
            error: FormatError::TooLarge { limit },
        });
    }
    let bytes = result
        .bytes()
        .await
        .map_err(|e| StoreError::store(&location.label, e))?;
    let actual = Digest::of(&bytes);
    if actual != *digest {
        return Err(StoreError::Corrupt {
            what: what(),
            actual,
        });
    }
    Ok(bytes)
}

/// Reads, verifies and checks a manifest.
pub async fn read_manifest(location: &Location, digest: &Digest) -> Result<Manifest, StoreError> {
    let bytes = get_object(location, digest, Manifest::MAX_BYTES).await?;
    Manifest::parse(&bytes).map_err(|error| StoreError::Malformed {
        what: format!("manifest {digest}"),
        error,
    })
}

/// Reads, verifies and checks a release record.
pub async fn read_record(location: &Location, digest: &Digest) -> Result<Record, StoreError> {
    let bytes = get_object(location, digest, Record::MAX_BYTES).await?;
    Record::parse(&bytes).map_err(|error| StoreError::Malformed {
        what: format!("release record {digest}"),
        error,
    })
}

/// The release a location serves: its manifest digest and manifest.
pub async fn read_current(location: &Location) -> Result<(Digest, Manifest), StoreError> {
    let Some(pointer) = read_pointer(location).await?.pointer else {
        return Err(StoreError::NoRelease {
            location: location.label.clone(),
            hint: "build or publish one first",
        });
    };
    let manifest = read_manifest(location, &pointer.manifest).await?;
    Ok((pointer.manifest, manifest))
}

/// An object as listed.
#[derive(Debug, Clone, Copy)]
pub struct Listed {
    pub size: u64,
    /// Seconds since the Unix epoch.
    pub modified: i64,
}

/// Lists `objects/sha256/` (one paged LIST). Keys that are not 64-hex names are skipped
/// and counted.
pub async fn list_objects(
    location: &Location,
) -> Result<(BTreeMap<Digest, Listed>, usize), StoreError> {
    let prefix = location.key(OBJECTS_DIR);
    let mut stream = location.store.list(Some(&prefix));
    let mut out = BTreeMap::new();
    let mut other = 0;
    while let Some(meta) = stream
        .try_next()
        .await
        .map_err(|e| StoreError::store(&location.label, e))?
    {
        let name = meta.location.filename().unwrap_or_default();
        let parent_ok = meta
            .location
            .prefix_match(&prefix)
            .is_some_and(|mut rest| rest.next().is_some() && rest.next().is_none());
        match Digest::from_hex(name) {
            Ok(digest) if parent_ok && name.bytes().all(|b| !b.is_ascii_uppercase()) => {
                out.insert(
                    digest,
                    Listed {
                        size: meta.size,
                        modified: meta.last_modified.timestamp(),
                    },
                );
            }
            _ => other += 1,
        }
    }
    Ok((out, other))
}

/// Downloads object `digest` into the bundle directory `dir`: streamed, hashed while
/// written to a temporary file, and renamed into place only if it matches its name (and
/// `size`, when known). At most `size`, or `limit` when the size is unknown, is accepted.
pub async fn download_object(
    location: &Location,
    digest: &Digest,
    size: Option<u64>,
    limit: u64,
    dir: &BundleDir,
) -> Result<(), String> {
    let limit = size.unwrap_or(limit);
    let result = location
        .store
        .get(&location.key(&object_path(digest)))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(expected) = size.filter(|&s| s != result.meta.size) {
        return Err(format!(
            "{} bytes in the store, the manifest says {expected}",
            result.meta.size
        ));
    }
    if result.meta.size > limit {
        return Err(format!(
            "{} bytes in the store, over the {limit}-byte limit",
            result.meta.size
        ));
    }
    let path = dir.object_file(digest);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| format!("cache: {e}"))?;
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
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    outcome
}
