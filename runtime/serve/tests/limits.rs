//! Connection limits, exercised with a rustls client that misbehaves on purpose.

#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

use std::sync::Arc;
use std::time::Duration;

use netboot_testkit::{ServerBuilder, TestBundle, cert, files};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

fn server(extra: &[&str]) -> (TestBundle, netboot_testkit::Server) {
    let bundle = TestBundle::new();
    bundle.publish(&[("boot.ipxe", b"#!ipxe\n", "text/plain")]);
    let mut builder =
        ServerBuilder::new(env!("CARGO_BIN_EXE_netboot-serve"), "netboot-serve ready")
            .server_cert()
            .client_ca()
            .arg("--bundle")
            .arg(bundle.root());
    for arg in extra {
        builder = builder.arg(arg);
    }
    let server = builder.start();
    (bundle, server)
}

fn connector() -> TlsConnector {
    let config = netboot_tls::client_config(
        &[cert(files::CA_CERT)],
        Some((
            &cert(files::CLIENT_ECDSA_CERT),
            &cert(files::CLIENT_ECDSA_KEY),
        )),
        &[b"http/1.1"],
    )
    .unwrap();
    TlsConnector::from(Arc::clone(&config))
}

async fn connect(port: u16) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = "localhost".try_into().unwrap();
    connector().connect(name, tcp).await.unwrap()
}

/// Reads until the server closes (EOF or error); what was read, and whether it closed
/// within `limit` (a generous bound that only ends a test that would hang).
async fn read_to_close(stream: &mut TlsStream<TcpStream>, limit: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let closed = tokio::time::timeout(limit, stream.read_to_end(&mut out))
        .await
        .is_ok();
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

/// What the server's `/metrics` says about its TLS listener's connections: (accepted,
/// active).
fn connection_counts(server: &netboot_testkit::Server) -> (u64, u64) {
    let text = netboot_testkit::Curl::plain(server.health_url("/metrics"))
        .run()
        .body;
    let text = String::from_utf8_lossy(&text);
    let value = |name: &str| {
        let prefix = format!("netboot_serve_{name}{{listener=\"tls\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (
        value("connections_accepted_total"),
        value("connections_active"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_are_cut_off() {
    let (_bundle, server) = server(&["--header-timeout", "1s"]);
    let mut stream = connect(server.port()).await;
    stream
        .write_all(b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let (reply, closed) = read_to_close(&mut stream, Duration::from_secs(60)).await;
    assert!(closed, "a connection stuck in its headers was kept open");
    assert!(!reply.contains("200 OK"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431() {
    let (_bundle, server) = server(&["--max-header-bytes", "8192"]);
    let mut stream = connect(server.port()).await;
    let big = "x".repeat(32 * 1024);
    let request = format!("GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let (reply, _) = read_to_close(&mut stream, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply:?}");

    // A normal request on a new connection still works.
    let mut stream = connect(server.port()).await;
    stream
        .write_all(b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (reply, _) = read_to_close(&mut stream, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let (_bundle, server) = server(&["--idle-timeout", "1s", "--header-timeout", "30s"]);
    let mut stream = connect(server.port()).await;
    stream
        .write_all(b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let (_, closed) = read_to_close(&mut stream, Duration::from_secs(60)).await;
    assert!(closed, "an idle connection was kept open");
}

/// Past `--max-connections`, a connection waits in the kernel's accept queue: its TCP
/// handshake completes, the server does not accept it (its counters say 2 accepted) even
/// after a round trip on a served connection, and it is served once a slot is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait() {
    let (_bundle, server) = server(&["--max-connections", "2", "--health-listen", "127.0.0.1:0"]);
    let port = server.port();
    let first = connect(port).await;
    let mut second = connect(port).await;
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let third = tokio::spawn(async move {
        let name = "localhost".try_into().unwrap();
        connector().connect(name, tcp).await.unwrap()
    });
    second
        .write_all(b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    second.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert_eq!(
        connection_counts(&server),
        (2, 2),
        "accepted beyond the cap"
    );
    assert!(!third.is_finished(), "served beyond the cap of 2");
    drop(first);
    let mut third = tokio::time::timeout(Duration::from_secs(60), third)
        .await
        .expect("third connection served once a slot was free")
        .unwrap();
    third
        .write_all(b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (reply, _) = read_to_close(&mut third, Duration::from_secs(60)).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply:?}");
}

/// Absurd limits: values out of range are refused by the flag parser (exit 2, a line naming
/// the flag, no panic); huge durations are taken at their word and work (a deadline past
/// what the clock can say is "never").
#[test]
fn absurd_flag_values_are_refused_or_work_never_panic() {
    for (flag, value) in [
        ("--max-header-bytes", "0"),
        ("--max-header-bytes", "18446744073709551615"),
        ("--max-connections", "0"),
        ("--max-connections", "99999999999"),
        ("--idle-timeout", "0s"),
        ("--header-timeout", "forever"),
        ("--handshake-timeout", "-1s"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_netboot-serve"))
            .args(["--bundle", "/nonexistent", &format!("{flag}={value}")])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{flag} {value}: {stderr}");
    }
    let (_bundle, mut server) = server(&[
        "--handshake-timeout",
        "500000years",
        "--header-timeout",
        "500000years",
        "--idle-timeout",
        "500000years",
        "--shutdown-grace",
        "500000years",
        "--max-header-bytes",
        "1048576",
    ]);
    let reply = netboot_testkit::Curl::new(server.url("/boot.ipxe"))
        .client(files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY)
        .run();
    assert_eq!(reply.status, 200);
    server.signal("TERM");
    assert_eq!(
        server.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        server.log()
    );
}
