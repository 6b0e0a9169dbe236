//! netboot-proxy against a real origin: netboot-serve over mutual TLS on loopback (and,
//! where the origin must send wrong bytes, a bare Python HTTPS server that verifies
//! client certificates too), driven through curl's HTTP and TFTP clients.

#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

mod common;

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{lan, metric, origin, proxy, proxy_builder, proxy_with, same, tftp, wait_health};
use netboot_bundle::Digest;
use netboot_testkit::{Curl, Reply, Server, ServerBuilder, TestBundle, cert, files, image};

const SCRIPT: &[u8] = b"#!ipxe\necho proxy-test\n";
const TEXT: &str = "text/plain; charset=utf-8";
const OCTETS: &str = "application/octet-stream";

/// A release with a dispatcher, a machine script, two TFTP files and two images.
struct Fleet {
    bundle: TestBundle,
    efi: Vec<u8>,
    undi: Vec<u8>,
    kernel: Vec<u8>,
    initrd: Vec<u8>,
}

impl Fleet {
    fn new() -> Self {
        let fleet = Self {
            bundle: TestBundle::new(),
            efi: image(300_000, 1),
            undi: image(70_000, 2),
            kernel: image(2_500_000, 3),
            initrd: image(1_000_001, 4),
        };
        fleet.bundle.publish(&[
            ("boot.ipxe", SCRIPT, TEXT),
            ("machines/by-name/node-01.ipxe", NODE_01_SCRIPT, TEXT),
            ("tftp/ipxe.efi", &fleet.efi, OCTETS),
            ("tftp/undionly.kpxe", &fleet.undi, OCTETS),
            ("images/flatcar/kernel", &fleet.kernel, OCTETS),
            ("images/flatcar/initrd", &fleet.initrd, OCTETS),
            (PROVISIONING_ROUTE, PROVISIONING, IGNITION_TYPE),
        ]);
        fleet
    }
}

/// A machine's Ignition config, as the compiler routes provisioning files.
const PROVISIONING_ROUTE: &str =
    "files/5d1c4a3f0e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c/ignition";
/// node-01's script: its kernel's command line names its provisioning file.
const NODE_01_SCRIPT: &[u8] = b"#!ipxe\necho node-01\nkernel http://10.0.0.2:8080/images/flatcar/kernel ignition.config.url=http://10.0.0.2:8080/files/5d1c4a3f0e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c/ignition\nboot\n";
const PROVISIONING: &[u8] = b"{\"ignition\":{\"version\":\"3.4.0\"}}\n";
const IGNITION_TYPE: &str = "application/vnd.coreos.ignition+json";

/// The Python origin that serves whatever bytes are in `root`.
fn fake_origin(root: &Path) -> Server {
    ServerBuilder::bare("python3", "fake origin ready")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake_origin.py"))
        .arg(root)
        .arg(cert(files::SERVER_CERT))
        .arg(cert(files::SERVER_KEY))
        .arg(cert(files::CA_CERT))
        .start()
}

fn cached_file(cache: &Path, bytes: &[u8]) -> std::path::PathBuf {
    cache.join(format!("objects/sha256/{}", Digest::of(bytes).hex()))
}

