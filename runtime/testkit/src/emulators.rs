//! Cloud storage emulators the store tests talk to through object_store's real clients:
//! Google's storage-testbench (with the wrapper in `gcs-testbench/`) and moto's S3 server
//! (PyPI `moto[server]`), both installed by `.ci/python-deps`. Each test starts its own on a
//! free loopback port; if one cannot be started the test fails, it is not skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::gcp::{GoogleCloudStorage, GoogleCloudStorageBuilder};

/// A running emulator, killed on drop.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    port: u16,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Emulator {
    /// Google's GCS emulator (storage-testbench) behind the test kit's wrapper
    /// (`gcs-testbench/server.py`, which adds the XML listing, headers, DELETE and multipart
    /// uploads real GCS has and the testbench lacks), from the venv that
    /// `gcs-testbench/install.sh` makes (`.ci/python-deps` runs it), or
    /// `$NETBOOT_GCS_TESTBENCH_PYTHON`.
    pub fn gcs_testbench() -> Self {
        let python = std::env::var_os("NETBOOT_GCS_TESTBENCH_PYTHON")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                let cache = std::env::var_os("XDG_CACHE_HOME")
                    .map(std::path::PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
                    .expect("HOME or XDG_CACHE_HOME is set");
                cache.join("netboot-testbench/venv/bin/python")
            });
        assert!(
            python.exists(),
            "{} is missing: run .ci/python-deps (runtime/testkit/gcs-testbench/install.sh)",
            python.display()
        );
        let server = Path::new(env!("CARGO_MANIFEST_DIR")).join("gcs-testbench/server.py");
        let port = free_port();
        let child = Command::new(&python)
            .arg(&server)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let mut gcs = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        gcs.wait_until(Duration::from_secs(60), "storage-testbench", |stream| {
            let request = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
            let mut answer = String::new();
            stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.")
                && answer.contains(" 200 ")
        });
        gcs
    }

    /// Creates a bucket on the GCS emulator (JSON API: object_store cannot create buckets)
    /// and returns object_store's real GCS client for it, with the CLI's retry settings.
    pub fn gcs_bucket(&self, name: &str) -> GoogleCloudStorage {
        let reply = ureq::post(&format!("{}/storage/v1/b?project=test", self.base))
            .header("content-type", "application/json")
            .send(format!(r#"{{"name":"{name}"}}"#));
        assert!(reply.is_ok(), "creating bucket {name}: {reply:?}");
        netboot_store::install_crypto_provider();
        GoogleCloudStorageBuilder::new()
            .with_service_account_key(self.gcs_service_account())
            .with_bucket_name(name)
            .with_retry(netboot_store::retry_config())
            .build()
            .expect("a GCS client for the emulator")
    }

    /// Queues faults through the testbench's Retry Test API and makes them apply to every
    /// request whose path ends with `path_suffix` (`""`: all; `"/current"`: the pointer)
    /// and that names no other test (how they reach a `netbootc` process): for each
    /// JSON-API method name (`storage.objects.insert`, `.get`, `.list`, `.delete`), the
    /// instructions in the order they fire (`return-503`, `return-reset-connection`,
    /// `return-412`, `stall-for-3s-after-0K`, ...). Returns the test's id.
    pub fn inject_faults(&self, path_suffix: &str, faults: &[(&str, &[&str])]) -> String {
        let instructions: serde_json::Map<String, serde_json::Value> = faults
            .iter()
            .map(|(method, list)| ((*method).to_owned(), serde_json::json!(list)))
            .collect();
        let answer = self.retry_test_call(
            ureq::post(&format!("{}/retry_test", self.base))
                .header("content-type", "application/json")
                .send(serde_json::json!({ "instructions": instructions }).to_string()),
        );
        let id = answer["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {answer}"))
            .to_owned();
        ureq::put(&format!("{}/_testkit/default_retry_test/{id}", self.base))
            .query("path_suffix", path_suffix)
            .send_empty()
            .expect("arming the retry test");
        id
    }

    /// Whether every fault of [`Self::inject_faults`] has fired; the testbench's own
    /// account of what is left otherwise, for the test's message.
    pub fn faults_fired(&self, id: &str) -> Result<(), String> {
        let state =
            self.retry_test_call(ureq::get(&format!("{}/retry_test/{id}", self.base)).call());
        match state["completed"].as_bool() {
            Some(true) => Ok(()),
            _ => Err(state["instructions"].to_string()),
        }
    }

    fn retry_test_call(
        &self,
        reply: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> serde_json::Value {
        let text = reply
            .and_then(|r| r.into_body().read_to_string())
            .unwrap_or_else(|e| panic!("the testbench's Retry Test API at {}: {e}", self.base));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Stops injecting faults into requests that name no test.
    pub fn clear_faults(&self) {
        ureq::delete(&format!("{}/_testkit/default_retry_test", self.base))
            .call()
            .expect("disarming the retry test");
    }

    /// moto's S3 server (`moto_server`, else `python3 -m moto.server`).
    pub fn moto() -> Self {
        let port = free_port();
        let args = ["-H", "127.0.0.1", "-p", &port.to_string()];
        let spawn = |program: &str, pre: &[&str]| {
            Command::new(program)
                .args(pre)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let child = spawn("moto_server", &[])
            .or_else(|_| spawn("python3", &["-m", "moto.server"]))
            .expect("moto is not installed: run .ci/python-deps (pip install 'moto[server]')");
        let mut moto = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        // moto accepts connections before its app is loaded: wait for a real answer.
        moto.wait_until(Duration::from_secs(60), "moto_server", |stream| {
            let request = "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
            let mut status = [0u8; 12];
            stream.write_all(request.as_bytes()).is_ok()
                && stream.read_exact(&mut status).is_ok()
                && status.starts_with(b"HTTP/1.")
        });
        moto
    }

    /// A service-account key that points object_store's GCS client at this emulator
    /// without OAuth (for `GOOGLE_SERVICE_ACCOUNT_KEY`).
    pub fn gcs_service_account(&self) -> String {
        format!(
            r#"{{"gcs_base_url":"{}","disable_oauth":true,"client_email":"","private_key":"","private_key_id":""}}"#,
            self.base
        )
    }

    fn wait_until(&mut self, limit: Duration, name: &str, ready: impl Fn(&mut TcpStream) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port))
                && ready(&mut stream)
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{name} exited with {status} before answering");
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not answer on {} within {limit:?}",
                self.base
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
