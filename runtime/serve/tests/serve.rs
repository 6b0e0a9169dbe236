//! netboot-serve driven as a process, through real clients (curl, openssl s_client, a
//! rustls client) on loopback.

#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netboot_testkit::{Curl, SECRET, ServerBuilder, TestBundle, files, image, openssl_raw};

const SCRIPT: &[u8] = b"#!ipxe\nchain machines/by-name/node-01.ipxe\n";
const NODE: &[u8] = b"#!ipxe\nkernel images/flatcar/kernel\nboot\n";
const NODE_ROUTE: &str = "/machines/by-name/node-01.ipxe";

fn serve() -> ServerBuilder {
    ServerBuilder::new(env!("CARGO_BIN_EXE_netboot-serve"), "netboot-serve ready")
}

fn bundle_with_image(image_bytes: &[u8]) -> TestBundle {
    let bundle = TestBundle::new();
    bundle.publish(&[
        ("boot.ipxe", SCRIPT, "text/plain; charset=utf-8"),
        (
            "machines/by-name/node-01.ipxe",
            NODE,
            "text/plain; charset=utf-8",
        ),
        (
            "images/flatcar/kernel",
            image_bytes,
            "application/octet-stream",
        ),
    ]);
    bundle
}

fn ecdsa(curl: Curl) -> Curl {
    curl.client(files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY)
}

#[test]
fn mtls_matrix_over_tls12_and_tls13() {
    let bundle = bundle_with_image(&image(1000, 1));
    let server = serve()
        .server_cert()
        .client_ca()
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, bool);
    let cases: [Case; 7] = [
        ("no client cert", None, false),
        (
            "other CA",
            Some((files::CLIENT_OTHER_CA_CERT, files::CLIENT_OTHER_CA_KEY)),
            false,
        ),
        (
            "expired",
            Some((files::CLIENT_EXPIRED_CERT, files::CLIENT_EXPIRED_KEY)),
            false,
        ),
        (
            "revoked",
            Some((files::CLIENT_REVOKED_CERT, files::CLIENT_REVOKED_KEY)),
            false,
        ),
        (
            "server-auth EKU only",
            Some((files::CLIENT_SERVER_EKU_CERT, files::CLIENT_SERVER_EKU_KEY)),
            false,
        ),
        (
            "valid ECDSA",
            Some((files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY)),
            true,
        ),
        (
            "valid RSA",
            Some((files::CLIENT_RSA_CERT, files::CLIENT_RSA_KEY)),
            true,
        ),
    ];
    for tls12 in [true, false] {
        for (name, client, served) in cases {
            let mut curl = Curl::new(server.url(NODE_ROUTE));
            curl = if tls12 { curl.tls12() } else { curl.tls13() };
            if let Some((c, k)) = client {
                curl = curl.client(c, k);
            }
            let reply = curl.run();
            let version = if tls12 { "TLS 1.2" } else { "TLS 1.3" };
            if served {
                assert_eq!(reply.status, 200, "{name} over {version}: {reply:?}");
                assert_eq!(reply.body, NODE, "{name} over {version}");
            } else {
                assert_ne!(
                    reply.exit, 0,
                    "{name} over {version} was not refused: {reply:?}"
                );
                assert_eq!(reply.status, 0, "{name} over {version} got a response");
            }
        }
    }
    // The access log names the client certificate and the TLS version.
    assert!(
        server.wait_log("client=\"CN=client-rsa", Duration::from_secs(2)),
        "{}",
        server.log()
    );
    assert!(server.log().contains("tls=\"TLSv1_2\""));
    // Each refusal for its own reason, over both TLS versions.
    for reason in [
        "peer sent no certificates",
        "invalid peer certificate: UnknownIssuer",
        "invalid peer certificate: certificate expired",
        "invalid peer certificate: Revoked",
        "certificate does not allow extended key usage for client authentication",
    ] {
        let seen = server.log().matches(reason).count();
        assert_eq!(seen, 2, "{reason:?} logged {seen} times:\n{}", server.log());
    }

    // iPXE's combination through openssl too: TLS 1.2 with an RSA client key.
    let request = b"GET /machines/by-name/node-01.ipxe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let reply = openssl_raw(
        server.port(),
        Some((files::CLIENT_RSA_CERT, files::CLIENT_RSA_KEY)),
        true,
        request,
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(
        reply.ends_with(std::str::from_utf8(NODE).unwrap()),
        "{reply}"
    );
    let reply = openssl_raw(server.port(), None, true, request);
    assert!(!reply.contains("200 OK"), "{reply}");
    assert!(!reply.contains("#!ipxe"), "{reply}");
}

