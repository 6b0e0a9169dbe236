//! The disk cache: a bundle directory (`current` + `objects/sha256/<hex>`) of verified
//! objects, so it survives restarts and a restarted proxy with no origin still serves the
//! last good release.
//!
//! Every object is hashed before it enters the cache (by the download) and, after a
//! restart, once more on first use; afterwards a cheap identity check (length, inode,
//! mtime, ctime) stands in for rehashing, as in netboot-serve. A file that is truncated,
//! corrupt or changed under the proxy is deleted and fetched again. The cache is bounded:
//! past `limit` bytes the least recently used objects the current release does not
//! reference are evicted.
//!
//! Cached objects include provisioning files (`files/…` routes: passwords, keys, join
//! tokens), so the cache is private to the proxy's user whatever its umask and however
//! it is started: directories 0700, objects 0600, and a cache left by an older version
//! with wider modes is narrowed when it is opened.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt, OpenOptionsExt as _, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use netboot_bundle::{BundleDir, Digest};

const TMP_DIR: &str = "tmp";
/// The mode of the cache's directories: only the proxy's user may list or enter them.
const DIR_MODE: u32 = 0o700;
/// The mode of every cached object and download in progress.
const FILE_MODE: u32 = 0o600;

/// Creates (truncating) a file of the cache, readable and writable by the proxy's user
/// only: downloads in progress and objects held in memory are written through it.
pub fn create_private(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates `dir` (and its parents) if missing and makes it [`DIR_MODE`], also when it
/// already existed with a wider mode.
fn private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
}

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            ino: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

#[derive(Debug)]
struct Entry {
    size: u64,
    last_used: u64,
    /// The stamp of the file when it was last hashed; `None` until then.
    verified: Option<Stamp>,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<Digest, Entry>,
    bytes: u64,
    clock: u64,
}

/// Counts of what the cache did, for metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct CacheStats {
    pub objects: u64,
    pub bytes: u64,
}

/// The verified object cache.
#[derive(Debug)]
pub struct Cache {
    dir: BundleDir,
    tmp: PathBuf,
    limit: u64,
    index: Mutex<Index>,
}

/// What [`Cache::open_verified`] found.
#[derive(Debug)]
pub enum Lookup {
    Hit(fs::File),
    Miss,
    /// There was a file, but its bytes did not match its name; it has been deleted.
    Corrupt,
}

impl Cache {
    /// Opens (creating) the cache at `root`, indexing what a previous run left. Leftover
    /// temporary files of interrupted downloads are removed.
    pub fn open(root: &Path, limit: u64) -> io::Result<Self> {
        let dir = BundleDir::new(root);
        let tmp = root.join(TMP_DIR);
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        let objects = root.join(netboot_bundle::OBJECTS_DIR);
        for dir in [root, &tmp, &root.join("objects"), &objects] {
            private_dir(dir)?;
        }
        let mut index = Index::default();
        for item in fs::read_dir(&objects)? {
            let item = item?;
            let name = item.file_name();
            let digest = name.to_str().and_then(|n| Digest::from_hex(n).ok());
            let meta = item.metadata()?;
            match digest {
                Some(digest) if meta.is_file() => {
                    if meta.permissions().mode() & 0o777 != FILE_MODE {
                        fs::set_permissions(item.path(), fs::Permissions::from_mode(FILE_MODE))?;
                    }
                    index.bytes += meta.len();
                    index.entries.insert(
                        digest,
                        Entry {
                            size: meta.len(),
                            last_used: 0,
                            verified: None,
                        },
                    );
                }
                // Temporary files of an interrupted store, or junk.
                _ if meta.is_file() => fs::remove_file(item.path())?,
                _ => {}
            }
        }
        Ok(Self {
            dir,
            tmp,
            limit,
            index: Mutex::new(index),
        })
    }

    pub fn dir(&self) -> &BundleDir {
        &self.dir
    }

    /// A fresh path for a download in progress.
    pub fn temporary(&self, digest: &Digest) -> PathBuf {
        netboot_bundle::temporary_sibling(&self.tmp.join(digest.hex()))
    }

    pub fn stats(&self) -> CacheStats {
        let index = self.lock();
        CacheStats {
            objects: index.entries.len() as u64,
            bytes: index.bytes,
        }
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.lock().entries.contains_key(digest)
    }

