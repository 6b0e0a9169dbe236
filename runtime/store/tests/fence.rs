//! The fence between gc and publish/rollback, and a history with a broken record, on
//! object_store's `InMemory` and `LocalFileSystem` (the S3 emulator runs the race too:
//! compiler/tests/store_s3.rs).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use netboot_bundle::Digest;
use netboot_store::fence::{self, Operation};
use netboot_store::object_store::memory::InMemory;
use netboot_store::object_store::{ObjectStoreExt, PutPayload};
use netboot_store::{Location, StoreError, gc, history, rollback};
use netboot_testkit::published::{make_bundle, publish, race, read_complete};
use tempfile::TempDir;

fn memory() -> Location {
    Location::new(Arc::new(InMemory::new()), "site", "memory://site")
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn gc_and_publish_exclude_each_other_and_publishes_share() {
    multi_thread().block_on(async {
        let location = memory();
        let ttl = Duration::from_secs(600);
        let first = fence::acquire(&location, Operation::Publish, ttl)
            .await
            .unwrap();
        let second = fence::acquire(&location, Operation::Rollback, ttl)
            .await
            .unwrap();
        let err = fence::acquire(&location, Operation::Gc, ttl)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Busy { .. }), "{err}");
        assert_eq!(err.exit_code(), 1);
        first.release().await.unwrap();
        second.release().await.unwrap();
        let gc = fence::acquire(&location, Operation::Gc, ttl).await.unwrap();
        for op in [Operation::Publish, Operation::Rollback, Operation::Gc] {
            let err = fence::acquire(&location, op, ttl).await.unwrap_err();
            assert!(err.to_string().contains("a gc is in progress"), "{err}");
        }
        gc.release().await.unwrap();
        // A holder that died without leaving blocks nobody once its entry expires.
        let crashed = fence::acquire(&location, Operation::Publish, Duration::from_secs(1))
            .await
            .unwrap();
        std::mem::forget(crashed);
        let expired = netboot_testkit::wait_until(Duration::from_secs(30), || {
            std::thread::sleep(Duration::from_millis(200));
            futures::executor::block_on(fence::acquire(&location, Operation::Gc, ttl)).is_ok()
        });
        assert!(expired, "an expired entry still blocks gc");
    });
}

/// Publish (re-using objects gc wants to delete), gc (keep 1, no grace) and rollback, all at
/// once, many times: whoever wins, `current` names a complete release and the history is
/// whole.
#[test]
fn racing_publish_gc_and_rollback_never_lose_a_reachable_object() {
    let tmp = TempDir::new().unwrap();
    let bundle = |name: &str, machines: usize| {
        let path = tmp.path().join(name);
        make_bundle(&path, machines, name);
        path
    };
    let (a, b, c) = (bundle("a", 5), bundle("b", 6), bundle("c", 7));
    let stores = tempfile::tempdir().unwrap();
    let runtime = multi_thread();
    let mut outcomes = std::collections::BTreeMap::new();
    for round in 0..60 {
        let location = if round % 2 == 0 {
            memory()
        } else {
            Location::local(&stores.path().join(round.to_string()), true).unwrap()
        };
        runtime.block_on(async {
            publish(&a, &location).await.unwrap();
            publish(&b, &location).await.unwrap();
            publish(&c, &location).await.unwrap();
            let results = race(&location, &a).await;
            for (name, result) in ["publish", "gc", "rollback"].iter().zip(&results) {
                let outcome = match result {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => format!("{e:?}")
                        .split([' ', '{', '('])
                        .next()
                        .unwrap()
                        .to_owned(),
                };
                *outcomes.entry(format!("{name}: {outcome}")).or_insert(0) += 1;
            }
            read_complete(&location).await;
            let history = history::read_history(&location, None).await.unwrap();
            assert!(history.broken.is_none(), "round {round}: {history:?}");
        });
    }
    // Which side wins each round is up to the scheduler; the tally is for the log.
    println!("{outcomes:#?}");
}

/// The interleaving the fence exists for, forced: a publish plans (finding old objects to
/// re-use), a whole gc deletes them, then the publish executes. It must not commit.
#[test]
fn a_publish_whose_objects_were_collected_after_planning_does_not_commit() {
    let tmp = TempDir::new().unwrap();
    let bundle = |name: &str, machines: usize| {
        let path = tmp.path().join(name);
        let digest = make_bundle(&path, machines, name);
        (path, digest)
    };
    let (a, b) = (bundle("a", 5), bundle("b", 6));
    multi_thread().block_on(async {
        let location = memory();
        publish(&a.0, &location).await.unwrap();
        publish(&b.0, &location).await.unwrap();
        let plan = netboot_store::publish::plan_publish(&a.0, &location)
            .await
            .unwrap();
        assert!(
            plan.upload.is_empty(),
            "a's objects are all there to re-use"
        );
        let later = SystemTime::now() + Duration::from_secs(5);
        let gc_plan = gc::plan_gc(&location, 1, Duration::ZERO, later)
            .await
            .unwrap();
        assert!(gc::execute_gc(&gc_plan, &location).await.unwrap() > 0);
        let err = netboot_store::publish::execute_publish(
            &plan,
            &location,
            &netboot_store::publish::PublishOptions::default(),
            &netboot_store::publish::Silent,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Incomplete { .. }), "{err}");
        assert_eq!(read_complete(&location).await, b.1);
    });
}

#[test]
fn a_broken_record_does_not_block_releases_or_rollback() {
    let tmp = TempDir::new().unwrap();
    let bundle = |name: &str, machines: usize| {
        let path = tmp.path().join(name);
        let digest = make_bundle(&path, machines, name);
        (path, digest)
    };
    let (a, b, c, d) = (
        bundle("a", 2),
        bundle("b", 3),
        bundle("c", 4),
        bundle("d", 5),
    );
    multi_thread().block_on(async {
        let location = memory();
        for bundle in [&a, &b, &c, &d] {
            publish(&bundle.0, &location).await.unwrap();
        }
        // Corrupt b's record (the second oldest): its bytes no longer match its name.
        let full = history::read_history(&location, None).await.unwrap();
        let b_record = full.entries[2].record.unwrap();
        location
            .store
            .put(
                &location.key(&netboot_bundle::object_path(&b_record)),
                PutPayload::from_static(b"{}"),
            )
            .await
            .unwrap();

        let history = history::read_history(&location, None).await.unwrap();
        let listed: Vec<Digest> = history.entries.iter().map(|e| e.manifest).collect();
        assert_eq!(listed, [d.1, c.1], "the readable part is listed");
        let broken = history.broken.unwrap();
        assert_eq!(broken.record, b_record);
        assert!(
            broken.reason.contains("does not match"),
            "{}",
            broken.reason
        );

        // Rolling back to c works; to a, past the break, says why it cannot.
        let err = rollback::plan_rollback(&location, Some(&a.1.to_string()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("history stops at record"), "{err}");
        let plan = rollback::plan_rollback(&location, None).await.unwrap();
        assert_eq!(plan.to, c.1);
        rollback::execute_rollback(&plan, &location).await.unwrap();
        assert_eq!(read_complete(&location).await, c.1);

        // gc plans, and flags the break (the CLI then asks for --force).
        let plan = gc::plan_gc(&location, 1, Duration::ZERO, SystemTime::now())
            .await
            .unwrap();
        assert!(plan.broken.is_some());
        assert!(plan.reachable.contains(&c.1));
    });
}
