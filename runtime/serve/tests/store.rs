//! netboot-serve reading its bundle from an object store: the follower over `InMemory`,
//! the real binary over `file://` (object_store's `LocalFileSystem`, the same layout
//! `netbootc publish file://…` writes), and the real binary over `gs://` against Google's
//! storage-testbench (see .ci/python-deps) and over `s3://` against moto, both written
//! through object_store's real clients.

#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use netboot_bundle::{Digest, Manifest, Pointer, RouteEntry, object_path};
use netboot_serve::follow::{Follower, Outcome, Source};
use netboot_serve::handler::State;
use netboot_serve::mirror::StoreSource;
use std::sync::atomic::Ordering;

use netboot_store::object_store::memory::InMemory;
use netboot_store::object_store::path::Path as Key;
use netboot_store::object_store::{self, ObjectStore, ObjectStoreExt, PutPayload};
use netboot_testkit::{CountingStore, Curl, Emulator, ServerBuilder, TestBundle, files, image};

const SCRIPT: &[u8] = b"#!ipxe\nchain machines/by-name/node-01.ipxe\n";
const NODE: &[u8] = b"#!ipxe\nkernel images/flatcar/kernel\nboot\n";
const NODE_ROUTE: &str = "/machines/by-name/node-01.ipxe";
const TEXT: &str = "text/plain; charset=utf-8";

fn serve() -> ServerBuilder {
    ServerBuilder::new(env!("CARGO_BIN_EXE_netboot-serve"), "netboot-serve ready")
}

fn ecdsa(curl: Curl) -> Curl {
    curl.client(files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY)
}

fn release(node: &[u8], kernel: &[u8]) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        ("boot.ipxe", SCRIPT.to_vec(), TEXT),
        ("machines/by-name/node-01.ipxe", node.to_vec(), TEXT),
        (
            "images/flatcar/kernel",
            kernel.to_vec(),
            "application/octet-stream",
        ),
    ]
}

fn publish_dir(bundle: &TestBundle, routes: &[(&'static str, Vec<u8>, &'static str)]) -> Digest {
    let routes: Vec<(&str, &[u8], &str)> =
        routes.iter().map(|(r, b, c)| (*r, &b[..], *c)).collect();
    bundle.publish(&routes)
}

/// Writes a release into a store the way `netbootc publish` lays it out: objects first,
/// `current` last.
async fn publish_store(
    store: &dyn ObjectStore,
    prefix: &str,
    routes: &[(&'static str, Vec<u8>, &'static str)],
) -> Digest {
    let key = |rel: &str| Key::from(format!("{prefix}/{rel}"));
    let mut manifest = Manifest::new();
    for (route, bytes, content_type) in routes {
        let digest = Digest::of(bytes);
        store
            .put(&key(&object_path(&digest)), PutPayload::from(bytes.clone()))
            .await
            .unwrap();
        manifest.routes.insert(
            (*route).to_owned(),
            RouteEntry {
                object: digest,
                size: bytes.len() as u64,
                content_type: (*content_type).to_owned(),
            },
        );
    }
    let canonical = manifest.to_canonical();
    let digest = Digest::of(&canonical);
    store
        .put(&key(&object_path(&digest)), PutPayload::from(canonical))
        .await
        .unwrap();
    store
        .put(
            &key("current"),
            PutPayload::from(Pointer::new(digest).to_canonical()),
        )
        .await
        .unwrap();
    digest
}

