use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Digest;

/// The format tag carried by manifests and pointers.
pub const FORMAT: &str = "netboot-bundle/1";

/// The release: every route and what it serves, plus an index of machines and profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// URL path (no leading slash) → object.
    pub routes: BTreeMap<String, RouteEntry>,
    pub machines: BTreeMap<String, MachineEntry>,
    pub profiles: BTreeMap<String, ProfileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteEntry {
    pub object: Digest,
    pub size: u64,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineEntry {
    pub profile: String,
    /// Lowercase, hyphen-separated, as iPXE's `${mac:hexhyp}` prints them.
    pub macs: Vec<String>,
    /// Every route that serves this machine's script, sorted.
    pub routes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEntry {
    pub image_manifest: Digest,
}

/// The content of `current`: the one mutable file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    pub format: String,
    pub manifest: Digest,
    /// The release record (an object, written by `netbootc publish` and `rollback`) that
    /// names this manifest and the record of the release it replaced. Absent in bundles
    /// written by `netbootc build`; servers only need `manifest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<Digest>,
}

impl Manifest {
    pub fn new() -> Self {
        Self {
            format: FORMAT.to_owned(),
            routes: BTreeMap::new(),
            machines: BTreeMap::new(),
            profiles: BTreeMap::new(),
        }
    }

    /// Canonical bytes of the manifest; their digest names the release.
    pub fn to_canonical(&self) -> Vec<u8> {
        crate::canonical::to_vec(self).expect("a manifest always serialises")
    }
}

impl Default for Manifest {
    fn default() -> Self {
        Self::new()
    }
}

impl Pointer {
    pub fn new(manifest: Digest) -> Self {
        Self {
            format: FORMAT.to_owned(),
            manifest,
            release: None,
        }
    }

    /// A pointer that also names its release record.
    pub fn with_release(manifest: Digest, release: Digest) -> Self {
        Self {
            release: Some(release),
            ..Self::new(manifest)
        }
    }

    pub fn to_canonical(&self) -> Vec<u8> {
        crate::canonical::to_vec(self).expect("a pointer always serialises")
    }
}
