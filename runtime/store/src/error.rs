use std::fmt;
use std::io;
use std::path::PathBuf;

use netboot_bundle::{BundleError, Digest, FormatError};

/// Why an operation on a bundle in a store stopped. A lost race
/// ([`Conflict`](Self::Conflict)) or a busy store ([`Busy`](Self::Busy)) means nothing was
/// changed and re-running (after a review, or later) is safe; callers exit with 1 for them
/// and 2 for everything else.
#[derive(Debug)]
pub enum StoreError {
    /// The location is malformed; the reason says how to write it.
    BadLocation {
        location: String,
        reason: &'static str,
    },
    Store {
        location: String,
        source: object_store::Error,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// A local bundle directory could not be read.
    Bundle(BundleError),
    /// No `current` where one is needed.
    NoRelease {
        location: String,
        hint: &'static str,
    },
    /// A pointer, manifest or record in the store is not what the format says.
    Malformed {
        what: String,
        error: FormatError,
    },
    /// An object in the store whose bytes do not hash to its name.
    Corrupt {
        what: String,
        actual: Digest,
    },
    MissingObject {
        location: String,
        digest: Digest,
    },
    /// A local object's bytes do not match its name.
    CorruptSource {
        path: PathBuf,
        expected: Digest,
        actual: Digest,
    },
    /// A local object's size is not what the manifest says.
    SourceSize {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    /// The verification listing found needed objects missing after the upload.
    Incomplete {
        location: String,
        missing: usize,
        example: Digest,
    },
    /// `current` changed since it was read: another publisher (or rollback, or gc's
    /// check) got there first. Nothing was changed.
    Conflict {
        location: String,
        expected: Option<Digest>,
        found: Option<Digest>,
    },
    /// Another operation holds the store's fence: a gc while publishing or rolling back,
    /// or a publish or rollback while collecting. Nothing was changed.
    Busy {
        location: String,
        operation: &'static str,
        by: String,
        expires: std::time::SystemTime,
    },
    /// A conditional write of `document` failed without an answer (a timeout, a reset after
    /// the retries), and read back it still holds what it held before: nothing visible
    /// changed.
    WriteFailed {
        location: String,
        document: &'static str,
        source: object_store::Error,
    },
    /// As [`WriteFailed`](Self::WriteFailed), but the read-back failed too: whether the
    /// write landed is unknown.
    OutcomeUnknown {
        location: String,
        document: &'static str,
        source: object_store::Error,
        reread: Box<StoreError>,
    },
    Unsupported(String),
    NoSuchRelease(String),
}

impl StoreError {
    /// 1 for a lost race (nothing changed; review and re-run), 2 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Conflict { .. } | Self::Busy { .. } => 1,
            _ => 2,
        }
    }

    pub fn store(location: impl Into<String>, source: object_store::Error) -> Self {
        Self::Store {
            location: location.into(),
            source,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// `sha256:…`, or "no release" for an empty store.
pub fn describe_release(digest: Option<&Digest>) -> String {
    digest.map_or_else(|| "no release".to_owned(), Digest::to_string)
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLocation { location, reason } => {
                // Never echo userinfo (`scheme://key:secret@bucket`): it may be a credential.
                let shown = match location.split_once("://") {
                    Some((scheme, rest))
                        if rest.split('/').next().is_some_and(|b| b.contains('@')) =>
                    {
                        let host = rest.split_once('@').map_or(rest, |(_, h)| h);
                        format!("{scheme}://…@{host}")
                    }
                    _ => location.clone(),
                };
                write!(f, "`{shown}`: {reason}")
            }
            Self::Store { location, source } => write!(f, "{location}: {source}"),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Bundle(e) => write!(f, "{e}"),
            Self::NoRelease { location, hint } => {
                write!(
                    f,
                    "{location} has no release (`current` is missing); {hint}"
                )
            }
            Self::Malformed { what, error } => write!(f, "{what}: {error}"),
            Self::Corrupt { what, actual } => {
                write!(
                    f,
                    "{what}: content does not match its name (found {actual})"
                )
            }
            Self::MissingObject { location, digest } => {
                write!(f, "{location}: object {digest} is missing")
            }
            Self::CorruptSource {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: content does not match its name (expected {expected}, found {actual}); rebuild the bundle",
                path.display()
            ),
            Self::SourceSize {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: {actual} bytes where the manifest says {expected}; rebuild the bundle",
                path.display()
            ),
            Self::Incomplete {
                location,
                missing,
                example,
            } => write!(
                f,
                "{location}: {missing} object(s) the release needs are missing after the upload (e.g. {example}); `current` was not changed"
            ),
            // Another writer replaced `current` with a pointer to the same release (a
            // rollback and a publish of it, say): the version moved, the release did not.
            Self::Conflict {
                location,
                expected,
                found,
            } if expected == found => write!(
                f,
                "{location}: `current` was rewritten by another writer while this command ran (it still names {}, but not the version this command read). Nothing was changed; run again",
                describe_release(expected.as_ref()),
            ),
            Self::Conflict {
                location,
                expected,
                found,
            } => write!(
                f,
                "{location}: `current` changed while this command ran (expected {}, now {}); another publisher won the race. Nothing was changed; review with `netbootc diff` and run again",
                describe_release(expected.as_ref()),
                describe_release(found.as_ref())
            ),
            Self::Busy {
                location,
                operation,
                by,
                expires,
            } => write!(
                f,
                "{location}: a {operation} is in progress{} (its lease runs until {}); nothing was changed. Run again when it is done",
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" by {by}")
                },
                humantime::format_rfc3339_seconds(*expires)
            ),
            Self::WriteFailed {
                location,
                document,
                source,
            } => write!(
                f,
                "{location}: writing `{document}` failed ({source}); read back, it is unchanged, so nothing was changed. Run again (a request still in flight could land later: `netbootc releases` shows what `current` names)"
            ),
            Self::OutcomeUnknown {
                location,
                document,
                source,
                reread,
            } => write!(
                f,
                "{location}: writing `{document}` failed ({source}) and reading it back failed too ({reread}): whether it changed is unknown. Check with `netbootc releases` before running again"
            ),
            Self::Unsupported(msg) | Self::NoSuchRelease(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store { source, .. } => Some(source),
            Self::Io { source, .. } => Some(source),
            Self::Bundle(e) => Some(e),
            Self::Malformed { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<BundleError> for StoreError {
    fn from(e: BundleError) -> Self {
        match e {
            BundleError::DigestMismatch {
                path,
                expected,
                actual,
            } => Self::CorruptSource {
                path,
                expected,
                actual,
            },
            other => Self::Bundle(other),
        }
    }
}
