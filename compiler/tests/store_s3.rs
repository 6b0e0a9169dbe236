//! Wire level: publish, republish, race and rollback against a real S3 implementation —
//! moto's server (`pip install 'moto[server]'`, see .ci/python-deps) — through
//! object_store's S3 client with conditional puts (If-None-Match / If-Match, real 412s).
//! Each test starts its own moto on a free loopback port and uses a fresh bucket. If moto
//! cannot be started the test fails: it is not skipped.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use netboot_store::object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use netboot_store::publish::{self, PublishOptions, Silent};
use netboot_store::{Location, StoreError, gc, history, rollback};
use netboot_testkit::CountingStore as Counting;
use netboot_testkit::Emulator;
use netboot_testkit::published::{counted, make_bundle, publish, race, read_complete, rt};
use tempfile::TempDir;

fn bucket(moto: &Emulator, name: &str) -> Location {
    ureq::put(&format!("{}/{name}", moto.base))
        .send_empty()
        .unwrap();
    netboot_store::install_crypto_provider();
    let s3 = AmazonS3Builder::new()
        .with_endpoint(&moto.base)
        .with_allow_http(true)
        .with_bucket_name(name)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_retry(netboot_store::retry_config())
        .build()
        .unwrap();
    Location::new(
        Arc::new(s3),
        "fleet/prod",
        format!("s3://{name}/fleet/prod"),
    )
}

#[test]
fn s3_publish_republish_race_rollback() {
    let moto = Emulator::moto();
    let target = bucket(&moto, "netboot-a");
    let tmp = TempDir::new().unwrap();
    let a = (
        tmp.path().join("a"),
        make_bundle(&tmp.path().join("a"), 20, "a"),
    );
    let b = (
        tmp.path().join("b"),
        make_bundle(&tmp.path().join("b"), 21, "b"),
    );
    let c = (
        tmp.path().join("c"),
        make_bundle(&tmp.path().join("c"), 21, "c"),
    );
    let (counted_target, counts) = counted(&target);
    rt().block_on(async {
        let first = publish(&a.0, &counted_target).await.unwrap();
        assert_eq!(first.uploaded, 23);
        assert_eq!(read_complete(&target).await, a.1);

        counts.reset();
        let again = publish(&a.0, &counted_target).await.unwrap();
        assert_eq!((again.uploaded, again.record), (0, None));
        assert_eq!(Counting::count(&counts.puts), 0);
        assert_eq!(Counting::count(&counts.gets), 1);
        assert_eq!(Counting::count(&counts.lists), 1);

        // Race: both plans read the same ETag; moto answers the second If-Match with 412.
        let plan_b = publish::plan_publish(&b.0, &target).await.unwrap();
        let plan_c = publish::plan_publish(&c.0, &target).await.unwrap();
        let quiet = Silent;
        let options = PublishOptions::default();
        publish::execute_publish(&plan_b, &target, &options, &quiet)
            .await
            .unwrap();
        let err = publish::execute_publish(&plan_c, &target, &options, &quiet)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { expected: Some(e), found: Some(f), .. } if e == a.1 && f == b.1),
            "{err}"
        );
        assert_eq!(read_complete(&target).await, b.1);

        // Concurrently, too: exactly one wins.
        let plan_a = publish::plan_publish(&a.0, &target).await.unwrap();
        let plan_c = publish::plan_publish(&c.0, &target).await.unwrap();
        let (ra, rc) = tokio::join!(
            publish::execute_publish(&plan_a, &target, &options, &quiet),
            publish::execute_publish(&plan_c, &target, &options, &quiet),
        );
        assert!(ra.is_ok() != rc.is_ok(), "{ra:?} {rc:?}");
        let winner = if ra.is_ok() { a.1 } else { c.1 };
        assert_eq!(read_complete(&target).await, winner);

        // Rollback with the same conditional write.
        let plan = rollback::plan_rollback(&target, None).await.unwrap();
        assert_eq!(plan.to, b.1);
        rollback::execute_rollback(&plan, &target).await.unwrap();
        assert_eq!(read_complete(&target).await, b.1);
        let history = history::read_history(&target, None).await.unwrap().entries;
        assert_eq!(history.len(), 4);

        // A stale rollback plan loses.
        let stale = rollback::plan_rollback(&target, Some(&a.1.hex()[..8])).await.unwrap();
        publish(&c.0, &target).await.unwrap();
        let err = rollback::execute_rollback(&stale, &target).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        assert_eq!(read_complete(&target).await, c.1);
    });
}

