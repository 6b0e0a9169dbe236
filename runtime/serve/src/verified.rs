//! Releases: loading and verifying one, and following `current` from one to the next.
//!
//! A [`Release`] is only built after every object it names has been hashed and found
//! right, so a request can never be answered from a half-published or corrupt release.
//! Small objects (scripts, manifests) are kept in memory as the verified bytes. Large ones
//! (kernels, initrds) are served from their files, and each file's identity at
//! verification time — inode, size, mtime, ctime — is remembered in [`VerifiedFiles`].
//! Every open re-checks that identity with `fstat` on the opened descriptor; any write to
//! the file since changes mtime and ctime (ctime cannot be set back from user space), so a
//! file that changed is hashed again, through the same descriptor, before a byte of it is
//! sent. Hashing once and checking identity per request keeps large downloads at disk
//! speed, where hashing while streaming would cost CPU on every request and could only
//! detect corruption after the headers (and most of the body) had gone out.
//!
//! Objects are immutable and the bundle writer replaces files by rename, so an object
//! that is being streamed cannot change under the open descriptor.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use netboot_bundle::{BundleDir, CURRENT, Digest, Manifest, Pointer};

/// Objects up to this size are held in memory once verified.
pub const MEMORY_OBJECT_LIMIT: u64 = 64 * 1024;

/// Where an object's verified bytes are.
#[derive(Debug, Clone)]
pub enum Content {
    Memory(Bytes),
    File(PathBuf),
}

/// One object of a release.
#[derive(Debug, Clone)]
pub struct Object {
    pub digest: Digest,
    pub size: u64,
    pub content: Content,
}

/// A verified release: the pointer that named it, its manifest, and every object it needs.
#[derive(Debug)]
pub struct Release {
    /// The `current` bytes this release was loaded from, served at `/current`.
    pub pointer: Object,
    pub manifest_digest: Digest,
    pub manifest: Manifest,
    objects: HashMap<Digest, Object>,
}

impl Release {
    /// The object named `digest`, if this release has it.
    pub fn object(&self, digest: &Digest) -> Option<&Object> {
        self.objects.get(digest)
    }

    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// The digests of every object of this release.
    pub fn digests(&self) -> impl Iterator<Item = Digest> + '_ {
        self.objects.keys().copied()
    }
}

/// The identity of a file when it was last hashed and found right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileIdentity {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Which object files have been hashed, and what they looked like then. Shared by all
/// releases so a new release that reuses a 500 MB initrd does not hash it again.
#[derive(Debug, Default)]
pub struct VerifiedFiles {
    files: Mutex<HashMap<Digest, FileIdentity>>,
}

