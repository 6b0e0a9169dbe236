use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::Digest;

/// Why bytes are not a valid pointer, manifest or release record. Where they came from
/// (a file, a store key, an origin URL) is for the caller to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Larger than the format allows for this kind of document.
    TooLarge { limit: u64 },
    /// Not the JSON this document must be.
    Json(String),
    /// Another format tag than the one this reader knows.
    UnknownFormat {
        found: String,
        expected: &'static str,
    },
    /// A manifest route that is not a safe relative path, or one of the bundle's own paths.
    BadRoute { route: String, reason: &'static str },
    /// A manifest names one object with two different sizes.
    SizeConflict { object: Digest },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(f, "larger than the {limit}-byte limit"),
            Self::Json(reason) => f.write_str(reason),
            Self::UnknownFormat { found, expected } => {
                write!(f, "format {found:?} is not {expected:?}")
            }
            Self::BadRoute { route, reason } => write!(f, "route {route:?}: {reason}"),
            Self::SizeConflict { object } => {
                write!(f, "object {object} is given two different sizes")
            }
        }
    }
}

impl std::error::Error for FormatError {}

/// Everything that can go wrong reading or writing a bundle on disk.
#[derive(Debug)]
pub enum BundleError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// A file is not the document it should be.
    Format {
        path: PathBuf,
        error: FormatError,
    },
    /// An object's bytes do not hash to its name.
    DigestMismatch {
        path: PathBuf,
        expected: Digest,
        actual: Digest,
    },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Format { path, error } => write!(f, "{}: {error}", path.display()),
            Self::DigestMismatch {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: content does not match its digest (expected {expected}, found {actual})",
                path.display()
            ),
        }
    }
}

impl std::error::Error for BundleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Format { error, .. } => Some(error),
            Self::DigestMismatch { .. } => None,
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
