//! `diff`: what changed between two releases, by machine and route.

use netboot_bundle::Digest;
use netboot_store::diff::{Changes, MachineChange};
use netboot_store::{Location, StoreError, read};

use crate::cli::DiffArgs;
use crate::error::Error;
use crate::output::print;

use super::runtime;

pub fn diff(args: DiffArgs) -> Result<(), Error> {
    let new = args
        .new
        .unwrap_or_else(|| args.bundle.dir().display().to_string());
    let old_location = Location::open(&args.old, false)?;
    let new_location = Location::open(&new, false)?;
    let (old, new) = runtime()?.block_on(async {
        let old = read::read_current(&old_location).await?;
        let new = read::read_current(&new_location).await?;
        Ok::<_, StoreError>((old, new))
    })?;
    print(&diff_text(
        (&old_location.label, &old.0, &old.1),
        (&new_location.label, &new.0, &new.1),
        !args.stat,
    ))
}

/// The human-readable diff.
pub fn diff_text(
    (old_label, old_digest, old): (&str, &Digest, &netboot_bundle::Manifest),
    (new_label, new_digest, new): (&str, &Digest, &netboot_bundle::Manifest),
    detail: bool,
) -> String {
    use std::fmt::Write as _;
    let mut out = format!("--- {old_label} ({old_digest})\n+++ {new_label} ({new_digest})\n");
    if old_digest == new_digest {
        out.push_str("no changes: the same release\n");
        return out;
    }
    let d = netboot_store::diff::diff(old, new);
    counts(&mut out, "machines", &d.machines);
    if detail {
        for name in &d.machines.added {
            let m = &new.machines[*name];
            let _ = writeln!(
                out,
                "  + {name}  profile {}, macs {}",
                m.profile,
                m.macs.join(",")
            );
        }
        for name in &d.machines.removed {
            let _ = writeln!(out, "  - {name}");
        }
        for (name, what) in &d.machines.changed {
            let what: Vec<String> = what
                .iter()
                .map(|change| match change {
                    MachineChange::Profile { from, to } => format!("profile {from} → {to}"),
                    MachineChange::Macs { from, to } => {
                        format!("macs {} → {}", from.join(","), to.join(","))
                    }
                    MachineChange::Routes => "routes".to_owned(),
                    MachineChange::Script => "script".to_owned(),
                    MachineChange::Files(names) => format!("files {}", names.join(", ")),
                })
                .collect();
            let _ = writeln!(out, "  ~ {name}  {}", what.join("; "));
        }
    }
    counts(&mut out, "profiles", &d.profiles);
    if detail {
        for name in &d.profiles.added {
            let _ = writeln!(out, "  + {name}");
        }
        for name in &d.profiles.removed {
            let _ = writeln!(out, "  - {name}");
        }
        for (name, (from, to)) in &d.profiles.changed {
            let _ = writeln!(out, "  ~ {name}  image manifest {from} → {to}");
        }
    }
    counts(&mut out, "routes", &d.routes);
    if detail {
        for route in &d.routes.added {
            let _ = writeln!(out, "  + {route}");
        }
        for route in &d.routes.removed {
            let _ = writeln!(out, "  - {route}");
        }
        for (route, ()) in &d.routes.changed {
            let _ = writeln!(out, "  ~ {route}");
        }
    }
    out
}

fn counts<T>(out: &mut String, what: &str, c: &Changes<'_, T>) {
    out.push_str(&format!(
        "{what}: {} added, {} removed, {} changed\n",
        c.added.len(),
        c.removed.len(),
        c.changed.len()
    ));
}
