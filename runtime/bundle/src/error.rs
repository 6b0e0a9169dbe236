use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::Digest;

/// Everything that can go wrong reading or writing a bundle on disk.
#[derive(Debug)]
pub enum BundleError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// A file is not the JSON it should be, or carries another format tag.
    Malformed {
        path: PathBuf,
        reason: String,
    },
    /// An object's bytes do not hash to its name.
    DigestMismatch {
        path: PathBuf,
        expected: Digest,
        actual: Digest,
    },
    TooLarge {
        path: PathBuf,
        limit: u64,
    },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Malformed { path, reason } => write!(f, "{}: {reason}", path.display()),
            Self::DigestMismatch {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: content does not match its digest (expected {expected}, found {actual})",
                path.display()
            ),
            Self::TooLarge { path, limit } => {
                write!(f, "{}: larger than the {limit}-byte limit", path.display())
            }
        }
    }
}

impl std::error::Error for BundleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T, BundleError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, BundleError> {
        self.map_err(|source| BundleError::Io {
            path: path.to_owned(),
            source,
        })
    }
}
