use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::IoContext;
use crate::{BundleError, CURRENT, Digest, FORMAT, Manifest, Pointer, object_path};

/// The pointer is tiny; anything bigger is not a pointer.
const POINTER_LIMIT: u64 = 64 * 1024;
/// Manifests grow with the fleet (about 300 bytes a machine); 256 MiB is far past any fleet.
const MANIFEST_LIMIT: u64 = 256 * 1024 * 1024;

/// A bundle on disk: a root holding `current` and `objects/sha256/`.
#[derive(Debug, Clone)]
pub struct BundleDir {
    root: PathBuf,
}

impl BundleDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds (or would hold) the object named `digest`.
    pub fn object_file(&self, digest: &Digest) -> PathBuf {
        self.root.join(object_path(digest))
    }

    /// Reads `current`, or `None` if the bundle has no release yet.
    pub fn read_pointer(&self) -> Result<Option<Pointer>, BundleError> {
        let path = self.root.join(CURRENT);
        let bytes = match read_limited(&path, POINTER_LIMIT) {
            Ok(bytes) => bytes,
            Err(BundleError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let pointer: Pointer = parse_json(&path, &bytes)?;
        check_format(&path, &pointer.format)?;
        Ok(Some(pointer))
    }

    /// Reads the object named `digest` and checks that its bytes hash to that name.
    pub fn read_object(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, BundleError> {
        let path = self.object_file(digest);
        let bytes = read_limited(&path, limit)?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(BundleError::DigestMismatch {
                path,
                expected: *digest,
                actual,
            });
        }
        Ok(bytes)
    }

    /// Opens the current release: the pointer, then the manifest object it names, verified.
    /// `Ok(None)` if there is no `current` yet.
    pub fn open_current(&self) -> Result<Option<(Pointer, Manifest)>, BundleError> {
        let Some(pointer) = self.read_pointer()? else {
            return Ok(None);
        };
        let manifest = self.read_manifest(&pointer.manifest)?;
        Ok(Some((pointer, manifest)))
    }

    /// Reads and verifies a manifest object.
    pub fn read_manifest(&self, digest: &Digest) -> Result<Manifest, BundleError> {
        let bytes = self.read_object(digest, MANIFEST_LIMIT)?;
        let path = self.object_file(digest);
        let manifest: Manifest = parse_json(&path, &bytes)?;
        check_format(&path, &manifest.format)?;
        for route in manifest.routes.keys() {
            // `current` and `objects/…` are the bundle's own paths: a route there would
            // shadow the pointer or serve other bytes under an object's content address.
            let reserved = (route == CURRENT || route.starts_with("objects/"))
                .then_some("reserved for the bundle itself");
            reserved
                .map_or_else(|| crate::check_route(route), Err)
                .map_err(|reason| BundleError::Malformed {
                    path: path.clone(),
                    reason: format!("route {route:?}: {reason}"),
                })?;
        }
        Ok(manifest)
    }

    /// Stores `bytes` as an object unless it already exists. Returns the digest and whether
    /// a new file was written. The write goes to a temporary file that is renamed into
    /// place, so a reader (or a crash) never sees a partial object.
    ///
    /// An existing file of the right size is trusted without rehashing (readers verify
    /// every object anyway); one of the wrong size, say left by a power cut, is replaced.
    /// Objects are not fsynced one by one, which would dominate a large build; the pointer,
    /// written last, is.
    pub fn store_object(&self, bytes: &[u8]) -> Result<(Digest, bool), BundleError> {
        let digest = Digest::of(bytes);
        self.store_object_as(&digest, bytes)
            .map(|created| (digest, created))
    }

    /// [`store_object`](Self::store_object) for bytes whose digest the caller already has.
    pub fn store_object_as(&self, digest: &Digest, bytes: &[u8]) -> Result<bool, BundleError> {
        let path = self.object_file(digest);
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == bytes.len() as u64 => return Ok(false),
            _ => {}
        }
        write_atomic(&path, bytes, false)?;
        Ok(true)
    }

    /// Points `current` at `manifest`, atomically.
    pub fn write_pointer(&self, manifest: &Digest) -> Result<(), BundleError> {
        write_atomic(
            &self.root.join(CURRENT),
            &Pointer::new(*manifest).to_canonical(),
            true,
        )
    }
}

