use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::IoContext;
use crate::{BundleError, CURRENT, Digest, FormatError, Manifest, Pointer, object_path};

/// Who may read an object's file. The process's umask can take more away, never add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    /// Scripts, images, manifests: what any client may fetch anyway (`0644`).
    Everyone,
    /// Provisioning files, which hold secrets: `0640`, so a server reading the bundle
    /// needs to be its owner or in its group, and no other local user can read it.
    OwnerAndGroup,
}

impl Readers {
    /// The mode a file is created with, before the umask.
    fn create_mode(self) -> u32 {
        match self {
            Self::Everyone => 0o666,
            Self::OwnerAndGroup => 0o640,
        }
    }

    /// Permission bits a file with these readers must not have.
    fn denied(self) -> u32 {
        match self {
            Self::Everyone => 0,
            Self::OwnerAndGroup => 0o137,
        }
    }
}

/// A bundle on disk: a root holding `current` and `objects/sha256/`.
///
/// Writing follows the one durability policy of the format (see `SPEC.md`): objects go to a
/// temporary file renamed into place (a reader or a crash never sees a partial object under
/// its name) without a flush each; [`write_pointer`](Self::write_pointer) first makes
/// every file written so far durable with one `syncfs` of the file system, then replaces
/// `current` through a flushed temporary file, a rename and a flush of the directory. So
/// after a power cut `current` names a release whose objects are all on disk, or the one
/// before.
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

    /// Reads `current`: its bytes and what they say, or `None` if the bundle has no
    /// release yet.
    pub fn read_current(&self) -> Result<Option<(Vec<u8>, Pointer)>, BundleError> {
        let path = self.root.join(CURRENT);
        let bytes = match read_limited(&path, Pointer::MAX_BYTES) {
            Ok(bytes) => bytes,
            Err(BundleError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let pointer = Pointer::parse(&bytes).map_err(|error| BundleError::Format {
            path: path.clone(),
            error,
        })?;
        Ok(Some((bytes, pointer)))
    }

    /// Reads `current`, or `None` if the bundle has no release yet.
    pub fn read_pointer(&self) -> Result<Option<Pointer>, BundleError> {
        Ok(self.read_current()?.map(|(_, pointer)| pointer))
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

    /// Reads, verifies and checks a manifest object ([`Manifest::parse`]).
    pub fn read_manifest(&self, digest: &Digest) -> Result<Manifest, BundleError> {
        let bytes = self.read_object(digest, Manifest::MAX_BYTES)?;
        Manifest::parse(&bytes).map_err(|error| BundleError::Format {
            path: self.object_file(digest),
            error,
        })
    }

    /// Stores `bytes` as an object unless it already exists. Returns the digest and whether
    /// a new file was written.
    ///
    /// An existing file is kept only if its bytes are the object's (compared, or hashed
    /// for a file): one of the wrong size or with wrong bytes (a power cut, a disk error,
    /// an edit) is replaced, never trusted because its name and size look right.
    pub fn store_object(&self, bytes: &[u8]) -> Result<(Digest, bool), BundleError> {
        let digest = Digest::of(bytes);
        self.store_object_as(&digest, bytes, Readers::Everyone)
            .map(|created| (digest, created))
    }

    /// [`store_object`](Self::store_object) for bytes whose digest the caller already has.
    ///
    /// An absent object is created under its own name (one `open(O_CREAT|O_EXCL)`, a write,
    /// a close: no temporary file, no rename, no `stat`; renames were most of a large
    /// build's system time). A crash can then leave a torn object, but only one no
    /// `current` names yet: `current` moves only after a flush, and the next build finds the
    /// object exists, compares its bytes, and replaces it through a temporary file and a
    /// rename, as it does any object with wrong bytes.
    ///
    /// The file is created readable by `readers` only (and an existing one restricted to
    /// them), so an object holding secrets is never readable by others, not even briefly.
    pub fn store_object_as(
        &self,
        digest: &Digest,
        bytes: &[u8],
        readers: Readers,
    ) -> Result<bool, BundleError> {
        let path = self.object_file(digest);
        match new_file(readers).create_new(true).open(&path) {
            Ok(mut file) => {
                let written = file.write_all(bytes);
                drop(file);
                if written.is_err() {
                    let _ = fs::remove_file(&path);
                }
                written.at(&path).map(|()| true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.keep_or_replace_object(digest, bytes, readers)
            }
            // No objects directory yet: the durable path creates it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                write_atomic_for(&path, bytes, false, readers)?;
                Ok(true)
            }
            Err(e) => Err(e).at(&path),
        }
    }

    /// For an object the caller has seen listed: keeps it if its bytes are `bytes`, else
    /// replaces it through a temporary file and a rename. `Ok(true)` if it was written.
    /// One open, a read of at most one byte past the expected size, one close: a rebuild
    /// of an unchanged release costs no more than that per object. A kept file readable
    /// by more than `readers` (written by an older netbootc) is restricted to them.
    pub fn keep_or_replace_object(
        &self,
        digest: &Digest,
        bytes: &[u8],
        readers: Readers,
    ) -> Result<bool, BundleError> {
        let path = self.object_file(digest);
        let kept = fs::File::open(&path).ok().filter(|file| {
            let mut had = Vec::with_capacity(bytes.len() + 1);
            file.take(bytes.len() as u64 + 1)
                .read_to_end(&mut had)
                .is_ok_and(|_| had == bytes)
        });
        if let Some(file) = kept {
            restrict(&file, readers).at(&path)?;
            return Ok(false);
        }
        write_atomic_for(&path, bytes, false, readers)?;
        Ok(true)
    }

    /// Stores the file at `source` as object `digest` (unless the object is there, checked
    /// by hashing it), hashing the source as it is copied: a file whose bytes are not `digest` (changed
    /// since it was checked, say) is refused and nothing is stored under that name.
    pub fn store_file(
        &self,
        digest: &Digest,
        source: &Path,
        size: u64,
    ) -> Result<bool, BundleError> {
        let target = self.object_file(digest);
        if has_size(&target, size)
            && fs::File::open(&target)
                .and_then(|mut file| Digest::of_reader(&mut file))
                .is_ok_and(|had| had == *digest)
        {
            return Ok(false);
        }
        let tmp = temporary_sibling(&target);
        let copied = (|| -> io::Result<Digest> {
            let mut input = fs::File::open(source)?;
            let mut output = create_in_dir(&tmp, Readers::Everyone)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = input.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                output.write_all(&buf[..n])?;
            }
            Ok(Digest::from_hasher(hasher))
        })();
        let result = match copied {
            Ok(actual) if actual == *digest => fs::rename(&tmp, &target).at(&target),
            Ok(actual) => Err(BundleError::DigestMismatch {
                path: source.to_owned(),
                expected: *digest,
                actual,
            }),
            Err(e) => Err(e).at(source),
        };
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| true)
    }

    /// Makes every object written so far durable, then points `current` at `pointer`
    /// durably (see the type's documentation). Readers see the old pointer or the new one.
    pub fn write_pointer(&self, pointer: &Pointer) -> Result<(), BundleError> {
        self.write_current(&pointer.to_canonical())
    }

    /// [`write_pointer`](Self::write_pointer) with the pointer's bytes as read elsewhere (a
    /// mirror keeps the origin's bytes exactly); they must parse as a pointer.
    pub fn write_current(&self, bytes: &[u8]) -> Result<(), BundleError> {
        let path = self.root.join(CURRENT);
        Pointer::parse(bytes).map_err(|error| BundleError::Format {
            path: path.clone(),
            error,
        })?;
        self.sync()?;
        write_atomic(&path, bytes, true)?;
        // The rename itself is durable once the directory is.
        fs::File::open(&self.root)
            .and_then(|dir| dir.sync_all())
            .at(&self.root)
    }

    /// Flushes the file system holding the bundle: one `syncfs` however many objects were
    /// written (a flush per object would dominate a large build).
    pub fn sync(&self) -> Result<(), BundleError> {
        let dir = fs::File::open(&self.root).at(&self.root)?;
        #[cfg(target_os = "linux")]
        let synced = rustix::fs::syncfs(&dir);
        #[cfg(not(target_os = "linux"))]
        let synced = {
            let _ = &dir;
            rustix::fs::sync();
            Ok(())
        };
        synced.map_err(io::Error::from).at(&self.root)
    }
}