#[test]
fn spoofed_client_cert_headers_are_refused() {
    let bundle = bundle_with_image(&image(1000, 1));
    let server = serve()
        .server_cert()
        .client_ca()
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    for tls12 in [true, false] {
        let mut curl = Curl::new(server.url(NODE_ROUTE))
            .header("Client-Cert: :MIIBszCCAVmgAwIBAgIU:")
            .header("Client-Cert-Chain: :MIIBszCCAVmgAwIBAgIU:")
            .header("cf-cert-presented: true")
            .header("cf-cert-verified: true")
            .header("cf-cert-subject-dn: CN=client-ecdsa,O=netbootc dev-certs")
            .header("X-Client-Cert: CN=client-ecdsa")
            .header("X-SSL-Client-Verify: SUCCESS");
        curl = if tls12 { curl.tls12() } else { curl.tls13() };
        let reply = curl.run();
        assert_ne!(reply.exit, 0, "{reply:?}");
        assert_eq!(reply.status, 0, "{reply:?}");
        assert!(reply.body.is_empty());
    }
}

#[test]
fn http_rules_over_the_wire_h1_and_h2() {
    let big = image(3 * 1024 * 1024 + 17, 7);
    let bundle = bundle_with_image(&big);
    let server = serve()
        .server_cert()
        .client_ca()
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    let kernel = server.url("/images/flatcar/kernel");
    for proto in ["--http1.1", "--http2"] {
        let reply = ecdsa(Curl::new(&kernel)).arg(proto).run();
        assert_eq!(reply.status, 200, "{proto}");
        assert_eq!(
            reply.http_version,
            if proto == "--http2" { "2" } else { "1.1" }
        );
        assert_eq!(reply.body, big, "{proto}");
        let etag = reply.header("etag").expect("etag").to_owned();
        assert_eq!(
            etag,
            format!("\"{}\"", netboot_bundle::Digest::of(&big).hex())
        );
        assert!(
            reply
                .header("repr-digest")
                .unwrap()
                .starts_with("sha-256=:")
        );
        assert_eq!(reply.header("cache-control"), Some("no-cache"));
        assert_eq!(
            reply.header("content-type"),
            Some("application/octet-stream")
        );

        let reply = ecdsa(Curl::new(&kernel))
            .arg(proto)
            .header(&format!("If-None-Match: {etag}"))
            .run();
        assert_eq!(reply.status, 304, "{proto}");
        assert!(reply.body.is_empty());

        let reply = ecdsa(Curl::new(&kernel))
            .arg(proto)
            .arg("--range")
            .arg("1000-1999")
            .run();
        assert_eq!(reply.status, 206, "{proto}");
        assert_eq!(reply.body, &big[1000..2000]);
        assert_eq!(
            reply.header("content-range"),
            Some(format!("bytes 1000-1999/{}", big.len()).as_str())
        );

        let reply = ecdsa(Curl::new(&kernel))
            .arg(proto)
            .header(&format!("Range: bytes={}-", big.len()))
            .run();
        assert_eq!(reply.status, 416, "{proto}");

        let reply = ecdsa(Curl::new(&kernel)).arg(proto).arg("--head").run();
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("content-length"),
            Some(big.len().to_string().as_str())
        );

        let object = server.url(&format!(
            "/objects/sha256/{}",
            netboot_bundle::Digest::of(SCRIPT).hex()
        ));
        let reply = ecdsa(Curl::new(&object)).arg(proto).run();
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );

        let reply = ecdsa(Curl::new(server.url("/boot.ipxe")))
            .arg(proto)
            .arg("-X")
            .arg("POST")
            .run();
        assert_eq!(reply.status, 405);
        let reply = ecdsa(Curl::new(server.url("/nope.ipxe"))).arg(proto).run();
        assert_eq!(reply.status, 404);
        assert_eq!(reply.body, b"not found\n");
    }
}

