//! A netboot bundle in an object store (`gs://`, `s3://`, `file://`, a directory), through
//! the `object_store` crate: opening a location, reading releases (verified), and the
//! operations that change a store: publish, rollback and gc, each planned first (no
//! writes) and then executed, with the history of release records they keep. `netbootc`
//! is the command line over this library (arguments, confirmation, progress, printing);
//! netboot-serve reads bundles from buckets with it.
//!
//! ```text
//! location ── read (current, objects, manifests, records, listing; verified)
//!    │             │
//!    │   publish / rollback / gc ── plan (reads only) ── execute
//!    │             │                                        │
//!    └── write (create-only objects; conditional swap of current) ── history (records)
//! ```
//!
//! Changes hold the store's [`fence`] (publish and rollback together, gc alone), so gc
//! never deletes what a publish in flight is about to make reachable. Every fallible
//! function returns [`StoreError`]. TLS is rustls with ring (no aws-lc-rs),
//! installed as the process default on first use.

pub mod diff;
mod error;
pub mod fence;
pub mod gc;
pub mod history;
mod location;
pub mod publish;
pub mod read;
pub mod rollback;
pub mod write;

pub use error::{StoreError, describe_release};
pub use location::{LOCATION_FORMS, Location, install_crypto_provider, retry_config};
pub use object_store;
