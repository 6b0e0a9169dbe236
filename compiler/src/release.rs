//! Releases in a store: reading and conditionally replacing `current`, release records
//! (the history), and verified reads of objects.
//!
//! A *release record* is a small canonical-JSON object stored like any other object
//! (`objects/sha256/<hex>`, so immutable and content-addressed):
//!
//! ```text
//! {"action":"publish","format":"netboot-release/1","manifest":"sha256:…",
//!  "previous":"sha256:<record of the release it replaced>",
//!  "published_at":"2026-11-26T11:29:01Z","published_by":"ci@runner","tool":"netbootc 0.1.0"}
//! ```
//!
//! `current` keeps its fields (`format`, `manifest`) and gains `release`, the record's
//! digest, so the history is a hash chain walked from `current`: newest first, tamper-evident,
//! and written with the same create-only puts as every other object. A pointer without
//! `release` (written by `netbootc build`, or by hand) is *adopted* on the next write: an
//! `adopted` record is stored for it, so rolling back to it works too.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::TryStreamExt;
use netboot_bundle::{CURRENT, Digest, FORMAT, Manifest, OBJECTS_DIR, Pointer, canonical};
use object_store::{
    Attribute, Attributes, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion,
};
use serde::{Deserialize, Serialize};

use crate::publish::PublishError;
use crate::store::Target;

/// The format tag of release records.
pub const RECORD_FORMAT: &str = "netboot-release/1";
const POINTER_LIMIT: u64 = 64 * 1024;
const RECORD_LIMIT: u64 = 64 * 1024;
const MANIFEST_LIMIT: u64 = 256 * 1024 * 1024;
/// How long a publisher waits for another one's lock on a local store's pointer.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub format: String,
    /// The manifest this release serves.
    pub manifest: Digest,
    /// The record of the release this one replaced; absent for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
    /// `publish`, `rollback` or `adopted` (a pointer found without a record).
    pub action: String,
    /// RFC 3339, UTC; absent for adopted releases (their time is unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// `$NETBOOTC_PUBLISHER`, else `$USER@$HOSTNAME` when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

impl Record {
    pub fn new(manifest: Digest, previous: Option<Digest>, action: &str) -> Self {
        Self {
            format: RECORD_FORMAT.to_owned(),
            manifest,
            previous,
            action: action.to_owned(),
            published_at: Some(rfc3339(SystemTime::now())),
            published_by: publisher(),
            tool: Some(format!("netbootc {}", env!("CARGO_PKG_VERSION"))),
        }
    }

    /// The record stored for a pointer that had none.
    pub fn adopted(manifest: Digest) -> Self {
        Self {
            format: RECORD_FORMAT.to_owned(),
            manifest,
            previous: None,
            action: "adopted".to_owned(),
            published_at: None,
            published_by: None,
            tool: None,
        }
    }

    pub fn to_canonical(&self) -> Vec<u8> {
        canonical::to_vec(self).expect("a record always serialises")
    }
}

fn publisher() -> Option<String> {
    if let Ok(who) = std::env::var("NETBOOTC_PUBLISHER") {
        return Some(who);
    }
    let user = std::env::var("USER").ok()?;
    Some(match std::env::var("HOSTNAME") {
        Ok(host) if !host.is_empty() => format!("{user}@{host}"),
        _ => user,
    })
}

/// `current` as read at the start of a command: what it said and the version to make the
/// final write conditional on.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub pointer: Option<Pointer>,
    pub bytes: Option<Bytes>,
    pub version: Option<UpdateVersion>,
}

/// Reads `current` (`Observed::pointer` is `None` if the store has no release yet).
pub async fn read_pointer(target: &Target) -> Result<Observed, PublishError> {
    let key = target.key(CURRENT);
    let result = match target.store.get(&key).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return Ok(Observed::default()),
        Err(e) => return Err(PublishError::store(&target.label, e)),
    };
    if result.meta.size > POINTER_LIMIT {
        return Err(PublishError::Malformed {
            what: format!("{}/{CURRENT}", target.label),
            reason: format!("larger than {POINTER_LIMIT} bytes"),
        });
    }
    let version = UpdateVersion {
        e_tag: result.meta.e_tag.clone(),
        version: result.meta.version.clone(),
    };
    let bytes = result
        .bytes()
        .await
        .map_err(|e| PublishError::store(&target.label, e))?;
    let pointer = parse_pointer(target, &bytes)?;
    Ok(Observed {
        pointer: Some(pointer),
        bytes: Some(bytes),
        version: Some(version),
    })
}

fn parse_pointer(target: &Target, bytes: &[u8]) -> Result<Pointer, PublishError> {
    let what = || format!("{}/{CURRENT}", target.label);
    let pointer: Pointer = serde_json::from_slice(bytes).map_err(|e| PublishError::Malformed {
        what: what(),
        reason: e.to_string(),
    })?;
    if pointer.format != FORMAT {
        return Err(PublishError::Malformed {
            what: what(),
            reason: format!("format {:?} is not {FORMAT:?}", pointer.format),
        });
    }
    Ok(pointer)
}

