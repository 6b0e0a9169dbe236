//! `netbootc publish | releases | rollback | gc`: the built bundle in an object store.
//!
//! Publish, in this order (so a crash at any point leaves readers on the old, complete
//! release, and of two racing publishers exactly one wins):
//!
//! 1. read `current` and its version (ETag / generation);
//! 2. list `objects/sha256/` once;
//! 3. upload every missing object create-only (`PutMode::Create`; "already exists" is
//!    success) with `Cache-Control: public, max-age=31536000, immutable` and its
//!    Content-Type; objects above the multipart threshold are checked with HEAD first and
//!    go multipart (which cannot be conditional); the manifest goes last;
//! 4. verify with a second listing that nothing the release needs is missing;
//! 5. store a release record naming the manifest and the record it replaces;
//! 6. replace `current` conditionally on the version of step 1 (`PutMode::Update`, or
//!    `PutMode::Create` if there was none), `Cache-Control: no-cache`.
//!
//! An unchanged bundle uploads nothing and leaves `current` alone.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netboot_bundle::{BundleDir, BundleError, Digest, Manifest, Pointer, object_path};
use object_store::{ObjectStoreExt, PutMode, PutMultipartOptions, WriteMultipart};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt;

use crate::release::{self, Entry, Listed, Observed, Record};
use crate::store::Target;

// ---------------------------------------------------------------------------------------
// Command-line arguments

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Where to publish: gs://bucket/prefix, s3://bucket/prefix, file:///dir or a directory.
    pub url: String,
    /// The built bundle to publish.
    #[arg(long, default_value = "out", env = "NETBOOTC_OUT")]
    pub from: PathBuf,
    /// Print what would be uploaded and the pointer change; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Do not ask for confirmation on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    /// The store: gs://bucket/prefix, s3://bucket/prefix, file:///dir or a directory.
    pub url: String,
    /// Show at most this many releases.
    #[arg(long, short = 'n')]
    pub limit: Option<usize>,
    /// Print JSON (one array, newest first) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The store: gs://bucket/prefix, s3://bucket/prefix, file:///dir or a directory.
    pub url: String,
    /// The release to return to: a manifest or record digest from `netbootc releases`
    /// (`sha256:<hex>`, or a unique hex prefix of at least 6 digits).
    /// [default: the release before the current one]
    #[arg(long)]
    pub to: Option<String>,
    /// Print the pointer change; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// The store: gs://bucket/prefix, s3://bucket/prefix, file:///dir or a directory.
    pub url: String,
    /// Keep every object reachable from the newest N releases.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    /// Only delete objects last modified longer ago than this (s, m, h, d, w; e.g. 36h).
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub grace: Duration,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete without asking (required when not on a terminal, unless --dry-run).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub const DEFAULT_CONCURRENCY: u16 = 16;

/// `90s`, `15m`, `24h`, `7d`, `2w`, `1h30m`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => {
                return Err(format!(
                    "unknown unit `{c}` in `{text}` (use s, m, h, d or w)"
                ));
            }
        };
        let value: u64 = number
            .parse()
            .map_err(|_| format!("expected a number before `{c}` in `{text}`"))?;
        total = total.saturating_add(value.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(format!("`{text}` lacks a unit (e.g. 24h)"));
    }
    Ok(Duration::from_secs(total))
}

// ---------------------------------------------------------------------------------------
// Errors

