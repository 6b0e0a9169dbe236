//! Test support shared by the runtime servers' integration tests: real peers only.
//!
//! - [`certs`]: one set of dev certificates per test binary (RSA key generation is slow in
//!   debug builds, so it is made once).
//! - [`Server`]: a fluent builder that starts a server binary on loopback with port 0,
//!   learns the bound ports from its "ready" log line, keeps its log for assertions, and
//!   kills it on drop.
//! - [`Curl`] and [`openssl_raw`]: the real clients the tests speak through.
//! - [`TestBundle`]: a bundle directory written with `netboot_bundle::BundleDir`.
//! - [`Emulator`]: Google's storage-testbench and moto, and [`CountingStore`], a request-counting
//!   `ObjectStore` wrapper, for the object_store tests; [`published`]: hand-made bundles
//!   and one-call publishes for the tests of publishing.
//! - [`layering::Layering`]: a crate's modules as its sources name them, for tests that
//!   hold a crate to layers (no module circles, no upward imports).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use netboot_bundle::{BundleDir, Digest, Manifest, RouteEntry};

mod counting;
mod emulators;
pub mod layering;
pub mod published;

pub use counting::CountingStore;
pub use emulators::Emulator;
pub use netboot_devcerts::files;

/// The dev certificates, generated once for this test binary.
pub fn certs() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        netboot_devcerts::write_dev_certs(dir.path(), &[], &[]).expect("dev certs");
        dir
    })
    .path()
}

/// Path of one dev certificate file.
pub fn cert(name: &str) -> PathBuf {
    certs().join(name)
}

/// A bundle in a temporary directory. The directory's parent also holds `secret.txt`,
/// which no request may ever reach.
#[derive(Debug)]
pub struct TestBundle {
    _tmp: tempfile::TempDir,
    pub dir: BundleDir,
    pub secret: PathBuf,
}

pub const SECRET: &[u8] = b"TOP-SECRET-OUTSIDE-THE-BUNDLE\n";

impl TestBundle {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let secret = tmp.path().join("secret.txt");
        std::fs::write(&secret, SECRET).expect("secret");
        std::fs::write(tmp.path().join("bundle-sibling"), SECRET).expect("secret");
        let dir = BundleDir::new(tmp.path().join("bundle"));
        Self {
            _tmp: tmp,
            dir,
            secret,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.root()
    }

    /// Publishes a release with these routes (path → (bytes, content type)); returns the
    /// manifest digest.
    pub fn publish(&self, routes: &[(&str, &[u8], &str)]) -> Digest {
        let mut manifest = Manifest::new();
        for (route, bytes, content_type) in routes {
            let (object, _) = self.dir.store_object(bytes).expect("store");
            manifest.routes.insert(
                (*route).to_owned(),
                RouteEntry {
                    object,
                    size: bytes.len() as u64,
                    content_type: (*content_type).to_owned(),
                },
            );
        }
        let (digest, _) = self
            .dir
            .store_object(&manifest.to_canonical())
            .expect("store manifest");
        self.dir
            .write_pointer(&netboot_bundle::Pointer::new(digest))
            .expect("pointer");
        digest
    }

    pub fn object_file(&self, bytes: &[u8]) -> PathBuf {
        self.dir.object_file(&Digest::of(bytes))
    }
}

impl Default for TestBundle {
    fn default() -> Self {
        Self::new()
    }
}