#[tokio::test]
async fn follower_over_in_memory_store_installs_skips_and_refuses() {
    let counting = CountingStore::new(Arc::new(InMemory::new()));
    let store: Arc<dyn ObjectStore> = counting.clone();
    let gets = || counting.gets.swap(0, Ordering::SeqCst);
    let cache = tempfile::tempdir().unwrap();
    let state = State {
        releases: Arc::default(),
        metrics: Arc::default(),
    };
    let source =
        StoreSource::new(store.clone(), "site", "memory://site", Some(cache.path())).unwrap();
    let mut follower = Follower::with_source(Source::Store(Box::new(source)), state.clone());

    assert_eq!(follower.check(true).await, Outcome::NoRelease);

    let big = image(300 * 1024, 1);
    let first = publish_store(&*store, "site", &release(NODE, &big)).await;
    assert_eq!(follower.check(true).await, Outcome::Installed(first));
    let current = state.releases.current().unwrap();
    // Small objects are served from memory, the large one from the verified cache copy.
    let node = current.manifest.routes["machines/by-name/node-01.ipxe"].object;
    match &state.releases.object(&node).unwrap().content {
        netboot_serve::verified::Content::Memory(bytes) => assert_eq!(&bytes[..], NODE),
        other => panic!("{other:?}"),
    }
    let kernel = Digest::of(&big);
    match &state.releases.object(&kernel).unwrap().content {
        netboot_serve::verified::Content::File(path) => {
            assert!(path.starts_with(cache.path()));
            assert_eq!(std::fs::read(path).unwrap(), big);
        }
        other => panic!("{other:?}"),
    }
    // The look that found nothing, then `current`, the manifest and the three objects.
    assert_eq!(gets(), 1 + 5);
    // Unchanged `current` (a 304 on its ETag): one GET, nothing else.
    assert_eq!(follower.check(false).await, Outcome::Unchanged);
    assert_eq!(
        (gets(), counting.not_modified.load(Ordering::SeqCst)),
        (1, 1)
    );

    // A release that changes one script fetches `current`, its manifest and that script.
    let node2: &[u8] = b"#!ipxe\nsecond\n";
    let second = publish_store(&*store, "site", &release(node2, &big)).await;
    assert_eq!(follower.check(false).await, Outcome::Installed(second));
    assert_eq!(gets(), 3);

    // A release whose large object is corrupt in the store is refused; the old one stays.
    let big2 = image(300 * 1024, 2);
    let third = publish_store(&*store, "site", &release(b"#!ipxe\nthird\n", &big2)).await;
    let mut bad = big2.clone();
    bad[1000] ^= 1;
    store
        .put(
            &Key::from(format!("site/{}", object_path(&Digest::of(&big2)))),
            PutPayload::from(bad),
        )
        .await
        .unwrap();
    assert_eq!(follower.check(true).await, Outcome::Refused);
    assert_eq!(state.releases.current().unwrap().manifest_digest, second);
    assert!(!cache.path().join(object_path(&Digest::of(&big2))).exists());

    // Repaired in the store: picked up on the next loud check.
    store
        .put(
            &Key::from(format!("site/{}", object_path(&Digest::of(&big2)))),
            PutPayload::from(big2.clone()),
        )
        .await
        .unwrap();
    assert_eq!(follower.check(true).await, Outcome::Installed(third));
    // The cache keeps the current and the previous release's objects only.
    assert!(cache.path().join(object_path(&kernel)).exists());
    assert!(cache.path().join(object_path(&Digest::of(node2))).exists());
    assert!(!cache.path().join(object_path(&Digest::of(NODE))).exists());
}

#[test]
fn file_url_serves_swaps_on_sighup_and_refuses_a_corrupt_release() {
    let bundle = TestBundle::new();
    let big = image(200 * 1024, 5);
    publish_dir(&bundle, &release(NODE, &big));
    let cache = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bundle.root().display());
    let server = serve()
        .server_cert()
        .client_ca()
        .health()
        .flag("--poll-interval", "0s")
        .flag("--bundle", &url)
        .flag("--cache-dir", cache.path())
        .start();
    let reply = ecdsa(Curl::new(server.url(NODE_ROUTE))).run();
    assert_eq!(
        (reply.status, &reply.body[..]),
        (200, NODE),
        "{}",
        server.log()
    );
    let reply = ecdsa(Curl::new(server.url("/images/flatcar/kernel"))).run();
    assert_eq!(reply.status, 200);
    assert!(reply.body == big, "image bytes differ");
    let reply = ecdsa(Curl::new(server.url("/images/flatcar/kernel")))
        .header("Range: bytes=100-199")
        .run();
    assert_eq!((reply.status, &reply.body[..]), (206, &big[100..200]));
    let current = ecdsa(Curl::new(server.url("/current"))).run();
    assert_eq!(
        current.body,
        std::fs::read(bundle.root().join("current")).unwrap()
    );

    // A new release in the store: served after SIGHUP.
    let node2: &[u8] = b"#!ipxe\nkernel images/flatcar/kernel\necho second\nboot\n";
    let second = publish_dir(&bundle, &release(node2, &big));
    server.signal("HUP");
    assert!(
        server.wait_log(&second.hex(), Duration::from_secs(10)),
        "{}",
        server.log()
    );
    let reply = ecdsa(Curl::new(server.url(NODE_ROUTE))).run();
    assert_eq!(
        (reply.status, &reply.body[..]),
        (200, node2),
        "{}",
        server.log()
    );

    // A release with a corrupt object in the store: refused, loudly; the old one serves.
    let big3 = image(200 * 1024, 6);
    let third = publish_dir(&bundle, &release(b"#!ipxe\nthird\n", &big3));
    let mut bad = big3.clone();
    bad[7] ^= 0x40;
    std::fs::write(bundle.object_file(&big3), &bad).unwrap();
    server.signal("HUP");
    assert!(
        server.wait_log("REFUSED new release", Duration::from_secs(10)),
        "{}",
        server.log()
    );
    assert!(server.log().contains(&third.hex()), "{}", server.log());
    let reply = ecdsa(Curl::new(server.url(NODE_ROUTE))).run();
    assert_eq!((reply.status, &reply.body[..]), (200, node2));
    assert!(!cache.path().join(object_path(&Digest::of(&big3))).exists());
    let health = Curl::plain(server.health_url("/healthz")).run();
    assert!(String::from_utf8_lossy(&health.body).contains(&second.hex()));
}

