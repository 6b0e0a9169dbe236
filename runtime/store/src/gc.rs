//! Deleting objects no kept release can reach.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use netboot_bundle::{Digest, object_path};

use crate::fence::{self, Operation};
use crate::history::{Broken, Entry, History, history};
use crate::read::{Listed, Observed, list_objects, read_manifest, read_pointer};
use crate::write::{self, UNANSWERED_TRIES, conflict};
use crate::{Location, StoreError};

#[derive(Debug)]
pub struct GcPlan {
    pub observed: Observed,
    /// The releases whose objects are kept (newest first).
    pub kept: Vec<Entry>,
    pub history_len: usize,
    pub reachable: HashSet<Digest>,
    /// Unreachable and older than the grace period.
    pub delete: Vec<(Digest, Listed)>,
    /// Unreachable but modified within the grace period (kept this time).
    pub young: usize,
    pub listed: usize,
    /// The history could not be followed past this record: records before it in time are
    /// unknown to gc, so deleting with this plan may delete them (the CLI asks for
    /// `--force`).
    pub broken: Option<Broken>,
}

impl GcPlan {
    pub fn delete_bytes(&self) -> u64 {
        self.delete.iter().map(|(_, l)| l.size).sum()
    }
}

/// Computes what gc would delete at `now`. Every history record is kept, what `current`
/// names, and every object reachable from the newest `keep` releases.
pub async fn plan_gc(
    location: &Location,
    keep: usize,
    grace: Duration,
    now: SystemTime,
) -> Result<GcPlan, StoreError> {
    let observed = read_pointer(location).await?;
    let Some(pointer) = observed.pointer.clone() else {
        return Err(StoreError::NoRelease {
            location: location.label.clone(),
            hint: "there is nothing to collect against",
        });
    };
    let History { entries, broken } = history(location, Some(&pointer), None).await?;
    let mut reachable: HashSet<Digest> = entries.iter().filter_map(|e| e.record).collect();
    // The pointer's own record, even when it could not be read.
    reachable.extend(pointer.release);
    let kept: Vec<Entry> = entries.iter().take(keep.max(1)).cloned().collect();
    let mut manifests = HashSet::new();
    for entry in &kept {
        if manifests.insert(entry.manifest) {
            let manifest = read_manifest(location, &entry.manifest).await?;
            reachable.insert(entry.manifest);
            reachable.extend(manifest.referenced().into_keys());
        }
    }
    let (listed, _) = list_objects(location).await?;
    let cutoff = now
        .checked_sub(grace)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(i64::MIN, |d| d.as_secs() as i64);
    let mut plan = GcPlan {
        observed,
        kept,
        history_len: entries.len(),
        reachable,
        delete: Vec::new(),
        young: 0,
        listed: listed.len(),
        broken,
    };
    for (digest, l) in listed {
        if plan.reachable.contains(&digest) {
            continue;
        }
        if l.modified <= cutoff {
            plan.delete.push((digest, l));
        } else {
            plan.young += 1;
        }
    }
    Ok(plan)
}

/// Inside the store's [`fence`](crate::fence), alone (no publish or rollback is between
/// its check and its commit): deletes the planned objects, unless `current` changed since
/// the plan was made (then nothing is deleted). Returns how many were deleted.
pub async fn execute_gc(plan: &GcPlan, location: &Location) -> Result<usize, StoreError> {
    fence::within(location, Operation::Gc, delete_planned(plan, location)).await
}

async fn delete_planned(plan: &GcPlan, location: &Location) -> Result<usize, StoreError> {
    let now = read_pointer(location).await?;
    if now.bytes != plan.observed.bytes {
        return Err(conflict(location, &plan.observed, &now));
    }
    // A delete that got no answer is sent again with all the others (deleting twice is
    // harmless: "not found" counts as deleted), up to UNANSWERED_TRIES rounds.
    let mut round = 1;
    loop {
        let keys: Vec<object_store::Result<object_store::path::Path>> = plan
            .delete
            .iter()
            .map(|(d, _)| Ok(location.key(&object_path(d))))
            .collect();
        let mut results = location
            .store
            .delete_stream(futures::stream::iter(keys).boxed());
        let mut again = false;
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) if round < UNANSWERED_TRIES && write::unanswered(&e) => again = true,
                Err(e) => return Err(StoreError::store(&location.label, e)),
            }
        }
        if !again {
            return Ok(plan.delete.len());
        }
        round += 1;
    }
}