#[test]
fn lan_http_and_tftp_serve_exactly_what_the_origin_serves() {
    let fleet = Fleet::new();
    let origin = origin(fleet.bundle.root());
    let cache = tempfile::tempdir().unwrap();
    let proxy = proxy(origin.port(), cache.path());
    assert!(wait_health(&proxy, "origin=up").starts_with("ok sha256:"));

    for route in [
        "current",
        "boot.ipxe",
        "machines/by-name/node-01.ipxe",
        "tftp/ipxe.efi",
        "images/flatcar/kernel",
        "images/flatcar/initrd",
    ] {
        let want = Curl::new(origin.url(&format!("/{route}")))
            .client(files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY)
            .run();
        let got = lan(&proxy, &format!("/{route}"));
        assert_eq!((want.status, got.status), (200, 200), "{route}");
        same(&got.body, &want.body, route);
        for header in [
            "etag",
            "repr-digest",
            "cache-control",
            "content-type",
            "content-length",
        ] {
            assert_eq!(want.header(header), got.header(header), "{route}: {header}");
        }
    }
    let kernel_object = format!("/objects/sha256/{}", Digest::of(&fleet.kernel).hex());
    same(&lan(&proxy, &kernel_object).body, &fleet.kernel, line!());

    // TFTP file X is route tftp/X, at both ends of the blksize range curl offers.
    for blksize in [512, 1468] {
        let reply = tftp(&proxy, "ipxe.efi", blksize);
        assert_eq!(reply.exit, 0, "{}", reply.stderr);
        same(&reply.body, &fleet.efi, format!("TFTP blksize {blksize}"));
    }
    assert_ne!(
        tftp(&proxy, "boot.ipxe", 512).exit,
        0,
        "only tftp/ routes over TFTP"
    );

    // The HTTP rules hold at the proxy too.
    let etag = lan(&proxy, "/boot.ipxe").header("etag").unwrap().to_owned();
    let not_modified = Curl::plain(format!("http://{}/boot.ipxe", proxy.addr))
        .header(&format!("If-None-Match: {etag}"))
        .run();
    assert_eq!(not_modified.status, 304);
    let range = Curl::plain(format!("http://{}/images/flatcar/kernel", proxy.addr))
        .header("Range: bytes=1000-1999")
        .run();
    assert_eq!(range.status, 206);
    same(&range.body, &fleet.kernel[1000..2000], "range");
    let head = Curl::plain(format!("http://{}/images/flatcar/initrd", proxy.addr))
        .arg("--head")
        .run();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("1000001"));
    let post = Curl::plain(format!("http://{}/boot.ipxe", proxy.addr))
        .arg("-X")
        .arg("POST")
        .run();
    assert_eq!(post.status, 405);
    let if_match = Curl::plain(format!("http://{}/boot.ipxe", proxy.addr))
        .header("If-Match: \"nope\"")
        .run();
    assert_eq!(if_match.status, 412);
    for request in [
        "GET /boot.ipxe HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /boot.ipxe HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    ] {
        let mut stream = std::net::TcpStream::connect(&proxy.addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 400 "), "{request:?}: {reply}");
    }
    let unknown_object = format!(
        "/objects/sha256/{}",
        Digest::of(b"not in the release").hex()
    );
    for path in [
        "/nope.ipxe",
        "/../secret.txt",
        "/tftp/../current",
        &unknown_object,
    ] {
        let reply = Curl::plain(format!("http://{}{path}", proxy.addr))
            .arg("--path-as-is")
            .run();
        assert_eq!(reply.status, 404, "{path}");
    }

    // One access line per request, naming the object served.
    let line = format!(
        "path=/images/flatcar/kernel status=200 bytes=2500000 object={} ",
        Digest::of(&fleet.kernel).hex()
    );
    assert!(
        proxy.wait_log(&line, Duration::from_secs(2)),
        "{}",
        proxy.log()
    );

    // The origin saw the proxy's client certificate.
    assert!(origin.wait_log("client=\"CN=client-ecdsa", Duration::from_secs(2)));
    assert_eq!(metric(&proxy, "netboot_proxy_origin_up"), Some(1));
}

