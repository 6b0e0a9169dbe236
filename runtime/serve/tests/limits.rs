//! Connection limits, exercised with a rustls client that misbehaves on purpose.

#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Reads until EOF or error; what was read and how long it took.
async fn read_to_close(stream: &mut TlsStream<TcpStream>, limit: Duration) -> (String, Duration) {
    let start = Instant::now();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut out)).await;
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_are_cut_off() {
    let (_bundle, server) = server(&["--header-timeout", "1"]);
    let mut stream = connect(server.port()).await;
    stream
        .write_all(b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let (reply, took) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    assert!(took < Duration::from_secs(4), "not closed: {took:?}");
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
    let (_bundle, server) = server(&["--idle-timeout", "1", "--header-timeout", "30"]);
    let mut stream = connect(server.port()).await;
    stream
        .write_all(b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let (_, took) = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(
        took < Duration::from_secs(4),
        "idle connection kept for {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait() {
    let (_bundle, server) = server(&["--max-connections", "2"]);
    let port = server.port();
    let first = connect(port).await;
    let _second = connect(port).await;
    let third = tokio::spawn(async move { connect(port).await });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !third.is_finished(),
        "a third connection was served beyond the cap of 2"
    );
    drop(first);
    let mut third = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("third connection served once a slot was free")
        .unwrap();
    third
        .write_all(b"GET /boot.ipxe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (reply, _) = read_to_close(&mut third, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply:?}");
}