/// Why a publish, rollback, gc, releases or diff stopped. A lost race
/// ([`Conflict`](Self::Conflict)) and a declined confirmation exit with 1; everything
/// else with 2.
#[derive(Debug)]
pub enum PublishError {
    BadLocation {
        location: String,
        reason: String,
    },
    Store {
        location: String,
        source: object_store::Error,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
    Bundle(BundleError),
    /// No `current` where one is needed.
    NoRelease {
        location: String,
        hint: &'static str,
    },
    Malformed {
        what: String,
        reason: String,
    },
    MissingObject {
        location: String,
        digest: Digest,
    },
    /// A local object's bytes do not match its name.
    CorruptSource {
        path: PathBuf,
        expected: Digest,
        actual: Digest,
    },
    /// The verification listing found needed objects missing after the upload.
    Incomplete {
        location: String,
        missing: usize,
        example: Digest,
    },
    /// `current` changed since it was read: another publisher (or rollback, or gc's
    /// check) got there first. Nothing was changed.
    Conflict {
        location: String,
        expected: Option<Digest>,
        found: Option<Digest>,
    },
    Unsupported(String),
    NoSuchRelease(String),
    Declined,
}

impl PublishError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Conflict { .. } | Self::Declined => 1,
            _ => 2,
        }
    }

    pub fn store(location: impl Into<String>, source: object_store::Error) -> Self {
        Self::Store {
            location: location.into(),
            source,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

fn opt_digest(d: &Option<Digest>) -> String {
    d.map_or_else(|| "no release".to_owned(), |d| d.to_string())
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLocation { location, reason } => {
                // Never echo userinfo (`scheme://key:secret@bucket`): it may be a credential.
                let shown = match location.split_once("://") {
                    Some((scheme, rest))
                        if rest.split('/').next().is_some_and(|b| b.contains('@')) =>
                    {
                        let host = rest.split_once('@').map_or(rest, |(_, h)| h);
                        format!("{scheme}://…@{host}")
                    }
                    _ => location.clone(),
                };
                write!(f, "`{shown}`: {reason}")
            }
            Self::Store { location, source } => write!(f, "{location}: {source}"),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Bundle(e) => write!(f, "{e}"),
            Self::NoRelease { location, hint } => {
                write!(
                    f,
                    "{location} has no release (`current` is missing); {hint}"
                )
            }
            Self::Malformed { what, reason } => write!(f, "{what}: {reason}"),
            Self::MissingObject { location, digest } => {
                write!(f, "{location}: object {digest} is missing")
            }
            Self::CorruptSource {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: content does not match its name (expected {expected}, found {actual}); rebuild the bundle",
                path.display()
            ),
            Self::Incomplete {
                location,
                missing,
                example,
            } => write!(
                f,
                "{location}: {missing} object(s) the release needs are missing after the upload (e.g. {example}); `current` was not changed"
            ),
            Self::Conflict {
                location,
                expected,
                found,
            } => write!(
                f,
                "{location}: `current` changed while this command ran (expected {}, now {}); another publisher won the race. Nothing was changed; review with `netbootc diff` and run again",
                opt_digest(expected),
                opt_digest(found)
            ),
            Self::Unsupported(msg) | Self::NoSuchRelease(msg) => write!(f, "{msg}"),
            Self::Declined => write!(f, "cancelled; nothing was changed"),
        }
    }
}

impl std::error::Error for PublishError {}

impl From<BundleError> for PublishError {
    fn from(e: BundleError) -> Self {
        Self::Bundle(e)
    }
}

// ---------------------------------------------------------------------------------------
// Progress

/// A progress bar on a terminal, a line per tenth otherwise, or nothing.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    total: AtomicU64,
    done: AtomicU64,
    bytes: AtomicU64,
    next_line: Mutex<u64>,
}

impl Progress {
    pub fn quiet() -> Self {
        Self {
            bar: None,
            lines: false,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            next_line: Mutex::new(0),
        }
    }

    /// A bar if stderr is a terminal, plain lines otherwise.
    pub fn auto() -> Self {
        let mut p = Self::quiet();
        if io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} uploading [{bar:30}] {pos}/{len} objects, {msg} ({elapsed})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            p.bar = Some(bar);
        } else {
            p.lines = true;
        }
        p
    }

    fn start(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    fn inc(&self, bytes: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let sent = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let total = self.total.load(Ordering::Relaxed).max(1);
        if let Some(bar) = &self.bar {
            bar.set_message(human_bytes(sent));
            bar.inc(1);
        } else if self.lines {
            let mut next = self.next_line.lock().unwrap_or_else(|e| e.into_inner());
            if done * 10 >= *next * total || done == total {
                eprintln!("  uploaded {done}/{total} objects ({})", human_bytes(sent));
                *next = done * 10 / total + 1;
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if self.lines => eprintln!("{line}"),
            None => {}
        }
    }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

// ---------------------------------------------------------------------------------------
// Publish

/// Tunables; the defaults are what the CLI uses.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub concurrency: usize,
    /// Objects larger than this go multipart.
    pub multipart_threshold: u64,
    /// Multipart part size (S3 needs at least 5 MiB except for the last part).
    pub part_size: usize,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            concurrency: usize::from(DEFAULT_CONCURRENCY),
            multipart_threshold: 64 * 1024 * 1024,
            part_size: 16 * 1024 * 1024,
        }
    }
}

