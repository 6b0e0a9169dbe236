use std::collections::BTreeMap;

use netboot_protocol::{Firmware, Named, routes};
use serde::{Deserialize, Serialize};

use crate::{CURRENT, Digest, FormatError, check_route};

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
    /// Firmware class name ([`netboot_protocol::Named::name`] of a [`Firmware`]) → the route of its first-stage boot
    /// file (`tftp/<name>`). Absent when the site declares none; readers ignore classes
    /// they do not know.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub firmware: BTreeMap<String, String>,
    /// MAC (as in `machines`) of a machine that boots with Secure Boot on → the route of
    /// its class's Secure Boot first stage, which DHCP answers give it instead of the
    /// class's file. Absent when no machine has one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secure_boot: BTreeMap<String, String>,
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
    /// The machine's provisioning files by name: the object each one is (its route is
    /// `files/<set>/<name>`). Absent when it has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEntry {
    pub image_manifest: Digest,
}

/// An object a manifest needs, as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referenced {
    /// The size the manifest promises; a profile's image manifest that no route serves
    /// has none.
    pub size: Option<u64>,
    pub content_type: String,
    /// Where the release uses it: the first route that serves it (in route order), else
    /// `image manifest of profile <name>`.
    pub used_by: String,
}

/// What JSON documents (image manifests, `current`) are served as.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// What `objects/…` are served as (the bytes are named by digest, not by kind).
pub const CONTENT_TYPE_OBJECT: &str = "application/octet-stream";

impl Manifest {
    /// Manifests grow with the fleet (about 300 bytes a machine); 256 MiB is far past any
    /// fleet, and bounds what a reader holds in memory.
    pub const MAX_BYTES: u64 = 256 * 1024 * 1024;

    pub fn new() -> Self {
        Self {
            format: FORMAT.to_owned(),
            routes: BTreeMap::new(),
            machines: BTreeMap::new(),
            profiles: BTreeMap::new(),
            firmware: BTreeMap::new(),
            secure_boot: BTreeMap::new(),
        }
    }

    /// Objects served as machines' provisioning files (under `files/`): the ones that can
    /// hold secrets, whose copies on disk only their owner and group may read.
    pub fn provisioning_objects(&self) -> std::collections::BTreeSet<Digest> {
        self.routes
            .iter()
            .filter(|(route, _)| route.starts_with(routes::FILES))
            .map(|(_, entry)| entry.object)
            .collect()
    }

    /// Parses and checks a manifest: its size, its format tag, every route (a safe
    /// relative path, and not `current` or `objects/…`, which would shadow the pointer or
    /// serve other bytes under an object's content address), and that no object is given
    /// two sizes.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let manifest: Self = crate::parse_document(bytes, Self::MAX_BYTES)?;
        crate::check_format(&manifest.format, FORMAT)?;
        let mut sizes: BTreeMap<Digest, u64> = BTreeMap::new();
        for (route, entry) in &manifest.routes {
            let reserved = (route == CURRENT || route.starts_with("objects/"))
                .then_some("reserved for the bundle itself");
            if let Some(reason) = reserved.or_else(|| check_route(route).err()) {
                return Err(FormatError::BadRoute {
                    route: route.clone(),
                    reason,
                });
            }
            if *sizes.entry(entry.object).or_insert(entry.size) != entry.size {
                return Err(FormatError::SizeConflict {
                    object: entry.object,
                });
            }
        }
        if let Some(route) = manifest
            .firmware
            .values()
            .chain(manifest.secure_boot.values())
            .find(|route| !manifest.routes.contains_key(*route))
        {
            return Err(FormatError::BadRoute {
                route: route.clone(),
                reason: "named as a (Secure Boot) boot file but not a route of the manifest",
            });
        }
        Ok(manifest)
    }

    /// The route of the Secure Boot first stage of the machine with `mac`, if it has one.
    pub fn secure_boot_file(&self, mac: &netboot_protocol::Mac) -> Option<&str> {
        self.secure_boot.get(&mac.hexhyp()).map(String::as_str)
    }

    /// The route of the boot file for `firmware`, if the site declares one.
    pub fn boot_file(&self, firmware: Firmware) -> Option<&str> {
        self.firmware.get(firmware.name()).map(String::as_str)
    }

    /// Every object this manifest needs (not counting the manifest itself): each route's,
    /// and each profile's image manifest.
    pub fn referenced(&self) -> BTreeMap<Digest, Referenced> {
        let mut out = BTreeMap::new();
        for (route, entry) in &self.routes {
            out.entry(entry.object).or_insert_with(|| Referenced {
                size: Some(entry.size),
                content_type: entry.content_type.clone(),
                used_by: route.clone(),
            });
        }
        for (name, profile) in &self.profiles {
            out.entry(profile.image_manifest)
                .or_insert_with(|| Referenced {
                    size: None,
                    content_type: CONTENT_TYPE_JSON.to_owned(),
                    used_by: format!("image manifest of profile {name}"),
                });
        }
        out
    }

    /// Canonical bytes of the manifest; their digest names the release.
    pub fn to_canonical(&self) -> Vec<u8> {
        crate::canonical::to_vec(self).expect("a manifest always serialises")
    }
}