#[test]
fn serves_from_the_cache_while_the_origin_is_down_and_after_a_restart() {
    let fleet = Fleet::new();
    let cache = tempfile::tempdir().unwrap();
    let origin = origin(fleet.bundle.root());
    let mut first = proxy(origin.port(), cache.path());
    assert!(
        first.wait_log("prefetched", Duration::from_secs(20)),
        "{}",
        first.log()
    );
    // TFTP files, the dispatcher, scripts and provisioning files are prefetched; images
    // are not.
    assert!(cached_file(cache.path(), &fleet.efi).exists());
    assert!(cached_file(cache.path(), SCRIPT).exists());
    assert!(cached_file(cache.path(), PROVISIONING).exists());
    assert!(!cached_file(cache.path(), &fleet.initrd).exists());
    // One image is fetched (and cached) by a request.
    same(
        &lan(&first, "/images/flatcar/kernel").body,
        &fleet.kernel,
        line!(),
    );
    // A TFTP file whose cache copy is lost while the origin is down cannot be served.
    std::fs::remove_file(cached_file(cache.path(), &fleet.undi)).unwrap();

    drop(origin);
    assert!(wait_health(&first, "origin=down").starts_with("ok "));
    assert!(first.wait_log("origin unreachable", Duration::from_secs(5)));
    assert_eq!(metric(&first, "netboot_proxy_origin_up"), Some(0));
    same(&tftp(&first, "ipxe.efi", 1468).body, &fleet.efi, line!());
    same(&lan(&first, "/boot.ipxe").body, SCRIPT, line!());
    // An OS booting while the uplink is down still gets its provisioning file, as its kind.
    assert_eq!(lan(&first, "/machines/by-name/node-01.ipxe").status, 200);
    let file = lan(&first, &format!("/{PROVISIONING_ROUTE}"));
    same(&file.body, PROVISIONING, line!());
    assert_eq!(file.header("content-type"), Some(IGNITION_TYPE));
    same(
        &lan(&first, "/images/flatcar/kernel").body,
        &fleet.kernel,
        line!(),
    );
    // Not cached: a clean failure, not a hang or a partial file.
    assert_eq!(lan(&first, "/images/flatcar/initrd").status, 502);
    let undi = tftp(&first, "undionly.kpxe", 1468);
    assert_ne!(undi.exit, 0);
    assert!(undi.body.is_empty());

    // SIGTERM is a clean stop; a new process on the same cache serves without any origin.
    first.signal("TERM");
    assert_eq!(first.wait_exit(Duration::from_secs(10)), Some(0));
    let second = proxy(origin_port_nobody_listens_on(), cache.path());
    assert!(
        wait_health(&second, "origin=down").starts_with("ok "),
        "{}",
        second.log()
    );
    same(&tftp(&second, "ipxe.efi", 512).body, &fleet.efi, line!());
    same(
        &lan(&second, "/images/flatcar/kernel").body,
        &fleet.kernel,
        line!(),
    );
    assert_eq!(lan(&second, "/machines/by-name/node-01.ipxe").status, 200);
    assert!(metric(&second, "netboot_proxy_cache_lookups_total{result=\"hit\"}").unwrap() >= 3);
}

/// The proxy's own disk failing is told apart from the origin: HTTP 503 (not 502), TFTP
/// ERROR 3 (not 0), logged and counted as the disk; once the disk is back, the same
/// requests get the right bytes.
#[test]
fn a_failing_cache_disk_is_503_and_tftp_error_3() {
    let fleet = Fleet::new();
    let origin = origin(fleet.bundle.root());
    let cache = tempfile::tempdir().unwrap();
    let proxy = proxy(origin.port(), cache.path());
    assert!(
        proxy.wait_log("prefetched", Duration::from_secs(20)),
        "{}",
        proxy.log()
    );
    // The cache's scratch directory becomes a file: no download can be written.
    let scratch = cache.path().join("tmp");
    std::fs::remove_dir_all(&scratch).unwrap();
    std::fs::write(&scratch, b"").unwrap();
    std::fs::remove_file(cached_file(cache.path(), &fleet.undi)).unwrap();

    assert_eq!(lan(&proxy, "/images/flatcar/initrd").status, 503);
    assert!(proxy.wait_log("the cache disk failed", Duration::from_secs(10)));
    let undi = tftp(&proxy, "undionly.kpxe", 1468);
    assert_ne!(undi.exit, 0);
    assert!(undi.body.is_empty());
    assert!(
        proxy.wait_log("outcome=\"disk\"", Duration::from_secs(10)),
        "{}",
        proxy.log()
    );
    assert_eq!(
        metric(
            &proxy,
            "netboot_proxy_tftp_requests_refused_total{reason=\"disk\"}"
        ),
        Some(1)
    );

    std::fs::remove_file(&scratch).unwrap();
    std::fs::create_dir(&scratch).unwrap();
    same(
        &lan(&proxy, "/images/flatcar/initrd").body,
        &fleet.initrd,
        line!(),
    );
    same(
        &tftp(&proxy, "undionly.kpxe", 1468).body,
        &fleet.undi,
        line!(),
    );
}

