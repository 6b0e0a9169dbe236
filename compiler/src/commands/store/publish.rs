//! `publish`: a built bundle into an object store, after showing what it would upload.

use std::io::{self, IsTerminal};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use netboot_store::publish::{self, PublishOptions, PublishPlan};
use netboot_store::{Location, StoreError, describe_release};

use crate::cli::PublishArgs;
use crate::error::Error;
use crate::output::{print, to_stderr};

use super::{confirm, open_for_writing, runtime};

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
