//! `netbootc diff <old> [<new>]`: what changes between two releases (directories or store
//! URLs; `<new>` defaults to `out`), machine by machine, then profiles and routes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use netboot_bundle::{Digest, Manifest};

use crate::publish::{self, PublishError};
use crate::store::Target;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The release to compare from: a store URL (gs://, s3://, file://) or a bundle
    /// directory; its `current` is read.
    pub old: String,
    /// The release to compare to [default: out]
    pub new: Option<String>,
    /// Only the counts, not each machine and route.
    #[arg(long)]
    pub stat: bool,
}

pub fn cmd_diff(args: DiffArgs) -> Result<(), PublishError> {
    let new = args
        .new
        .unwrap_or_else(|| PathBuf::from("out").display().to_string());
    let old_target = Target::parse(&args.old, false)?;
    let new_target = Target::parse(&new, false)?;
    let (old, new) = publish::block_on(async {
        let old = publish::load_current(&old_target).await?;
        let new = publish::load_current(&new_target).await?;
        Ok((old, new))
    })?;
    let text = render(
        (&old_target.label, &old.0, &old.1),
        (&new_target.label, &new.0, &new.1),
        !args.stat,
    );
    use std::io::Write as _;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| PublishError::io("<stdout>", e))
}

/// Changes between two maps: (added, removed, changed) keys.
fn compare<'a, V: PartialEq>(
    old: &'a BTreeMap<String, V>,
    new: &'a BTreeMap<String, V>,
) -> (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>) {
    let added = new
        .keys()
        .filter(|k| !old.contains_key(*k))
        .map(String::as_str)
        .collect();
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(String::as_str)
        .collect();
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .map(|(k, _)| k.as_str())
        .collect();
    (added, removed, changed)
}

/// The object a machine's script lives in (its by-name route).
fn script(manifest: &Manifest, name: &str) -> Option<Digest> {
    manifest
        .routes
        .get(&format!("machines/by-name/{name}.ipxe"))
        .map(|r| r.object)
}

/// The human-readable diff.
pub fn render(
    (old_label, old_digest, old): (&str, &Digest, &Manifest),
    (new_label, new_digest, new): (&str, &Digest, &Manifest),
    detail: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "--- {old_label} ({old_digest})");
    let _ = writeln!(out, "+++ {new_label} ({new_digest})");
    if old_digest == new_digest {
        out.push_str("no changes: the same release\n");
        return out;
    }

    // Machines: the index entry, plus whether the script itself changed.
    let changed_machines: Vec<(&str, Vec<String>)> = new
        .machines
        .iter()
        .filter_map(|(name, m)| {
            let o = old.machines.get(name)?;
            let mut what = Vec::new();
            if o.profile != m.profile {
                what.push(format!("profile {} → {}", o.profile, m.profile));
            }
            if o.macs != m.macs {
                what.push(format!("macs {} → {}", o.macs.join(","), m.macs.join(",")));
            }
            if o.routes != m.routes && o.macs == m.macs {
                what.push("routes".to_owned());
            }
            if script(old, name) != script(new, name) {
                what.push("script".to_owned());
            }
            (!what.is_empty()).then_some((name.as_str(), what))
        })
        .collect();
    let (m_added, m_removed, _) = compare(&old.machines, &new.machines);
    let _ = writeln!(
        out,
        "machines: {} added, {} removed, {} changed",
        m_added.len(),
        m_removed.len(),
        changed_machines.len()
    );
    if detail {
        for name in &m_added {
            let m = &new.machines[*name];
            let _ = writeln!(
                out,
                "  + {name}  profile {}, macs {}",
                m.profile,
                m.macs.join(",")
            );
        }
        for name in &m_removed {
            let _ = writeln!(out, "  - {name}");
        }
        for (name, what) in &changed_machines {
            let _ = writeln!(out, "  ~ {name}  {}", what.join("; "));
        }
    }

    let (p_added, p_removed, p_changed) = compare(&old.profiles, &new.profiles);
    let _ = writeln!(
        out,
        "profiles: {} added, {} removed, {} changed",
        p_added.len(),
        p_removed.len(),
        p_changed.len()
    );
    if detail {
        for name in &p_added {
            let _ = writeln!(out, "  + {name}");
        }
        for name in &p_removed {
            let _ = writeln!(out, "  - {name}");
        }
        for name in &p_changed {
            let _ = writeln!(
                out,
                "  ~ {name}  image manifest {} → {}",
                old.profiles[*name].image_manifest, new.profiles[*name].image_manifest
            );
        }
    }

    let (r_added, r_removed, r_changed) = compare(&old.routes, &new.routes);
    let _ = writeln!(
        out,
        "routes: {} added, {} removed, {} changed",
        r_added.len(),
        r_removed.len(),
        r_changed.len()
    );
    if detail {
        for route in &r_added {
            let _ = writeln!(out, "  + {route}");
        }
        for route in &r_removed {
            let _ = writeln!(out, "  - {route}");
        }
        for route in &r_changed {
            let _ = writeln!(out, "  ~ {route}");
        }
    }
    out
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
                },
            );
        }
        m
    }

    #[test]
    fn reports_added_removed_and_changed_machines() {
        let old = manifest(&[("a", "p", "1"), ("b", "p", "2"), ("c", "p", "3")]);
        let new = manifest(&[("a", "p", "1"), ("b", "q", "2x"), ("d", "p", "4")]);
        let text = render(
            ("old", &Digest::of(b"o"), &old),
            ("new", &Digest::of(b"n"), &new),
            true,
        );
        assert!(
            text.contains("machines: 1 added, 1 removed, 1 changed"),
            "{text}"
        );
        assert!(text.contains("  + d  profile p"), "{text}");
        assert!(text.contains("  - c\n"), "{text}");
        assert!(text.contains("  ~ b  profile p → q; script"), "{text}");
        assert!(
            text.contains("routes: 1 added, 1 removed, 1 changed"),
            "{text}"
        );
    }
}
