//! The history of a store: release records chained from `current`.
//!
//! Each pointer write also stores a [`Record`] (an ordinary content-addressed object)
//! naming the manifest and the record of the release it replaced, and `current` names the
//! record in its `release` field, so the history is a hash chain walked from `current`:
//! newest first, tamper-evident, and written with the same create-only puts as every other
//! object. A pointer without `release` (written by `netbootc build`, or by hand) is
//! *adopted* on the next write: an `adopted` record is stored for it, so rolling back to it
//! works too.

use std::collections::HashSet;
use std::time::SystemTime;

use bytes::Bytes;
use netboot_bundle::{CONTENT_TYPE_JSON, Digest, Pointer, RECORD_FORMAT, Record};
use object_store::PutMode;

use crate::read::{Observed, read_record};
use crate::write::put_object;
use crate::{Location, StoreError};

/// A record of `action` (`publish`, `rollback`) for `manifest`, stamped now, by
/// `$NETBOOTC_PUBLISHER` (else `$USER@$HOSTNAME`), with this library's version.
pub fn new_record(manifest: Digest, previous: Option<Digest>, action: &str) -> Record {
    Record {
        format: RECORD_FORMAT.to_owned(),
        manifest,
        previous,
        action: action.to_owned(),
        published_at: Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string()),
        published_by: publisher(),
        tool: Some(format!("netbootc {}", env!("CARGO_PKG_VERSION"))),
    }
}

pub(crate) fn publisher() -> Option<String> {
    if let Ok(who) = std::env::var("NETBOOTC_PUBLISHER") {
        return Some(who);
    }
    let user = std::env::var("USER").ok()?;
    Some(match std::env::var("HOSTNAME") {
        Ok(host) if !host.is_empty() => format!("{user}@{host}"),
        _ => user,
    })
}

/// Stores a release record (create-only) and returns its digest.
pub async fn put_record(location: &Location, record: &Record) -> Result<Digest, StoreError> {
    let bytes = record.to_canonical();
    let digest = Digest::of(&bytes);
    put_object(
        location,
        &digest,
        Bytes::from(bytes),
        CONTENT_TYPE_JSON,
        PutMode::Create,
    )
    .await?;
    Ok(digest)
}

/// One release in the history, newest first. `record` is `None` only for a pointer that
/// has no record yet (then it is the only entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub record: Option<Digest>,
    pub manifest: Digest,
    pub detail: Option<Record>,
}

/// Where the chain of records could not be followed: a record missing or unreadable.
/// The releases before it in time are not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub record: Digest,
    pub reason: String,
}

/// The history as far as it can be read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub entries: Vec<Entry>,
    /// Set when a record could not be read: `entries` stop there.
    pub broken: Option<Broken>,
}

/// Walks the history from `current`, newest first, at most `limit` entries. A record that
/// is missing or unreadable ends the walk and is reported in [`History::broken`] rather
/// than failing: the releases after it are still there to list and roll back to. An error
/// here means the store itself could not be asked.
pub async fn history(
    location: &Location,
    pointer: Option<&Pointer>,
    limit: Option<usize>,
) -> Result<History, StoreError> {
    let mut out = History::default();
    let Some(pointer) = pointer else {
        return Ok(out);
    };
    let Some(mut next) = pointer.release else {
        out.entries.push(Entry {
            record: None,
            manifest: pointer.manifest,
            detail: None,
        });
        return Ok(out);
    };
    let mut seen = HashSet::new();
    loop {
        if limit.is_some_and(|l| out.entries.len() >= l) || !seen.insert(next) {
            break;
        }
        let record = match read_record(location, &next).await {
            Ok(record) => record,
            Err(e @ (StoreError::Store { .. } | StoreError::Io { .. })) => return Err(e),
            Err(e) => {
                // `current` still names its own manifest, whatever its record says.
                if out.entries.is_empty() {
                    out.entries.push(Entry {
                        record: Some(next),
                        manifest: pointer.manifest,
                        detail: None,
                    });
                }
                out.broken = Some(Broken {
                    record: next,
                    reason: e.to_string(),
                });
                break;
            }
        };
        let previous = record.previous;
        out.entries.push(Entry {
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

/// The history of what `current` names now, newest first, at most `limit` entries.
pub async fn read_history(
    location: &Location,
    limit: Option<usize>,
) -> Result<History, StoreError> {
    let observed = crate::read::read_pointer(location).await?;
    history(location, observed.pointer.as_ref(), limit).await
}

/// The record the next release should name as `previous`: the current one's, storing an
/// `adopted` record first when `current` has none (only its digest when `dry_run`).
pub async fn previous_record(
    location: &Location,
    observed: &Observed,
    dry_run: bool,
) -> Result<Option<Digest>, StoreError> {
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
                put_record(location, &record).await.map(Some)
            }
        }
    }
}

/// Stores a record of `action` for `manifest` and swaps `current` to name both,
/// conditionally on `observed`. Returns the record's digest and the previous one's.
pub(crate) async fn commit(
    location: &Location,
    observed: &Observed,
    manifest: Digest,
    action: &str,
) -> Result<(Digest, Option<Digest>), StoreError> {
    let previous = previous_record(location, observed, false).await?;
    let record = put_record(location, &new_record(manifest, previous, action)).await?;
    crate::write::write_pointer(location, observed, &Pointer::with_release(manifest, record))
        .await?;
    Ok((record, previous))
}