fn has_size(path: &Path, size: u64) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.len() == size)
}

/// Creates `path`, and its directory when that is missing (checked only on failure: a
/// build writes thousands of objects into one directory, and a mkdir per object shows up
/// in its profile).
fn create_in_dir(path: &Path, readers: Readers) -> io::Result<fs::File> {
    let create = || new_file(readers).create(true).truncate(true).open(path);
    match create() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
            create()
        }
        other => other,
    }
}

/// Options to open a file for writing that, if created, is readable by `readers` only.
fn new_file(readers: Readers) -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, readers.create_mode());
    #[cfg(not(unix))]
    let _ = readers;
    options
}

/// Takes from the open `file` any permission `readers` does not allow.
fn restrict(file: &fs::File, readers: Readers) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & readers.denied() != 0 {
            file.set_permissions(fs::Permissions::from_mode(mode & !readers.denied()))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (file, readers);
    Ok(())
}

/// Writes `bytes` to `path` through a uniquely named sibling temporary file and a rename,
/// so readers see the old file or the new one, never a mix. `durable` flushes the data
/// before the rename.
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> Result<(), BundleError> {
    write_atomic_for(path, bytes, durable, Readers::Everyone)
}

/// [`write_atomic`] of a file readable by `readers` only, from its creation on.
fn write_atomic_for(
    path: &Path,
    bytes: &[u8],
    durable: bool,
    readers: Readers,
) -> Result<(), BundleError> {
    let tmp = temporary_sibling(path);
    let mut file = create_in_dir(&tmp, readers).at(&tmp)?;
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

/// Whether `name` is a [`temporary_sibling`] (`.<name>.tmp.<pid>.<n>`) that no write will
/// finish: its writer process is no longer running, or it is the caller's own (so call it
/// once this process has no write in flight, as `build --clean` does at its end).
pub fn is_abandoned_temporary(name: &str) -> bool {
    let Some((_, after)) = name.split_once(".tmp.").filter(|_| name.starts_with('.')) else {
        return false;
    };
    let pid = after.split('.').next().and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if pid == std::process::id() => true,
        Some(pid) if cfg!(target_os = "linux") => !Path::new(&format!("/proc/{pid}")).exists(),
        _ => true,
    }
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, BundleError> {
    let file = fs::File::open(path).at(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .at(path)?;
    if bytes.len() as u64 > limit {
        return Err(BundleError::Format {
            path: path.to_owned(),
            error: FormatError::TooLarge { limit },
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RouteEntry, canonical};

    #[test]
    fn only_temporaries_of_writers_no_longer_running_are_abandoned() {
        let ours = temporary_sibling(Path::new("/b/current"));
        let ours = ours.file_name().unwrap().to_str().unwrap();
        assert!(is_abandoned_temporary(ours));
        // PID 1 runs as long as the machine does.
        assert!(!is_abandoned_temporary(".current.tmp.1.7"));
        assert!(is_abandoned_temporary(&format!(
            ".manifest.json.tmp.{}.3",
            u32::MAX - 1
        )));
        for name in [
            "current",
            "manifest.json",
            "current.tmp.5.1",
            ".lock",
            ".current.lock",
        ] {
            assert!(!is_abandoned_temporary(name), "{name}");
        }
    }

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
        dir.write_pointer(&Pointer::new(digest)).unwrap();
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
            Err(BundleError::Format { .. })
        ));
        let mut manifest = Manifest::new();
        manifest.routes.insert(
            "../x".into(),
            RouteEntry {
                object: Digest::of(b""),
                size: 0,
                content_type: "x".into(),
            },
        );
        let (digest, _) = dir.store_object(&manifest.to_canonical()).unwrap();
        assert!(matches!(
            dir.read_manifest(&digest),
            Err(BundleError::Format { .. })
        ));
    }

    #[test]
    fn refuses_oversized_objects() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BundleDir::new(tmp.path());
        let (digest, _) = dir.store_object(&[0u8; 100]).unwrap();
        assert!(matches!(
            dir.read_object(&digest, 99),
            Err(BundleError::Format {
                error: FormatError::TooLarge { limit: 99 },
                ..
            })
        ));
    }

    #[test]
    fn an_object_with_the_right_size_and_wrong_bytes_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BundleDir::new(tmp.path());
        let (digest, _) = dir.store_object(b"the script").unwrap();
        fs::write(dir.object_file(&digest), b"the sc\0ipt").unwrap();
        assert!(dir.store_object(b"the script").unwrap().1, "not rewritten");
        assert_eq!(fs::read(dir.object_file(&digest)).unwrap(), b"the script");

        let source = tmp.path().join("kernel");
        fs::write(&source, b"kernel bytes").unwrap();
        let kernel = Digest::of(b"kernel bytes");
        assert!(dir.store_file(&kernel, &source, 12).unwrap());
        fs::write(dir.object_file(&kernel), b"kernel bytez").unwrap();
        assert!(
            dir.store_file(&kernel, &source, 12).unwrap(),
            "not rewritten"
        );
        assert_eq!(fs::read(dir.object_file(&kernel)).unwrap(), b"kernel bytes");
        assert!(!dir.store_file(&kernel, &source, 12).unwrap());
    }

    #[test]
    fn a_new_object_is_created_in_place_and_a_torn_one_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BundleDir::new(tmp.path());
        let (digest, created) = dir.store_object(b"a whole script").unwrap();
        assert!(created);
        let objects = tmp.path().join(crate::OBJECTS_DIR);
        let names: Vec<_> = fs::read_dir(&objects)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            [std::ffi::OsString::from(digest.hex())],
            "no temporary left"
        );
        // What a crash mid-write leaves: the object's name with some of its bytes.
        fs::write(dir.object_file(&digest), b"a whole").unwrap();
        assert!(
            dir.store_object(b"a whole script").unwrap().1,
            "not rewritten"
        );
        assert_eq!(
            fs::read(dir.object_file(&digest)).unwrap(),
            b"a whole script"
        );
        assert!(!dir.store_object(b"a whole script").unwrap().1);
    }

    #[test]
    fn an_object_for_owner_and_group_is_never_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        // No objects directory yet: created through the temporary file and rename.
        let dir = BundleDir::new(tmp.path().join("b"));
        let digest = Digest::of(b"token: s3cret");
        let mode = || {
            fs::metadata(dir.object_file(&digest))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert!(
            dir.store_object_as(&digest, b"token: s3cret", Readers::OwnerAndGroup)
                .unwrap()
        );
        assert_eq!(mode() & 0o137, 0, "{:o}", mode());
        // Kept (same bytes) from a build that wrote it for everyone: restricted.
        fs::set_permissions(dir.object_file(&digest), fs::Permissions::from_mode(0o664)).unwrap();
        assert!(
            !dir.store_object_as(&digest, b"token: s3cret", Readers::OwnerAndGroup)
                .unwrap()
        );
        assert_eq!(mode(), 0o640);
        // Objects for everyone are left as they are.
        let (public, _) = dir.store_object(b"#!ipxe").unwrap();
        fs::set_permissions(dir.object_file(&public), fs::Permissions::from_mode(0o664)).unwrap();
        assert!(!dir.store_object(b"#!ipxe").unwrap().1);
        let public_mode = fs::metadata(dir.object_file(&public))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(public_mode & 0o777, 0o664);
    }

    #[test]
    fn store_file_refuses_bytes_that_do_not_match_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BundleDir::new(tmp.path().join("b"));
        let source = tmp.path().join("kernel");
        fs::write(&source, b"kernel bytes").unwrap();
        let wrong = Digest::of(b"other bytes");
        assert!(matches!(
            dir.store_file(&wrong, &source, 12),
            Err(BundleError::DigestMismatch { .. })
        ));
        let objects = tmp.path().join("b").join(crate::OBJECTS_DIR);
        assert_eq!(fs::read_dir(&objects).unwrap().count(), 0);
        let right = Digest::of(b"kernel bytes");
        assert!(dir.store_file(&right, &source, 12).unwrap());
        assert!(!dir.store_file(&right, &source, 12).unwrap());
        assert_eq!(fs::read(dir.object_file(&right)).unwrap(), b"kernel bytes");
    }
}