impl AsRef<Manifest> for Manifest {
    fn as_ref(&self) -> &Manifest {
        self
    }
}

impl Default for Manifest {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &[u8]) -> RouteEntry {
        RouteEntry {
            object: Digest::of(body),
            size: body.len() as u64,
            content_type: "text/plain".into(),
        }
    }

    #[test]
    fn round_trips_and_lists_what_it_references() {
        let mut m = Manifest::new();
        m.routes.insert("boot.ipxe".into(), entry(b"a"));
        m.routes.insert("tftp/boot.ipxe".into(), entry(b"a"));
        m.profiles.insert(
            "p".into(),
            ProfileEntry {
                image_manifest: Digest::of(b"{}"),
            },
        );
        let back = Manifest::parse(&m.to_canonical()).unwrap();
        assert_eq!(back, m);
        let referenced = back.referenced();
        assert_eq!(referenced.len(), 2);
        assert_eq!(referenced[&Digest::of(b"a")].used_by, "boot.ipxe");
        assert_eq!(referenced[&Digest::of(b"{}")].size, None);
    }

    #[test]
    fn refuses_unsafe_routes_other_formats_and_conflicting_sizes() {
        for bad in ["../x", "current", "objects/sha256/00", "/abs"] {
            let mut m = Manifest::new();
            m.routes.insert(bad.into(), entry(b"a"));
            assert!(
                matches!(
                    Manifest::parse(&m.to_canonical()),
                    Err(FormatError::BadRoute { .. })
                ),
                "{bad}"
            );
        }
        let mut m = Manifest::new();
        m.format = "netboot-bundle/9".into();
        assert!(matches!(
            Manifest::parse(&m.to_canonical()),
            Err(FormatError::UnknownFormat { .. })
        ));
        let mut m = Manifest::new();
        m.firmware
            .insert("bios".into(), "tftp/undionly.kpxe".into());
        assert!(matches!(
            Manifest::parse(&m.to_canonical()),
            Err(FormatError::BadRoute { .. })
        ));
        m.routes.insert("tftp/undionly.kpxe".into(), entry(b"x"));
        let parsed = Manifest::parse(&m.to_canonical()).unwrap();
        assert_eq!(parsed.boot_file(Firmware::Bios), Some("tftp/undionly.kpxe"));
        assert_eq!(parsed.boot_file(Firmware::UefiArm64), None);
        // A Secure Boot first stage by MAC, likewise.
        let mac = netboot_protocol::Mac::new([0x52, 0x54, 0, 0xaa, 0, 1]);
        m.secure_boot
            .insert(mac.hexhyp(), "tftp/ipxe-shim.efi".into());
        assert!(matches!(
            Manifest::parse(&m.to_canonical()),
            Err(FormatError::BadRoute { .. })
        ));
        m.routes.insert("tftp/ipxe-shim.efi".into(), entry(b"s"));
        let parsed = Manifest::parse(&m.to_canonical()).unwrap();
        assert_eq!(parsed.secure_boot_file(&mac), Some("tftp/ipxe-shim.efi"));

        let mut m = Manifest::new();
        m.routes.insert("a".into(), entry(b"a"));
        let mut wrong = entry(b"a");
        wrong.size = 7;
        m.routes.insert("b".into(), wrong);
        assert!(matches!(
            Manifest::parse(&m.to_canonical()),
            Err(FormatError::SizeConflict { .. })
        ));
        assert!(matches!(
            Manifest::parse(b"{\"format\":"),
            Err(FormatError::Json(_))
        ));
    }
}
