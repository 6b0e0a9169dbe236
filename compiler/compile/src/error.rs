//! Failures that stop the pipeline before or outside diagnostics: a missing config
//! directory, I/O on files the pipeline reads or writes. Problems in the config are
//! diagnostics instead; the `netbootc` binary's error wraps these with its commands' own.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    ConfigDirMissing { path: PathBuf },
    Io { path: PathBuf, source: io::Error },
    Bundle(netboot_bundle::BundleError),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConfigDirMissing { path } => write!(
                f,
                "config directory `{}` does not exist or lacks `machines/` and `profiles/`",
                path.display()
            ),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Bundle(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<netboot_bundle::BundleError> for Error {
    fn from(e: netboot_bundle::BundleError) -> Self {
        Self::Bundle(e)
    }
}