    /// Opens the cached object `digest` of `size` bytes if its content is verified,
    /// hashing it first when it has not been (or has changed since). Blocking: call from
    /// a blocking task.
    pub fn open_verified(&self, digest: &Digest, size: u64) -> io::Result<Lookup> {
        let known = {
            let mut index = self.lock();
            index.clock += 1;
            let clock = index.clock;
            match index.entries.get_mut(digest) {
                Some(entry) => {
                    entry.last_used = clock;
                    Some(entry.verified)
                }
                None => None,
            }
        };
        let Some(verified) = known else {
            return Ok(Lookup::Miss);
        };
        let path = self.dir.object_file(digest);
        let mut file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget(digest);
                return Ok(Lookup::Miss);
            }
            Err(e) => return Err(e),
        };
        let stamp = Stamp::of(&file.metadata()?);
        if verified == Some(stamp) && stamp.len == size {
            return Ok(Lookup::Hit(file));
        }
        if stamp.len != size || Digest::of_reader(&mut file)? != *digest {
            tracing::warn!(object = %digest, path = %path.display(), "cached object is truncated or corrupt; deleting it and fetching it again");
            self.remove(digest);
            return Ok(Lookup::Corrupt);
        }
        if let Some(entry) = self.lock().entries.get_mut(digest) {
            entry.verified = Some(stamp);
        }
        Ok(Lookup::Hit(fs::File::open(&path)?))
    }

    /// Moves a downloaded, already verified file into the cache.
    pub fn insert(&self, digest: &Digest, verified_file: &Path) -> io::Result<()> {
        let path = self.dir.object_file(digest);
        fs::rename(verified_file, &path)?;
        let meta = fs::metadata(&path)?;
        let mut index = self.lock();
        index.clock += 1;
        let clock = index.clock;
        let entry = Entry {
            size: meta.len(),
            last_used: clock,
            verified: Some(Stamp::of(&meta)),
        };
        if let Some(old) = index.entries.insert(*digest, entry) {
            index.bytes -= old.size;
        }
        index.bytes += meta.len();
        Ok(())
    }

    /// Stores a small object held in memory whose digest the caller has checked.
    pub fn insert_bytes(&self, digest: &Digest, bytes: &[u8]) -> io::Result<()> {
        let tmp = self.temporary(digest);
        let result = create_private(&tmp)
            .and_then(|mut file| io::Write::write_all(&mut file, bytes))
            .and_then(|()| self.insert(digest, &tmp));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Evicts least recently used objects not in `keep` until the cache fits its limit.
    /// Returns how many were evicted.
    pub fn evict(&self, keep: &HashSet<Digest>) -> usize {
        let mut index = self.lock();
        if index.bytes <= self.limit {
            return 0;
        }
        let mut candidates: Vec<(u64, Digest, u64)> = index
            .entries
            .iter()
            .filter(|(digest, _)| !keep.contains(digest))
            .map(|(digest, entry)| (entry.last_used, *digest, entry.size))
            .collect();
        // Oldest first; the digest breaks ties so eviction order is deterministic.
        candidates.sort();
        let mut evicted = 0;
        for (_, digest, size) in candidates {
            if index.bytes <= self.limit {
                break;
            }
            match fs::remove_file(self.dir.object_file(&digest)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(object = %digest, error = %e, "evicting a cached object");
                    continue;
                }
            }
            index.entries.remove(&digest);
            index.bytes -= size;
            evicted += 1;
        }
        if index.bytes > self.limit {
            tracing::warn!(
                bytes = index.bytes,
                limit = self.limit,
                "the cache is over its limit with objects the current release needs"
            );
        }
        evicted
    }

    fn remove(&self, digest: &Digest) {
        let _ = fs::remove_file(self.dir.object_file(digest));
        self.forget(digest);
    }

    fn forget(&self, digest: &Digest) {
        let mut index = self.lock();
        if let Some(old) = index.entries.remove(digest) {
            index.bytes -= old.size;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        // A panic while holding the lock leaves the index consistent enough (each update
        // is a few assignments); keep serving rather than poison every later request.
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(cache: &Cache, bytes: &[u8]) -> Digest {
        let digest = Digest::of(bytes);
        cache.insert_bytes(&digest, bytes).unwrap();
        digest
    }

    #[test]
    fn survives_a_restart_and_rehashes_once() {
        let root = tempfile::tempdir().unwrap();
        let digest = {
            let cache = Cache::open(root.path(), 1 << 20).unwrap();
            put(&cache, b"kernel bytes")
        };
        let cache = Cache::open(root.path(), 1 << 20).unwrap();
        assert!(cache.contains(&digest));
        assert!(matches!(
            cache.open_verified(&digest, 12).unwrap(),
            Lookup::Hit(_)
        ));
        assert!(matches!(
            cache.open_verified(&digest, 12).unwrap(),
            Lookup::Hit(_)
        ));
    }

    #[test]
    fn truncated_and_corrupt_files_are_deleted() {
        let root = tempfile::tempdir().unwrap();
        let (a, b) = {
            let cache = Cache::open(root.path(), 1 << 20).unwrap();
            (put(&cache, b"aaaaaaaa"), put(&cache, b"bbbbbbbb"))
        };
        let dir = BundleDir::new(root.path());
        fs::write(dir.object_file(&a), b"aaaa").unwrap();
        fs::write(dir.object_file(&b), b"bbbbbbbX").unwrap();
        let cache = Cache::open(root.path(), 1 << 20).unwrap();
        assert!(matches!(
            cache.open_verified(&a, 8).unwrap(),
            Lookup::Corrupt
        ));
        assert!(matches!(
            cache.open_verified(&b, 8).unwrap(),
            Lookup::Corrupt
        ));
        assert!(!dir.object_file(&a).exists() && !dir.object_file(&b).exists());
        assert_eq!(cache.stats().objects, 0);
        assert_eq!(cache.stats().bytes, 0);
    }

    #[test]
    fn a_change_after_verification_is_caught() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::open(root.path(), 1 << 20).unwrap();
        let digest = put(&cache, b"original");
        assert!(matches!(
            cache.open_verified(&digest, 8).unwrap(),
            Lookup::Hit(_)
        ));
        // Same length, different bytes: the identity (mtime/ctime) changes.
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(cache.dir().object_file(&digest), b"0riginal").unwrap();
        assert!(matches!(
            cache.open_verified(&digest, 8).unwrap(),
            Lookup::Corrupt
        ));
    }

    #[test]
    fn evicts_least_recently_used_unreferenced_objects() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::open(root.path(), 30).unwrap();
        let old = put(&cache, &[1; 10]);
        let kept = put(&cache, &[2; 10]);
        let used = put(&cache, &[3; 10]);
        let _ = cache.open_verified(&old, 10).unwrap();
        let _ = cache.open_verified(&used, 10).unwrap();
        let newest = put(&cache, &[4; 10]);
        // 40 bytes over a 30-byte limit: `kept` is the LRU, but referenced; `old` goes.
        let evicted = cache.evict(&HashSet::from([kept]));
        assert_eq!(evicted, 1);
        assert!(!cache.contains(&old));
        for digest in [kept, used, newest] {
            assert!(cache.contains(&digest));
        }
        assert_eq!(cache.stats().bytes, 30);
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_cache_is_private_to_the_proxys_user() {
        let root = tempfile::tempdir().unwrap();
        let cache_root = root.path().join("cache");
        // What an older proxy left: wide modes on the directories and an object.
        fs::create_dir_all(cache_root.join(netboot_bundle::OBJECTS_DIR)).unwrap();
        let old = Digest::of(b"old secret");
        let old_file = BundleDir::new(&cache_root).object_file(&old);
        fs::write(&old_file, b"old secret").unwrap();
        for path in [&cache_root, &cache_root.join("objects"), &old_file] {
            fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let cache = Cache::open(&cache_root, 1 << 20).unwrap();
        let new = put(&cache, b"password: hunter2");
        for dir in [
            cache_root.clone(),
            cache_root.join(TMP_DIR),
            cache_root.join("objects"),
            cache_root.join(netboot_bundle::OBJECTS_DIR),
        ] {
            assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        }
        for object in [old, new] {
            assert_eq!(mode(&cache.dir().object_file(&object)), 0o600, "{object}");
        }
        // A download in progress is created private too (fetch writes through this).
        let download = cache.temporary(&new);
        drop(create_private(&download).unwrap());
        assert_eq!(mode(&download), 0o600);
    }
}
