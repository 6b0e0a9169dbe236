//! Pointing `current` back at an earlier release of the history.

use std::collections::HashSet;

use netboot_bundle::Digest;

use crate::fence::{self, Operation};
use crate::history::{Entry, commit, history};
use crate::read::{Observed, list_objects, read_manifest, read_pointer};
use crate::{Location, StoreError};

#[derive(Debug)]
pub struct RollbackPlan {
    pub observed: Observed,
    pub from: Digest,
    pub to: Digest,
    /// The history entry rolled back to.
    pub entry: Entry,
}

/// Picks the release to return to (`to`: a manifest or record digest, or a unique hex
/// prefix of at least 6 digits; by default the release before the current one) and checks
/// every object it needs is still stored.
pub async fn plan_rollback(
    location: &Location,
    to: Option<&str>,
) -> Result<RollbackPlan, StoreError> {
    let observed = read_pointer(location).await?;
    let Some(current) = observed.pointer.clone() else {
        return Err(StoreError::NoRelease {
            location: location.label.clone(),
            hint: "publish one first",
        });
    };
    let history = history(location, Some(&current), None).await?;
    // Past a broken record the chain is unknown: say so with any "not found".
    let beyond = history.broken.as_ref().map_or_else(String::new, |b| {
        format!(
            "; the history stops at record {}, which cannot be read ({})",
            b.record, b.reason
        )
    });
    let entry = match to {
        None => history
            .entries
            .iter()
            .skip(1)
            .find(|e| e.manifest != current.manifest)
            .cloned()
            .ok_or_else(|| {
                StoreError::NoSuchRelease(format!(
                    "{} has no earlier release to roll back to{beyond}",
                    location.label
                ))
            })?,
        Some(query) => find_release(&history.entries, query).map_err(|e| match e {
            StoreError::NoSuchRelease(message) => {
                StoreError::NoSuchRelease(format!("{message}{beyond}"))
            }
            other => other,
        })?,
    };
    if entry.manifest == current.manifest {
        return Err(StoreError::NoSuchRelease(format!(
            "{} already serves {}",
            location.label, entry.manifest
        )));
    }
    let manifest = match read_manifest(location, &entry.manifest).await {
        Err(StoreError::MissingObject { .. }) => {
            return Err(StoreError::NoSuchRelease(format!(
                "release {} lacks its manifest, probably removed by `netbootc gc`; publish it again from a build instead",
                entry.manifest
            )));
        }
        other => other?,
    };
    check_complete(location, &entry.manifest, &manifest).await?;
    Ok(RollbackPlan {
        from: current.manifest,
        to: entry.manifest,
        observed,
        entry,
    })
}

fn find_release(history: &[Entry], query: &str) -> Result<Entry, StoreError> {
    let hex = query
        .strip_prefix("sha256:")
        .unwrap_or(query)
        .to_ascii_lowercase();
    if hex.len() < 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::NoSuchRelease(format!(
            "`{query}` is not a digest or a hex prefix of at least 6 digits"
        )));
    }
    let matches: Vec<&Entry> = history
        .iter()
        .filter(|e| {
            e.manifest.hex().starts_with(&hex)
                || e.record.is_some_and(|r| r.hex().starts_with(&hex))
        })
        .collect();
    let manifests: HashSet<Digest> = matches.iter().map(|e| e.manifest).collect();
    match (matches.first(), manifests.len()) {
        (Some(e), 1) => Ok((*e).clone()),
        (None, _) => Err(StoreError::NoSuchRelease(format!(
            "no release in the history matches `{query}` (see `netbootc releases`)"
        ))),
        _ => Err(StoreError::NoSuchRelease(format!(
            "`{query}` matches {} releases; give more digits",
            manifests.len()
        ))),
    }
}

/// Inside the store's [`fence`](crate::fence): checks that every object of the release is
/// still stored (a gc may have run while the plan waited for a confirmation), stores a
/// `rollback` record and swaps `current` conditionally. Returns the record.
pub async fn execute_rollback(
    plan: &RollbackPlan,
    location: &Location,
) -> Result<Digest, StoreError> {
    fence::within(location, Operation::Rollback, async {
        let manifest = read_manifest(location, &plan.to).await?;
        check_complete(location, &plan.to, &manifest).await?;
        commit(location, &plan.observed, plan.to, "rollback")
            .await
            .map(|(record, _)| record)
    })
    .await
}

/// Every object of release `digest` is stored, or the error says how many are not.
async fn check_complete(
    location: &Location,
    digest: &Digest,
    manifest: &netboot_bundle::Manifest,
) -> Result<(), StoreError> {
    let (listed, _) = list_objects(location).await?;
    let missing: Vec<Digest> = std::iter::once(*digest)
        .chain(manifest.referenced().into_keys())
        .filter(|d| !listed.contains_key(d))
        .collect();
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(StoreError::NoSuchRelease(format!(
            "release {digest} lacks {} object(s) (e.g. {first}), probably removed by `netbootc gc`; publish it again from a build instead",
            missing.len()
        ))),
    }
}