fn pointer_options(target: &Target, mode: PutMode) -> PutOptions {
    let mut options = PutOptions {
        mode,
        ..Default::default()
    };
    if target.attributes {
        options.attributes = attributes(netboot_bundle::CACHE_NO_CACHE, "application/json");
    }
    options
}

pub fn attributes(cache_control: &str, content_type: &str) -> Attributes {
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::CacheControl, cache_control.to_owned().into());
    attributes.insert(Attribute::ContentType, content_type.to_owned().into());
    attributes
}

/// Replaces `current` with `new` if it still is what `observed` saw; otherwise nothing is
/// written and the error is [`PublishError::Conflict`].
///
/// Stores with conditional updates (S3, GCS, memory) get `PutMode::Update` with the
/// version read at the start, or `PutMode::Create` if there was no pointer. A local
/// directory has no conditional update in `object_store`, so there the compare and the
/// (atomic, rename-based) write happen under an exclusive `flock` on `.current.lock`,
/// which every netbootc process takes for the swap (advisory: one host, local disks).
pub async fn write_pointer(
    target: &Target,
    observed: &Observed,
    new: &Pointer,
) -> Result<(), PublishError> {
    let bytes = Bytes::from(new.to_canonical());
    let key = target.key(CURRENT);
    if let Some(root) = &target.local_root {
        let _lock = lock_local(root, &target.prefix).await?;
        let now = read_pointer(target).await?;
        if now.bytes != observed.bytes {
            return Err(conflict(target, observed, &now));
        }
        target
            .store
            .put_opts(
                &key,
                PutPayload::from(bytes),
                pointer_options(target, PutMode::Overwrite),
            )
            .await
            .map_err(|e| PublishError::store(&target.label, e))?;
        return Ok(());
    }
    let mode = match (&observed.pointer, &observed.version) {
        (None, _) => PutMode::Create,
        (Some(_), Some(v)) if v.e_tag.is_some() || v.version.is_some() => {
            PutMode::Update(v.clone())
        }
        (Some(_), _) => {
            return Err(PublishError::Unsupported(format!(
                "{} returned no ETag or version for `current`, so it cannot be replaced conditionally",
                target.label
            )));
        }
    };
    let result = target
        .store
        .put_opts(
            &key,
            PutPayload::from(bytes.clone()),
            pointer_options(target, mode),
        )
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(
            object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. },
        ) => {
            // A retried request whose first attempt landed also ends here: if `current`
            // now holds exactly our bytes (they name our own record), we won.
            let now = read_pointer(target).await?;
            if now.bytes.as_deref() == Some(&bytes[..]) {
                Ok(())
            } else {
                Err(conflict(target, observed, &now))
            }
        }
        Err(object_store::Error::NotFound { .. }) => {
            let now = read_pointer(target).await?;
            Err(conflict(target, observed, &now))
        }
        Err(e) => Err(PublishError::store(&target.label, e)),
    }
}

fn conflict(target: &Target, observed: &Observed, now: &Observed) -> PublishError {
    PublishError::Conflict {
        location: target.label.clone(),
        expected: observed.pointer.as_ref().map(|p| p.manifest),
        found: now.pointer.as_ref().map(|p| p.manifest),
    }
}

async fn lock_local(root: &std::path::Path, prefix: &str) -> Result<std::fs::File, PublishError> {
    let dir = if prefix.is_empty() {
        root.to_owned()
    } else {
        root.join(prefix)
    };
    std::fs::create_dir_all(&dir).map_err(|e| PublishError::io(&dir, e))?;
    let path = dir.join(".current.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| PublishError::io(&path, e))?;
    let started = std::time::Instant::now();
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(file),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                if started.elapsed() > LOCK_WAIT {
                    return Err(PublishError::io(
                        &path,
                        std::io::Error::other("another netbootc holds the lock"),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(PublishError::io(&path, e.into())),
        }
    }
}

/// Stores `bytes` as an object, create-only ("already exists" is success). Returns
/// whether it was newly written.
pub async fn put_small_object(
    target: &Target,
    digest: &Digest,
    bytes: Bytes,
    content_type: &str,
    mode: PutMode,
) -> Result<bool, PublishError> {
    let key = target.key(&netboot_bundle::object_path(digest));
    let mut options = PutOptions {
        mode,
        ..Default::default()
    };
    if target.attributes {
        options.attributes = attributes(netboot_bundle::CACHE_IMMUTABLE, content_type);
    }
    match target
        .store
        .put_opts(&key, PutPayload::from(bytes), options)
        .await
    {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(PublishError::store(&target.label, e)),
    }
}

/// Stores a release record (create-only) and returns its digest.
pub async fn put_record(target: &Target, record: &Record) -> Result<Digest, PublishError> {
    let bytes = record.to_canonical();
    let digest = Digest::of(&bytes);
    put_small_object(
        target,
        &digest,
        Bytes::from(bytes),
        "application/json",
        PutMode::Create,
    )
    .await?;
    Ok(digest)
}

/// Reads an object and checks that its bytes hash to its name.
pub async fn get_object(
    target: &Target,
    digest: &Digest,
    limit: u64,
) -> Result<Bytes, PublishError> {
    let key = target.key(&netboot_bundle::object_path(digest));
    let what = || format!("{}/{}", target.label, netboot_bundle::object_path(digest));
    let result = match target.store.get(&key).await {
        Ok(r) => r,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(PublishError::MissingObject {
                location: target.label.clone(),
                digest: *digest,
            });
        }
        Err(e) => return Err(PublishError::store(&target.label, e)),
    };
    if result.meta.size > limit {
        return Err(PublishError::Malformed {
            what: what(),
            reason: format!("larger than the {limit}-byte limit"),
        });
    }
    let bytes = result
        .bytes()
        .await
        .map_err(|e| PublishError::store(&target.label, e))?;
    let actual = Digest::of(&bytes);
    if actual != *digest {
        return Err(PublishError::Malformed {
            what: what(),
            reason: format!("content does not match its name (found {actual})"),
        });
    }
    Ok(bytes)
}

pub async fn read_manifest(target: &Target, digest: &Digest) -> Result<Manifest, PublishError> {
    let bytes = get_object(target, digest, MANIFEST_LIMIT).await?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| PublishError::Malformed {
            what: format!("manifest {digest}"),
            reason: e.to_string(),
        })?;
    if manifest.format != FORMAT {
        return Err(PublishError::Malformed {
            what: format!("manifest {digest}"),
            reason: format!("format {:?} is not {FORMAT:?}", manifest.format),
        });
    }
    Ok(manifest)
}

