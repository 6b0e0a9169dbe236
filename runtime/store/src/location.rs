//! A bundle location (`gs://bucket/prefix`, `s3://bucket/prefix`, `file:///dir`, a plain
//! path) → an [`ObjectStore`] and the key prefix the bundle lives under.

use std::fmt;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use netboot_bundle::BundleDir;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};

use crate::StoreError;

/// The locations [`Location::open`] takes, spelt once for every help text and error.
macro_rules! location_forms {
    () => {
        "gs://bucket/prefix, s3://bucket/prefix, file:///dir or a directory"
    };
}

/// The locations [`Location::open`] takes, as help texts name them.
pub const LOCATION_FORMS: &str = location_forms!();

/// Where a bundle lives: a store, the prefix inside it, and what the store can do.
#[derive(Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    /// Key prefix of the bundle root ("" for the root of the store), without slashes at
    /// either end.
    pub prefix: String,
    /// The location as the operator wrote it, for messages.
    pub label: String,
    /// `Some` for a local directory. `object_store`'s `LocalFileSystem` has no conditional
    /// update, so there the pointer is swapped under an advisory lock instead, and written
    /// by the bundle format's durable writer (see [`crate::swap`]).
    pub local: Option<BundleDir>,
    /// Whether the store keeps `Cache-Control` / `Content-Type` (local files do not).
    pub attributes: bool,
    /// Write even if the store ignores conditional puts (the operator's explicit choice;
    /// see [`crate::write::probe_conditional_puts`]).
    pub allow_unconditional: bool,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .field("label", &self.label)
            .field("local", &self.local)
            .finish()
    }
}

/// object_store's default cuts any request at 30 s, body included; it resumes a cut
/// download with a ranged GET, but only within the retry budget ([`retry_config`]), so a
/// read of more than a few minutes (a large image over a slow link, into netboot-serve's
/// mirror) failed however healthy the transfer. A stall is what should end a request: no
/// byte for [`STALL`]; the whole request gets a day.
const WHOLE_REQUEST: &str = "24h";
const STALL: &str = "60s";

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

impl Location {
    /// Any store (tests use `InMemory`), with attributes and conditional updates.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, label: impl Into<String>) -> Self {
        Self {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            label: label.into(),
            local: None,
            attributes: true,
            allow_unconditional: false,
        }
    }

    /// A local directory through `LocalFileSystem`, created if missing when `create` is
    /// set.
    pub fn local(dir: &FsPath, create: bool) -> Result<Self, StoreError> {
        if create {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        let root = dir.canonicalize().map_err(|e| StoreError::io(dir, e))?;
        let label = dir.display().to_string();
        let store =
            LocalFileSystem::new_with_prefix(&root).map_err(|e| StoreError::store(&label, e))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: String::new(),
            label,
            local: Some(BundleDir::new(root)),
            attributes: false,
            allow_unconditional: false,
        })
    }

    /// Opens `gs://bucket/prefix`, `s3://bucket/prefix`, `file:///dir` or a path. A local
    /// directory is created when `create` is set (publishing), and must exist otherwise.
    ///
    /// Credentials and endpoints come from the environment the way `object_store` reads
    /// them: `GOOGLE_SERVICE_ACCOUNT` / `GOOGLE_SERVICE_ACCOUNT_KEY` /
    /// `GOOGLE_APPLICATION_CREDENTIALS` (or the metadata server's workload identity) for
    /// `gs://`; `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`,
    /// `AWS_ALLOW_HTTP` … for `s3://`.
    pub fn open(location: &str, create: bool) -> Result<Self, StoreError> {
        install_crypto_provider();
        let bad = |reason: &'static str| StoreError::BadLocation {
            location: location.to_owned(),
            reason,
        };
        if let Some(rest) = location.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(bad(
                    "file:// URLs need an absolute path (file:///srv/bundle)",
                ));
            }
            return Self::local(FsPath::new(rest), create).map(|local| Self {
                label: location.to_owned(),
                ..local
            });
        }
        let Some((scheme, rest)) = location.split_once("://") else {
            return Self::local(FsPath::new(location), create);
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("missing bucket name"));
        }
        if bucket.contains(['@', ':']) {
            // Credentials written into the URL would be echoed in every error message.
            return Err(bad(
                "credentials do not belong in the location; set them in the environment",
            ));
        }
        let built: object_store::Result<Arc<dyn ObjectStore>> = match scheme {
            "gs" => GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_config(
                    GoogleConfigKey::Client(ClientConfigKey::Timeout),
                    WHOLE_REQUEST,
                )
                .with_config(GoogleConfigKey::Client(ClientConfigKey::ReadTimeout), STALL)
                .with_retry(retry_config())
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
            "s3" => AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_config(
                    AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                    WHOLE_REQUEST,
                )
                .with_config(
                    AmazonS3ConfigKey::Client(ClientConfigKey::ReadTimeout),
                    STALL,
                )
                // If-Match / If-None-Match: AWS S3 (since 2024), R2, MinIO, moto.
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                .with_retry(retry_config())
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
            _ => {
                return Err(bad(concat!("unsupported scheme; use ", location_forms!())));
            }
        };
        let store = built.map_err(|e| StoreError::store(location, e))?;
        Ok(Self::new(store, prefix, location))
    }

    /// Whether `location` names a local directory (a path or `file://`).
    pub fn is_local(location: &str) -> bool {
        location.starts_with("file://") || !location.contains("://")
    }

    /// The key of `rel` (a path relative to the bundle root).
    pub fn key(&self, rel: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rel)
        } else {
            Path::from(format!("{}/{rel}", self.prefix))
        }
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
        for bad in [
            "file://relative",
            "gs:///x",
            "ftp://b/x",
            "s3://key:secret@b/x",
        ] {
            assert!(
                matches!(
                    Location::open(bad, false),
                    Err(StoreError::BadLocation { .. })
                ),
                "{bad}"
            );
        }
        let unsupported = Location::open("ftp://b/x", false)
            .err()
            .map(|e| e.to_string());
        assert!(
            unsupported
                .as_deref()
                .is_some_and(|e| e.ends_with(&format!("use {LOCATION_FORMS}"))),
            "{unsupported:?}"
        );
        let memory = Location::new(
            Arc::new(object_store::memory::InMemory::new()),
            "/a/b/",
            "memory",
        );
        assert_eq!(memory.key("current").as_ref(), "a/b/current");
        let root = Location::new(Arc::new(object_store::memory::InMemory::new()), "", "m");
        assert_eq!(root.key("current").as_ref(), "current");
        assert!(
            Location::is_local("/srv/b")
                && Location::is_local("file:///srv")
                && !Location::is_local("gs://b/p")
        );
    }
}
