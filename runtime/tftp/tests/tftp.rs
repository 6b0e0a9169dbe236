//! The TFTP server against real clients (curl, tftp-hpa's `tftp`, atftp) and a raw UDP
//! client for what they cannot do (losses, duplicate ACKs, hostile packets, rollover).
//! Loopback only; every download is compared byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use netboot_http::Shutdown;
use netboot_testkit::image;
use netboot_tftp::packet::{self, Packet};
use netboot_tftp::{DirFiles, Files, OpenError, Opened, Reason, TftpLimits, TftpMetrics};
use tokio::io::{AsyncRead, AsyncWriteExt as _, ReadBuf};
use tokio::net::UdpSocket;
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    metrics: Arc<TftpMetrics>,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

async fn start<F: Files>(files: F, limits: TftpLimits) -> Server {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let metrics = Arc::new(TftpMetrics::default());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(netboot_tftp::serve(
        socket,
        Arc::new(files),
        limits,
        metrics.clone(),
        shutdown.clone(),
    ));
    Server {
        addr,
        metrics,
        shutdown,
        task,
    }
}

impl Server {
    async fn stop(self) -> Arc<TftpMetrics> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
        self.metrics
    }
}

/// Waits (generously) until `n` transfers have given up for lack of acknowledgements.
async fn wait_for_timeouts(server: &Server, n: u64) {
    tokio::time::timeout(Duration::from_secs(60), async {
        while server.metrics.failed(Reason::Timeout) < n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the transfer never gave up");
}

/// Every datagram already queued on `raw`.
async fn drain(raw: &Raw) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok((n, _)) = raw.sock.try_recv_from(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

fn dir_with(files: &[(&str, usize)]) -> (tempfile::TempDir, HashMap<String, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let mut map = HashMap::new();
    for (i, (name, len)) in files.iter().enumerate() {
        let bytes = image(*len, i as u32 + 7);
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        map.insert(name.to_string(), bytes);
    }
    (dir, map)
}

async fn run(cmd: &mut Command) -> std::process::Output {
    cmd.kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("client finishes")
        .expect("client runs")
}

fn assert_same(out: &Path, expected: &[u8], what: &str) {
    let got = std::fs::read(out).unwrap_or_default();
    assert!(
        got == expected,
        "{what}: got {} bytes, expected {}",
        got.len(),
        expected.len()
    );
}

// ---------------------------------------------------------------- raw client

fn rrq(name: &[u8], mode: &[u8], options: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = vec![0, 1];
    for part in [name, mode] {
        out.extend_from_slice(part);
        out.push(0);
    }
    for (n, v) in options {
        out.extend_from_slice(n);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

struct Raw {
    sock: UdpSocket,
}

impl Raw {
    async fn new() -> Self {
        Self::on("127.0.0.1").await
    }

    async fn on(ip: &str) -> Self {
        Self {
            sock: UdpSocket::bind((ip, 0)).await.unwrap(),
        }
    }

    async fn send(&self, bytes: &[u8], to: SocketAddr) {
        self.sock.send_to(bytes, to).await.unwrap();
    }

    async fn recv(&self, wait: Duration) -> Option<(Vec<u8>, SocketAddr)> {
        let mut buf = vec![0u8; 70000];
        match tokio::time::timeout(wait, self.sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => Some((buf[..n].to_vec(), from)),
            _ => None,
        }
    }

    /// The next packet, parsed into an owned form: (opcode, block or code, payload).
    async fn expect(&self, wait: Duration) -> (Packet<'static>, SocketAddr) {
        let (bytes, from) = self.recv(wait).await.expect("a reply");
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        (packet::parse(bytes).expect("a valid packet"), from)
    }

    async fn expect_error(&self, what: &str) -> u16 {
        match self.expect(WAIT).await.0 {
            Packet::Error { code, .. } => code,
            other => panic!("{what}: expected an ERROR, got {other:?}"),
        }
    }

    async fn ack(&self, block: u16, to: SocketAddr) {
        self.send(&Packet::Ack(block).to_vec(), to).await;
    }
}

async fn data_blocks(raw: &Raw, n: usize) -> Vec<u16> {
    let mut got = Vec::new();
    for _ in 0..n {
        match raw.expect(WAIT).await.0 {
            Packet::Data { block, .. } => got.push(block),
            other => panic!("{other:?}"),
        }
    }
    got
}

fn oack_map(options: &[(&[u8], &[u8])]) -> HashMap<String, String> {
    options
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

#[derive(Debug, Default)]
struct Stats {
    data_packets: usize,
    wrapped: bool,
}

/// Downloads `name` with options, as an RFC 7440 receiver: ACKs every `windowsize`
/// blocks, ACKs the last in-order block on a gap or after 3 s of silence. `lose` decides
/// which events are "lost": `(block, is_ack)`; block 0 with `is_ack == false` is the OACK.
async fn raw_get(
    server: SocketAddr,
    name: &str,
    blksize: usize,
    windowsize: usize,
    mut lose: impl FnMut(u64, bool) -> bool,
) -> (Vec<u8>, Stats) {
    let raw = Raw::new().await;
    let (b, w) = (blksize.to_string(), windowsize.to_string());
    let request = rrq(
        name.as_bytes(),
        b"octet",
        &[
            (b"blksize", b.as_bytes()),
            (b"windowsize", w.as_bytes()),
            (b"timeout", b"1"),
        ],
    );
    raw.send(&request, server).await;
    let mut peer = None;
    let mut oack_lost = false;
    while peer.is_none() {
        let (p, from) = raw.expect(WAIT).await;
        match p {
            Packet::Oack(_) if !oack_lost && lose(0, false) => oack_lost = true,
            Packet::Oack(_) => peer = Some(from),
            other => panic!("expected OACK, got {other:?}"),
        }
    }
    let peer = peer.unwrap();
    let mut stats = Stats::default();
    let mut out = Vec::new();
    let mut last: u64 = 0;
    let mut in_window = 0;
    let mut gap_acked = None;
    if !lose(0, true) {
        raw.ack(0, peer).await;
    }
    let mut silent = 0;
    loop {
        let Some((bytes, from)) = raw.recv(Duration::from_secs(3)).await else {
            silent += 1;
            assert!(silent < 10, "server went silent at block {last}");
            raw.ack(last as u16, peer).await;
            in_window = 0;
            continue;
        };
        assert_eq!(from, peer);
        let Ok(Packet::Data { block, data }) = packet::parse(&bytes) else {
            panic!("expected DATA, got {bytes:?}");
        };
        stats.data_packets += 1;
        let expected = last + 1;
        if block != expected as u16 {
            // A repeat of the last block (our ACK was lost) is ACKed again; a gap is
            // ACKed once (RFC 7440 §4: the last block received in sequence).
            if block == last as u16 || gap_acked != Some(last) {
                gap_acked = Some(last);
                raw.ack(last as u16, peer).await;
                in_window = 0;
            }
            continue;
        }
        if lose(expected, false) {
            continue;
        }
        if expected > 65535 && block == 0 {
            stats.wrapped = true;
        }
        out.extend_from_slice(data);
        last = expected;
        in_window += 1;
        let end = data.len() < blksize;
        if end || in_window == windowsize {
            in_window = 0;
            if !lose(last, true) {
                raw.ack(last as u16, peer).await;
            }
        }
        if end {
            return (out, stats);
        }
    }
}

// ---------------------------------------------------------------- in-memory files

enum Kind {
    Bytes(Vec<u8>),
    /// Yields all but the last byte, then fails verification.
    Failing(Vec<u8>),
    /// Opens after `open_delay`, then yields 8 KiB every 20 ms.
    Slow {
        bytes: Vec<u8>,
        open_delay: Duration,
    },
}

struct MemFiles(HashMap<&'static str, Kind>);

struct FailVerification;

impl AsyncRead for FailVerification {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "sha256 mismatch for /var/cache/secret/path",
        )))
    }
}

impl Files for MemFiles {
    async fn open(&self, name: &str) -> Result<Opened, OpenError> {
        use tokio::io::AsyncReadExt as _;
        match self.0.get(name) {
            None => Err(OpenError::NotFound),
            Some(Kind::Bytes(bytes)) => Ok(Opened {
                size: bytes.len() as u64,
                reader: Box::pin(std::io::Cursor::new(bytes.clone())),
            }),
            Some(Kind::Failing(bytes)) => Ok(Opened {
                size: bytes.len() as u64,
                reader: Box::pin(
                    std::io::Cursor::new(bytes[..bytes.len() - 1].to_vec()).chain(FailVerification),
                ),
            }),
            Some(Kind::Slow { bytes, open_delay }) => {
                tokio::time::sleep(*open_delay).await;
                let (mut writer, reader) = tokio::io::duplex(16 * 1024);
                let bytes = bytes.clone();
                let size = bytes.len() as u64;
                tokio::spawn(async move {
                    for chunk in bytes.chunks(8192) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        if writer.write_all(chunk).await.is_err() {
                            return;
                        }
                    }
                });
                Ok(Opened {
                    size,
                    reader: Box::pin(reader),
                })
            }
        }
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_downloads_at_every_blksize() {
    let (dir, files) = dir_with(&[
        ("empty", 0),
        ("one-block", 512),
        ("odd", 513),
        ("boot/x86_64/kernel", 300_000),
        ("tiny-blocks", 3000),
    ]);
    let server = start(DirFiles::new(dir.path()), TftpLimits::default()).await;
    let out = tempfile::tempdir().unwrap();
    let mut n = 0;
    for (name, blksizes) in [
        // curl 7.88 fails an empty file when the server answers tsize 0 (it does with
        // tftpd-hpa too: "getpeername() failed"), so the empty file goes without options.
        ("empty", &[0][..]),
        ("one-block", &[512, 1468]),
        ("odd", &[512, 8]),
        ("boot/x86_64/kernel", &[512, 1468, 1024]),
        ("tiny-blocks", &[8]),
    ] {
        for blksize in blksizes {
            n += 1;
            let path = out.path().join(format!("{n}"));
            let mut curl = Command::new("curl");
            curl.args(["-sS", "--max-time", "60"]);
            if *blksize == 0 {
                curl.arg("--tftp-no-options");
            } else {
                curl.args(["--tftp-blksize", &blksize.to_string()]);
            }
            let status = run(curl
                .arg("-o")
                .arg(&path)
                .arg(format!("tftp://{}/{name}", server.addr)))
            .await;
            assert!(status.status.success(), "curl {name} {blksize}: {status:?}");
            assert_same(
                &path,
                &files[name],
                &format!("curl {name} blksize {blksize}"),
            );
        }
    }
    // And without any option (plain RFC 1350).
    let path = out.path().join("plain");
    let status = run(Command::new("curl")
        .args(["-sS", "--tftp-no-options", "-o"])
        .arg(&path)
        .arg(format!("tftp://{}/odd", server.addr)))
    .await;
    assert!(status.status.success(), "{status:?}");
    assert_same(&path, &files["odd"], "curl --tftp-no-options");
    let metrics = server.stop().await;
    assert_eq!(metrics.completed(), n + 1);
    assert_eq!(metrics.retransmissions(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tftp_hpa_and_atftp_download() {
    let (dir, files) = dir_with(&[("pxelinux.0", 46_000), ("initrd", 1_200_000)]);
    let server = start(DirFiles::new(dir.path()), TftpLimits::default()).await;
    let out = tempfile::tempdir().unwrap();
    let port = server.addr.port().to_string();
    // tftp-hpa's client: no options at all, binary mode; and a leading slash like PXE ROMs.
    for (i, name) in ["pxelinux.0", "/pxelinux.0"].into_iter().enumerate() {
        let path = out.path().join(format!("hpa{i}"));
        let status = run(Command::new("tftp")
            .args(["127.0.0.1", &port, "-m", "binary", "-c", "get", name])
            .arg(&path))
        .await;
        assert!(status.status.success(), "{status:?}");
        assert_same(&path, &files["pxelinux.0"], &format!("tftp-hpa {name}"));
    }
    // atftp: blksize, tsize and windowsize (RFC 7440) options.
    for (i, (blksize, windowsize)) in [(1468, 8), (512, 16), (1468, 1), (1024, 64)]
        .into_iter()
        .enumerate()
    {
        let path = out.path().join(format!("atftp{i}"));
        let status = run(Command::new("atftp")
            .args(["--get", "-r", "initrd", "-l"])
            .arg(&path)
            .args(["--option", &format!("blksize {blksize}")])
            .args(["--option", &format!("windowsize {windowsize}")])
            .args(["--option", "tsize enable", "127.0.0.1", &port]))
        .await;
        assert!(status.status.success(), "{status:?}");
        assert_same(
            &path,
            &files["initrd"],
            &format!("atftp blksize {blksize} windowsize {windowsize}"),
        );
    }
    let metrics = server.stop().await;
    assert_eq!(metrics.completed(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiates_options() {
    let (dir, _) = dir_with(&[("f", 5000)]);
    let server = start(DirFiles::new(dir.path()), TftpLimits::default()).await;
    let raw = Raw::new().await;
    raw.send(
        &rrq(
            b"f",
            b"OCTET",
            &[
                (b"BLKSIZE", b"9000"),
                (b"windowsize", b"1000"),
                (b"timeout", b"3"),
                (b"tsize", b"0"),
                (b"x-unknown", b"whatever"),
            ],
        ),
        server.addr,
    )
    .await;
    let (p, from) = raw.expect(WAIT).await;
    assert_ne!(from, server.addr, "a transfer has its own port");
    let Packet::Oack(options) = p else {
        panic!("{p:?}")
    };
    let options = oack_map(&options);
    assert_eq!(options.len(), 4, "{options:?}");
    assert_eq!(options["blksize"], "1468");
    assert_eq!(options["windowsize"], "64");
    assert_eq!(options["timeout"], "3");
    assert_eq!(options["tsize"], "5000");
    // An ERROR 8 in answer to the OACK ends the transfer.
    raw.send(&packet::error_packet(8, "no thanks"), from).await;
    assert!(raw.recv(Duration::from_millis(500)).await.is_none());

    // Only unknown options: no OACK, DATA 1 with the default block size; netascii is
    // served as the same bytes.
    let raw = Raw::new().await;
    raw.send(&rrq(b"f", b"netascii", &[(b"multicast", b"")]), server.addr)
        .await;
    let (p, from) = raw.expect(WAIT).await;
    let Packet::Data { block: 1, data } = p else {
        panic!("{p:?}")
    };
    assert_eq!(data.len(), 512);
    raw.send(&packet::error_packet(0, "enough"), from).await;
    let metrics = server.stop().await;
    assert_eq!(metrics.failed(Reason::ClientError), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_packets_get_the_right_error() {
    let (dir, _) = dir_with(&[("f", 100), ("sub/g", 100)]);
    let server = start(DirFiles::new(dir.path()), TftpLimits::default()).await;
    let long_name = vec![b'a'; 600];
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("request over 512 bytes", rrq(&long_name, b"octet", &[]), 4),
        ("unterminated name", b"\0\x01f".to_vec(), 4),
        ("unterminated mode", b"\0\x01f\0octet".to_vec(), 4),
        ("mode mail", rrq(b"f", b"mail", &[]), 4),
        (
            "option without value",
            b"\0\x01f\0octet\0blksize\0".to_vec(),
            4,
        ),
        (
            "blksize abc",
            rrq(b"f", b"octet", &[(b"blksize", b"abc")]),
            8,
        ),
        ("blksize 7", rrq(b"f", b"octet", &[(b"blksize", b"7")]), 8),
        (
            "blksize 65465",
            rrq(b"f", b"octet", &[(b"blksize", b"65465")]),
            8,
        ),
        ("timeout 0", rrq(b"f", b"octet", &[(b"timeout", b"0")]), 8),
        (
            "windowsize 0",
            rrq(b"f", b"octet", &[(b"windowsize", b"0")]),
            8,
        ),
        (
            "blksize twice",
            rrq(
                b"f",
                b"octet",
                &[(b"blksize", b"512"), (b"blksize", b"1024")],
            ),
            8,
        ),
        ("dotdot", rrq(b"../f", b"octet", &[]), 2),
        ("dotdot inside", rrq(b"sub/../../f", b"octet", &[]), 2),
        ("double slash", rrq(b"//etc/passwd", b"octet", &[]), 2),
        // One leading slash is stripped (PXE ROMs send it): etc/passwd is not there.
        ("absolute", rrq(b"/etc/passwd", b"octet", &[]), 1),
        ("backslash", rrq(b"sub\\g", b"octet", &[]), 2),
        ("control character", rrq(b"f\x1b[2J", b"octet", &[]), 2),
        ("empty name", rrq(b"", b"octet", &[]), 2),
        ("directory", rrq(b"sub", b"octet", &[]), 1),
        ("missing", rrq(b"nope", b"octet", &[]), 1),
        (
            "WRQ",
            [&[0, 2][..], &rrq(b"f", b"octet", &[])[2..]].concat(),
            2,
        ),
        ("unknown opcode", vec![0, 9, 1, 2, 3], 4),
        ("DATA at the listener", vec![0, 3, 0, 1, b'x'], 4),
        ("one byte", vec![1], 4),
    ];
    for (what, bytes, code) in cases {
        let raw = Raw::new().await;
        raw.send(&bytes, server.addr).await;
        assert_eq!(raw.expect_error(what).await, code, "{what}");
    }
    // An ERROR is never answered.
    let raw = Raw::new().await;
    raw.send(&packet::error_packet(0, "hello"), server.addr)
        .await;
    assert!(raw.recv(Duration::from_millis(300)).await.is_none());

    // Spoofed TID: another port talking to a transfer gets ERROR 5 and the transfer goes
    // on undisturbed.
    let client = Raw::new().await;
    client
        .send(&rrq(b"sub/g", b"octet", &[(b"timeout", b"5")]), server.addr)
        .await;
    let (p, session) = client.expect(WAIT).await;
    assert!(matches!(p, Packet::Oack(_)), "{p:?}");
    let intruder = Raw::new().await;
    intruder.ack(0, session).await;
    assert_eq!(intruder.expect_error("spoofed TID").await, 5);
    client.ack(0, session).await;
    let (p, _) = client.expect(WAIT).await;
    let Packet::Data { block: 1, data } = p else {
        panic!("{p:?}")
    };
    assert_eq!(data.len(), 100);
    client.ack(1, session).await;
    let metrics = server.stop().await;
    assert_eq!(metrics.completed(), 1);
    assert_eq!(metrics.refused(Reason::Malformed), 9);
    assert_eq!(metrics.refused(Reason::BadOption), 6);
    assert_eq!(metrics.refused(Reason::AccessViolation), 6);
    assert_eq!(metrics.refused(Reason::NotFound), 3);
    assert_eq!(metrics.refused(Reason::WriteRefused), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_acks_never_trigger_a_resend() {
    let (dir, files) = dir_with(&[("f", 512 * 12 + 10)]);
    let server = start(DirFiles::new(dir.path()), TftpLimits::default()).await;

    // Window of 1: the Sorcerer's Apprentice case.
    let raw = Raw::new().await;
    raw.send(
        &rrq(b"f", b"octet", &[(b"blksize", b"512"), (b"timeout", b"5")]),
        server.addr,
    )
    .await;
    let (_, session) = raw.expect(WAIT).await;
    raw.ack(0, session).await;
    let (p, _) = raw.expect(WAIT).await;
    assert!(matches!(p, Packet::Data { block: 1, .. }), "{p:?}");
    raw.ack(1, session).await;
    let (p, _) = raw.expect(WAIT).await;
    assert!(matches!(p, Packet::Data { block: 2, .. }), "{p:?}");
    for _ in 0..3 {
        raw.ack(1, session).await;
    }
    assert!(
        raw.recv(Duration::from_millis(700)).await.is_none(),
        "a duplicate ACK was answered"
    );
    raw.ack(2, session).await;
    let (p, _) = raw.expect(WAIT).await;
    assert!(matches!(p, Packet::Data { block: 3, .. }), "{p:?}");
    raw.send(&packet::error_packet(0, "done"), session).await;

    // Window of 4: an ACK inside the window rolls back to it (RFC 7440 §4); a stale ACK
    // and a duplicate are ignored.
    let raw = Raw::new().await;
    raw.send(
        &rrq(
            b"f",
            b"octet",
            &[
                (b"blksize", b"512"),
                (b"windowsize", b"4"),
                (b"timeout", b"5"),
            ],
        ),
        server.addr,
    )
    .await;
    let (_, session) = raw.expect(WAIT).await;
    raw.ack(0, session).await;
    assert_eq!(data_blocks(&raw, 4).await, [1, 2, 3, 4]);
    raw.ack(2, session).await;
    assert_eq!(data_blocks(&raw, 4).await, [3, 4, 5, 6]);
    raw.ack(1, session).await; // stale
    raw.ack(2, session).await; // duplicate
    assert!(raw.recv(Duration::from_millis(700)).await.is_none());
    raw.ack(6, session).await;
    assert_eq!(data_blocks(&raw, 4).await, [7, 8, 9, 10]);
    raw.ack(10, session).await;
    let mut last = Vec::new();
    for _ in 0..3 {
        if let (Packet::Data { block, data }, _) = raw.expect(WAIT).await {
            last.push((block, data.len()));
        }
    }
    assert_eq!(last, [(11, 512), (12, 512), (13, 10)]);
    raw.ack(13, session).await;
    let metrics = server.stop().await;
    assert_eq!(metrics.completed(), 1);
    assert_eq!(
        metrics.retransmissions(),
        2,
        "blocks 3 and 4 after the rollback"
    );
    let _ = files;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_clients_complete() {
    let (dir, files) = dir_with(&[("f", 150_000)]);
    let server = start(DirFiles::new(dir.path()), TftpLimits::default()).await;
    let expected = &files["f"];
    // Window of 1: the first OACK and two ACKs are lost.
    let mut acks_lost = 0;
    let (got, _) = raw_get(server.addr, "f", 1024, 1, |block, is_ack| {
        (block == 0 && !is_ack)
            || (is_ack && [20, 77].contains(&block) && {
                acks_lost += 1;
                acks_lost <= 2
            })
    })
    .await;
    assert!(got == *expected, "window 1: {} bytes", got.len());
    // Window of 8: a DATA block and a window-closing ACK are lost.
    let mut lost = std::collections::HashSet::new();
    let (got, _) = raw_get(server.addr, "f", 1024, 8, |block, is_ack| {
        ((block == 13 && !is_ack) || (block == 64 && is_ack)) && lost.insert((block, is_ack))
    })
    .await;
    assert!(got == *expected, "window 8: {} bytes", got.len());
    let metrics = server.stop().await;
    assert_eq!(metrics.completed(), 2);
    assert!(
        metrics.retransmissions() >= 4,
        "{}",
        metrics.retransmissions()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_numbers_roll_over() {
    let size = 65_536 * 512 + 1000;
    let bytes = image(size, 3);
    let files = MemFiles(HashMap::from([("big", Kind::Bytes(bytes.clone()))]));
    let server = start(files, TftpLimits::default()).await;
    let (got, stats) = raw_get(server.addr, "big", 512, 64, |_, _| false).await;
    assert!(stats.wrapped, "block numbers did not wrap to 0");
    assert!(got == bytes, "got {} bytes", got.len());
    assert_eq!(stats.data_packets, 65_538);
    let metrics = server.stop().await;
    assert_eq!(metrics.completed(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_transfers() {
    let (dir, files) = dir_with(&[("a", 400_000), ("b", 123_457)]);
    let limits = TftpLimits {
        max_transfers_per_client: 64,
        ..TftpLimits::default()
    };
    let server = start(DirFiles::new(dir.path()), limits).await;
    let out = tempfile::tempdir().unwrap();
    let mut clients = Vec::new();
    for i in 0..50 {
        let name = if i % 2 == 0 { "a" } else { "b" };
        let path = out.path().join(format!("{i}"));
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "60", "--tftp-blksize", "1468", "-o"])
            .arg(&path)
            .arg(format!("tftp://{}/{name}", server.addr));
        clients.push(async move { (run(&mut cmd).await, path, name) });
    }
    for (status, path, name) in futures::future::join_all(clients).await {
        assert!(status.status.success(), "{status:?}");
        assert_same(&path, &files[name], "concurrent curl");
    }
    let metrics = server.stop().await;
    assert_eq!(metrics.completed(), 50);
    assert_eq!(metrics.active(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_limits_per_client_and_in_all() {
    let (dir, _) = dir_with(&[("f", 10_000)]);
    let limits = TftpLimits {
        max_transfers_per_client: 2,
        max_transfers: 3,
        shutdown_grace: Duration::from_secs(1),
        ..TftpLimits::default()
    };
    let server = start(DirFiles::new(dir.path()), limits).await;
    // Transfers that never ACK their OACK stay open (timeout 5 s, 2 initial retries).
    let request = rrq(b"f", b"octet", &[(b"timeout", b"5")]);
    let mut held = Vec::new();
    for ip in ["127.0.0.1", "127.0.0.1", "127.0.0.2"] {
        let raw = Raw::on(ip).await;
        raw.send(&request, server.addr).await;
        assert!(matches!(raw.expect(WAIT).await.0, Packet::Oack(_)));
        held.push(raw);
    }
    let third = Raw::on("127.0.0.1").await;
    third.send(&request, server.addr).await;
    assert_eq!(third.expect_error("per-client limit").await, 0);
    let other = Raw::on("127.0.0.2").await;
    other.send(&request, server.addr).await;
    assert_eq!(other.expect_error("global limit").await, 0);
    // A retransmitted RRQ from a client being served is not a second transfer.
    held[0].send(&request, server.addr).await;
    assert!(held[0].recv(Duration::from_millis(300)).await.is_none());
    let metrics = server.stop().await;
    assert_eq!(metrics.refused(Reason::Limit), 2);
    assert_eq!(
        metrics.failed(Reason::Shutdown),
        3,
        "stopped after the grace"
    );
    assert_eq!(metrics.active(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_packet_is_retried_a_bounded_number_of_times() {
    let (dir, _) = dir_with(&[("f", 100_000)]);
    let limits = TftpLimits {
        initial_retries: 2,
        ..TftpLimits::default()
    };
    let server = start(DirFiles::new(dir.path()), limits).await;
    // A spoofed request: nobody ACKs. With a window of 64 asked, still only the OACK goes
    // out, three times in all.
    let victim = Raw::new().await;
    victim
        .send(
            &rrq(
                b"f",
                b"octet",
                &[(b"windowsize", b"64"), (b"timeout", b"1")],
            ),
            server.addr,
        )
        .await;
    // The transfer gives up (the metric counts it); then everything it sent is queued.
    wait_for_timeouts(&server, 1).await;
    let packets = drain(&victim).await;
    assert_eq!(packets.len(), 3, "{packets:?}");
    assert!(
        packets
            .iter()
            .all(|p| matches!(packet::parse(p), Ok(Packet::Oack(_))))
    );
    // Without options: DATA 1 alone, three times. The amplification bound the README
    // states: a 10-byte request draws 3 × 516 bytes.
    let victim = Raw::new().await;
    let request = rrq(b"f", b"octet", &[]);
    assert_eq!(request.len(), 10);
    victim.send(&request, server.addr).await;
    wait_for_timeouts(&server, 2).await;
    let packets = drain(&victim).await;
    assert_eq!(packets.len(), 3, "{packets:?}");
    assert_eq!(packets.iter().map(Vec::len).sum::<usize>(), 3 * 516);
    assert!(
        packets
            .iter()
            .all(|p| matches!(packet::parse(p), Ok(Packet::Data { block: 1, .. })))
    );
    let metrics = server.stop().await;
    assert_eq!(metrics.failed(Reason::Timeout), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_slow_readers() {
    let good = image(200_000, 9);
    let files = MemFiles(HashMap::from([
        ("bad", Kind::Failing(image(5000, 1))),
        (
            "slow",
            Kind::Slow {
                bytes: good.clone(),
                // Longer than curl's first RRQ retransmission.
                open_delay: Duration::from_millis(1500),
            },
        ),
    ]));
    let server = start(files, TftpLimits::default()).await;
    // The object fails verification at its last byte: the block holding it is never
    // sent, the client gets ERROR 0 without internals.
    let raw = Raw::new().await;
    raw.send(&rrq(b"bad", b"octet", &[]), server.addr).await;
    let mut session = None;
    let message = loop {
        match raw.expect(WAIT).await {
            (Packet::Data { block, data }, from) => {
                assert!(block < 10 && data.len() == 512, "last block sent");
                session = Some(from);
                raw.ack(block, from).await;
            }
            (Packet::Error { code, message }, _) => {
                assert_eq!(code, 0);
                break String::from_utf8_lossy(message).into_owned();
            }
            other => panic!("{other:?}"),
        }
    };
    assert!(session.is_some());
    assert_eq!(message, "object failed verification");
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("bad");
    let status = run(Command::new("curl")
        .args(["-sS", "-o"])
        .arg(&path)
        .arg(format!("tftp://{}/bad", server.addr)))
    .await;
    assert!(!status.status.success());

    // A slow source: the client waits, the download is complete.
    let path = out.path().join("slow");
    let status = run(Command::new("curl")
        .args(["-sS", "--tftp-blksize", "1468", "-o"])
        .arg(&path)
        .arg(format!("tftp://{}/slow", server.addr)))
    .await;
    assert!(status.status.success(), "{status:?}");
    assert_same(&path, &good, "slow source");
    let metrics = server.stop().await;
    assert_eq!(metrics.failed(Reason::ReadError), 2);
    assert_eq!(metrics.completed(), 1);
    let mut exposition = netboot_http::metrics::Exposition::new("netboot_proxy");
    metrics.render(&mut exposition);
    let text = exposition.finish();
    assert!(
        text.contains("netboot_proxy_tftp_transfers_failed_total{reason=\"read_error\"} 2\n"),
        "{text}"
    );
}
