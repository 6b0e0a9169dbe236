//! `netbootc publish | releases | rollback | gc | diff`: the command line over
//! [`netboot_store`], which does the work. Here: arguments, the question before a change,
//! progress on a terminal, and what is printed.

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use netboot_bundle::{Digest, Record};
use netboot_compile::error::Error;
use netboot_store::diff::{Changes, MachineChange};
use netboot_store::publish::{self, PublishOptions, PublishPlan};
use netboot_store::{Location, StoreError, describe_release, gc, history, read, rollback};
use serde::Serialize;

use crate::cli::{DiffArgs, GcArgs, PublishArgs, ReleasesArgs, RollbackArgs, StoreWriteArgs};
use crate::output::{print, to_stderr};

/// A progress bar on a terminal, a line per tenth of the upload otherwise.
#[derive(Debug)]
struct Progress {
    bar: Option<ProgressBar>,
    total: AtomicU64,
    done: AtomicU64,
    bytes: AtomicU64,
    next_line: Mutex<u64>,
}

impl Progress {
    fn new() -> Self {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} uploading [{bar:30}] {pos}/{len} objects, {msg} ({elapsed})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self {
            bar,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            next_line: Mutex::new(0),
        }
    }
}

impl publish::Progress for Progress {
    fn start(&self, objects: u64) {
        self.total.store(objects, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(objects);
            bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    fn uploaded(&self, bytes: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let sent = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let total = self.total.load(Ordering::Relaxed).max(1);
        if let Some(bar) = &self.bar {
            bar.set_message(HumanBytes(sent).to_string());
            bar.inc(1);
        } else {
            let mut next = self.next_line.lock().unwrap_or_else(|e| e.into_inner());
            if done * 10 >= *next * total || done == total {
                to_stderr(&format!(
                    "  uploaded {done}/{total} objects ({})\n",
                    HumanBytes(sent)
                ));
                *next = done * 10 / total + 1;
            }
        }
    }

    fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => to_stderr(&format!("{line}\n")),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::io("<tokio runtime>"))
}

/// Asks on a terminal; `--yes` or no terminal answers yes.
fn confirm(question: &str, yes: bool) -> Result<(), Error> {
    if yes || !io::stdin().is_terminal() || !io::stderr().is_terminal() {
        return Ok(());
    }
    to_stderr(&format!("{question} [y/N] "));
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(Error::io("<stdin>"))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Declined)
    }
}

/// `url` opened for a command that writes to it.
fn open_for_writing(
    url: &str,
    create: bool,
    args: &StoreWriteArgs,
) -> Result<Location, StoreError> {
    let mut location = Location::open(url, create)?;
    if args.allow_unconditional_store {
        location.allow_unconditional = true;
        to_stderr(&format!(
            "warning: {}: --allow-unconditional-store: conditional writes are not checked; if another netbootc writes this store at the same time, a release can be lost\n",
            location.label
        ));
    }
    Ok(location)
}

fn short(d: &Digest) -> String {
    d.hex()[..12].to_owned()
}

pub fn publish(args: PublishArgs) -> Result<(), Error> {
    let source = args.bundle.dir();
    let location = match open_for_writing(&args.url, !args.dry_run, &args.store) {
        // A dry run to a directory that does not exist yet: plan against an empty store.
        Err(StoreError::Io { .. }) if args.dry_run && Location::is_local(&args.url) => {
            Location::new(
                std::sync::Arc::new(netboot_store::object_store::memory::InMemory::new()),
                "",
                args.url.clone(),
            )
        }
        other => other?,
    };
    let options = PublishOptions {
        concurrency: usize::from(args.concurrency),
        ..PublishOptions::default()
    };
    runtime()?.block_on(async {
        let mut started = Instant::now();
        let plan = publish::plan_publish(&source, &location).await?;
        if args.dry_run {
            print(&publish_plan_text(&plan, &location, true))?;
            return print("dry run: nothing was changed\n");
        }
        let nothing_to_do =
            plan.upload.is_empty() && plan.repair.is_empty() && !plan.changes_pointer;
        if !nothing_to_do {
            to_stderr(&publish_plan_text(&plan, &location, false));
            if plan.changes_pointer {
                // Time spent waiting for an answer is not the publish's.
                let asked = Instant::now();
                confirm("Publish?", args.yes)?;
                started += asked.elapsed();
            }
        }
        let report = publish::execute_publish(&plan, &location, &options, &Progress::new()).await?;
        print(&publish_report_text(&report, &location, started))
    })
}