#[test]
fn traversal_corpus_never_leaves_the_bundle() {
    let bundle = bundle_with_image(&image(1000, 1));
    let server = serve()
        .server_cert()
        .client_ca()
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    let long = format!("/{}", "a".repeat(20_000));
    let paths = [
        "/../secret.txt",
        "/../../secret.txt",
        "/objects/../../secret.txt",
        "/objects/sha256/../../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/objects%2fsha256%2f..%2f..%2fsecret.txt",
        "/%2e%2e%5csecret.txt",
        "/..%5csecret.txt",
        "/machines/by-name/node-01.ipxe%00",
        "/secret.txt%00.ipxe",
        "/.%2e/secret.txt",
        "/current/../../secret.txt",
        "//secret.txt",
        "/./boot.ipxe",
        "/..;/secret.txt",
        "/%252e%252e/secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        long.as_str(),
    ];
    for path in paths {
        let reply = ecdsa(Curl::new(server.url(path))).arg("--path-as-is").run();
        assert!(
            reply.status == 404
                || reply.status == 400
                || reply.status == 414
                || reply.status == 431,
            "{path}: {}",
            reply.status
        );
        assert!(
            !reply.body.windows(SECRET.len()).any(|w| w == SECRET),
            "{path} leaked"
        );
    }
    // Bytes curl will not send: raw backslashes, NUL, a 100 KB path, absolute-form.
    let requests: [Vec<u8>; 5] = [
        b"GET /..\\..\\secret.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET /machines\\by-name\\node-01.ipxe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET /boot.ipxe\0/../secret.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "x/".repeat(50_000)).into_bytes(),
        b"GET http://localhost/../secret.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_vec(),
    ];
    for request in requests {
        let reply = openssl_raw(
            server.port(),
            Some((files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY)),
            false,
            &request,
        );
        let status_line = reply.lines().next().unwrap_or("");
        assert!(
            status_line.contains(" 404 ")
                || status_line.contains(" 400 ")
                || status_line.contains(" 431 ")
                || status_line.contains(" 414 "),
            "{:?}: {status_line:?}",
            String::from_utf8_lossy(&request[..request.len().min(60)])
        );
        assert!(!reply.contains("TOP-SECRET"), "leaked");
    }
    // Still healthy afterwards.
    assert_eq!(ecdsa(Curl::new(server.url("/boot.ipxe"))).run().status, 200);
}

/// RFC 9112 §3.2 (exactly one `Host` on HTTP/1.1) and RFC 9110 §13.1.1 (`If-Match`).
#[test]
fn host_and_if_match_are_enforced() {
    let bundle = bundle_with_image(&image(1000, 1));
    let server = serve()
        .server_cert()
        .client_ca()
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    let cases: [(&[u8], &str); 5] = [
        (b"GET /boot.ipxe HTTP/1.1\r\nConnection: close\r\n\r\n", " 400 "),
        (
            b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\nHost: other\r\nConnection: close\r\n\r\n",
            " 400 ",
        ),
        (b"GET /boot.ipxe HTTP/1.0\r\n\r\n", " 200 "),
        (
            b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\nIf-Match: \"nope\"\r\nConnection: close\r\n\r\n",
            " 412 ",
        ),
        (
            b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\nIf-Match: *\r\nConnection: close\r\n\r\n",
            " 200 ",
        ),
    ];
    for (request, status) in cases {
        let reply = openssl_raw(
            server.port(),
            Some((files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY)),
            false,
            request,
        );
        let status_line = reply.lines().next().unwrap_or("");
        assert!(
            status_line.contains(status),
            "{:?}: {status_line:?}",
            String::from_utf8_lossy(request)
        );
        if status != " 200 " {
            assert!(
                !reply.contains("#!ipxe"),
                "a refused request got the body: {reply}"
            );
        }
    }
}

#[test]
fn corrupt_object_is_500_logged_and_never_served() {
    let big = image(300 * 1024, 3);
    let bundle = bundle_with_image(&big);
    let server = serve()
        .server_cert()
        .client_ca()
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    let url = server.url("/images/flatcar/kernel");
    assert_eq!(ecdsa(Curl::new(&url)).run().status, 200);
    let mut corrupt = big.clone();
    corrupt[big.len() / 2] ^= 1;
    std::fs::write(bundle.object_file(&big), &corrupt).unwrap();
    let reply = ecdsa(Curl::new(&url)).run();
    assert_eq!(reply.status, 500);
    assert_ne!(reply.body, corrupt);
    assert!(reply.body.len() < 100);
    let reply = ecdsa(Curl::new(&url)).arg("--range").arg("0-10").run();
    assert_eq!(reply.status, 500);
    assert!(
        server.wait_log(
            "refusing to serve an object that failed verification",
            Duration::from_secs(2)
        ),
        "{}",
        server.log()
    );
}

