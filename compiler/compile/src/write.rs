//! A [`Release`] → the output directory, through the bundle format's durable writer
//! ([`BundleDir`]): objects first (each via a temporary file and a rename, existing ones
//! kept), then `manifest.json` (a readable copy), then `current` last, after everything
//! before it is on disk, so an interrupted build leaves the previous release intact.
//! Provisioning files are written `0640` (they hold secrets), everything else `0644`
//! (both less what the umask takes).

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::Path;

use netboot_bundle::{BundleDir, Digest, OBJECTS_DIR, Pointer, Readers, write_atomic};
use rayon::prelude::*;

use crate::bundle::{Object, Release};
use crate::error::Error;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    pub new: usize,
    pub reused: usize,
    pub bytes: u64,
    pub removed: usize,
}

pub fn write(release: &Release, out: &Path, clean: bool) -> Result<WriteStats, Error> {
    let dir = BundleDir::new(out);
    fs::create_dir_all(out.join(OBJECTS_DIR)).map_err(Error::io(out.join(OBJECTS_DIR)))?;
    let objects: Vec<(&Digest, &Object)> = release.objects.iter().collect();
    // One listing of the objects directory (a few getdents calls) says which objects are
    // there: those are compared, the rest created directly.
    let present = listed_objects(&out.join(OBJECTS_DIR))?;
    // Provisioning files hold the secrets: no other local user reads them.
    let private = release.manifest.provisioning_objects();
    let readers = |digest: &Digest| {
        if private.contains(digest) {
            Readers::OwnerAndGroup
        } else {
            Readers::Everyone
        }
    };
    let created: Vec<bool> = objects
        .par_iter()
        .map(|(digest, object)| match object {
            Object::Bytes(bytes) if present.contains(*digest) => dir
                .keep_or_replace_object(digest, bytes, readers(digest))
                .map_err(Error::from),
            Object::Bytes(bytes) => dir
                .store_object_as(digest, bytes, readers(digest))
                .map_err(Error::from),
            Object::File(file) => {
                dir.store_file(digest, &file.path, file.size)
                    .map_err(|e| match e {
                        // The file was verified earlier in the build.
                        netboot_bundle::BundleError::DigestMismatch { path, actual, .. } => {
                            Error::Io {
                                path,
                                source: std::io::Error::other(format!(
                                    "changed during the build: expected {digest}, found {actual}"
                                )),
                            }
                        }
                        other => Error::from(other),
                    })
            }
        })
        .collect::<Result<_, _>>()?;
    let mut stats = WriteStats::default();
    for ((_, object), created) in objects.iter().zip(created) {
        stats.bytes += object.size();
        if created {
            stats.new += 1;
        } else {
            stats.reused += 1;
        }
    }
    let readable =
        serde_json::to_vec_pretty(&release.manifest).expect("a manifest always serialises");
    write_atomic(&out.join("manifest.json"), &readable, false)?;
    dir.write_pointer(&Pointer::new(release.digest))?;
    if clean {
        stats.removed = remove_unreferenced(&dir, &release.objects.keys().copied().collect())?;
    }
    Ok(stats)
}

/// The objects already in `objects` (by name; their bytes are checked when used).
fn listed_objects(objects: &Path) -> Result<HashSet<Digest>, Error> {
    let mut present = HashSet::new();
    for entry in fs::read_dir(objects).map_err(Error::io(objects))? {
        let entry = entry.map_err(Error::io(objects))?;
        if let Some(digest) = entry
            .file_name()
            .to_str()
            .and_then(|n| Digest::from_hex(n).ok())
        {
            present.insert(digest);
        }
    }
    Ok(present)
}

/// Deletes objects the new release does not reference, and temporary files a killed
/// writer left (in `objects/sha256/` and, from `current` and `manifest.json`, in the root).
/// Only files that look like ours are touched, and not those of a writer still running.
fn remove_unreferenced(dir: &BundleDir, keep: &BTreeSet<Digest>) -> Result<usize, Error> {
    let objects = dir.root().join(OBJECTS_DIR);
    let mut removed = 0;
    for folder in [objects.as_path(), dir.root()] {
        for entry in fs::read_dir(folder).map_err(Error::io(folder))? {
            let entry = entry.map_err(Error::io(folder))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stale = match Digest::from_hex(name) {
                Ok(digest) => folder == objects && !keep.contains(&digest),
                Err(_) => netboot_bundle::is_abandoned_temporary(name),
            };
            if stale && entry.file_type().is_ok_and(|t| t.is_file()) {
                fs::remove_file(entry.path()).map_err(Error::io(entry.path()))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}