/// Pruning the mirror never cuts a response that is reading a pruned object: a client
/// starts a 16 MB download of release A's kernel and stops reading; releases B and C are
/// installed, which prunes A's objects from the cache (the file is gone); then the client
/// reads on and gets every byte of A's kernel (the response reads from the file it opened).
#[test]
fn pruning_the_cache_never_cuts_a_response_in_flight() {
    use std::io::{Read as _, Write as _};
    let bundle = TestBundle::new();
    let kernel_a = image(16 * 1024 * 1024, 11);
    publish_dir(&bundle, &release(NODE, &kernel_a));
    let cache = tempfile::tempdir().unwrap();
    let server = serve()
        .server_cert()
        .client_ca()
        .flag("--poll-interval", "0s")
        .flag("--bundle", format!("file://{}", bundle.root().display()))
        .flag("--cache-dir", cache.path())
        .start();
    let cached_a = cache.path().join(object_path(&Digest::of(&kernel_a)));
    assert!(cached_a.exists());

    let config = netboot_tls::client_config(
        &[netboot_testkit::cert(files::CA_CERT)],
        Some((
            &netboot_testkit::cert(files::CLIENT_ECDSA_CERT),
            &netboot_testkit::cert(files::CLIENT_ECDSA_KEY),
        )),
        &[b"http/1.1"],
    )
    .unwrap();
    let tls = netboot_tls::rustls::ClientConnection::new(config, "localhost".try_into().unwrap())
        .unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let mut stream = netboot_tls::rustls::StreamOwned::new(tls, tcp);
    stream
        .write_all(
            b"GET /images/flatcar/kernel HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut first = vec![0; 64 * 1024];
    stream.read_exact(&mut first).unwrap();

    for (n, node) in [b"#!ipxe\nsecond\n" as &[u8], b"#!ipxe\nthird\n"]
        .iter()
        .enumerate()
    {
        let digest = publish_dir(&bundle, &release(node, &image(1024, 20 + n as u32)));
        server.signal("HUP");
        assert!(
            server.wait_log(&format!("manifest={digest}"), Duration::from_secs(30)),
            "{}",
            server.log()
        );
    }
    assert!(!cached_a.exists(), "release A's kernel was not pruned");

    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    first.extend(rest);
    let split = first
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    assert!(first.starts_with(b"HTTP/1.1 200"), "{:?}", &first[..64]);
    assert!(
        first[split..] == kernel_a[..],
        "the body is not release A's kernel"
    );
}

/// A `netboot` bucket on a fresh moto, and an object_store client for it.
fn moto_bucket() -> (Emulator, Arc<dyn ObjectStore>) {
    let moto = Emulator::moto();
    ureq::put(&format!("{}/netboot", moto.base))
        .send_empty()
        .unwrap();
    netboot_store::install_crypto_provider();
    let s3: Arc<dyn ObjectStore> = Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&moto.base)
            .with_allow_http(true)
            .with_bucket_name("netboot")
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap(),
    );
    (moto, s3)
}