#[test]
fn corrupt_release_at_startup_is_refused_and_a_good_one_is_picked_up() {
    let big = image(200 * 1024, 5);
    let bundle = bundle_with_image(&big);
    std::fs::write(bundle.object_file(&big), b"not the image").unwrap();
    let server = serve()
        .server_cert()
        .client_ca()
        .health()
        .flag("--poll-interval", "200ms")
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    assert!(
        server.log().contains("REFUSED new release"),
        "{}",
        server.log()
    );
    let reply = ecdsa(Curl::new(server.url("/boot.ipxe"))).run();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert_eq!(Curl::plain(server.health_url("/healthz")).run().status, 503);

    std::fs::write(bundle.object_file(&big), &big).unwrap();
    server.signal("HUP");
    assert!(
        server.wait_log("serving new release", Duration::from_secs(5)),
        "{}",
        server.log()
    );
    assert_eq!(ecdsa(Curl::new(server.url("/boot.ipxe"))).run().status, 200);
    assert_eq!(Curl::plain(server.health_url("/healthz")).run().status, 200);
}

#[test]
fn health_and_metrics_need_no_client_certificate() {
    let bundle = bundle_with_image(&image(1000, 1));
    let server = serve()
        .server_cert()
        .client_ca()
        .health()
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    assert_eq!(ecdsa(Curl::new(server.url("/boot.ipxe"))).run().status, 200);
    assert_eq!(Curl::new(server.url("/boot.ipxe")).run().status, 0);
    let health = Curl::plain(server.health_url("/healthz")).run();
    assert_eq!(health.status, 200);
    assert!(String::from_utf8_lossy(&health.body).starts_with("ok sha256:"));
    let metrics = Curl::plain(server.health_url("/metrics")).run();
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("netboot_serve_requests_total{code=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("netboot_serve_tls_handshake_failures_total{listener=\"tls\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("netboot_serve_release_info{manifest=\"sha256:"),
        "{text}"
    );
    assert_eq!(
        Curl::plain(server.health_url("/boot.ipxe")).run().status,
        404
    );
}

/// A log nobody reads any more (a restarted journal, a finished `| head`) costs the log
/// lines, never a request or the process: tracing-subscriber's own complaint about a
/// failed write would panic on the same broken stderr.
#[test]
fn a_broken_stderr_loses_log_lines_not_requests() {
    let bundle = bundle_with_image(&image(1000, 1));
    let mut server = serve()
        .server_cert()
        .client_ca()
        .health()
        .arg("--bundle")
        .arg(bundle.root())
        .close_log_when_ready()
        .start();
    for _ in 0..3 {
        let reply = ecdsa(Curl::new(server.url("/boot.ipxe"))).run();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, SCRIPT);
    }
    let metrics = Curl::plain(server.health_url("/metrics")).run();
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("netboot_serve_requests_total{code=\"200\"} 3"),
        "{text}"
    );
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(30)), Some(0));
}

/// A CRL from the dev CA that revokes nothing, made by `openssl ca -gencrl`, in `dir`.
fn empty_crl(dir: &std::path::Path) -> Vec<u8> {
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("crlnumber"), "02\n").unwrap();
    let config = dir.join("ca.cnf");
    std::fs::write(
        &config,
        format!(
            "[ca]\ndefault_ca = dev\n[dev]\ndatabase = {0}/index.txt\ncrlnumber = {0}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n",
            dir.display()
        ),
    )
    .unwrap();
    let out = dir.join("empty-crl.pem");
    let status = std::process::Command::new("openssl")
        .args(["ca", "-gencrl", "-batch", "-config"])
        .arg(&config)
        .arg("-cert")
        .arg(netboot_testkit::cert(files::CA_CERT))
        .arg("-keyfile")
        .arg(netboot_testkit::cert(files::CA_KEY))
        .arg("-out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    std::fs::read(out).unwrap()
}

