//! A small fluent harness for running the real `netbootc` binary against a config directory
//! made up on the spot (in the style of casey/just's integration tests):
//!
//! ```ignore
//! Test::new()
//!     .base()
//!     .file("machines/bad.kdl", "machine \"x\" {\n    mac \"nope\"\n}\n")
//!     .args(["check"])
//!     .expect_exit(1)
//!     .run();
//! ```
//!
//! Every run gets `--config <tempdir>` appended (unless [`Test::no_config`]), `NO_COLOR=1`,
//! stderr on a pipe (so the human report is colourless at width 100), and none of the
//! `NETBOOTC_*` variables of the calling environment. Output has the temp dir replaced by
//! `[CONFIG]`.

#![allow(dead_code)]

pub mod secure_boot;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use sha2::{Digest as _, Sha256};
use tempfile::TempDir;

/// The real binary, built by cargo for the integration tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_netbootc");

/// The example fleet shipped with the repository.
pub const EXAMPLE_MACHINES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../machines");
pub const EXAMPLE_PROFILES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles");

/// The stand-in kernel of the base config (`profiles/images/vmlinuz`).
pub const KERNEL: &[u8] = b"not really a kernel\n";

/// The base config's files, as [`Test::base`] writes them. Fixtures add what they break.
pub const SITE_KDL: &str = "site {\n    origin \"https://boot.example.com\"\n}\n";
pub const MACHINE_KDL: &str = "machine \"node-01\" {\n    mac \"52:54:00:aa:00:01\"\n    uuid \"4c4c4544-0042-3510-8052-b4c04f4d4e31\"\n    profile \"flatcar-stable\"\n}\n";

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The sha256 of [`KERNEL`].
pub fn kernel_sha256() -> String {
    sha256_hex(KERNEL)
}

/// `profiles/flatcar.kdl` of the base config: one profile with a local, pinned kernel.
pub fn profile_kdl() -> String {
    format!(
        "profile \"flatcar-stable\" {{\n    arch \"x86_64\"\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n    cmdline \"console=ttyS0 hostname={{{{ machine.name }}}}\"\n}}\n",
        kernel_sha256()
    )
}

#[derive(Debug)]
enum Entry {
    File(Vec<u8>),
    Dir,
    /// A symbolic link to the given target (as written, usually relative).
    Symlink(String),
}

#[derive(Debug)]
pub struct Test {
    tempdir: TempDir,
    /// Relative path → contents, written in this order when the test runs.
    files: Vec<(String, Entry)>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_removed: Vec<String>,
    config: Option<PathBuf>,
    /// Leave `--config` off the command line (for commands that take none).
    no_config: bool,
    expected_exit: Option<i32>,
    expected_stdout: Option<String>,
    expected_stderr: Option<String>,
    reverse_order: bool,
}

#[derive(Debug)]
pub struct Output {
    pub tempdir: TempDir,
    pub status: i32,
    /// Raw stdout (not redacted: JSON and scripts are checked as they are).
    pub stdout: String,
    /// Stderr with the temp dir replaced by `[CONFIG]`.
    pub stderr: String,
}

impl Output {
    pub fn path(&self) -> &Path {
        self.tempdir.path()
    }

    /// Another command in the same directory, the files as the last run left them.
    pub fn again(self) -> Test {
        Test::with_tempdir(self.tempdir)
    }

    /// Stdout with the temp dir replaced by `[CONFIG]`.
    pub fn stdout_redacted(&self) -> String {
        redact(&self.stdout, self.tempdir.path())
    }
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    /// An empty config directory with `machines/` and `profiles/`.
    pub fn new() -> Self {
        Self::with_tempdir(tempfile::tempdir().expect("create a temp dir"))
            .dir("machines")
            .dir("profiles")
    }

    /// A temp dir with nothing in it (not even `machines/`).
    pub fn bare() -> Self {
        Self::with_tempdir(tempfile::tempdir().expect("create a temp dir"))
    }

    pub fn with_tempdir(tempdir: TempDir) -> Self {
        Self {
            tempdir,
            files: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            env_removed: Vec::new(),
            config: None,
            no_config: false,
            expected_exit: Some(0),
            expected_stdout: None,
            expected_stderr: None,
            reverse_order: false,
        }
    }

