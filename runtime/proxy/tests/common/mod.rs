//! What the proxy's integration tests share: the origin (netboot-serve over mTLS), the
//! proxy under test, and clients for its LAN HTTP and TFTP.

#![allow(dead_code, clippy::unwrap_used)] // Each test file uses some of these.

use std::path::Path;
use std::time::Duration;

use netboot_testkit::{Curl, Reply, Server, ServerBuilder, cert, files, wait_until};

/// netboot-serve over mTLS, re-reading `current` five times a second.
pub fn origin(root: &Path) -> Server {
    serve_binary()
        .flag("--bundle", root)
        .server_cert()
        .client_ca()
        .flag("--poll-interval", "200ms")
        .start()
}

/// netboot-serve's binary, beside ours: `cargo test --workspace` builds it (cargo only
/// hands a package's tests its own binaries).
pub fn serve_binary() -> ServerBuilder {
    let binary = Path::new(env!("CARGO_BIN_EXE_netboot-proxy")).with_file_name("netboot-serve");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p netboot-serve` or `cargo test --workspace`",
        binary.display()
    );
    ServerBuilder::new(&binary.display().to_string(), "netboot-serve ready")
}

/// The proxy's command line against the origin at `origin_port`, on `cache`, with the
/// client certificate `client`: every address on loopback, port 0.
pub fn proxy_builder(origin_port: u16, cache: &Path, client: (&str, &str)) -> ServerBuilder {
    ServerBuilder::bare(env!("CARGO_BIN_EXE_netboot-proxy"), "netboot-proxy ready")
        .flag("--origin", format!("https://localhost:{origin_port}"))
        .flag("--cert", cert(client.0))
        .flag("--key", cert(client.1))
        .flag("--origin-ca", cert(files::CA_CERT))
        .flag("--tftp-listen", "127.0.0.1:0")
        .flag("--http-listen", "127.0.0.1:0")
        .flag("--admin-listen", "127.0.0.1:0")
        .flag("--cache-dir", cache)
}

/// [`proxy_builder`] with a fast poll and a short, single retry: what most tests run.
pub fn fast_proxy(origin_port: u16, cache: &Path, client: (&str, &str)) -> ServerBuilder {
    proxy_builder(origin_port, cache, client)
        .flag("--poll-interval", "200ms")
        .flag("--origin-timeout", "3s")
        .flag("--origin-retries", "1")
}

pub fn proxy_with(origin_port: u16, cache: &Path, client: (&str, &str)) -> Server {
    fast_proxy(origin_port, cache, client).start()
}

pub fn proxy(origin_port: u16, cache: &Path) -> Server {
    proxy_with(
        origin_port,
        cache,
        (files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY),
    )
}

pub fn lan(proxy: &Server, path: &str) -> Reply {
    Curl::plain(format!("http://{}{path}", proxy.addr)).run()
}

/// GET `path` on the proxy's admin listener (`/status`, `/metrics`).
pub fn admin(proxy: &Server, path: &str) -> Reply {
    let addr = proxy
        .field("admin")
        .expect("admin address in the ready line");
    Curl::plain(format!("http://{addr}{path}")).run()
}

pub fn tftp(proxy: &Server, name: &str, blksize: u16) -> Reply {
    let addr = proxy.field("tftp").expect("tftp address in the ready line");
    Curl::plain(format!("tftp://{addr}/{name}"))
        .arg("--tftp-blksize")
        .arg(blksize.to_string())
        .run()
}

/// Polls `/healthz` until it says a release is served (`ok …`) and contains `needle`.
pub fn wait_health(proxy: &Server, needle: &str) -> String {
    let mut body = String::new();
    wait_until(Duration::from_secs(20), || {
        body = String::from_utf8_lossy(&lan(proxy, "/healthz").body).into_owned();
        body.starts_with("ok ") && body.contains(needle)
    });
    body
}

pub fn metric(proxy: &Server, line_start: &str) -> Option<u64> {
    let text = String::from_utf8(admin(proxy, "/metrics").body).expect("utf-8 metrics");
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Byte equality without printing megabytes on failure.
#[track_caller]
pub fn same(got: &[u8], want: &[u8], at: impl std::fmt::Display) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{at}: got {} bytes, want {}; first difference at {first:?}",
            got.len(),
            want.len()
        );
    }
}