/// A CRL changes while the server runs: a replaced file takes effect by itself, SIGHUP
/// reloads at once, and a broken file is refused while the configuration in use stays.
#[test]
fn crl_changes_take_effect_without_a_restart() {
    let bundle = bundle_with_image(&image(1000, 1));
    let dir = tempfile::tempdir().unwrap();
    let crl = dir.path().join("crl.pem");
    let empty = empty_crl(dir.path());
    let revoking = std::fs::read(netboot_testkit::cert(files::CRL)).unwrap();
    let install = |bytes: &[u8]| {
        let next = dir.path().join("crl.pem.next");
        std::fs::write(&next, bytes).unwrap();
        std::fs::rename(&next, &crl).unwrap();
    };
    install(&empty);
    let server = serve()
        .server_cert()
        .flag("--client-ca", netboot_testkit::cert(files::CA_CERT))
        .flag("--crl", &crl)
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    let revoked = || {
        Curl::new(server.url("/boot.ipxe"))
            .client(files::CLIENT_REVOKED_CERT, files::CLIENT_REVOKED_KEY)
            .run()
            .status
    };
    let ecdsa_status = || ecdsa(Curl::new(server.url("/boot.ipxe"))).run().status;
    let reloads = |reason: &str| {
        server
            .log()
            .lines()
            .filter(|l| l.contains("TLS configuration reloaded") && l.contains(reason))
            .count()
    };
    assert_eq!(revoked(), 200, "nothing is revoked yet");

    install(&revoking);
    assert!(
        netboot_testkit::wait_until(Duration::from_secs(30), || reloads("files changed") == 1),
        "{}",
        server.log()
    );
    assert_eq!(revoked(), 0, "refused in the handshake");
    assert_eq!(ecdsa_status(), 200);

    // A CRL cut short: refused, logged, the revoking one stays in force.
    install(&revoking[..revoking.len() / 2]);
    assert!(server.wait_log("TLS configuration not reloaded", Duration::from_secs(30)));
    assert_eq!(revoked(), 0);
    assert_eq!(ecdsa_status(), 200);

    // SIGHUP reloads at once, files changed or not.
    install(&empty);
    server.signal("HUP");
    assert!(
        netboot_testkit::wait_until(Duration::from_secs(30), || reloads("SIGHUP") == 1),
        "{}",
        server.log()
    );
    assert_eq!(revoked(), 200);
}

#[test]
fn refuses_to_start_without_client_ca_unless_told() {
    let bundle = bundle_with_image(&image(1000, 1));
    let log = serve()
        .server_cert()
        .arg("--bundle")
        .arg(bundle.root())
        .try_start()
        .unwrap_err();
    assert!(log.contains("--insecure-no-client-auth"), "{log}");
    let server = serve()
        .server_cert()
        .arg("--insecure-no-client-auth")
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    let reply = Curl::new(server.url("/boot.ipxe")).run();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, SCRIPT);
}

/// Releases swap while four curl clients (two on HTTP/1.1, two on HTTP/2, each on one
/// kept-alive connection) fetch the script and a large image: no request fails, every
/// answer is one of the releases' objects. Each swap is triggered with SIGHUP and waited
/// for in the log, after every client has made progress since the last one; the clients
/// throttle their own downloads so their requests span the swaps.
#[test]
fn release_swap_under_concurrent_load_fails_nothing() {
    let big = image(200 * 1024, 9);
    let bundle = bundle_with_image(&big);
    let server = serve()
        .server_cert()
        .client_ca()
        .flag("--poll-interval", "0s")
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    let versions: Vec<Vec<u8>> = (0..8)
        .map(|i| format!("#!ipxe\necho release {i}\n").into_bytes())
        .collect();
    let mut etags: Vec<String> = vec![format!("\"{}\"", netboot_bundle::Digest::of(SCRIPT).hex())];
    etags.extend(
        versions
            .iter()
            .map(|v| format!("\"{}\"", netboot_bundle::Digest::of(v).hex())),
    );

    let lines: Vec<Arc<Mutex<Vec<String>>>> = (0..4).map(|_| Arc::default()).collect();
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let mut cmd = std::process::Command::new("curl");
            for n in 0..300 {
                if n > 0 {
                    cmd.arg("--next");
                }
                cmd.args(["--silent", "--limit-rate", "4M", "--cacert"])
                    .arg(netboot_testkit::cert(files::CA_CERT))
                    .arg("--cert")
                    .arg(netboot_testkit::cert(files::CLIENT_ECDSA_CERT))
                    .arg("--key")
                    .arg(netboot_testkit::cert(files::CLIENT_ECDSA_KEY))
                    .arg(if i % 2 == 0 { "--http1.1" } else { "--http2" })
                    .args([
                        "--write-out",
                        "%{http_code} %{size_download} %header{etag}\\n",
                        "--output",
                        "/dev/null",
                    ])
                    .arg(server.url(if n % 2 == 0 {
                        "/boot.ipxe"
                    } else {
                        "/images/flatcar/kernel"
                    }));
            }
            let mut child = cmd
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("curl");
            let stdout = child.stdout.take().expect("stdout");
            let lines = Arc::clone(&lines[i]);
            let reader = std::thread::spawn(move || {
                for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                    lines.lock().unwrap().push(line.unwrap());
                }
            });
            (child, reader)
        })
        .collect();
    let progress = |at_least: usize| {
        for (i, (_, reader)) in clients.iter().enumerate() {
            // A client that finished has nothing more to show.
            let moved = netboot_testkit::wait_until(Duration::from_secs(60), || {
                lines[i].lock().unwrap().len() >= at_least || reader.is_finished()
            });
            assert!(moved, "client {i} made no progress");
        }
    };
    for (k, version) in versions.iter().enumerate() {
        progress(4 * (k + 1));
        let digest = bundle.publish(&[
            ("boot.ipxe", version, "text/plain; charset=utf-8"),
            (
                "machines/by-name/node-01.ipxe",
                NODE,
                "text/plain; charset=utf-8",
            ),
            ("images/flatcar/kernel", &big, "application/octet-stream"),
        ]);
        server.signal("HUP");
        assert!(
            server.wait_log(&format!("manifest={digest} "), Duration::from_secs(30)),
            "release {k} was not installed:\n{}",
            server.log()
        );
    }
    let mut total = 0;
    for (i, (mut child, reader)) in clients.into_iter().enumerate() {
        assert!(child.wait().unwrap().success());
        reader.join().unwrap();
        for line in lines[i].lock().unwrap().iter() {
            let mut words = line.split_whitespace();
            let (code, size, etag) = (words.next(), words.next(), words.next());
            assert_eq!(code, Some("200"), "{line}");
            let size: usize = size.unwrap().parse().unwrap();
            let etag = etag.unwrap_or("");
            if size == big.len() {
                assert_eq!(
                    etag,
                    format!("\"{}\"", netboot_bundle::Digest::of(&big).hex())
                );
            } else {
                assert!(etags.iter().any(|e| e == etag), "unknown etag {etag}");
            }
            total += 1;
        }
    }
    assert_eq!(total, 1200);
    assert_eq!(server.log().matches("serving new release").count(), 9);
    let last = format!(
        "\"{}\"",
        netboot_bundle::Digest::of(versions.last().unwrap()).hex()
    );
    assert_eq!(
        ecdsa(Curl::new(server.url("/boot.ipxe")))
            .run()
            .header("etag"),
        Some(last.as_str())
    );
}