/// A loopback port with nothing listening (bound, then released).
fn origin_port_nobody_listens_on() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn what_a_prefetch_missed_is_fetched_on_a_later_look() {
    let fleet = Fleet::new();
    let origin = origin(fleet.bundle.root());
    // After the origin loaded the release, one TFTP file goes missing there (it answers
    // 500 for it) and comes back later; `current` never changes.
    let efi = fleet.bundle.object_file(&fleet.efi);
    let aside = efi.with_extension("aside");
    std::fs::rename(&efi, &aside).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let proxy = proxy(origin.port(), cache.path());
    assert!(
        proxy.wait_log("prefetch failed", Duration::from_secs(20)),
        "{}",
        proxy.log()
    );
    assert!(!cached_file(cache.path(), &fleet.efi).exists());

    std::fs::rename(&aside, &efi).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cached_file(cache.path(), &fleet.efi).exists() {
        assert!(
            Instant::now() < deadline,
            "never prefetched: {}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The unchanged release was answered 304, not fetched again.
    assert!(origin.wait_log("path=/current status=304", Duration::from_secs(5)));
}

#[test]
fn a_truncated_cache_file_is_detected_and_fetched_again() {
    let fleet = Fleet::new();
    let cache = tempfile::tempdir().unwrap();
    let origin = origin(fleet.bundle.root());
    {
        let first = proxy(origin.port(), cache.path());
        wait_health(&first, "origin=up");
        same(
            &lan(&first, "/images/flatcar/kernel").body,
            &fleet.kernel,
            line!(),
        );
    }
    let file = cached_file(cache.path(), &fleet.kernel);
    std::fs::write(&file, &fleet.kernel[..100_000]).unwrap();
    let second = proxy(origin.port(), cache.path());
    wait_health(&second, "origin=up");
    same(
        &lan(&second, "/images/flatcar/kernel").body,
        &fleet.kernel,
        line!(),
    );
    assert_eq!(
        metric(&second, "netboot_proxy_cache_corrupt_files_total"),
        Some(1)
    );
    assert_eq!(std::fs::read(&file).unwrap(), fleet.kernel);
}

#[test]
fn wrong_bytes_from_the_origin_are_never_served_or_cached() {
    let fleet = Fleet::new();
    // Same length, other bytes: only the digest can tell.
    for bytes in [&fleet.kernel, &fleet.undi] {
        let path = fleet.bundle.object_file(bytes);
        let mut wrong = bytes.clone();
        wrong[bytes.len() / 2] ^= 0xff;
        std::fs::write(path, wrong).unwrap();
    }
    let origin = fake_origin(fleet.bundle.root());
    let cache = tempfile::tempdir().unwrap();
    let proxy = proxy(origin.port(), cache.path());
    wait_health(&proxy, "origin=up");

    let reply = lan(&proxy, "/images/flatcar/kernel");
    assert_ne!(reply.exit, 0, "curl must see the transfer fail");
    // Streamed as it arrived, but never the last byte: the client cannot complete it.
    assert!(reply.body.len() < fleet.kernel.len());
    let undi = tftp(&proxy, "undionly.kpxe", 1468);
    assert_ne!(undi.exit, 0);
    assert!(undi.body.len() < fleet.undi.len());
    // Sound objects from the same origin are fine.
    same(&tftp(&proxy, "ipxe.efi", 1468).body, &fleet.efi, line!());
    same(
        &lan(&proxy, "/images/flatcar/initrd").body,
        &fleet.initrd,
        line!(),
    );

    assert!(proxy.log().contains("do not match the object's digest"));
    assert!(metric(&proxy, "netboot_proxy_verification_failures_total").unwrap() >= 2);
    assert!(!cached_file(cache.path(), &fleet.kernel).exists());
    assert!(!cached_file(cache.path(), &fleet.undi).exists());
    assert!(cached_file(cache.path(), &fleet.initrd).exists());
}

#[test]
fn concurrent_cold_requests_share_one_download_and_new_releases_are_followed() {
    let fleet = Fleet::new();
    let origin = origin(fleet.bundle.root());
    let cache = tempfile::tempdir().unwrap();
    let proxy = proxy(origin.port(), cache.path());
    wait_health(&proxy, "origin=up");

    let replies: Vec<Reply> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..6)
            .map(|_| s.spawn(|| lan(&proxy, "/images/flatcar/kernel")))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for reply in replies {
        same(&reply.body, &fleet.kernel, "concurrent");
    }
    let kernel_path = format!("path=/objects/sha256/{}", Digest::of(&fleet.kernel).hex());
    let downloads = origin.log().matches(&kernel_path).count();
    assert_eq!(downloads, 1, "one origin download for six clients");

    let second = b"#!ipxe\necho second release\n";
    fleet.bundle.publish(&[("boot.ipxe", second, TEXT)]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while lan(&proxy, "/boot.ipxe").body != second {
        assert!(Instant::now() < deadline, "the new release never arrived");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lan(&proxy, "/images/flatcar/kernel").status, 404);
}

#[test]
fn an_origin_that_refuses_the_client_certificate_is_unreachable() {
    let fleet = Fleet::new();
    let origin = origin(fleet.bundle.root());
    let cache = tempfile::tempdir().unwrap();
    let proxy = proxy_with(
        origin.port(),
        cache.path(),
        (files::CLIENT_OTHER_CA_CERT, files::CLIENT_OTHER_CA_KEY),
    );
    assert!(proxy.wait_log("origin unreachable", Duration::from_secs(20)));
    let health = lan(&proxy, "/healthz");
    assert_eq!(health.status, 503);
    assert_eq!(lan(&proxy, "/boot.ipxe").status, 503);
}

#[test]
fn bad_flags_are_refused_with_one_clear_line() {
    let cache = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netboot-proxy"))
        .arg("--origin")
        .arg("http://boot.example.com")
        .arg("--cert")
        .arg(cert(files::CLIENT_ECDSA_CERT))
        .arg("--key")
        .arg(cert(files::CLIENT_ECDSA_KEY))
        .arg("--origin-ca")
        .arg(cert(files::CA_CERT))
        .arg("--cache-dir")
        .arg(cache.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        "netboot-proxy: --origin \"http://boot.example.com\": must be an https:// URL \
         (the proxy authenticates with its client certificate)"
    );

    // A boot journal it cannot create is refused at start, not warned about at each boot.
    let journal = cache.path().join("no-such-dir").join("boots.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netboot-proxy"))
        .args(["--origin", "https://localhost:9"])
        .arg("--cert")
        .arg(cert(files::CLIENT_ECDSA_CERT))
        .arg("--key")
        .arg(cert(files::CLIENT_ECDSA_KEY))
        .arg("--origin-ca")
        .arg(cert(files::CA_CERT))
        .args([
            "--tftp-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .arg("--cache-dir")
        .arg(cache.path())
        .arg("--status-log")
        .arg(&journal)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "--status-log {}: No such file or directory",
            journal.display()
        )),
        "{stderr}"
    );
}