/// netboot-serve over mTLS on `s3://netboot/fleet/prod` reached at `endpoint`, polling only
/// on SIGHUP, its cache in `dir`.
fn serve_s3(dir: &Path, endpoint: &str) -> ServerBuilder {
    serve_with_env(
        dir,
        &[
            ("AWS_ENDPOINT", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    )
    .server_cert()
    .client_ca()
    .flag("--poll-interval", "0s")
    .flag("--bundle", "s3://netboot/fleet/prod")
    .flag("--cache-dir", dir.join("cache"))
}

/// A TCP relay to `upstream` that passes requests at full speed and answers at about
/// `bytes_per_second`: a slow link between the server and its store.
fn slow_link(upstream: std::net::SocketAddr, bytes_per_second: u64) -> std::net::SocketAddr {
    use std::io::{Read as _, Write as _};
    use std::net::{Shutdown, TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let Ok(mut server) = TcpStream::connect(upstream) else {
                continue;
            };
            let (mut client_in, mut server_out) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_in, &mut server_out);
                let _ = server_out.shutdown(Shutdown::Write);
            });
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = server.read(&mut buf) {
                    if n == 0 || client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(
                        n as u64 * 1_000_000 / bytes_per_second,
                    ));
                }
                let _ = client.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

/// A large image from a store over a slow link takes longer than object_store's default
/// whole-request timeout (30 s): the read goes on as long as bytes arrive, and the release
/// is served. (object_store would also resume a cut read, within its retry budget of
/// 3 minutes; a read longer than that, which this test does not wait for, failed before
/// the stall timeout replaced the whole-request one.)
#[test]
fn a_slow_large_object_from_a_store_is_not_cut_by_a_request_timeout() {
    let (moto, s3) = moto_bucket();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(publish_store(
        &*s3,
        "fleet/prod",
        &release(NODE, &image(1024, 30)),
    ));
    let upstream = moto.base.trim_start_matches("http://").parse().unwrap();
    // 2.4 MB at 64 KB/s: about 37 s.
    let relay = format!("http://{}", slow_link(upstream, 64 * 1024));
    let tmp = tempfile::tempdir().unwrap();
    let server = serve_s3(tmp.path(), &relay).start();

    let big = image(2400 * 1024, 31);
    let second = rt.block_on(publish_store(&*s3, "fleet/prod", &release(NODE, &big)));
    server.signal("HUP");
    let installed = |log: &str| {
        log.lines()
            .any(|l| l.contains("serving new release") && l.contains(&second.hex()))
    };
    assert!(
        netboot_testkit::wait_until(Duration::from_secs(180), || installed(&server.log())
            || server.log().contains("REFUSED")),
        "{}",
        server.log()
    );
    assert!(installed(&server.log()), "{}", server.log());
    let reply = ecdsa(Curl::new(server.url("/images/flatcar/kernel"))).run();
    assert!(reply.status == 200 && reply.body == big, "{}", reply.status);
}

/// object_store reads credentials from the environment and the harness's builder has no
/// env hook, so a wrapper script in `dir` sets them and execs the server.
fn serve_with_env(dir: &Path, env: &[(&str, &str)]) -> ServerBuilder {
    use std::os::unix::fs::PermissionsExt;
    let wrapper = dir.join("netboot-serve-env");
    let mut script = String::from("#!/bin/sh\n");
    for (name, value) in env {
        assert!(!value.contains('\''));
        script += &format!("{name}='{value}'\nexport {name}\n");
    }
    script += &format!("exec '{}' \"$@\"\n", env!("CARGO_BIN_EXE_netboot-serve"));
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    ServerBuilder::new(wrapper.to_str().unwrap(), "netboot-serve ready")
}

