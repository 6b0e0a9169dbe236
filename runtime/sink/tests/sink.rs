//! netboot-sink driven as a process through curl and openssl.

#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

use std::time::Duration;

use netboot_testkit::{Curl, ServerBuilder, files};

fn sink() -> ServerBuilder {
    ServerBuilder::new(env!("CARGO_BIN_EXE_netboot-sink"), "netboot-sink ready")
}

fn http_url(server: &netboot_testkit::Server, path: &str) -> String {
    format!("http://{}{path}", server.addr)
}

#[test]
fn plain_http_503_everywhere_but_health() {
    let mut server = sink().flag("--retry-after", "42s").start();
    for path in [
        "/",
        "/boot.ipxe",
        "/machines/by-mac/52-54-00-aa-00-01.ipxe",
        "/healthz/",
        "/%2e%2e/x",
    ] {
        for method in ["GET", "POST", "HEAD"] {
            // curl's `-X HEAD` would wait for the advertised body; `--head` does not.
            let curl = Curl::plain(http_url(&server, path)).arg("--path-as-is");
            let curl = match method {
                "HEAD" => curl.arg("--head"),
                other => curl.arg("-X").arg(other),
            };
            let reply = curl.run();
            assert_eq!(reply.status, 503, "{method} {path}");
            assert_eq!(reply.header("retry-after"), Some("42"), "{method} {path}");
            if method != "HEAD" {
                assert_eq!(reply.body, b"service unavailable\n");
            }
        }
    }
    let reply = Curl::plain(http_url(&server, "/healthz")).run();
    assert_eq!(reply.status, 200);
    let reply = Curl::plain(http_url(&server, "/metrics")).run();
    let text = String::from_utf8_lossy(&reply.body);
    assert!(
        text.contains("netboot_sink_requests_total{code=\"503\"} 15"),
        "{text}"
    );
    let reply = Curl::plain(http_url(&server, "/"))
        .arg("--http2-prior-knowledge")
        .run();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.http_version, "2");
    assert!(server.log().contains("status=503"), "{}", server.log());

    server.signal("TERM");
    assert_eq!(
        server.wait_exit(Duration::from_secs(5)),
        Some(0),
        "{}",
        server.log()
    );
}

#[test]
fn custom_health_path() {
    let server = sink().flag("--health-path", "/up").start();
    assert_eq!(Curl::plain(http_url(&server, "/up")).run().status, 200);
    assert_eq!(Curl::plain(http_url(&server, "/healthz")).run().status, 503);
}

#[test]
fn tls_with_the_same_flags_as_serve() {
    let server = sink().server_cert().client_ca().start();
    let url = format!("https://localhost:{}/anything", server.port());
    for tls12 in [true, false] {
        let curl = Curl::new(&url).client(files::CLIENT_RSA_CERT, files::CLIENT_RSA_KEY);
        let reply = if tls12 { curl.tls12() } else { curl.tls13() }.run();
        assert_eq!(reply.status, 503, "{reply:?}");
        assert!(reply.header("retry-after").is_some());
        let reply = Curl::new(&url)
            .client(files::CLIENT_REVOKED_CERT, files::CLIENT_REVOKED_KEY)
            .run();
        assert_eq!(reply.status, 0, "revoked cert accepted: {reply:?}");
        let reply = Curl::new(&url).header("Client-Cert: :AAAA:").run();
        assert_eq!(reply.status, 0, "no cert accepted: {reply:?}");
    }
    let health = Curl::new(format!("https://localhost:{}/healthz", server.port()))
        .client(files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY)
        .run();
    assert_eq!(health.status, 200);

    // TLS without a client CA must be asked for explicitly.
    let log = sink().server_cert().try_start().unwrap_err();
    assert!(log.contains("--insecure-no-client-auth"), "{log}");
    let open = sink()
        .server_cert()
        .arg("--insecure-no-client-auth")
        .start();
    let reply = Curl::new(format!("https://localhost:{}/", open.port())).run();
    assert_eq!(reply.status, 503);
}

/// Under mTLS a load balancer's health check has no client certificate: `--health-listen`
/// answers it in plain HTTP, while the main listener still refuses clients without one.
#[test]
fn health_under_mtls_needs_no_client_certificate() {
    let server = sink().server_cert().client_ca().health().start();
    let health = Curl::plain(server.health_url("/healthz")).run();
    assert_eq!(health.status, 200);
    assert_eq!(health.body, b"ok\n");
    assert_eq!(
        Curl::plain(server.health_url("/anything")).run().status,
        503
    );
    let main = format!("https://localhost:{}/healthz", server.port());
    assert_eq!(
        Curl::new(&main).run().status,
        0,
        "no certificate, no handshake"
    );
    let with_cert = Curl::new(&main)
        .client(files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY)
        .run();
    assert_eq!(with_cert.status, 200);
}

/// The sink must stay small: none of the compiler's or the object store's crates.
#[test]
fn dependency_tree_has_no_heavy_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "netboot-sink",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.contains("netboot-sink"), "{tree}");
    for banned in [
        "object_store",
        "kdl",
        "minijinja",
        "netboot-bundle",
        "serde_json",
        "miette",
    ] {
        assert!(
            !tree
                .lines()
                .any(|l| l.split_whitespace().next() == Some(banned)),
            "netboot-sink depends on {banned}:\n{tree}"
        );
    }
}