/// One object of the local bundle.
#[derive(Debug, Clone)]
pub struct Needed {
    pub digest: Digest,
    pub size: u64,
    pub content_type: String,
    /// A route that serves it (for the plan), or `manifest`.
    pub label: String,
    pub path: PathBuf,
}

/// What a publish will do, computed without writing anything.
#[derive(Debug)]
pub struct PublishPlan {
    pub source: PathBuf,
    pub manifest: Digest,
    pub observed: Observed,
    /// Every object the release needs.
    pub needed: Vec<Needed>,
    /// Not in the store (the manifest last).
    pub upload: Vec<Needed>,
    /// In the store with the wrong size (overwritten with the right bytes).
    pub repair: Vec<Needed>,
    pub present: usize,
    pub present_bytes: u64,
    /// `current` will point elsewhere.
    pub changes_pointer: bool,
}

impl PublishPlan {
    pub fn upload_bytes(&self) -> u64 {
        self.upload.iter().chain(&self.repair).map(|n| n.size).sum()
    }

    pub fn previous(&self) -> Option<Digest> {
        self.observed.pointer.as_ref().map(|p| p.manifest)
    }
}

/// The outcome of [`execute_publish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    pub manifest: Digest,
    /// The new release record; `None` when `current` was left as it was.
    pub record: Option<Digest>,
    /// The manifest `current` named before.
    pub previous: Option<Digest>,
    pub previous_record: Option<Digest>,
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    /// Uploads the store answered with "already exists" (a racing publisher's).
    pub raced: usize,
    pub skipped: usize,
    pub skipped_bytes: u64,
}

/// Reads the local bundle's release and everything it needs, with sizes.
fn local_release(source: &Path) -> Result<(Digest, Vec<Needed>), PublishError> {
    let dir = BundleDir::new(source);
    let Some((pointer, manifest)) = dir.open_current()? else {
        return Err(PublishError::NoRelease {
            location: source.display().to_string(),
            hint: "run `netbootc build` first",
        });
    };
    let mut needed: BTreeMap<Digest, Needed> = BTreeMap::new();
    for (route, entry) in &manifest.routes {
        needed.entry(entry.object).or_insert_with(|| Needed {
            digest: entry.object,
            size: entry.size,
            content_type: entry.content_type.clone(),
            label: route.clone(),
            path: dir.object_file(&entry.object),
        });
    }
    for (name, profile) in &manifest.profiles {
        needed
            .entry(profile.image_manifest)
            .or_insert_with(|| Needed {
                digest: profile.image_manifest,
                size: 0,
                content_type: crate::bundle::CONTENT_TYPE_JSON.to_owned(),
                label: format!("images/{name}.json"),
                path: dir.object_file(&profile.image_manifest),
            });
    }
    let mut needed: Vec<Needed> = needed.into_values().collect();
    for n in &mut needed {
        let meta = std::fs::metadata(&n.path).map_err(|e| PublishError::io(&n.path, e))?;
        if n.size == 0 {
            n.size = meta.len();
        } else if meta.len() != n.size {
            return Err(PublishError::Malformed {
                what: n.path.display().to_string(),
                reason: format!(
                    "{} bytes where the manifest says {}; rebuild the bundle",
                    meta.len(),
                    n.size
                ),
            });
        }
    }
    let manifest_path = dir.object_file(&pointer.manifest);
    let size = std::fs::metadata(&manifest_path)
        .map_err(|e| PublishError::io(&manifest_path, e))?
        .len();
    needed.retain(|n| n.digest != pointer.manifest);
    needed.push(Needed {
        digest: pointer.manifest,
        size,
        content_type: crate::bundle::CONTENT_TYPE_JSON.to_owned(),
        label: "manifest".to_owned(),
        path: manifest_path,
    });
    Ok((pointer.manifest, needed))
}