/// Deterministic pseudo-random bytes (an "image").
pub fn image(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A server process under test.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub addr: String,
    pub health: Option<String>,
    ready_line: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// Builds the command line of a server under test.
#[derive(Debug)]
pub struct ServerBuilder {
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(String, PathBuf)>,
    ready_word: &'static str,
    close_log_when_ready: bool,
}

impl ServerBuilder {
    /// `binary` is `env!("CARGO_BIN_EXE_…")`; `ready_word` is the message logged once bound.
    pub fn new(binary: &str, ready_word: &'static str) -> Self {
        Self {
            binary: binary.into(),
            args: vec!["--listen".into(), "127.0.0.1:0".into()],
            env: Vec::new(),
            ready_word,
            close_log_when_ready: false,
        }
    }

    /// Like [`new`](Self::new) for a server without a `--listen` flag: the caller gives
    /// every listening address (the ready line must still say `listen=`).
    pub fn bare(binary: &str, ready_word: &'static str) -> Self {
        Self {
            binary: binary.into(),
            args: Vec::new(),
            env: Vec::new(),
            ready_word,
            close_log_when_ready: false,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    pub fn flag(self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.arg(name).arg(value)
    }

    /// An environment variable for the server (e.g. netboot-proxy's test clock).
    pub fn env(mut self, name: &str, value: impl Into<PathBuf>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// `--cert/--key` with the dev server certificate.
    pub fn server_cert(self) -> Self {
        self.flag("--cert", cert(files::SERVER_CERT))
            .flag("--key", cert(files::SERVER_KEY))
    }

    /// `--client-ca` (and the CRL).
    pub fn client_ca(self) -> Self {
        self.flag("--client-ca", cert(files::CA_CERT))
            .flag("--crl", cert(files::CRL))
    }

    pub fn health(self) -> Self {
        self.flag("--health-listen", "127.0.0.1:0")
    }

    /// Closes the read end of the server's stderr once it is ready, as a restarted journal
    /// or a finished `| head` would: every later log write fails with EPIPE.
    pub fn close_log_when_ready(mut self) -> Self {
        self.close_log_when_ready = true;
        self
    }

    /// Starts the process and waits for its ready line.
    pub fn start(self) -> Server {
        self.try_start()
            .unwrap_or_else(|log| panic!("server did not start:\n{log}"))
    }

    /// Starts the process; `Err(log)` if it exits or never says it is ready.
    pub fn try_start(self) -> Result<Server, String> {
        let mut child = Command::new(&self.binary)
            .args(&self.args)
            .envs(self.env.clone())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let sink = log.clone();
        let (ready_word, close_when_ready) = (self.ready_word, self.close_log_when_ready);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let ready = line.contains(ready_word);
                if ready {
                    let _ = ready_tx.send(line.clone());
                }
                sink.lock().expect("log").push(line);
                if ready && close_when_ready {
                    break;
                }
            }
        });
        let line = match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                return Err(log.lock().expect("log").join("\n"));
            }
        };
        Ok(Server {
            child: Some(child),
            addr: ready_field(&line, "listen").expect("listen address in ready line"),
            health: ready_field(&line, "health"),
            ready_line: line,
            log,
        })
    }
}

/// `name=value` in a ready line (`Some(v)` unwrapped, `None` as absent).
fn ready_field(line: &str, name: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .map(|v| {
            v.trim_start_matches("Some(")
                .trim_end_matches(')')
                .to_owned()
        })
        .filter(|v| v != "None")
}

impl Server {
    /// Another `name=value` of the ready line (e.g. netboot-proxy's `tftp=`).
    pub fn field(&self, name: &str) -> Option<String> {
        ready_field(&self.ready_line, name)
    }

