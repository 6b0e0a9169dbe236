//! What changes between two releases: machine by machine, then profiles and routes.

use std::collections::BTreeMap;

use netboot_bundle::{Digest, Manifest};

/// Keys added, removed and changed between two maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes<'a, T = ()> {
    pub added: Vec<&'a str>,
    pub removed: Vec<&'a str>,
    /// Each changed key with what changed about it.
    pub changed: Vec<(&'a str, T)>,
}

/// What changed about a machine present in both releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineChange<'a> {
    Profile {
        from: &'a str,
        to: &'a str,
    },
    Macs {
        from: &'a [String],
        to: &'a [String],
    },
    /// Its routes changed although its MACs did not (a UUID added or removed).
    Routes,
    /// Its script's bytes changed.
    Script,
    /// These provisioning files were added, removed or changed (by name: a diff never shows
    /// their contents, which may hold secrets).
    Files(Vec<&'a str>),
}

/// The differences between two manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDiff<'a> {
    pub machines: Changes<'a, Vec<MachineChange<'a>>>,
    /// Changed profiles carry their image manifest digests (old, new).
    pub profiles: Changes<'a, (Digest, Digest)>,
    pub routes: Changes<'a>,
}

fn compare<'a, V, T>(
    old: &'a BTreeMap<String, V>,
    new: &'a BTreeMap<String, V>,
    change: impl Fn(&'a str, &'a V, &'a V) -> Option<T>,
) -> Changes<'a, T> {
    Changes {
        added: new
            .keys()
            .filter(|k| !old.contains_key(*k))
            .map(String::as_str)
            .collect(),
        removed: old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .map(String::as_str)
            .collect(),
        changed: new
            .iter()
            .filter_map(|(k, v)| {
                let o = old.get(k)?;
                change(k, o, v).map(|what| (k.as_str(), what))
            })
            .collect(),
    }
}

/// The object a machine's script lives in (its by-name route).
fn script(manifest: &Manifest, name: &str) -> Option<Digest> {
    manifest
        .routes
        .get(&netboot_protocol::routes::machine_by_name(name))
        .map(|r| r.object)
}

/// Compares two releases.
pub fn diff<'a>(old: &'a Manifest, new: &'a Manifest) -> ReleaseDiff<'a> {
    ReleaseDiff {
        machines: compare(&old.machines, &new.machines, |name, o, m| {
            let mut what = Vec::new();
            if o.profile != m.profile {
                what.push(MachineChange::Profile {
                    from: &o.profile,
                    to: &m.profile,
                });
            }
            if o.macs != m.macs {
                what.push(MachineChange::Macs {
                    from: &o.macs,
                    to: &m.macs,
                });
            } else if o.routes != m.routes {
                what.push(MachineChange::Routes);
            }
            if script(old, name) != script(new, name) {
                what.push(MachineChange::Script);
            }
            let files: Vec<&str> = o
                .files
                .keys()
                .chain(m.files.keys())
                .filter(|f| o.files.get(*f) != m.files.get(*f))
                .map(String::as_str)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if !files.is_empty() {
                what.push(MachineChange::Files(files));
            }
            (!what.is_empty()).then_some(what)
        }),
        profiles: compare(&old.profiles, &new.profiles, |_, o, p| {
            (o != p).then_some((o.image_manifest, p.image_manifest))
        }),
        routes: compare(&old.routes, &new.routes, |_, o, r| (o != r).then_some(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_bundle::{MachineEntry, RouteEntry};

    fn manifest(machines: &[(&str, &str, &str)]) -> Manifest {
        let mut m = Manifest::new();
        for (name, profile, body) in machines {
            let route = format!("machines/by-name/{name}.ipxe");
            m.routes.insert(
                route.clone(),
                RouteEntry {
                    object: Digest::of(body.as_bytes()),
                    size: body.len() as u64,
                    content_type: "text/plain".into(),
                },
            );
            m.machines.insert(
                (*name).into(),
                MachineEntry {
                    profile: (*profile).into(),
                    macs: vec![],
                    routes: vec![route],
                    files: BTreeMap::new(),
                },
            );
        }
        m
    }

    #[test]
    fn reports_added_removed_and_changed_machines() {
        let old = manifest(&[("a", "p", "1"), ("b", "p", "2"), ("c", "p", "3")]);
        let new = manifest(&[("a", "p", "1"), ("b", "q", "2x"), ("d", "p", "4")]);
        let d = diff(&old, &new);
        assert_eq!(d.machines.added, ["d"]);
        assert_eq!(d.machines.removed, ["c"]);
        assert_eq!(
            d.machines.changed,
            [(
                "b",
                vec![
                    MachineChange::Profile { from: "p", to: "q" },
                    MachineChange::Script
                ]
            )]
        );
        assert_eq!(d.routes.added, ["machines/by-name/d.ipxe"]);
        assert_eq!(d.routes.removed, ["machines/by-name/c.ipxe"]);
        assert_eq!(d.routes.changed, [("machines/by-name/b.ipxe", ())]);
    }

    #[test]
    fn names_changed_provisioning_files_without_their_contents() {
        let old = manifest(&[("a", "p", "1")]);
        let mut new = old.clone();
        let files = |pairs: &[(&str, &[u8])]| {
            pairs
                .iter()
                .map(|(name, bytes)| ((*name).to_owned(), Digest::of(bytes)))
                .collect::<BTreeMap<_, _>>()
        };
        fn machine(m: &mut Manifest) -> &mut MachineEntry {
            m.machines.get_mut("a").expect("a")
        }
        machine(&mut new).files = files(&[("ignition", b"x"), ("meta-data", b"m")]);
        let before = new.clone();
        machine(&mut new).files = files(&[("ignition", b"y"), ("user-data", b"u")]);
        assert_eq!(
            diff(&old, &before).machines.changed,
            [(
                "a",
                vec![MachineChange::Files(vec!["ignition", "meta-data"])]
            )]
        );
        assert_eq!(
            diff(&before, &new).machines.changed,
            [(
                "a",
                vec![MachineChange::Files(vec![
                    "ignition",
                    "meta-data",
                    "user-data"
                ])]
            )]
        );
        assert!(diff(&new, &new).machines.changed.is_empty());
    }
}