    pub fn path(&self) -> &Path {
        self.tempdir.path()
    }

    /// A minimal valid config: the site, one profile with a local kernel (its digest
    /// computed), and one machine using it.
    pub fn base(self) -> Self {
        self.file("profiles/site.kdl", SITE_KDL)
            .file("profiles/flatcar.kdl", profile_kdl())
            .file("profiles/images/vmlinuz", KERNEL)
            .file("machines/rack-a.kdl", MACHINE_KDL)
    }

    /// Adds (or replaces) a file, relative to the config directory.
    pub fn file(mut self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        self.files.retain(|(p, _)| p != path);
        self.files
            .push((path.to_owned(), Entry::File(contents.as_ref().to_vec())));
        self
    }

    /// Drops a file added before (e.g. the base config's site).
    pub fn remove(mut self, path: &str) -> Self {
        let before = self.files.len();
        self.files.retain(|(p, _)| p != path);
        assert_ne!(before, self.files.len(), "no file {path} to remove");
        self
    }

    /// A symbolic link at `path` pointing to `target` (relative to the link's directory).
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.files.retain(|(p, _)| p != path);
        self.files
            .push((path.to_owned(), Entry::Symlink(target.to_owned())));
        self
    }

    pub fn dir(mut self, path: &str) -> Self {
        self.files.push((path.to_owned(), Entry::Dir));
        self
    }

    /// Copies a directory tree from the repository into the config directory.
    pub fn copy_tree(mut self, from: impl AsRef<Path>, to: &str) -> Self {
        let from = from.as_ref();
        for entry in walk(from) {
            let relative = entry.strip_prefix(from).expect("under the root");
            let name = format!("{to}/{}", relative.to_string_lossy());
            let bytes = fs::read(&entry).expect("read example file");
            self = self.file(&name, bytes);
        }
        self
    }

    /// Writes the files in the reverse of the order they were added.
    pub fn reverse_file_order(mut self) -> Self {
        self.reverse_order = true;
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Drops `key` from the environment the binary gets (set by [`Test::env`] or inherited).
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env_removed.push(key.into());
        self
    }

    /// Writes the files now (so a test can act on the directory, e.g. `git init`, before
    /// running the binary).
    pub fn prepare(mut self) -> Self {
        self.write_files();
        self
    }

    /// Points `--config` somewhere other than the temp dir.
    pub fn config(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config = Some(dir.into());
        self
    }

    /// Runs without `--config` (`completions`, `man`, …).
    pub fn no_config(mut self) -> Self {
        self.no_config = true;
        self
    }

    pub fn expect_exit(mut self, code: i32) -> Self {
        self.expected_exit = Some(code);
        self
    }

    /// Accepts any exit code (the test checks it itself).
    pub fn any_exit(mut self) -> Self {
        self.expected_exit = None;
        self
    }

    pub fn expect_stdout(mut self, stdout: impl Into<String>) -> Self {
        self.expected_stdout = Some(stdout.into());
        self
    }

    /// Exact stderr, after redaction.
    pub fn expect_stderr(mut self, stderr: impl Into<String>) -> Self {
        self.expected_stderr = Some(stderr.into());
        self
    }

    /// Writes the files and runs the binary; checks the expectations.
    pub fn run(mut self) -> Output {
        let root = self.tempdir.path().to_owned();
        self.write_files();
        let config = self.config.clone().unwrap_or_else(|| root.clone());
        let mut command = Command::new(BIN);
        command.args(&self.args);
        if !self.no_config {
            command.arg("--config").arg(&config);
        }
        command
            .current_dir(&root)
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .env_remove("NETBOOTC_CONFIG")
            .env_remove("NETBOOTC_OUT")
            .env_remove("NETBOOTC_IMAGE_CACHE")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("FORCE_COLOR")
            // Never the operator's download cache.
            .env("XDG_CACHE_HOME", root.join(".xdg-cache"));
        for key in &self.env_removed {
            command.env_remove(key);
        }
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let output = command.output().expect("run netbootc");
        let status = output.status.code().unwrap_or(-1);
        let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
        let stderr = redact(
            &String::from_utf8(output.stderr).expect("stderr is UTF-8"),
            &root,
        );
        assert!(!stderr.contains("panicked"), "netbootc panicked:\n{stderr}");
        if let Some(code) = self.expected_exit {
            assert_eq!(
                status, code,
                "exit code of netbootc {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                self.args
            );
        }
        if let Some(expected) = &self.expected_stdout {
            assert_eq!(&stdout, expected, "stdout\n--- stderr\n{stderr}");
        }
        if let Some(expected) = &self.expected_stderr {
            assert_eq!(&stderr, expected, "stderr");
        }
        Output {
            tempdir: self.tempdir,
            status,
            stdout,
            stderr,
        }
    }

    fn write_files(&mut self) {
        let root = self.tempdir.path().to_owned();
        if self.reverse_order {
            self.files.reverse();
        }
        for (path, entry) in self.files.drain(..) {
            let full = root.join(path);
            match entry {
                Entry::Dir => fs::create_dir_all(&full).expect("create dir"),
                Entry::File(bytes) => {
                    fs::create_dir_all(full.parent().expect("has a parent")).expect("mkdir");
                    fs::write(&full, bytes).expect("write fixture file");
                }
                #[cfg(unix)]
                Entry::Symlink(target) => {
                    fs::create_dir_all(full.parent().expect("has a parent")).expect("mkdir");
                    std::os::unix::fs::symlink(target, &full).expect("symlink");
                }
                #[cfg(not(unix))]
                Entry::Symlink(_) => panic!("symlink fixtures need unix"),
            }
        }
    }
}

