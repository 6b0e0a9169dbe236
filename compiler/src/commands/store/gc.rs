//! `gc`: objects no kept release references, deleted after a grace period.

use std::io::{self, IsTerminal};
use std::time::{Duration, SystemTime};

use indicatif::HumanBytes;
use netboot_store::gc;

use crate::cli::GcArgs;
use crate::error::Error;
use crate::output::{print, to_stderr};

use super::{confirm, open_for_writing, runtime};

pub fn gc(args: GcArgs) -> Result<(), Error> {
    if args.grace.is_zero() && !args.force && !args.dry_run {
        return Err(Error::Usage(
            "--grace 0s deletes objects a publish may have uploaded a moment ago: pass --force if that is meant",
        ));
    }
    let location = open_for_writing(&args.url, false, &args.store)?;
    runtime()?.block_on(async {
        let plan =
            gc::plan_gc(&location, args.keep as usize, args.grace, SystemTime::now()).await?;
        if let Some(broken) = &plan.broken {
            to_stderr(&format!(
                "warning: {}: release record {} cannot be read ({}); gc does not know the releases before it\n",
                location.label, broken.record, broken.reason
            ));
            if !args.force && !args.dry_run {
                return Err(Error::Usage(
                    "the history is broken, so gc would delete the older releases' records and objects: pass --force if that is meant",
                ));
            }
        }
        let mut out = format!(
            "gc {}: keeping the newest {} of {} releases ({} objects reachable, all release records kept)\n  delete    {} objects, {} (unreachable, older than {})\n  keep      {} unreachable objects modified within the grace period\n",
            location.label,
            plan.kept.len(),
            plan.history_len,
            plan.reachable.len(),
            plan.delete.len(),
            HumanBytes(plan.delete_bytes()),
            humantime::format_duration(args.grace),
            plan.young,
        );
        if args.dry_run {
            for (digest, l) in &plan.delete {
                let modified = SystemTime::UNIX_EPOCH
                    + Duration::from_secs(u64::try_from(l.modified).unwrap_or(0));
                out += &format!(
                    "    - {digest} {:>10}  modified {}\n",
                    HumanBytes(l.size).to_string(),
                    humantime::format_rfc3339_seconds(modified)
                );
            }
            print(&out)?;
            return print("dry run: nothing was deleted\n");
        }
        print(&out)?;
        if plan.delete.is_empty() {
            return Ok(());
        }
        let interactive = io::stdin().is_terminal() && io::stderr().is_terminal();
        if !args.yes && !interactive {
            return Err(Error::Usage(
                "gc deletes objects: pass --yes (or run --dry-run first) when not on a terminal",
            ));
        }
        confirm("Delete?", args.yes)?;
        let deleted = gc::execute_gc(&plan, &location).await?;
        print(&format!("deleted {deleted} objects\n"))
    })
}