/// An origin that accepts every connection and never says a word: its port, and how many
/// connections it has accepted.
fn silent_origin() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    (port, accepted)
}

fn accepted(counter: &std::sync::atomic::AtomicUsize) -> usize {
    counter.load(std::sync::atomic::Ordering::SeqCst)
}

/// The proxy on `cache` against the origin at `port`, with these origin flags.
fn proxy_on(port: u16, cache: &Path, origin_flags: &[(&str, &str)]) -> Server {
    origin_flags
        .iter()
        .fold(
            proxy_builder(
                port,
                cache,
                (files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY),
            ),
            |builder, (name, value)| builder.flag(name, value),
        )
        .start()
}

/// Once a look has found the origin down, an object that is not cached costs one short
/// attempt, not the retries (a PXE ROM gives up long before them): the look at `current`
/// retried three times, the object's fetch never.
#[test]
fn an_origin_known_to_be_down_gets_one_attempt_per_object() {
    let fleet = Fleet::new();
    let cache = tempfile::tempdir().unwrap();
    {
        let origin = origin(fleet.bundle.root());
        let first = proxy(origin.port(), cache.path());
        assert!(
            first.wait_log("prefetched", Duration::from_secs(20)),
            "{}",
            first.log()
        );
    }
    let (port, _) = silent_origin();
    let flags = [
        ("--origin-timeout", "1s"),
        ("--origin-retries", "3"),
        ("--poll-interval", "1h"),
        ("--log-level", "debug"),
    ];
    let proxy = proxy_on(port, cache.path(), &flags);
    assert!(
        proxy.wait_log("origin unreachable", Duration::from_secs(60)),
        "{}",
        proxy.log()
    );
    let health = wait_health(&proxy, "origin=down");
    assert!(health.starts_with("ok "), "{health}");
    let retries = |route: &str| {
        proxy
            .log()
            .lines()
            .filter(|l| l.contains("retrying the origin") && l.contains(route))
            .count()
    };
    assert_eq!(retries("/current"), 3, "{}", proxy.log());
    assert_eq!(lan(&proxy, "/images/flatcar/initrd").status, 502);
    assert!(proxy.wait_log(
        "not cached and the origin cannot give it",
        Duration::from_secs(10)
    ));
    let object = format!("/objects/sha256/{}", Digest::of(&fleet.initrd).hex());
    assert_eq!(retries(&object), 0, "{}", proxy.log());
    // Cached objects are served as ever.
    same(&lan(&proxy, "/boot.ipxe").body, SCRIPT, line!());
}