/// Steps 1 and 2: read the pointer, list the objects, and work out what to upload.
pub async fn plan_publish(source: &Path, target: &Target) -> Result<PublishPlan, PublishError> {
    let (manifest, needed) = local_release(source)?;
    let observed = release::read_pointer(target).await?;
    let (listed, _) = release::list_objects(target).await?;
    let mut plan = PublishPlan {
        source: source.to_owned(),
        manifest,
        changes_pointer: observed.pointer.as_ref().map(|p| p.manifest) != Some(manifest),
        observed,
        needed: Vec::new(),
        upload: Vec::new(),
        repair: Vec::new(),
        present: 0,
        present_bytes: 0,
    };
    for n in &needed {
        match listed.get(&n.digest) {
            None => plan.upload.push(n.clone()),
            Some(l) if l.size != n.size => plan.repair.push(n.clone()),
            Some(_) => {
                plan.present += 1;
                plan.present_bytes += n.size;
            }
        }
    }
    plan.needed = needed;
    Ok(plan)
}

/// Steps 3 to 6.
pub async fn execute_publish(
    plan: &PublishPlan,
    target: &Target,
    options: &PublishOptions,
    progress: &Progress,
) -> Result<PublishReport, PublishError> {
    let mut report = PublishReport {
        manifest: plan.manifest,
        record: None,
        previous: plan.previous(),
        previous_record: plan.observed.pointer.as_ref().and_then(|p| p.release),
        uploaded: 0,
        uploaded_bytes: 0,
        raced: 0,
        skipped: plan.present,
        skipped_bytes: plan.present_bytes,
    };
    let work: Vec<(&Needed, PutMode)> = plan
        .upload
        .iter()
        .map(|n| (n, PutMode::Create))
        .chain(plan.repair.iter().map(|n| (n, PutMode::Overwrite)))
        .collect();
    progress.start(work.len() as u64);
    for n in &plan.repair {
        progress.note(&format!(
            "  replacing {} in the store: wrong size (expected {} bytes)",
            n.digest, n.size
        ));
    }
    // Everything but the manifest, concurrently; then the manifest.
    let (last, rest): (Vec<_>, Vec<_>) = work
        .into_iter()
        .partition(|(n, _)| n.digest == plan.manifest);
    let concurrency = options.concurrency.max(1);
    for batch in [rest, last] {
        let results: Vec<(bool, u64)> = futures::stream::iter(batch)
            .map(|(n, mode)| async move {
                let created = upload_one(target, n, mode, options).await?;
                progress.inc(n.size);
                Ok::<_, PublishError>((created, n.size))
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await
            .inspect_err(|_| progress.finish())?;
        for (created, size) in results {
            if created {
                report.uploaded += 1;
                report.uploaded_bytes += size;
            } else {
                report.raced += 1;
            }
        }
    }
    progress.finish();

    // Verify: everything the release needs is in the store now. Also when nothing was
    // uploaded but the pointer is about to move: objects found at plan time may have been
    // deleted since (a gc). An unchanged republish stays one GET and one LIST.
    if report.uploaded + report.raced > 0 || plan.changes_pointer {
        let (listed, _) = release::list_objects(target).await?;
        let missing: Vec<&Needed> = plan
            .needed
            .iter()
            .filter(|n| listed.get(&n.digest).is_none_or(|l| l.size != n.size))
            .collect();
        if let Some(first) = missing.first() {
            return Err(PublishError::Incomplete {
                location: target.label.clone(),
                missing: missing.len(),
                example: first.digest,
            });
        }
    }
    if !plan.changes_pointer {
        return Ok(report);
    }
    let previous = release::previous_record(target, &plan.observed, false).await?;
    let record = Record::new(plan.manifest, previous, "publish");
    let record_digest = release::put_record(target, &record).await?;
    release::write_pointer(
        target,
        &plan.observed,
        &Pointer::with_release(plan.manifest, record_digest),
    )
    .await?;
    report.record = Some(record_digest);
    report.previous_record = previous;
    Ok(report)
}

/// Reads, verifies and uploads one object. `Ok(false)` if the store already had it.
async fn upload_one(
    target: &Target,
    n: &Needed,
    mode: PutMode,
    options: &PublishOptions,
) -> Result<bool, PublishError> {
    if n.size > options.multipart_threshold {
        return upload_multipart(target, n, mode, options).await;
    }
    let bytes = tokio::fs::read(&n.path)
        .await
        .map_err(|e| PublishError::io(&n.path, e))?;
    let actual = Digest::of(&bytes);
    if actual != n.digest {
        return Err(PublishError::CorruptSource {
            path: n.path.clone(),
            expected: n.digest,
            actual,
        });
    }
    release::put_small_object(target, &n.digest, Bytes::from(bytes), &n.content_type, mode).await
}

/// Multipart uploads cannot be create-only, so the object's absence is checked (HEAD)
/// right before; the bytes are hashed as they stream and the upload is aborted, leaving
/// nothing visible, if they do not match the name.
async fn upload_multipart(
    target: &Target,
    n: &Needed,
    mode: PutMode,
    options: &PublishOptions,
) -> Result<bool, PublishError> {
    let key = target.key(&object_path(&n.digest));
    let store_err = |e| PublishError::store(&target.label, e);
    match target.store.head(&key).await {
        Ok(meta) if meta.size == n.size => return Ok(false),
        Ok(_) if matches!(mode, PutMode::Create) => return Ok(false),
        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(store_err(e)),
    }
    let mut mp_options = PutMultipartOptions::default();
    if target.attributes {
        mp_options.attributes =
            release::attributes(netboot_bundle::CACHE_IMMUTABLE, &n.content_type);
    }
    let upload = target
        .store
        .put_multipart_opts(&key, mp_options)
        .await
        .map_err(store_err)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, options.part_size);
    let result = async {
        let mut file = tokio::fs::File::open(&n.path)
            .await
            .map_err(|e| PublishError::io(&n.path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let read = file
                .read(&mut buf)
                .await
                .map_err(|e| PublishError::io(&n.path, e))?;
            if read == 0 {
                break;
            }
            hasher.update(&buf[..read]);
            writer.wait_for_capacity(4).await.map_err(store_err)?;
            writer.write(&buf[..read]);
        }
        let actual = Digest::from_hasher(hasher);
        if actual != n.digest {
            return Err(PublishError::CorruptSource {
                path: n.path.clone(),
                expected: n.digest,
                actual,
            });
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            writer.finish().await.map_err(store_err)?;
            Ok(true)
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

fn short(d: &Digest) -> String {
    d.hex()[..12].to_owned()
}

fn print_publish_plan(plan: &PublishPlan, target: &Target, verbose: bool) -> String {
    let mut out = format!(
        "publish {} ({}) → {}\n",
        plan.source.display(),
        plan.manifest,
        target.label
    );
    out += &match (&plan.observed.pointer, plan.changes_pointer) {
        (_, false) => "  current   unchanged (already this release)\n".to_owned(),
        (None, true) => format!("  current   (none) → {}\n", plan.manifest),
        (Some(p), true) => format!("  current   {} → {}\n", p.manifest, plan.manifest),
    };
    out += &format!(
        "  upload    {} objects, {} ({} already present, {})\n",
        plan.upload.len() + plan.repair.len(),
        human_bytes(plan.upload_bytes()),
        plan.present,
        human_bytes(plan.present_bytes)
    );
    if verbose {
        for n in plan.upload.iter().chain(&plan.repair) {
            out += &format!(
                "    + {} {:>10}  {:<28} {}\n",
                n.digest,
                human_bytes(n.size),
                n.content_type,
                n.label
            );
        }
        if plan.changes_pointer {
            let adopted = plan
                .observed
                .pointer
                .as_ref()
                .is_some_and(|p| p.release.is_none());
            out += &format!(
                "    + release record (publish{}), then `current`\n",
                if adopted {
                    "; and an `adopted` record for the release it replaces"
                } else {
                    ""
                }
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Rollback

#[derive(Debug)]
pub struct RollbackPlan {
    pub observed: Observed,
    pub from: Digest,
    pub to: Digest,
    /// The history entry rolled back to.
    pub entry: Entry,
}

/// Picks the release to return to and checks every object it needs is still stored.
pub async fn plan_rollback(
    target: &Target,
    to: Option<&str>,
) -> Result<RollbackPlan, PublishError> {
    let observed = release::read_pointer(target).await?;
    let Some(current) = observed.pointer.clone() else {
        return Err(PublishError::NoRelease {
            location: target.label.clone(),
            hint: "publish one first",
        });
    };
    let history = release::history(target, Some(&current), None).await?;
    let entry = match to {
        None => history
            .iter()
            .skip(1)
            .find(|e| e.manifest != current.manifest)
            .cloned()
            .ok_or_else(|| {
                PublishError::NoSuchRelease(format!(
                    "{} has no earlier release to roll back to",
                    target.label
                ))
            })?,
        Some(query) => find_release(&history, query)?,
    };
    if entry.manifest == current.manifest {
        return Err(PublishError::NoSuchRelease(format!(
            "{} already serves {}",
            target.label, entry.manifest
        )));
    }
    let (listed, _) = release::list_objects(target).await?;
    let gone = |count: usize, example: &Digest| {
        PublishError::NoSuchRelease(format!(
            "release {} lacks {count} object(s) (e.g. {example}), probably removed by `netbootc gc`; publish it again from a build instead",
            entry.manifest
        ))
    };
    if !listed.contains_key(&entry.manifest) {
        return Err(gone(1, &entry.manifest));
    }
    let manifest = release::read_manifest(target, &entry.manifest).await?;
    let missing: Vec<Digest> = release::reachable_from(&entry.manifest, &manifest)
        .into_iter()
        .filter(|d| !listed.contains_key(d))
        .collect();
    if let Some(first) = missing.first() {
        return Err(gone(missing.len(), first));
    }
    Ok(RollbackPlan {
        from: current.manifest,
        to: entry.manifest,
        observed,
        entry,
    })
}

fn find_release(history: &[Entry], query: &str) -> Result<Entry, PublishError> {
    let hex = query
        .strip_prefix("sha256:")
        .unwrap_or(query)
        .to_ascii_lowercase();
    if hex.len() < 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PublishError::NoSuchRelease(format!(
            "`{query}` is not a digest or a hex prefix of at least 6 digits"
        )));
    }
    let matches: Vec<&Entry> = history
        .iter()
        .filter(|e| {
            e.manifest.hex().starts_with(&hex)
                || e.record.is_some_and(|r| r.hex().starts_with(&hex))
        })
        .collect();
    let manifests: HashSet<Digest> = matches.iter().map(|e| e.manifest).collect();
    match (matches.first(), manifests.len()) {
        (Some(e), 1) => Ok((*e).clone()),
        (None, _) => Err(PublishError::NoSuchRelease(format!(
            "no release in the history matches `{query}` (see `netbootc releases`)"
        ))),
        _ => Err(PublishError::NoSuchRelease(format!(
            "`{query}` matches {} releases; give more digits",
            manifests.len()
        ))),
    }
}

/// Stores a `rollback` record and swaps `current` conditionally. Returns the record.
pub async fn execute_rollback(
    plan: &RollbackPlan,
    target: &Target,
) -> Result<Digest, PublishError> {
    let previous = release::previous_record(target, &plan.observed, false).await?;
    let record = Record::new(plan.to, previous, "rollback");
    let digest = release::put_record(target, &record).await?;
    release::write_pointer(
        target,
        &plan.observed,
        &Pointer::with_release(plan.to, digest),
    )
    .await?;
    Ok(digest)
}

// ---------------------------------------------------------------------------------------
// Garbage collection

#[derive(Debug)]
pub struct GcPlan {
    pub observed: Observed,
    /// The releases whose objects are kept (newest first).
    pub kept: Vec<Entry>,
    pub history_len: usize,
    pub reachable: HashSet<Digest>,
    /// Unreachable and older than the grace period.
    pub delete: Vec<(Digest, Listed)>,
    /// Unreachable but modified within the grace period (kept this time).
    pub young: usize,
    pub listed: usize,
}

/// Computes what gc would delete. Every history record is kept, and every object reachable
/// from the newest `keep` releases.
pub async fn plan_gc(
    target: &Target,
    keep: usize,
    grace: Duration,
    now: SystemTime,
) -> Result<GcPlan, PublishError> {
    let observed = release::read_pointer(target).await?;
    let Some(pointer) = observed.pointer.clone() else {
        return Err(PublishError::NoRelease {
            location: target.label.clone(),
            hint: "there is nothing to collect against",
        });
    };
    let history = release::history(target, Some(&pointer), None).await?;
    let mut reachable: HashSet<Digest> = history.iter().filter_map(|e| e.record).collect();
    let kept: Vec<Entry> = history.iter().take(keep.max(1)).cloned().collect();
    let mut manifests = HashSet::new();
    for entry in &kept {
        if manifests.insert(entry.manifest) {
            let manifest = release::read_manifest(target, &entry.manifest).await?;
            reachable.extend(release::reachable_from(&entry.manifest, &manifest));
        }
    }
    let (listed, _) = release::list_objects(target).await?;
    let cutoff = now
        .checked_sub(grace)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(i64::MIN, |d| d.as_secs() as i64);
    let mut plan = GcPlan {
        observed,
        kept,
        history_len: history.len(),
        reachable,
        delete: Vec::new(),
        young: 0,
        listed: listed.len(),
    };
    for (digest, l) in listed {
        if plan.reachable.contains(&digest) {
            continue;
        }
        if l.modified <= cutoff {
            plan.delete.push((digest, l));
        } else {
            plan.young += 1;
        }
    }
    Ok(plan)
}

/// Deletes the planned objects, unless `current` changed since the plan was made (then
/// nothing is deleted). Returns how many were deleted.
pub async fn execute_gc(plan: &GcPlan, target: &Target) -> Result<usize, PublishError> {
    let now = release::read_pointer(target).await?;
    if now.bytes != plan.observed.bytes {
        return Err(PublishError::Conflict {
            location: target.label.clone(),
            expected: plan.observed.pointer.as_ref().map(|p| p.manifest),
            found: now.pointer.as_ref().map(|p| p.manifest),
        });
    }
    let keys: Vec<object_store::Result<object_store::path::Path>> = plan
        .delete
        .iter()
        .map(|(d, _)| Ok(target.key(&object_path(d))))
        .collect();
    let mut results = target
        .store
        .delete_stream(futures::stream::iter(keys).boxed());
    let mut deleted = 0;
    while let Some(result) = results.next().await {
        match result {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
            Err(e) => return Err(PublishError::store(&target.label, e)),
        }
    }
    Ok(deleted)
}

// ---------------------------------------------------------------------------------------
// The commands

fn runtime() -> Result<tokio::runtime::Runtime, PublishError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PublishError::io("<tokio runtime>", e))
}

/// Asks on a terminal; `--yes` or no terminal answers yes.
fn confirm(question: &str, yes: bool) -> Result<(), PublishError> {
    if yes || !io::stdin().is_terminal() || !io::stderr().is_terminal() {
        return Ok(());
    }
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| PublishError::io("<stdin>", e))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(PublishError::Declined)
    }
}

fn print(text: &str) -> Result<(), PublishError> {
    io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| PublishError::io("<stdout>", e))
}

pub fn cmd_publish(args: PublishArgs) -> Result<(), PublishError> {
    let target = match Target::parse(&args.url, !args.dry_run) {
        // A dry run to a directory that does not exist yet: plan against an empty store.
        Err(PublishError::Io { .. }) if args.dry_run && Target::is_local(&args.url) => Target::new(
            std::sync::Arc::new(object_store::memory::InMemory::new()),
            "",
            args.url.clone(),
        ),
        other => other?,
    };
    let options = PublishOptions {
        concurrency: usize::from(args.concurrency),
        ..PublishOptions::default()
    };
    runtime()?.block_on(async {
        let started = Instant::now();
        let plan = plan_publish(&args.from, &target).await?;
        let planning = started.elapsed();
        if args.dry_run {
            print(&print_publish_plan(&plan, &target, true))?;
            return print("dry run: nothing was changed\n");
        }
        let nothing_to_do =
            plan.upload.is_empty() && plan.repair.is_empty() && !plan.changes_pointer;
        if !nothing_to_do {
            eprint!("{}", print_publish_plan(&plan, &target, false));
            if plan.changes_pointer {
                confirm("Publish?", args.yes)?;
            }
        }
        let started = Instant::now()
            .checked_sub(planning)
            .unwrap_or_else(Instant::now);
        let progress = Progress::auto();
        let report = execute_publish(&plan, &target, &options, &progress).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let mut out = if report.record.is_some() {
            format!("published {} to {}\n", report.manifest, target.label)
        } else {
            format!(
                "{} already serves {}; `current` untouched\n",
                target.label, report.manifest
            )
        };
        out += &format!(
            "  uploaded  {} objects, {}{}\n  skipped   {} objects already present, {}\n",
            report.uploaded,
            human_bytes(report.uploaded_bytes),
            if report.raced > 0 {
                format!(" ({} already uploaded by someone else)", report.raced)
            } else {
                String::new()
            },
            report.skipped,
            human_bytes(report.skipped_bytes),
        );
        if let Some(record) = report.record {
            out += &format!("  release   {} (record {record})\n", report.manifest);
            out += &format!(
                "  previous  {}{}\n",
                opt_digest(&report.previous),
                report
                    .previous_record
                    .map(|r| format!(" (record {r})"))
                    .unwrap_or_default()
            );
        }
        out += &format!("  took      {elapsed:.1}s\n");
        print(&out)
    })
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

pub fn cmd_releases(args: ReleasesArgs) -> Result<(), PublishError> {
    let target = Target::parse(&args.url, false)?;
    runtime()?.block_on(async {
        let observed = release::read_pointer(&target).await?;
        let history = release::history(&target, observed.pointer.as_ref(), args.limit).await?;
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
            return print(&format!("{} has no release\n", target.label));
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

pub fn cmd_rollback(args: RollbackArgs) -> Result<(), PublishError> {
    let target = Target::parse(&args.url, false)?;
    runtime()?.block_on(async {
        let plan = plan_rollback(&target, args.to.as_deref()).await?;
        let line = format!(
            "rollback {}\n  current   {} → {}{}\n",
            target.label,
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
        eprint!("{line}");
        confirm("Roll back?", args.yes)?;
        let record = execute_rollback(&plan, &target).await?;
        print(&format!(
            "rolled back {} to {} (record {record})\n",
            target.label, plan.to
        ))
    })
}

pub fn cmd_gc(args: GcArgs) -> Result<(), PublishError> {
    let target = Target::parse(&args.url, false)?;
    runtime()?.block_on(async {
        let plan = plan_gc(&target, args.keep as usize, args.grace, SystemTime::now()).await?;
        let bytes: u64 = plan.delete.iter().map(|(_, l)| l.size).sum();
        let mut out = format!(
            "gc {}: keeping the newest {} of {} releases ({} objects reachable, all release records kept)\n  delete    {} objects, {} (unreachable, older than {}s)\n  keep      {} unreachable objects modified within the grace period\n",
            target.label,
            plan.kept.len(),
            plan.history_len,
            plan.reachable.len(),
            plan.delete.len(),
            human_bytes(bytes),
            args.grace.as_secs(),
            plan.young,
        );
        if args.dry_run {
            for (digest, l) in &plan.delete {
                out += &format!(
                    "    - {digest} {:>10}  modified {}\n",
                    human_bytes(l.size),
                    release::rfc3339_secs(l.modified)
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
            return Err(PublishError::Unsupported(
                "gc deletes objects: pass --yes (or run --dry-run first) when not on a terminal"
                    .to_owned(),
            ));
        }
        confirm("Delete?", args.yes)?;
        let deleted = execute_gc(&plan, &target).await?;
        print(&format!("deleted {deleted} objects\n"))
    })
}

/// Reads the release a location serves: `(label, manifest digest, manifest)`.
pub async fn load_current(target: &Target) -> Result<(Digest, Manifest), PublishError> {
    let observed = release::read_pointer(target).await?;
    let Some(pointer) = observed.pointer else {
        return Err(PublishError::NoRelease {
            location: target.label.clone(),
            hint: "build or publish one first",
        });
    };
    let manifest = release::read_manifest(target, &pointer.manifest).await?;
    Ok((pointer.manifest, manifest))
}

pub(crate) fn block_on<T>(
    future: impl Future<Output = Result<T, PublishError>>,
) -> Result<T, PublishError> {
    runtime()?.block_on(future)
}
