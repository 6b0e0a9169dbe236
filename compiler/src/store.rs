//! A bundle location (`gs://bucket/prefix`, `s3://bucket/prefix`, `file:///dir`, a plain
//! path) → an [`ObjectStore`] and the key prefix the bundle lives under.
//!
//! Credentials and endpoints come from the environment the way `object_store` reads them:
//! `GOOGLE_SERVICE_ACCOUNT` / `GOOGLE_SERVICE_ACCOUNT_KEY` / `GOOGLE_APPLICATION_CREDENTIALS`
//! (or the metadata server's workload identity) for `gs://`; `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP` … for `s3://`.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use netboot_store::{Location, OpenError};
use object_store::path::Path;
use object_store::{ObjectStore, RetryConfig};

use crate::publish::PublishError as Error;

/// Where a bundle lives: a store, the prefix inside it, and what the store can do.
#[derive(Clone)]
pub struct Target {
    pub store: Arc<dyn ObjectStore>,
    /// Key prefix of the bundle root ("" for the root of the store).
    pub prefix: String,
    /// The location as the operator wrote it, for messages.
    pub label: String,
    /// `Some(root)` for a local directory: `object_store`'s `LocalFileSystem` has no
    /// conditional update, so the pointer is swapped under an advisory lock on
    /// `<root>/.current.lock` instead (see `release::write_pointer`).
    pub local_root: Option<PathBuf>,
    /// Whether the store keeps `Cache-Control` / `Content-Type` (local files do not).
    pub attributes: bool,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .field("label", &self.label)
            .field("local_root", &self.local_root)
            .finish()
    }
}

/// Retries with exponential backoff on transient errors (see [`netboot_store::retry_config`]).
pub fn retry_config() -> RetryConfig {
    netboot_store::retry_config()
}

impl Target {
    /// Any store (tests use `InMemory`), with attributes and conditional updates.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, label: impl Into<String>) -> Self {
        Self {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            label: label.into(),
            local_root: None,
            attributes: true,
        }
    }

    /// A local directory, created if missing when `create` is set.
    pub fn local(dir: &FsPath, create: bool) -> Result<Self, Error> {
        let opened = netboot_store::open_local(dir, create)
            .map_err(|e| open_error(dir.display().to_string(), e))?;
        Ok(Self::from_location(opened, dir.display().to_string()))
    }

    /// Parses `gs://bucket/prefix`, `s3://bucket/prefix`, `file:///dir` or a path. A local
    /// directory is created when `create` is set (publishing), and must exist otherwise.
    pub fn parse(location: &str, create: bool) -> Result<Self, Error> {
        let opened = netboot_store::open(location, create).map_err(|e| match e {
            OpenError::BadLocation(reason) => Error::BadLocation {
                location: location.to_owned(),
                reason: reason.to_owned(),
            },
            // A local directory's errors name the directory, a bucket's the URL.
            e if netboot_store::is_local(location) => open_error(
                location
                    .strip_prefix("file://")
                    .unwrap_or(location)
                    .to_owned(),
                e,
            ),
            e => open_error(location.to_owned(), e),
        })?;
        Ok(Self::from_location(opened, location.to_owned()))
    }

    fn from_location(opened: Location, label: String) -> Self {
        let local = opened.local_root.is_some();
        Self {
            store: opened.store,
            prefix: opened.prefix,
            label,
            local_root: opened.local_root,
            attributes: !local,
        }
    }

    /// Whether `location` names a local directory (a path or `file://`).
    pub fn is_local(location: &str) -> bool {
        netboot_store::is_local(location)
    }

    /// The key of `rel` (a path relative to the bundle root).
    pub fn key(&self, rel: &str) -> Path {
        netboot_store::key(&self.prefix, rel)
    }
}

fn open_error(label: String, e: OpenError) -> Error {
    match e {
        OpenError::Io(path, e) => Error::io(&path, e),
        OpenError::Store(e) => Error::store(label, e),
        OpenError::BadLocation(reason) => Error::BadLocation {
            location: label,
            reason: reason.to_owned(),
        },
    }
}

/// Installs rustls' ring provider as the process default (see
/// [`netboot_store::install_crypto_provider`]).
pub fn install_crypto_provider() {
    netboot_store::install_crypto_provider();
}
