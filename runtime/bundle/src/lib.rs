//! The `netboot-bundle/1` format shared by the compiler (which writes bundles) and the
//! servers (which read them).
//!
//! A bundle is a flat, content-addressed store plus one mutable pointer:
//!
//! ```text
//! objects/sha256/<64 lowercase hex>   every artifact, named by the sha256 of its bytes
//! current                             {"format":"netboot-bundle/1","manifest":"sha256:<hex>"}
//! ```
//!
//! The manifest (itself an object) maps URL routes to objects. Everything that is written
//! goes through [`canonical::to_vec`] so the same inputs give byte-identical bundles.
//! This crate stays small on purpose (serde and sha2): the sink and proxy link it.

pub mod canonical;
mod digest;
mod dir;
mod error;
mod manifest;
mod route;

pub use digest::{Digest, DigestParseError};
pub use dir::{BundleDir, temporary_sibling, write_atomic};
pub use error::BundleError;
pub use manifest::{FORMAT, MachineEntry, Manifest, Pointer, ProfileEntry, RouteEntry};
pub use route::{CURRENT, OBJECTS_DIR, check_route, object_path};

/// `Cache-Control` for immutable, content-addressed objects.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` for routes and the pointer, which change between releases.
pub const CACHE_NO_CACHE: &str = "no-cache";