fn publish_report_text(
    report: &publish::PublishReport,
    location: &Location,
    started: Instant,
) -> String {
    let mut out = if report.record.is_some() {
        format!("published {} to {}\n", report.manifest, location.label)
    } else {
        format!(
            "{} already serves {}; `current` untouched\n",
            location.label, report.manifest
        )
    };
    out += &format!(
        "  uploaded  {} objects, {}{}\n  skipped   {} objects already present, {}\n",
        report.uploaded,
        HumanBytes(report.uploaded_bytes),
        if report.raced > 0 {
            format!(" ({} already uploaded by someone else)", report.raced)
        } else {
            String::new()
        },
        report.skipped,
        HumanBytes(report.skipped_bytes),
    );
    if let Some(record) = report.record {
        out += &format!("  release   {} (record {record})\n", report.manifest);
        out += &format!(
            "  previous  {}{}\n",
            describe_release(report.previous.as_ref()),
            report
                .previous_record
                .map(|r| format!(" (record {r})"))
                .unwrap_or_default()
        );
    }
    out += &format!("  took      {:.1}s\n", started.elapsed().as_secs_f64());
    out
}

fn publish_plan_text(plan: &PublishPlan, location: &Location, verbose: bool) -> String {
    let mut out = format!(
        "publish {} ({}) → {}\n",
        plan.source.display(),
        plan.manifest,
        location.label
    );
    out += &match (&plan.observed.pointer, plan.changes_pointer) {
        (_, false) => "  current   unchanged (already this release)\n".to_owned(),
        (None, true) => format!("  current   (none) → {}\n", plan.manifest),
        (Some(p), true) => format!("  current   {} → {}\n", p.manifest, plan.manifest),
    };
    out += &format!(
        "  upload    {} objects, {} ({} already present, {})\n",
        plan.upload.len() + plan.repair.len(),
        HumanBytes(plan.upload_bytes()),
        plan.present,
        HumanBytes(plan.present_bytes)
    );
    if verbose {
        for n in plan.upload.iter().chain(&plan.repair) {
            out += &format!(
                "    + {} {:>10}  {:<28} {}\n",
                n.digest,
                HumanBytes(n.size).to_string(),
                n.content_type,
                n.label
            );
        }
        if plan.changes_pointer {
            out += &format!(
                "    + release record (publish{}), then `current`\n",
                if plan.adopts() {
                    "; and an `adopted` record for the release it replaces"
                } else {
                    ""
                }
            );
        }
    }
    out
}

#[derive(Serialize)]
struct ReleaseJson<'a> {
    current: bool,
    record: Option<Digest>,
    /// Only when there is no record (whose own `manifest` field is flattened in).
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<Digest>,
    #[serde(flatten)]
    detail: Option<&'a Record>,
}

pub fn releases(args: ReleasesArgs) -> Result<(), Error> {
    let location = Location::open(&args.url, false)?;
    runtime()?.block_on(async {
        let history::History {
            entries: history,
            broken,
        } = history::read_history(&location, args.limit).await?;
        if let Some(broken) = &broken {
            // Reported, not fatal: what could be read is listed.
            to_stderr(&format!(
                "warning: {}: release record {} cannot be read ({}); older releases are not listed\n",
                location.label, broken.record, broken.reason
            ));
        }
        if args.json {
            let list: Vec<ReleaseJson> = history
                .iter()
                .enumerate()
                .map(|(i, e)| ReleaseJson {
                    current: i == 0,
                    record: e.record,
                    manifest: e.detail.is_none().then_some(e.manifest),
                    detail: e.detail.as_ref(),
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
            text.push('\n');
            return print(&text);
        }
        if history.is_empty() {
            return print(&format!("{} has no release\n", location.label));
        }
        let mut out = format!(
            "  {:<12}  {:<12}  {:<20}  {:<8}  {}\n",
            "RELEASE", "MANIFEST", "PUBLISHED", "ACTION", "BY"
        );
        for (i, e) in history.iter().enumerate() {
            let d = e.detail.as_ref();
            out += &format!(
                "{} {:<12}  {:<12}  {:<20}  {:<8}  {}\n",
                if i == 0 { '*' } else { ' ' },
                e.record.as_ref().map_or_else(|| "-".to_owned(), short),
                short(&e.manifest),
                d.and_then(|r| r.published_at.as_deref()).unwrap_or("-"),
                d.map_or("-", |r| r.action.as_str()),
                d.and_then(|r| r.published_by.as_deref()).unwrap_or("-"),
            );
        }
        print(&out)
    })
}

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