#[test]
fn gs_bucket_on_the_gcs_testbench_is_served_over_mtls() {
    let gcs = Emulator::gcs_testbench();
    let bucket = gcs.gcs_bucket("netboot");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let big = image(150 * 1024, 9);
    let first = rt.block_on(publish_store(&bucket, "site", &release(NODE, &big)));

    let account = gcs.gcs_service_account();
    let tmp = tempfile::tempdir().unwrap();
    let server = serve_with_env(tmp.path(), &[("GOOGLE_SERVICE_ACCOUNT_KEY", &account)])
        .server_cert()
        .client_ca()
        .health()
        .flag("--poll-interval", "0s")
        .flag("--bundle", "gs://netboot/site")
        .start();
    assert!(server.log().contains(&first.hex()), "{}", server.log());
    let reply = ecdsa(Curl::new(server.url(NODE_ROUTE))).run();
    assert_eq!(
        (reply.status, &reply.body[..]),
        (200, NODE),
        "{}",
        server.log()
    );
    assert_eq!(
        reply.header("etag"),
        Some(format!("\"{}\"", Digest::of(NODE).hex()).as_str())
    );
    let reply = ecdsa(Curl::new(server.url("/images/flatcar/kernel")))
        .tls12()
        .run();
    assert_eq!(reply.status, 200);
    assert!(reply.body == big, "image bytes differ");
    // Without a client certificate: refused in the handshake, as in directory mode.
    let reply = Curl::new(server.url(NODE_ROUTE)).run();
    assert_ne!(reply.status, 200);

    // A new release published into the bucket: picked up on SIGHUP.
    let node2: &[u8] = b"#!ipxe\necho from gcs, second\n";
    let second = rt.block_on(publish_store(&bucket, "site", &release(node2, &big)));
    server.signal("HUP");
    assert!(
        server.wait_log(&second.hex(), Duration::from_secs(10)),
        "{}",
        server.log()
    );
    let reply = ecdsa(Curl::new(server.url(NODE_ROUTE))).run();
    assert_eq!((reply.status, &reply.body[..]), (200, node2));
}

#[test]
fn s3_bucket_on_moto_is_served_and_a_corrupt_release_refused() {
    let (moto, s3) = moto_bucket();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let big = image(100 * 1024, 11);
    let first = rt.block_on(publish_store(&*s3, "fleet/prod", &release(NODE, &big)));

    let tmp = tempfile::tempdir().unwrap();
    let server = serve_s3(tmp.path(), &moto.base).start();
    assert!(server.log().contains(&first.hex()), "{}", server.log());
    let reply = ecdsa(Curl::new(server.url(NODE_ROUTE))).run();
    assert_eq!(
        (reply.status, &reply.body[..]),
        (200, NODE),
        "{}",
        server.log()
    );
    let reply = ecdsa(Curl::new(server.url("/images/flatcar/kernel"))).run();
    assert!(reply.status == 200 && reply.body == big, "{}", reply.status);

    // A release whose image object in the bucket does not hash to its name: refused by
    // the poll, the old release keeps serving.
    let big2 = image(100 * 1024, 12);
    let mut bad = big2.clone();
    bad[0] ^= 1;
    let second = rt.block_on(async {
        let digest = publish_store(&*s3, "fleet/prod", &release(b"#!ipxe\nbad\n", &big2)).await;
        let key = Key::from(format!("fleet/prod/{}", object_path(&Digest::of(&big2))));
        s3.put(&key, PutPayload::from(bad)).await.unwrap();
        digest
    });
    server.signal("HUP");
    assert!(
        server.wait_log("REFUSED new release", Duration::from_secs(10)),
        "{}",
        server.log()
    );
    assert!(server.log().contains(&second.hex()), "{}", server.log());
    assert!(
        server
            .log()
            .contains("s3://netboot/fleet/prod/objects/sha256/")
    );
    let reply = ecdsa(Curl::new(server.url(NODE_ROUTE))).run();
    assert_eq!((reply.status, &reply.body[..]), (200, NODE));
}

#[tokio::test]
async fn a_corrupt_cached_manifest_is_fetched_again() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let cache = tempfile::tempdir().unwrap();
    let big = image(100 * 1024, 3);
    let first = publish_store(&*store, "site", &release(NODE, &big)).await;
    // What a power cut during an earlier fetch can leave: the manifest's cache file empty.
    let cached_manifest = cache.path().join(object_path(&first));
    std::fs::create_dir_all(cached_manifest.parent().unwrap()).unwrap();
    std::fs::write(&cached_manifest, b"").unwrap();

    let state = State {
        releases: Arc::default(),
        metrics: Arc::default(),
    };
    let source =
        StoreSource::new(store.clone(), "site", "memory://site", Some(cache.path())).unwrap();
    let mut follower = Follower::with_source(Source::Store(Box::new(source)), state.clone());
    assert_eq!(follower.check(true).await, Outcome::Installed(first));
    assert_eq!(
        Digest::of(&std::fs::read(&cached_manifest).unwrap()),
        first,
        "the cache holds the verified manifest again"
    );
}
