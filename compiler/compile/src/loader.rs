//! All reads of the config directory: the KDL files, templates and local images.
//! Everything here is I/O; what it reads goes to the pure stages as [`SourceFile`]s.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use walkdir::WalkDir;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::error::Error;
use crate::source::SourceFile;

/// Largest KDL file or template read. Real configs are kilobytes; this bounds memory.
pub const FILE_LIMIT: u64 = 8 * 1024 * 1024;

/// Largest secret file read (Talos secrets are a few KiB).
pub const SECRET_LIMIT: u64 = 1024 * 1024;

/// A file as Git sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitStatus {
    /// Committed, or staged to be.
    Tracked,
    /// Untracked and not ignored: `git add -A` would commit it.
    NotIgnored,
    Ignored,
}

/// The directories whose `*.kdl` files make up the config.
pub const CONFIG_DIRS: [&str; 2] = ["machines", "profiles"];

#[derive(Debug, Clone)]
pub struct Loader {
    root: PathBuf,
}

impl Loader {
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let root = root.into();
        if !CONFIG_DIRS.iter().all(|d| root.join(d).is_dir()) {
            return Err(Error::ConfigDirMissing { path: root });
        }
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path relative to the config directory (`/`-separated), on disk.
    pub fn full_path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Every `*.kdl` under `machines/` and `profiles/`, sorted by path so the order never
    /// depends on the file system. Unreadable files become diagnostics.
    pub fn kdl_files(&self, diags: &mut Diagnostics) -> Result<Vec<Arc<SourceFile>>, Error> {
        let mut names = Vec::new();
        for dir in CONFIG_DIRS {
            for entry in WalkDir::new(self.root.join(dir)).sort_by_file_name() {
                let entry = entry.map_err(|e| {
                    let path = e.path().map_or_else(|| self.root.join(dir), Path::to_owned);
                    Error::Io {
                        path,
                        source: e.into(),
                    }
                })?;
                // Symlinked files count (a shared rack file linked in); a dangling link
                // is read, and reported, rather than silently skipped.
                if (entry.file_type().is_file() || entry.path_is_symlink())
                    && entry.path().extension().is_some_and(|e| e == "kdl")
                {
                    names.push(self.relative_name(entry.path()));
                }
            }
        }
        names.sort();
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            match self.read_text(&name) {
                Ok(file) => files.push(file),
                Err(diagnostic) => {
                    diags.push(*diagnostic);
                }
            }
        }
        if files.is_empty() && !diags.has_errors() {
            diags
                .push(Diagnostic::global(
                    Code::EmptyConfig,
                    format!(
                        "no `*.kdl` files under `{}/machines` or `{}/profiles`",
                        self.root.display(),
                        self.root.display()
                    ),
                ))
                .help("start with a profiles/site.kdl holding the `site` node");
        }
        Ok(files)
    }

    /// Reads a text file (KDL or template) by its config-relative name, within limits.
    pub fn read_text(&self, name: &str) -> Result<Arc<SourceFile>, Box<Diagnostic>> {
        let path = self.full_path(name);
        let io_error = |e: std::io::Error| {
            Box::new(Diagnostic::global(
                Code::Io,
                format!("cannot read `{name}`: {e}"),
            ))
        };
        let file = fs::File::open(&path).map_err(io_error)?;
        let mut bytes = Vec::new();
        file.take(FILE_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        decode(name, bytes)
    }

    /// Where a secret's `path=` points: written relative to `base` (the naming KDL file's
    /// config-relative directory), or absolute.
    pub fn secret_path(&self, base: &str, written: &str) -> PathBuf {
        self.root.join(base).join(written)
    }

    /// A secret's file, at most [`SECRET_LIMIT`] bytes; `Ok(None)` when it does not exist.
    pub fn read_secret(&self, path: &Path) -> std::io::Result<Option<String>> {
        let file = match fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut text = String::new();
        file.take(SECRET_LIMIT + 1).read_to_string(&mut text)?;
        if text.len() as u64 > SECRET_LIMIT {
            return Err(std::io::Error::other(format!(
                "larger than {} KiB",
                SECRET_LIMIT >> 10
            )));
        }
        Ok(Some(text))
    }

    /// A secret's environment variable, if set (and UTF-8).
    pub fn secret_env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    /// What Git would do with `path`: asks `git` itself (its ignore rules are more than
    /// `.gitignore` files). `None` when the file is in no work tree or git is not installed.
    ///
    /// The config may be an untrusted clone, and the secret's directory a repository of its
    /// own: git runs as [`untrusted_git`] sets it up, so no config of that repository (or
    /// any other) can make it execute anything.
    pub fn git_status(&self, path: &Path) -> Option<GitStatus> {
        let (dir, file) = (path.parent()?, path.file_name()?);
        // The exit code answers: 0 yes, 1 no, 128 not a work tree (or no git: `None`).
        let git = |command: &[&str]| {
            untrusted_git(dir)
                .args(command)
                .arg("--")
                .arg(file)
                .status()
                .ok()
                .and_then(|s| s.code())
        };
        match git(&["ls-files", "--error-unmatch"])? {
            0 => return Some(GitStatus::Tracked),
            1 => {}
            _ => return None,
        }
        match git(&["check-ignore", "-q"])? {
            0 => Some(GitStatus::Ignored),
            1 => Some(GitStatus::NotIgnored),
            _ => None,
        }
    }

    fn relative_name(&self, path: &Path) -> String {
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Config keys that make git run a command, each set (on the command line, which no config
/// file overrides, `include`d ones included) to a value that runs nothing.
/// `ls-files --error-unmatch` and `check-ignore` read the index and ignore rules, never
/// file contents, so filter drivers, textconv and diff drivers are not reached; of the rest
/// these are what reading an index or starting up can run.
const GIT_INERT: [&str; 6] = [
    // Run on every index read (git 2.47 `ls-files` included) when set to a command.
    "core.fsmonitor=false",
    // `post-index-change` and the others: no hooks at all.
    "core.hooksPath=/dev/null",
    // A bare repository planted in the config's tree is not picked up by discovery.
    "safe.bareRepository=explicit",
    "core.pager=cat",
    "core.editor=false",
    "core.askPass=",
];

/// `git -C dir` set up to execute nothing a repository (or the environment) asks for: the
/// command-running keys of [`GIT_INERT`] pinned, no pager, no system or global config, an
/// environment of only `PATH` (no inherited `GIT_DIR`, `GIT_CONFIG_PARAMETERS`,
/// `GIT_EXEC_PATH` and the like), no optional lock taken (`check` writes nothing), and no
/// input or output.
fn untrusted_git(dir: &Path) -> std::process::Command {
    let mut git = std::process::Command::new("git");
    git.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        git.env("PATH", path);
    }
    git.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PAGER", "cat")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .arg("--no-pager");
    for setting in GIT_INERT {
        git.arg("-c").arg(setting);
    }
    git.arg("-C")
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    git
}

/// A file's bytes as the pure stages take them: within [`FILE_LIMIT`], valid UTF-8.
pub fn decode(name: &str, bytes: Vec<u8>) -> Result<Arc<SourceFile>, Box<Diagnostic>> {
    if bytes.len() as u64 > FILE_LIMIT {
        let mut d = Diagnostic::global(
            Code::FileTooLarge,
            format!("`{name}` is larger than the {} MiB limit", FILE_LIMIT >> 20),
        );
        d.help("split the fleet across several files");
        return Err(Box::new(d));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(name, text)),
        Err(e) => {
            // Up to the first bad byte the lossy text equals the input, so the span is exact.
            let at = e.utf8_error().valid_up_to();
            let source = SourceFile::new(name, String::from_utf8_lossy(e.as_bytes()).into_owned());
            let mut d = Diagnostic::error(
                Code::NotUtf8,
                &source,
                at..at + 1,
                format!("`{name}` is not valid UTF-8"),
            );
            d.label("invalid byte here").help("save the file as UTF-8");
            Err(Box::new(d))
        }
    }
}
