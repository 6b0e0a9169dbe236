//! `rollback`: `current` back to an earlier release of the history.

use netboot_store::rollback;

use crate::cli::RollbackArgs;
use crate::error::Error;
use crate::output::{print, to_stderr};

use super::{confirm, open_for_writing, runtime};

pub fn rollback(args: RollbackArgs) -> Result<(), Error> {
    let location = open_for_writing(&args.url, false, &args.store)?;
    runtime()?.block_on(async {
        let plan = rollback::plan_rollback(&location, args.to.as_deref()).await?;
        let line = format!(
            "rollback {}\n  current   {} → {}{}\n",
            location.label,
            plan.from,
            plan.to,
            plan.entry
                .detail
                .as_ref()
                .and_then(|r| r.published_at.as_deref())
                .map(|t| format!(" (published {t})"))
                .unwrap_or_default()
        );
        if args.dry_run {
            print(&line)?;
            return print("dry run: nothing was changed\n");
        }
        to_stderr(&line);
        confirm("Roll back?", args.yes)?;
        let record = rollback::execute_rollback(&plan, &location).await?;
        print(&format!(
            "rolled back {} to {} (record {record})\n",
            location.label, plan.to
        ))
    })
}