/// Replaces the temp dir (as given and canonicalised) with `[CONFIG]`.
pub fn redact(text: &str, root: &Path) -> String {
    let mut text = text.to_owned();
    let mut roots = vec![root.to_owned()];
    if let Ok(canonical) = root.canonicalize() {
        roots.push(canonical);
    }
    // Longest first, so a canonical path that extends the given one is replaced whole.
    roots.sort_by_key(|r| std::cmp::Reverse(r.as_os_str().len()));
    for r in roots {
        text = text.replace(&*r.to_string_lossy(), "[CONFIG]");
    }
    text
}

/// Every regular file under `root`, sorted, as full paths.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read dir") {
            let entry = entry.expect("dir entry");
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Every file under `root` as (relative path, bytes), sorted: a whole tree to compare.
pub fn snapshot_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    walk(root)
        .into_iter()
        .map(|p| {
            let relative = p
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            let bytes = fs::read(&p).expect("read file");
            (relative, bytes)
        })
        .collect()
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

/// Errors in three files, written out of order: one run reports them all, sorted by file
/// and then position.
pub fn several_errors() -> Test {
    Test::new()
        .base()
        .file(
            "profiles/rescue.kdl",
            format!(
                "profile \"rescue\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n    kernal \"x\"\n}}\n",
                kernel_sha256()
            ),
        )
        .file(
            "machines/rack-b.kdl",
            "machine \"node-03\" {\n    mac \"52:54:00:aa:00:03\"\n    profile \"rescue\"\n    uuid \"not-a-uuid\"\n}\n",
        )
        .file(
            "machines/rack-a.kdl",
            format!(
                "{MACHINE_KDL}\nmachine \"node-02\" {{\n    mac \"52:54:00:aa:00:0g\"\n    profile \"flatcar-stabel\"\n}}\n"
            ),
        )
}

/// A one-file HTTP/1.1 server on loopback, for image downloads without a network: serves
/// `body` at `path`, 404 elsewhere, and counts the requests it gets.
#[derive(Debug)]
pub struct HttpServer {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl HttpServer {
    pub fn serve(path: &str, body: impl Into<Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        let (path, body) = (path.to_owned(), body.into());
        // Runs until the test process ends; blocked in accept() otherwise.
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut head = Vec::new();
                let mut chunk = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                if head.is_empty() {
                    continue;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&head);
                let mut words = head.split_whitespace();
                let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let (status, payload): (&str, &[u8]) = if target == path {
                    ("200 OK", &body)
                } else {
                    ("404 Not Found", b"not found\n")
                };
                let mut response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    payload.len()
                )
                .into_bytes();
                if method != "HEAD" {
                    response.extend_from_slice(payload);
                }
                let _ = stream.write_all(&response);
            }
        });
        Self { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