/// Writes `bytes` to `path` through a uniquely named sibling temporary file and a rename,
/// so readers see the old file or the new one, never a mix. `durable` fsyncs the data
/// before the rename.
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> Result<(), BundleError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temporary_sibling(path);
    // Create the directory only when it is missing: a build writes thousands of objects
    // into one directory, and a mkdir per object shows up in its profile.
    let mut file = match fs::File::create(&tmp) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).at(dir)?;
            fs::File::create(&tmp)
        }
        other => other,
    }
    .at(&tmp)?;
    let result = (|| {
        file.write_all(bytes)?;
        if durable {
            file.sync_data()?;
        }
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.at(path)
}

/// A name beside `path` that no other writer, in this process or another, uses.
pub fn temporary_sibling(path: &Path) -> PathBuf {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PID: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    path.with_file_name(format!(
        ".{file_name}.tmp.{}.{}",
        PID.get_or_init(std::process::id),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, BundleError> {
    let file = fs::File::open(path).at(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).at(path)?;
    if bytes.len() as u64 > limit {
        return Err(BundleError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, BundleError> {
    serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn check_format(path: &Path, format: &str) -> Result<(), BundleError> {
    if format == FORMAT {
        Ok(())
    } else {
        Err(BundleError::Malformed {
            path: path.to_owned(),
            reason: format!("format {format:?} is not {FORMAT:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RouteEntry, canonical};

    fn sample(dir: &BundleDir) -> Digest {
        let (script, _) = dir.store_object(b"#!ipxe\necho hi\n").unwrap();
        let mut manifest = Manifest::new();
        manifest.routes.insert(
            "boot.ipxe".into(),
            RouteEntry {
                object: script,
                size: 15,
                content_type: "text/plain".into(),
            },
        );
        let (digest, _) = dir.store_object(&manifest.to_canonical()).unwrap();
        dir.write_pointer(&digest).unwrap();
        digest
    }

    #[test]
    fn round_trips_a_release() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BundleDir::new(tmp.path());
        assert!(dir.open_current().unwrap().is_none());
        let digest = sample(&dir);
        let (pointer, manifest) = dir.open_current().unwrap().unwrap();
        assert_eq!(pointer.manifest, digest);
        let route = &manifest.routes["boot.ipxe"];
        assert_eq!(
            dir.read_object(&route.object, 1024).unwrap(),
            b"#!ipxe\necho hi\n"
        );
        // Storing the same bytes again writes nothing.
        assert!(!dir.store_object(b"#!ipxe\necho hi\n").unwrap().1);
    }

    #[test]
    fn detects_a_corrupt_object() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BundleDir::new(tmp.path());
        let digest = sample(&dir);
        fs::write(dir.object_file(&digest), b"{}").unwrap();
        let err = dir.open_current().unwrap_err();
        assert!(matches!(err, BundleError::DigestMismatch { .. }), "{err}");
    }

    #[test]
    fn refuses_other_formats_and_unsafe_routes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BundleDir::new(tmp.path());
        let other =
            serde_json::json!({"format": "other/9", "manifest": Digest::of(b"").to_string()});
        fs::write(tmp.path().join(CURRENT), canonical::to_vec(&other).unwrap()).unwrap();
        assert!(matches!(
            dir.read_pointer(),
            Err(BundleError::Malformed { .. })
        ));

        // A traversal, and the bundle's own reserved paths.
        for bad in ["../x", "current", "objects/sha256/00"] {
            let mut manifest = Manifest::new();
            manifest.routes.insert(
                bad.into(),
                RouteEntry {
                    object: Digest::of(b""),
                    size: 0,
                    content_type: "x".into(),
                },
            );
            let (digest, _) = dir.store_object(&manifest.to_canonical()).unwrap();
            assert!(matches!(
                dir.read_manifest(&digest),
                Err(BundleError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn refuses_oversized_objects() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BundleDir::new(tmp.path());
        let (digest, _) = dir.store_object(&[0u8; 100]).unwrap();
        assert!(matches!(
            dir.read_object(&digest, 99),
            Err(BundleError::TooLarge { .. })
        ));
    }
}
