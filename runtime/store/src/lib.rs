//! A bundle location (`gs://bucket/prefix`, `s3://bucket/prefix`, `file:///dir`, a plain
//! path) → an [`ObjectStore`] and the key prefix the bundle lives under. Shared by
//! `netbootc` (publish, releases, rollback, gc, diff) and `netboot-serve` (reading a
//! bundle from a bucket), so both open a location the same way.
//!
//! Credentials and endpoints come from the environment the way `object_store` reads them:
//! `GOOGLE_SERVICE_ACCOUNT` / `GOOGLE_SERVICE_ACCOUNT_KEY` / `GOOGLE_APPLICATION_CREDENTIALS`
//! (or the metadata server's workload identity) for `gs://`; `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP` … for `s3://`.
//! TLS is rustls with ring (no aws-lc-rs), installed as the process default on first use.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};

pub use object_store;

/// An opened location.
#[derive(Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    /// Key prefix of the bundle root ("" for the root of the store), without slashes at
    /// either end.
    pub prefix: String,
    /// `Some(root)` (canonical) when the location is a local directory.
    pub local_root: Option<PathBuf>,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .field("local_root", &self.local_root)
            .finish()
    }
}

/// Why a location could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The location is malformed; the reason says how to write it.
    BadLocation(&'static str),
    /// A local directory could not be created or resolved.
    Io(PathBuf, std::io::Error),
    /// The store client could not be built (credentials, configuration).
    Store(object_store::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLocation(reason) => f.write_str(reason),
            Self::Io(path, e) => write!(f, "{}: {e}", path.display()),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Retries with exponential backoff on transient errors (5xx, timeouts, connection
/// resets): 100 ms doubling to 15 s, at most 10 tries and 3 minutes per request.
pub fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: 10,
        retry_timeout: Duration::from_secs(180),
    }
}

/// A local directory through `LocalFileSystem`, created if missing when `create` is set.
pub fn open_local(dir: &FsPath, create: bool) -> Result<Location, OpenError> {
    if create {
        std::fs::create_dir_all(dir).map_err(|e| OpenError::Io(dir.to_owned(), e))?;
    }
    let root = dir
        .canonicalize()
        .map_err(|e| OpenError::Io(dir.to_owned(), e))?;
    // fsync objects and the pointer, so a power cut cannot leave `current` naming
    // truncated objects.
    let store = LocalFileSystem::new_with_prefix(&root)
        .map_err(OpenError::Store)?
        .with_fsync(true);
    Ok(Location {
        store: Arc::new(store),
        prefix: String::new(),
        local_root: Some(root),
    })
}

/// Opens `gs://bucket/prefix`, `s3://bucket/prefix`, `file:///dir` or a path. A local
/// directory is created when `create` is set (publishing), and must exist otherwise.
pub fn open(location: &str, create: bool) -> Result<Location, OpenError> {
    install_crypto_provider();
    if let Some(rest) = location.strip_prefix("file://") {
        if !rest.starts_with('/') {
            return Err(OpenError::BadLocation(
                "file:// URLs need an absolute path (file:///srv/bundle)",
            ));
        }
        return open_local(FsPath::new(rest), create);
    }
    let Some((scheme, rest)) = location.split_once("://") else {
        return open_local(FsPath::new(location), create);
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(OpenError::BadLocation("missing bucket name"));
    }
    if bucket.contains(['@', ':']) {
        // Credentials written into the URL would be echoed in every error message.
        return Err(OpenError::BadLocation(
            "credentials do not belong in the location; set them in the environment",
        ));
    }
    let store: Arc<dyn ObjectStore> = match scheme {
        "gs" => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry_config())
                .build()
                .map_err(OpenError::Store)?,
        ),
        "s3" => Arc::new(
            AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                // If-Match / If-None-Match: AWS S3 (since 2024), R2, MinIO, moto.
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                .with_retry(retry_config())
                .build()
                .map_err(OpenError::Store)?,
        ),
        _ => {
            return Err(OpenError::BadLocation(
                "unsupported scheme; use gs://, s3://, file:// or a directory path",
            ));
        }
    };
    Ok(Location {
        store,
        prefix: prefix.trim_matches('/').to_owned(),
        local_root: None,
    })
}

/// Whether `location` names a local directory (a path or `file://`).
pub fn is_local(location: &str) -> bool {
    location.starts_with("file://") || !location.contains("://")
}

/// The key of `rel` (a path relative to the bundle root) under `prefix`.
pub fn key(prefix: &str, rel: &str) -> Path {
    if prefix.is_empty() {
        Path::from(rel)
    } else {
        Path::from(format!("{prefix}/{rel}"))
    }
}

/// reqwest is built with rustls and no bundled provider (the workspace uses ring, not
/// aws-lc-rs); give rustls its process-wide default once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert!(matches!(
            open("file://relative", false),
            Err(OpenError::BadLocation(_))
        ));
        assert!(matches!(
            open("gs:///x", false),
            Err(OpenError::BadLocation(_))
        ));
        assert!(matches!(
            open("ftp://b/x", false),
            Err(OpenError::BadLocation(_))
        ));
        assert_eq!(key("", "current").as_ref(), "current");
        assert_eq!(key("a/b", "current").as_ref(), "a/b/current");
        assert!(is_local("/srv/b") && is_local("file:///srv") && !is_local("gs://b/p"));
    }
}
