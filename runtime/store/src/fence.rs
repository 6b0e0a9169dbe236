//! The fence: who is changing a store right now, so gc never deletes while a publish or a
//! rollback is between reading the store and moving `current`, and no publish or rollback
//! starts while gc deletes.
//!
//! One small object, `fence` beside `current`, lists the operations in progress, each with
//! an expiry (a crashed holder blocks nobody for longer than that). Every change to it is
//! a conditional write on the version just read (the same compare-and-swap as `current`,
//! and the same advisory lock on a local directory), so of two operations that race to
//! enter, each sees the other:
//!
//! - publish and rollback enter unless a gc is in: several may be in at once (`current`'s
//!   own compare-and-swap decides between them);
//! - gc enters only when nobody is in, and then nobody else enters until it leaves.
//!
//! An operation enters only for the part that must not overlap: a publish or rollback from
//! the check that every object it needs is stored to its write of `current`; a gc from its
//! last look at `current` to its last delete. Whatever happened before it entered, its
//! check sees. Servers never read the fence.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use netboot_bundle::{canonical, write_atomic};
use serde::{Deserialize, Serialize};

use crate::read::{Document, Versioned, read_document};
use crate::write::swap;
use crate::{Location, StoreError};

/// The fence's key, beside `current`.
pub const FENCE: &str = "fence";
const FORMAT: &str = "netboot-fence/1";
/// Compare-and-swap attempts before giving up on a busy fence.
const ATTEMPTS: usize = 32;

/// What an operation in the fence is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Publish,
    Rollback,
    Gc,
}

impl Operation {
    /// How long an entry lasts if its holder dies without leaving: far longer than the
    /// part it covers (a listing, two small writes; a gc's deletes).
    fn ttl(self) -> Duration {
        match self {
            Self::Publish | Self::Rollback => Duration::from_secs(15 * 60),
            Self::Gc => Duration::from_secs(60 * 60),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Rollback => "rollback",
            Self::Gc => "gc",
        }
    }

    /// Whether `self` may be in the fence together with `other`.
    fn compatible(self, other: Self) -> bool {
        self != Self::Gc && other != Self::Gc
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Holder {
    id: String,
    operation: Operation,
    /// Who (`$NETBOOTC_PUBLISHER`, else `$USER@$HOSTNAME`), for the message a blocked
    /// operation prints.
    by: String,
    /// Seconds since the Unix epoch.
    expires: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FenceDoc {
    format: String,
    holders: Vec<Holder>,
}

/// The fence as read: its holders, and what a conditional write is made on.
struct Read {
    holders: Vec<Holder>,
    seen: Option<Versioned>,
}

/// An operation's place in the fence. Leave it with [`Lease::release`]; an entry left by a
/// crash expires on its own.
#[derive(Debug)]
pub struct Lease {
    location: Location,
    id: String,
    operation: Operation,
    ttl: Duration,
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The fence is a few holders; anything past this is not one.
const MAX_BYTES: u64 = 64 * 1024;

async fn read(location: &Location) -> Result<Read, StoreError> {
    let seen = match read_document(location, FENCE, MAX_BYTES, None).await? {
        Document::Found(found) => Some(found),
        Document::Missing | Document::Unchanged => None,
    };
    // A fence this tool cannot read is treated as empty: it only ever holds leases, and
    // overwriting it (conditionally) loses nothing but expired or foreign entries.
    let holders = seen
        .as_ref()
        .and_then(|s| serde_json::from_slice::<FenceDoc>(&s.bytes).ok())
        .filter(|doc| doc.format == FORMAT)
        .map(|doc| doc.holders)
        .unwrap_or_default();
    Ok(Read { holders, seen })
}

/// Writes `holders` if the fence is still what `read` saw. `Ok(false)`: it changed.
async fn write(location: &Location, read: &Read, holders: Vec<Holder>) -> Result<bool, StoreError> {
    let doc = FenceDoc {
        format: FORMAT.to_owned(),
        holders,
    };
    let bytes = Bytes::from(canonical::to_vec(&doc).expect("a fence always serialises"));
    swap(location, FENCE, read.seen.as_ref(), bytes, |dir, bytes| {
        write_atomic(&dir.root().join(FENCE), bytes, true)
    })
    .await
}

/// Runs `work` inside the fence as `operation`: enters (or says who is in the way), runs
/// it, leaves whatever its outcome.
pub(crate) async fn within<T>(
    location: &Location,
    operation: Operation,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let lease = acquire(location, operation, operation.ttl()).await?;
    let result = work.await;
    // Leaving is best effort: an entry left behind expires, and the work's own outcome is
    // what the caller needs to hear.
    let _ = lease.release().await;
    result
}

/// Enters the fence for `operation`, or says who is in the way.
pub async fn acquire(
    location: &Location,
    operation: Operation,
    ttl: Duration,
) -> Result<Lease, StoreError> {
    // The fence is the first conditional write of every operation that changes a store.
    crate::write::probe_conditional_puts(location).await?;
    let id = format!(
        "{}-{}-{}",
        crate::history::publisher().unwrap_or_else(|| "netbootc".into()),
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let lease = Lease {
        location: location.clone(),
        id,
        operation,
        ttl,
    };
    lease.enter().await?;
    Ok(lease)
}

impl Lease {
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Adds (or refreshes) this lease's entry, unless an incompatible one is live.
    async fn enter(&self) -> Result<(), StoreError> {
        for _ in 0..ATTEMPTS {
            let now = seconds(SystemTime::now());
            let read = read(&self.location).await?;
            let mut holders: Vec<Holder> = read
                .holders
                .iter()
                .filter(|h| h.expires > now && h.id != self.id)
                .cloned()
                .collect();
            if let Some(blocker) = holders
                .iter()
                .find(|h| !self.operation.compatible(h.operation))
            {
                return Err(StoreError::Busy {
                    location: self.location.label.clone(),
                    operation: blocker.operation.name(),
                    by: blocker.by.clone(),
                    expires: SystemTime::UNIX_EPOCH + Duration::from_secs(blocker.expires),
                });
            }
            holders.push(Holder {
                id: self.id.clone(),
                operation: self.operation,
                by: crate::history::publisher().unwrap_or_default(),
                expires: now + self.ttl.as_secs().max(1),
            });
            if write(&self.location, &read, holders).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unsupported(format!(
            "{}: the `{FENCE}` object kept changing; try again",
            self.location.label
        )))
    }

    /// Leaves the fence (best effort: an entry left behind expires).
    pub async fn release(self) -> Result<(), StoreError> {
        for _ in 0..ATTEMPTS {
            let read = read(&self.location).await?;
            if !read.holders.iter().any(|h| h.id == self.id) {
                return Ok(());
            }
            let now = seconds(SystemTime::now());
            let holders = read
                .holders
                .iter()
                .filter(|h| h.id != self.id && h.expires > now)
                .cloned()
                .collect();
            if write(&self.location, &read, holders).await? {
                return Ok(());
            }
        }
        Ok(())
    }
}
