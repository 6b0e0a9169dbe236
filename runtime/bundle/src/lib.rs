//! The `netboot-bundle/1` format shared by the compiler (which writes bundles), the store
//! library (which publishes them) and the servers (which read them). The specification is
//! `SPEC.md` beside this crate; this crate is its one implementation.
//!
//! A bundle is a flat, content-addressed store plus one mutable pointer:
//!
//! ```text
//! objects/sha256/<64 lowercase hex>   every artifact, named by the sha256 of its bytes
//! current                             {"format":"netboot-bundle/1","manifest":"sha256:<hex>"}
//! ```
//!
//! The documents ([`Pointer`], [`Manifest`], [`Record`]) parse and check themselves, each
//! with its size limit; everything written goes through [`canonical::to_vec`] so the same
//! inputs give byte-identical bundles; the routes inside a bundle and the firmware
//! classes a manifest names are netboot-protocol's; [`BundleDir`] reads a bundle directory and writes one
//! with the format's durability policy. This crate stays small on purpose (netboot-protocol, serde, sha2,
//! and rustix for `syncfs`): the servers link it.

pub mod canonical;
mod digest;
mod dir;
mod error;
mod manifest;
mod pointer;
mod record;
mod route;

pub use digest::{Digest, DigestParseError};
pub use dir::{BundleDir, Readers, is_abandoned_temporary, temporary_sibling, write_atomic};
pub use error::{BundleError, FormatError};
pub use manifest::{
    CONTENT_TYPE_JSON, CONTENT_TYPE_OBJECT, FORMAT, MachineEntry, Manifest, ProfileEntry,
    Referenced, RouteEntry,
};
pub use pointer::Pointer;
pub use record::{RECORD_FORMAT, Record};
pub use route::{CURRENT, OBJECTS_DIR, check_route, object_path};

/// `Cache-Control` for immutable, content-addressed objects.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` for routes and the pointer, which change between releases.
pub const CACHE_NO_CACHE: &str = "no-cache";

/// JSON within a size limit.
fn parse_document<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    limit: u64,
) -> Result<T, FormatError> {
    if bytes.len() as u64 > limit {
        return Err(FormatError::TooLarge { limit });
    }
    serde_json::from_slice(bytes).map_err(|e| FormatError::Json(e.to_string()))
}

fn check_format(found: &str, expected: &'static str) -> Result<(), FormatError> {
    if found == expected {
        Ok(())
    } else {
        Err(FormatError::UnknownFormat {
            found: found.to_owned(),
            expected,
        })
    }
}