/// Why an object could not be used.
#[derive(Debug)]
pub enum ObjectError {
    Io(PathBuf, io::Error),
    /// The bytes do not hash to the name: the file is corrupt and must never be served.
    Corrupt {
        path: PathBuf,
        actual: Digest,
    },
    /// The manifest promised another size.
    WrongSize {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(path, e) => write!(f, "{}: {e}", path.display()),
            Self::Corrupt { path, actual } => write!(
                f,
                "{}: content hashes to {actual}, not to its name",
                path.display()
            ),
            Self::WrongSize {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: {actual} bytes, the manifest says {expected}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ObjectError {}

impl VerifiedFiles {
    fn remembered(&self, digest: &Digest) -> Option<FileIdentity> {
        self.files.lock().ok()?.get(digest).copied()
    }

    fn remember(&self, digest: Digest, identity: FileIdentity) {
        if let Ok(mut files) = self.files.lock() {
            files.insert(digest, identity);
        }
    }

    fn forget(&self, digest: &Digest) {
        if let Ok(mut files) = self.files.lock() {
            files.remove(digest);
        }
    }

    /// Opens an object file and proves it is right: either it is the very file hashed
    /// before (same identity), or it is hashed now through the opened descriptor. The
    /// returned file is positioned at the start.
    pub fn open_verified(&self, digest: &Digest, path: &PathBuf) -> Result<File, ObjectError> {
        let mut file = File::open(path).map_err(|e| ObjectError::Io(path.clone(), e))?;
        let identity = FileIdentity::of(
            &file
                .metadata()
                .map_err(|e| ObjectError::Io(path.clone(), e))?,
        );
        if self.remembered(digest) == Some(identity) {
            return Ok(file);
        }
        let actual = Digest::of_reader(&mut file).map_err(|e| ObjectError::Io(path.clone(), e))?;
        if actual != *digest {
            self.forget(digest);
            return Err(ObjectError::Corrupt {
                path: path.clone(),
                actual,
            });
        }
        // Hashing read through the file; identity again in case it changed meanwhile.
        let after = FileIdentity::of(
            &file
                .metadata()
                .map_err(|e| ObjectError::Io(path.clone(), e))?,
        );
        if after == identity {
            self.remember(*digest, identity);
        }
        use std::io::Seek;
        file.rewind()
            .map_err(|e| ObjectError::Io(path.clone(), e))?;
        Ok(file)
    }
}

/// Why a release was refused.
#[derive(Debug)]
pub enum LoadError {
    NoPointer,
    Bundle(netboot_bundle::BundleError),
    Pointer(String),
    Object {
        route: String,
        error: ObjectError,
    },
    /// An object could not be fetched from a store, or what came was not what it names.
    Fetch {
        route: String,
        location: String,
        reason: String,
    },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoPointer => write!(f, "the bundle has no `{CURRENT}` yet"),
            Self::Bundle(e) => write!(f, "{e}"),
            Self::Pointer(reason) => write!(f, "{CURRENT}: {reason}"),
            Self::Object { route, error } => write!(f, "object for {route}: {error}"),
            Self::Fetch {
                route,
                location,
                reason,
            } => write!(f, "object for {route}: {location}: {reason}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads the pointer's raw bytes and parses them.
pub fn read_pointer(dir: &BundleDir) -> Result<(Bytes, Pointer), LoadError> {
    match dir.read_current() {
        Ok(Some((bytes, pointer))) => Ok((Bytes::from(bytes), pointer)),
        Ok(None) => Err(LoadError::NoPointer),
        Err(e) => Err(LoadError::Bundle(e)),
    }
}

/// Loads and verifies the release `current` names. Blocking: run it off the async workers.
pub fn load(dir: &BundleDir, verified: &VerifiedFiles) -> Result<Release, LoadError> {
    let (pointer_bytes, pointer) = read_pointer(dir)?;
    let manifest = dir
        .read_manifest(&pointer.manifest)
        .map_err(LoadError::Bundle)?;

    // Every object the release names (each once: the manifest was checked to give each
    // one size), with the size the manifest promises, if it does.
    let wanted = std::iter::once((pointer.manifest, None, "manifest".to_owned())).chain(
        manifest
            .referenced()
            .into_iter()
            .map(|(digest, r)| (digest, r.size, r.used_by)),
    );
    let mut objects: HashMap<Digest, Object> = HashMap::new();
    for (digest, size, route) in wanted {
        let object = verify_object(dir, verified, &digest, size)
            .map_err(|error| LoadError::Object { route, error })?;
        objects.insert(digest, object);
    }
    let pointer_digest = Digest::of(&pointer_bytes);
    Ok(Release {
        pointer: Object {
            digest: pointer_digest,
            size: pointer_bytes.len() as u64,
            content: Content::Memory(pointer_bytes),
        },
        manifest_digest: pointer.manifest,
        manifest,
        objects,
    })
}

fn verify_object(
    dir: &BundleDir,
    verified: &VerifiedFiles,
    digest: &Digest,
    expected_size: Option<u64>,
) -> Result<Object, ObjectError> {
    let path = dir.object_file(digest);
    let mut file = verified.open_verified(digest, &path)?;
    let size = file
        .metadata()
        .map_err(|e| ObjectError::Io(path.clone(), e))?
        .len();
    if let Some(expected) = expected_size.filter(|&e| e != size) {
        return Err(ObjectError::WrongSize {
            path,
            expected,
            actual: size,
        });
    }
    let content = if size <= MEMORY_OBJECT_LIMIT {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| ObjectError::Io(path.clone(), e))?;
        // The in-memory copy is what gets served, so it is the copy that must be right.
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(ObjectError::Corrupt { path, actual });
        }
        Content::Memory(Bytes::from(bytes))
    } else {
        Content::File(path)
    };
    Ok(Object {
        digest: *digest,
        size,
        content,
    })
}

/// The release being served, and the one before it (whose objects stay reachable so a
/// machine that fetched its script just before a swap can still fetch what it names).
#[derive(Debug, Default)]
pub struct Releases {
    current: ArcSwapOption<Release>,
    previous: ArcSwapOption<Release>,
    pub verified: VerifiedFiles,
}

impl Releases {
    pub fn current(&self) -> Option<Arc<Release>> {
        self.current.load_full()
    }

    pub fn previous(&self) -> Option<Arc<Release>> {
        self.previous.load_full()
    }

    /// Makes `release` current; the old current becomes previous. Previous is written
    /// first so that, at every instant, the old release's objects are reachable through
    /// one of the two (there is a single writer, the follower).
    pub fn install(&self, release: Release) {
        self.previous.store(self.current.load_full());
        self.current.store(Some(Arc::new(release)));
    }

    /// An object of the current or the previous release.
    pub fn object(&self, digest: &Digest) -> Option<Object> {
        if let Some(release) = self.current.load().as_ref()
            && let Some(object) = release.object(digest)
        {
            return Some(object.clone());
        }
        self.previous
            .load()
            .as_ref()
            .and_then(|r| r.object(digest).cloned())
    }
}