/// SIGTERM while two throttled downloads are in flight: the listener closes at once (a new
/// connection is refused), both downloads complete in full, then the server exits 0.
#[test]
fn sigterm_lets_requests_in_flight_finish() {
    let big = image(24 * 1024 * 1024, 11);
    let bundle = bundle_with_image(&big);
    let mut server = serve()
        .server_cert()
        .client_ca()
        .health()
        .arg("--bundle")
        .arg(bundle.root())
        .start();
    let url = server.url("/images/flatcar/kernel");
    let heads = tempfile::tempdir().unwrap();
    let head_files: Vec<_> = (0..2)
        .map(|i| heads.path().join(format!("head-{i}")))
        .collect();
    // ~2.4 s per download at 10 MB/s: long enough to be signalled mid-transfer.
    let downloads: Vec<_> = head_files
        .iter()
        .map(|head| {
            let curl = ecdsa(Curl::new(&url))
                .arg("--limit-rate")
                .arg("10M")
                .headers_at(head);
            std::thread::spawn(move || curl.run())
        })
        .collect();
    // Both requests are in flight: each client has its response head (an open connection
    // whose request has not arrived yet would be closed by the shutdown, rightly).
    assert!(
        netboot_testkit::wait_until(Duration::from_secs(30), || {
            head_files
                .iter()
                .all(|f| std::fs::read_to_string(f).is_ok_and(|h| h.contains("\r\n\r\n")))
        }),
        "the downloads never started"
    );
    server.signal("TERM");
    // The accept loop has stopped and dropped its socket once it logs the drain.
    assert!(
        server.wait_log("draining connections", Duration::from_secs(30)),
        "{}",
        server.log()
    );
    let late = ecdsa(Curl::new(server.url("/boot.ipxe"))).run();
    assert_eq!(
        late.status, 0,
        "a new request was served after SIGTERM: {late:?}"
    );
    for download in downloads {
        let reply = download.join().unwrap();
        assert_eq!(reply.exit, 0, "{}", reply.stderr);
        assert_eq!(reply.status, 200);
        assert!(
            reply.body == big,
            "download cut short: {} bytes",
            reply.body.len()
        );
    }
    assert_eq!(
        server.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        server.log()
    );
}