    pub fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// `https://localhost:<port><path>` (localhost matches the dev server certificate).
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port())
    }

    pub fn health_url(&self, path: &str) -> String {
        format!(
            "http://{}{path}",
            self.health.as_deref().expect("health listener")
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let mut code = None;
        wait_until(within, || match child.try_wait() {
            Ok(Some(status)) => {
                code = status.code();
                true
            }
            _ => false,
        })
        .then(|| self.child = None)?;
        code
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// Waits until the log has a line containing `needle`.
    pub fn wait_log(&self, needle: &str, within: Duration) -> bool {
        wait_until(within, || self.log().contains(needle))
    }
}

/// Waits for `condition` to hold, looking every 20 ms, for at most `within` (a generous
/// bound that only ends a test that would otherwise hang). True if it held.
pub fn wait_until(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A curl invocation.
#[derive(Debug, Clone)]
pub struct Curl {
    args: Vec<String>,
    url: String,
    headers_at: Option<PathBuf>,
}

/// What curl got.
#[derive(Debug)]
pub struct Reply {
    /// curl's exit code (0 = transfer done, whatever the HTTP status).
    pub exit: i32,
    /// HTTP status, 0 if there was no response.
    pub status: u16,
    pub http_version: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub stderr: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

impl Curl {
    /// `curl --cacert ca.pem <url>`, no client certificate.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            args: vec![
                "--silent".into(),
                "--show-error".into(),
                "--max-time".into(),
                "20".into(),
                "--cacert".into(),
                cert(files::CA_CERT).display().to_string(),
            ],
            url: url.into(),
            headers_at: None,
        }
    }

    /// Writes the response head to `path` as it arrives: a test that sees the file knows
    /// the request is in flight (answered, its body still coming).
    pub fn headers_at(mut self, path: impl Into<PathBuf>) -> Self {
        self.headers_at = Some(path.into());
        self
    }

    /// Plain HTTP (no CA needed).
    pub fn plain(url: impl Into<String>) -> Self {
        Self {
            args: vec![
                "--silent".into(),
                "--show-error".into(),
                "--max-time".into(),
                "20".into(),
            ],
            url: url.into(),
            headers_at: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Presents the dev client certificate `cert_file` with `key_file`.
    pub fn client(self, cert_file: &str, key_file: &str) -> Self {
        self.arg("--cert")
            .arg(cert(cert_file).display().to_string())
            .arg("--key")
            .arg(cert(key_file).display().to_string())
    }

    pub fn tls12(self) -> Self {
        self.arg("--tlsv1.2").arg("--tls-max").arg("1.2")
    }

    pub fn tls13(self) -> Self {
        self.arg("--tlsv1.3")
    }

    pub fn header(self, header: &str) -> Self {
        self.arg("-H").arg(header)
    }

    pub fn run(self) -> Reply {
        let dir = tempfile::tempdir().expect("temp dir");
        let headers_file = self
            .headers_at
            .clone()
            .unwrap_or_else(|| dir.path().join("headers"));
        let body_file = dir.path().join("body");
        let output = Command::new("curl")
            .args(&self.args)
            .arg("--dump-header")
            .arg(&headers_file)
            .arg("--output")
            .arg(&body_file)
            .arg("--write-out")
            .arg("%{http_code} %{http_version}")
            .arg(&self.url)
            .output()
            .expect("run curl");
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut words = out.split_whitespace();
        let status = words.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let http_version = words.next().unwrap_or("").to_owned();
        let raw = std::fs::read_to_string(&headers_file).unwrap_or_default();
        // The last response's headers (curl may dump a 100 Continue first).
        let last = raw
            .rsplit("\r\n\r\n")
            .find(|b| !b.trim().is_empty())
            .unwrap_or("");
        let headers = last
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Reply {
            exit: output.status.code().unwrap_or(-1),
            status,
            http_version,
            headers,
            body: std::fs::read(&body_file).unwrap_or_default(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Sends `request` (raw bytes) over TLS with `openssl s_client`, presenting the dev
/// client certificate `client` (cert, key) if given; returns everything the server sent
/// back (status line, headers, body). `tls12` pins TLS 1.2.
pub fn openssl_raw(port: u16, client: Option<(&str, &str)>, tls12: bool, request: &[u8]) -> String {
    let mut cmd = Command::new("openssl");
    cmd.arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-servername")
        .arg("localhost")
        .arg("-CAfile")
        .arg(cert(files::CA_CERT))
        .arg("-verify_return_error")
        .arg("-quiet")
        .arg("-ign_eof");
    if tls12 {
        cmd.arg("-tls1_2");
    }
    if let Some((c, k)) = client {
        cmd.arg("-cert").arg(cert(c)).arg("-key").arg(cert(k));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(request);
        // Dropping stdin sends EOF; -ign_eof keeps reading the reply until the server closes.
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("openssl output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