/// SIGTERM while a look at the origin hangs (an origin that accepts and never answers,
/// with an hour's timeout): the proxy stops at once instead of waiting for the look.
#[test]
fn sigterm_does_not_wait_for_a_hanging_origin() {
    let (port, counter) = silent_origin();
    let cache = tempfile::tempdir().unwrap();
    let mut proxy = proxy_on(port, cache.path(), &[("--origin-timeout", "1h")]);
    // The first look is under way once the origin has its connection; then stop.
    assert!(
        netboot_testkit::wait_until(Duration::from_secs(30), || accepted(&counter) > 0),
        "the proxy never reached the origin"
    );
    proxy.signal("TERM");
    assert_eq!(
        proxy.wait_exit(Duration::from_secs(60)),
        Some(0),
        "the proxy waited for the hanging origin:\n{}",
        proxy.log()
    );
}

/// `--https-listen` with dev-certs' LAN server certificate: the LAN routes over TLS, beside
/// plain HTTP. A client trusting the LAN CA gets the same bytes as over HTTP; one trusting
/// the mTLS CA or another CA (made here by openssl) refuses the handshake; provisioning
/// files stay bound to the address the script went to.
#[test]
fn the_lan_https_listener_serves_the_same_routes_to_clients_trusting_its_ca() {
    let fleet = Fleet::new();
    let origin = origin(fleet.bundle.root());
    let cache = tempfile::tempdir().unwrap();
    let proxy = proxy_builder(
        origin.port(),
        cache.path(),
        (files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY),
    )
    .flag("--https-listen", "127.0.0.1:0")
    .flag("--lan-cert", cert(files::LAN_SERVER_CERT))
    .flag("--lan-key", cert(files::LAN_SERVER_KEY))
    .start();
    assert!(wait_health(&proxy, "origin=up").starts_with("ok sha256:"));
    let port = proxy
        .field("https")
        .and_then(|addr| addr.rsplit_once(':').map(|(_, p)| p.to_owned()))
        .expect("the HTTPS address in the ready line");
    let https = |path: &str| {
        Curl::plain(format!("https://localhost:{port}{path}"))
            .arg("--cacert")
            .arg(cert(files::LAN_CA_CERT).display().to_string())
    };

    for route in ["/boot.ipxe", "/images/flatcar/kernel"] {
        let reply = https(route).run();
        assert_eq!(reply.status, 200, "{route}: {}", reply.stderr);
        same(&reply.body, &lan(&proxy, route).body, route);
    }
    // Files: only after this client's script, as over HTTP.
    let file = format!("/{PROVISIONING_ROUTE}");
    assert_eq!(https(&file).run().status, 403);
    assert_eq!(https("/machines/by-name/node-01.ipxe").run().status, 200);
    same(&https(&file).run().body, PROVISIONING, line!());

    // Another CA: the client refuses the proxy's certificate (curl exit 60).
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=another LAN CA",
            "-keyout",
        ])
        .arg(dir.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let refused = Curl::plain(format!("https://localhost:{port}/boot.ipxe"))
        .arg("--cacert")
        .arg(other.display().to_string())
        .run();
    assert_eq!(refused.exit, 60, "{}", refused.stderr);
    assert!(refused.body.is_empty());
    let mtls_ca = Curl::new(format!("https://localhost:{port}/boot.ipxe")).run();
    assert_eq!(mtls_ca.exit, 60, "{}", mtls_ca.stderr);
}