pub async fn read_record(target: &Target, digest: &Digest) -> Result<Record, PublishError> {
    let bytes = get_object(target, digest, RECORD_LIMIT).await?;
    let record: Record = serde_json::from_slice(&bytes).map_err(|e| PublishError::Malformed {
        what: format!("release record {digest}"),
        reason: e.to_string(),
    })?;
    if record.format != RECORD_FORMAT {
        return Err(PublishError::Malformed {
            what: format!("release record {digest}"),
            reason: format!("format {:?} is not {RECORD_FORMAT:?}", record.format),
        });
    }
    Ok(record)
}

/// One release in the history, newest first. `record` is `None` only for a pointer that
/// has no record yet (then it is the only entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub record: Option<Digest>,
    pub manifest: Digest,
    pub detail: Option<Record>,
}

/// Walks the history from `current`, newest first, at most `limit` entries.
pub async fn history(
    target: &Target,
    pointer: Option<&Pointer>,
    limit: Option<usize>,
) -> Result<Vec<Entry>, PublishError> {
    let Some(pointer) = pointer else {
        return Ok(Vec::new());
    };
    let Some(mut next) = pointer.release else {
        return Ok(vec![Entry {
            record: None,
            manifest: pointer.manifest,
            detail: None,
        }]);
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    loop {
        if limit.is_some_and(|l| out.len() >= l) || !seen.insert(next) {
            break;
        }
        let record = read_record(target, &next).await?;
        let previous = record.previous;
        out.push(Entry {
            record: Some(next),
            manifest: record.manifest,
            detail: Some(record),
        });
        match previous {
            Some(p) => next = p,
            None => break,
        }
    }
    Ok(out)
}

/// The record the next release should name as `previous`: the current one's, storing an
/// `adopted` record first when `current` has none.
pub async fn previous_record(
    target: &Target,
    observed: &Observed,
    dry_run: bool,
) -> Result<Option<Digest>, PublishError> {
    match &observed.pointer {
        None => Ok(None),
        Some(Pointer {
            release: Some(r), ..
        }) => Ok(Some(*r)),
        Some(p) => {
            let record = Record::adopted(p.manifest);
            if dry_run {
                Ok(Some(Digest::of(&record.to_canonical())))
            } else {
                put_record(target, &record).await.map(Some)
            }
        }
    }
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
    target: &Target,
) -> Result<(BTreeMap<Digest, Listed>, usize), PublishError> {
    let prefix = target.key(OBJECTS_DIR);
    let mut stream = target.store.list(Some(&prefix));
    let mut out = BTreeMap::new();
    let mut other = 0;
    while let Some(meta) = stream
        .try_next()
        .await
        .map_err(|e| PublishError::store(&target.label, e))?
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

/// Every object a manifest needs: itself, each route's object, each image manifest.
pub fn reachable_from(digest: &Digest, manifest: &Manifest) -> Vec<Digest> {
    let mut out = vec![*digest];
    out.extend(manifest.routes.values().map(|r| r.object));
    out.extend(manifest.profiles.values().map(|p| p.image_manifest));
    out
}

/// `2026-11-26T11:29:01Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    rfc3339_secs(secs)
}

pub fn rfc3339_secs(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339_secs(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_secs(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_secs(1_795_692_541), "2026-11-26T11:29:01Z");
    }

    #[test]
    fn records_are_canonical_and_optional_fields_vanish() {
        let r = Record::adopted(Digest::of(b"m"));
        let text = String::from_utf8(r.to_canonical()).unwrap();
        assert!(text.starts_with("{\"action\":\"adopted\",\"format\":\"netboot-release/1\""));
        assert!(!text.contains("previous"));
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }
}