#[test]
fn s3_multipart_and_gc() {
    let moto = Emulator::moto();
    let target = bucket(&moto, "netboot-b");
    let tmp = TempDir::new().unwrap();
    let a = (
        tmp.path().join("a"),
        make_bundle(&tmp.path().join("a"), 3, "a"),
    );
    let b = (
        tmp.path().join("b"),
        make_bundle(&tmp.path().join("b"), 3, "b"),
    );
    rt().block_on(async {
        // Every object multipart (one part each: they are small).
        let options = PublishOptions {
            multipart_threshold: 0,
            ..PublishOptions::default()
        };
        let plan = publish::plan_publish(&a.0, &target).await.unwrap();
        let report = publish::execute_publish(&plan, &target, &options, &Silent)
            .await
            .unwrap();
        assert_eq!(report.uploaded, 6);
        assert_eq!(read_complete(&target).await, a.1);
        publish(&b.0, &target).await.unwrap();
        let later = std::time::SystemTime::now() + Duration::from_secs(5);
        let plan = gc::plan_gc(&target, 1, Duration::ZERO, later)
            .await
            .unwrap();
        assert!(!plan.delete.is_empty());
        gc::execute_gc(&plan, &target).await.unwrap();
        assert_eq!(read_complete(&target).await, b.1);
    });
}

/// Publish, gc and rollback racing on a real S3 wire (412s decide the fence and `current`),
/// many times, each round on a fresh bucket: `current` always names a complete release.
#[test]
fn s3_racing_publish_gc_and_rollback_never_lose_a_reachable_object() {
    let moto = Emulator::moto();
    let tmp = TempDir::new().unwrap();
    let bundle = |name: &str, machines: usize| {
        let path = tmp.path().join(name);
        make_bundle(&path, machines, name);
        path
    };
    let (a, b, c) = (bundle("a", 5), bundle("b", 6), bundle("c", 7));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    for round in 0..12 {
        let target = bucket(&moto, &format!("netboot-race-{round}"));
        runtime.block_on(async {
            for bundle in [&a, &b, &c] {
                publish(bundle, &target).await.unwrap();
            }
            let outcomes = race(&target, &a).await;
            println!("round {round}: {outcomes:?}");
            read_complete(&target).await;
            let history = history::read_history(&target, None).await.unwrap();
            assert!(history.broken.is_none(), "round {round}: {history:?}");
        });
    }
}

/// The command line with credentials and endpoint from the environment, as in CI.
#[test]
fn s3_cli_from_environment() {
    let moto = Emulator::moto();
    bucket(&moto, "netboot-c");
    let tmp = TempDir::new().unwrap();
    let a = tmp.path().join("a");
    let digest = make_bundle(&a, 4, "a");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_netbootc"))
            .args(args)
            .env("AWS_ENDPOINT", &moto.base)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let a = a.display().to_string();
    let (code, out) = run(&["publish", "s3://netboot-c/site", "--from", &a]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("published {digest}")), "{out}");
    let (code, out) = run(&["publish", "s3://netboot-c/site", "--from", &a]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("uploaded  0 objects"), "{out}");
    let (code, out) = run(&["releases", "s3://netboot-c/site"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&digest.hex()[..12]), "{out}");
}
