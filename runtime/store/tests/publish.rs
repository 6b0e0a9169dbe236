//! publish / releases / rollback / gc on object_store's `InMemory` and `LocalFileSystem`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use netboot_bundle::{Digest, Pointer};
use netboot_store::object_store::memory::InMemory;
use netboot_store::object_store::{self, ObjectStoreExt, PutPayload};
use netboot_store::publish::{self, PublishOptions, Silent};
use netboot_store::{Location, StoreError, gc, history, read, rollback};
use netboot_testkit::CountingStore as Counting;
use netboot_testkit::published::{counted, make_bundle, publish, publish_with, read_complete, rt};
use tempfile::TempDir;

/// The two kinds of store under test; each call gives a fresh, empty one.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Memory,
    Local,
}

struct Fresh {
    target: Location,
    _dir: Option<TempDir>,
}

fn fresh(kind: Kind) -> Fresh {
    match kind {
        Kind::Memory => Fresh {
            target: Location::new(
                Arc::new(InMemory::new()),
                "fleet/prod",
                "memory://fleet/prod",
            ),
            _dir: None,
        },
        Kind::Local => {
            let dir = TempDir::new().unwrap();
            Fresh {
                target: Location::local(&dir.path().join("bucket"), true).unwrap(),
                _dir: Some(dir),
            }
        }
    }
}

const KINDS: [Kind; 2] = [Kind::Memory, Kind::Local];

struct Bundles {
    _dir: TempDir,
    a: (std::path::PathBuf, Digest),
    b: (std::path::PathBuf, Digest),
    c: (std::path::PathBuf, Digest),
}

/// Three releases: b changes two machines of a and adds one; c changes one more.
fn bundles() -> Bundles {
    let dir = TempDir::new().unwrap();
    let make = |name: &str, machines: usize, variant: &str| {
        let path = dir.path().join(name);
        let digest = make_bundle(&path, machines, variant);
        (path, digest)
    };
    let a = make("a", 5, "a");
    let b = make("b", 6, "b");
    let c = make("c", 6, "c");
    Bundles { _dir: dir, a, b, c }
}

#[test]
fn publish_then_republish_uploads_nothing() {
    let b = bundles();
    for kind in KINDS {
        let store = fresh(kind);
        let (target, counts) = counted(&store.target);
        rt().block_on(async {
            let first = publish(&b.a.0, &target).await.unwrap();
            assert_eq!(first.manifest, b.a.1);
            assert_eq!(
                first.uploaded, 8,
                "{kind:?}: 5 scripts, boot, images, manifest"
            );
            assert_eq!(first.skipped, 0);
            assert!(first.record.is_some());
            assert_eq!(first.previous, None);
            assert_eq!(read_complete(&target).await, b.a.1);
            let pointer_before = target.store.get(&target.key("current")).await.unwrap();
            let pointer_before = pointer_before.bytes().await.unwrap();

            counts.reset();
            let again = publish(&b.a.0, &target).await.unwrap();
            assert_eq!(again.uploaded, 0, "{kind:?}");
            assert_eq!(again.record, None, "{kind:?}: current untouched");
            assert_eq!(again.skipped, 8);
            assert_eq!(Counting::count(&counts.puts), 0, "{kind:?}: no writes");
            assert_eq!(Counting::count(&counts.multiparts), 0);
            assert_eq!(
                Counting::count(&counts.gets),
                1,
                "{kind:?}: one read of current"
            );
            assert_eq!(Counting::count(&counts.lists), 1, "{kind:?}: one listing");
            let pointer_after = target.store.get(&target.key("current")).await.unwrap();
            assert_eq!(pointer_after.bytes().await.unwrap(), pointer_before);

            // The next release uploads only what changed, and names the one it replaced.
            let second = publish(&b.b.0, &target).await.unwrap();
            assert_eq!(second.previous, Some(b.a.1));
            assert_eq!(second.previous_record, first.record);
            assert!(second.uploaded < 9 && second.skipped >= 1, "{second:?}");
            assert_eq!(read_complete(&target).await, b.b.1);
        });
    }
}

#[test]
fn objects_carry_cache_control_and_content_type() {
    let b = bundles();
    let store = fresh(Kind::Memory);
    rt().block_on(async {
        publish(&b.a.0, &store.target).await.unwrap();
        let (_, manifest) = read::read_current(&store.target).await.unwrap();
        let route = &manifest.routes["boot.ipxe"];
        let key = store
            .target
            .key(&netboot_bundle::object_path(&route.object));
        let got = store.target.store.get(&key).await.unwrap();
        let attr = |a| got.attributes.get(&a).map(|v| v.to_string());
        assert_eq!(
            attr(object_store::Attribute::CacheControl).as_deref(),
            Some(netboot_bundle::CACHE_IMMUTABLE)
        );
        assert_eq!(
            attr(object_store::Attribute::ContentType).as_deref(),
            Some("text/plain; charset=utf-8")
        );
        let current = store
            .target
            .store
            .get(&store.target.key("current"))
            .await
            .unwrap();
        assert_eq!(
            current
                .attributes
                .get(&object_store::Attribute::CacheControl)
                .map(|v| v.to_string())
                .as_deref(),
            Some("no-cache")
        );
    });
}

#[test]
fn dry_run_plan_touches_nothing() {
    let b = bundles();
    let store = fresh(Kind::Memory);
    let (target, counts) = counted(&store.target);
    rt().block_on(async {
        let plan = publish::plan_publish(&b.a.0, &target).await.unwrap();
        assert_eq!(plan.upload.len(), 8);
        assert!(plan.changes_pointer);
        assert_eq!(Counting::count(&counts.puts), 0);
        assert!(read::read_pointer(&target).await.unwrap().pointer.is_none());
    });
}

/// Crash after every single put (the k-th fails, and so does every one after it): uploads,
/// entering the fence, the record, the pointer. Readers still see the old, complete
/// release; the next publish completes. The last put is leaving the fence, after the
/// pointer moved: that publish has succeeded (its fence entry expires on its own).
#[test]
fn a_crash_at_any_point_leaves_the_old_release() {
    let b = bundles();
    for kind in KINDS {
        // How many puts a successful publish of b over a makes.
        let total = {
            let store = fresh(kind);
            rt().block_on(async {
                publish(&b.a.0, &store.target).await.unwrap();
                let (target, counts) = counted(&store.target);
                publish(&b.b.0, &target).await.unwrap();
                Counting::count(&counts.puts)
            })
        };
        assert!(total >= 4, "{kind:?}: {total}");
        for k in 0..total {
            let store = fresh(kind);
            rt().block_on(async {
                publish(&b.a.0, &store.target).await.unwrap();
                let (target, counts) = counted(&store.target);
                counts.fail_after.store(k, Ordering::SeqCst);
                let options = PublishOptions {
                    concurrency: 1,
                    ..PublishOptions::default()
                };
                match publish_with(&b.b.0, &target, &options).await {
                    Err(err) => {
                        assert!(
                            matches!(
                                err,
                                StoreError::Store { .. } | StoreError::WriteFailed { .. }
                            ),
                            "{kind:?} k={k}: {err}"
                        );
                        assert_eq!(read_complete(&store.target).await, b.a.1, "{kind:?} k={k}");
                        // Recovery: the same publish again completes, re-using what was
                        // uploaded.
                        let report = publish(&b.b.0, &store.target).await.unwrap();
                        assert!(report.record.is_some());
                    }
                    Ok(report) => {
                        assert_eq!(k, total - 1, "{kind:?}: only leaving the fence may fail");
                        assert!(report.record.is_some());
                    }
                }
                assert_eq!(read_complete(&store.target).await, b.b.1, "{kind:?} k={k}");
                let history = history::read_history(&store.target, None)
                    .await
                    .unwrap()
                    .entries;
                assert_eq!(history.len(), 2, "{kind:?} k={k}");
            });
        }
    }
}

/// A conditional write of `current` (or the fence) whose answer is lost, after the store
/// applied it or before: the document read back decides, so the first is a success and the
/// second a clear "unchanged", never a guess.
#[test]
fn a_lost_answer_to_a_pointer_write_is_reconciled() {
    let b = bundles();
    let store = fresh(Kind::Memory);
    let (target, counts) = counted(&store.target);
    rt().block_on(async {
        publish(&b.a.0, &target).await.unwrap();
        for document in ["current", "fence"] {
            *counts.lose_replies_to.lock().unwrap() = Some(document);
            let (next, previous) = if document == "current" {
                (&b.b, b.a.1)
            } else {
                (&b.c, b.b.1)
            };
            let report = publish(&next.0, &target).await.unwrap();
            assert_eq!(report.previous, Some(previous), "{document}");
            assert_eq!(read_complete(&target).await, next.1, "{document}");
        }
        *counts.lose_replies_to.lock().unwrap() = None;

        // The write never lands: reported as unchanged, and the release stays.
        *counts.fail_puts_to.lock().unwrap() = Some("current");
        let plan = publish::plan_publish(&b.a.0, &target).await.unwrap();
        let err = publish::execute_publish(&plan, &target, &PublishOptions::default(), &Silent)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::WriteFailed {
                    document: "current",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("it is unchanged"), "{err}");
        assert_eq!(read_complete(&target).await, b.c.1);
    });
}

/// A store that accepts conditional puts and ignores them (some S3-compatibles) is found
/// by the probe and refused before `current` or the fence is written, unless the operator
/// allowed it; an honest store pays one refused create per operation for the probe.
#[test]
fn a_store_that_ignores_conditional_puts_is_refused_unless_allowed() {
    let b = bundles();
    let store = fresh(Kind::Memory);
    let (target, counts) = counted(&store.target);
    counts.ignore_conditions.store(true, Ordering::SeqCst);
    rt().block_on(async {
        let err = publish(&b.a.0, &target).await.unwrap_err();
        assert!(matches!(err, StoreError::Unsupported(_)), "{err}");
        assert!(
            err.to_string().contains("ignores conditional writes"),
            "{err}"
        );
        assert!(
            err.to_string().contains("--allow-unconditional-store"),
            "{err}"
        );
        for never in ["current", "fence"] {
            let head = target.store.head(&target.key(never)).await;
            assert!(
                matches!(head, Err(object_store::Error::NotFound { .. })),
                "{never}"
            );
        }
        let mut allowed = target.clone();
        allowed.allow_unconditional = true;
        publish(&b.a.0, &allowed).await.unwrap();
        assert_eq!(read_complete(&target).await, b.a.1);

        counts.ignore_conditions.store(false, Ordering::SeqCst);
        counts.reset();
        let plan = publish::plan_publish(&b.b.0, &target).await.unwrap();
        let puts_for_uploads = plan.upload.len();
        publish::execute_publish(&plan, &target, &PublishOptions::default(), &Silent)
            .await
            .unwrap();
        // Uploads; one probe; the fence in and out; a record; current.
        assert_eq!(Counting::count(&counts.puts), puts_for_uploads + 5);
        assert_eq!(read_complete(&target).await, b.b.1);
    });
}

#[test]
fn of_two_racing_publishers_exactly_one_wins() {
    let b = bundles();
    for kind in KINDS {
        let store = fresh(kind);
        let target = &store.target;
        rt().block_on(async {
            publish(&b.a.0, target).await.unwrap();
            // Both read `current` (a) before either writes.
            let plan_b = publish::plan_publish(&b.b.0, target).await.unwrap();
            let plan_c = publish::plan_publish(&b.c.0, target).await.unwrap();
            let quiet = Silent;
            let options = PublishOptions::default();
            let (rb, rc) = tokio::join!(
                publish::execute_publish(&plan_b, target, &options, &quiet),
                publish::execute_publish(&plan_c, target, &options, &quiet),
            );
            let (winner, loser) = match (&rb, &rc) {
                (Ok(_), Err(e)) => (b.b.1, e),
                (Err(e), Ok(_)) => (b.c.1, e),
                other => panic!("{kind:?}: not exactly one winner: {other:?}"),
            };
            assert!(
                matches!(loser, StoreError::Conflict { expected: Some(e), .. } if *e == b.a.1),
                "{kind:?}: {loser}"
            );
            assert_eq!(loser.exit_code(), 1);
            assert_eq!(read_complete(target).await, winner);
            let history = history::read_history(target, None).await.unwrap().entries;
            assert_eq!(
                history.len(),
                2,
                "{kind:?}: the loser left no trace in history"
            );

            // Sequential variant: a stale plan always loses.
            let stale = publish::plan_publish(&b.a.0, target).await.unwrap();
            publish(&b.c.0, target).await.ok();
            publish(&b.b.0, target).await.unwrap();
            let err = publish::execute_publish(&stale, target, &options, &quiet)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
            assert_eq!(read_complete(target).await, b.b.1);
        });
    }
}

#[test]
fn releases_and_rollback() {
    let b = bundles();
    for kind in KINDS {
        let store = fresh(kind);
        let target = &store.target;
        rt().block_on(async {
            publish(&b.a.0, target).await.unwrap();
            publish(&b.b.0, target).await.unwrap();
            publish(&b.c.0, target).await.unwrap();

            let plan = rollback::plan_rollback(target, None).await.unwrap();
            assert_eq!((plan.from, plan.to), (b.c.1, b.b.1));
            rollback::execute_rollback(&plan, target).await.unwrap();
            assert_eq!(read_complete(target).await, b.b.1);

            let history = history::read_history(target, None).await.unwrap().entries;
            let seen: Vec<(Digest, &str)> = history
                .iter()
                .map(|e| (e.manifest, e.detail.as_ref().unwrap().action.as_str()))
                .collect();
            assert_eq!(
                seen,
                vec![
                    (b.b.1, "rollback"),
                    (b.c.1, "publish"),
                    (b.b.1, "publish"),
                    (b.a.1, "publish")
                ],
                "{kind:?}"
            );

            // --to by a hex prefix of the manifest digest.
            let prefix = &b.a.1.hex()[..10];
            let plan = rollback::plan_rollback(target, Some(prefix)).await.unwrap();
            assert_eq!(plan.to, b.a.1);
            // A publish in between makes that plan stale: conflict, nothing changes.
            publish(&b.c.0, target).await.unwrap();
            let err = rollback::execute_rollback(&plan, target).await.unwrap_err();
            assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
            assert_eq!(read_complete(target).await, b.c.1);

            let err = rollback::plan_rollback(target, Some("ffffffffff"))
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::NoSuchRelease(_)), "{err}");
        });
    }
}

#[test]
fn a_pointer_without_history_is_adopted() {
    let b = bundles();
    let store = fresh(Kind::Memory);
    let target = &store.target;
    rt().block_on(async {
        // As `netbootc build` leaves it: objects plus a bare pointer.
        publish(&b.a.0, target).await.unwrap();
        target
            .store
            .put(
                &target.key("current"),
                PutPayload::from(Pointer::new(b.a.1).to_canonical()),
            )
            .await
            .unwrap();
        publish(&b.b.0, target).await.unwrap();
        let history = history::read_history(target, None).await.unwrap().entries;
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].detail.as_ref().unwrap().action, "adopted");
        let plan = rollback::plan_rollback(target, None).await.unwrap();
        rollback::execute_rollback(&plan, target).await.unwrap();
        assert_eq!(read_complete(target).await, b.a.1);
    });
}

#[test]
fn gc_deletes_only_unreachable_objects_past_the_grace_period() {
    let b = bundles();
    for kind in KINDS {
        let store = fresh(kind);
        let target = &store.target;
        rt().block_on(async {
            publish(&b.a.0, target).await.unwrap();
            publish(&b.b.0, target).await.unwrap();
            publish(&b.c.0, target).await.unwrap();
            let (before, _) = read::list_objects(target).await.unwrap();

            // Within the grace period nothing goes.
            let plan = gc::plan_gc(target, 1, Duration::from_secs(3600), SystemTime::now())
                .await
                .unwrap();
            assert!(plan.delete.is_empty() && plan.young > 0, "{kind:?}");

            // Keep 2: a's own objects go; b's and c's, and every record, stay.
            let later = SystemTime::now() + Duration::from_secs(2);
            let plan = gc::plan_gc(target, 2, Duration::ZERO, later).await.unwrap();
            assert!(!plan.delete.is_empty(), "{kind:?}");
            let deleted = gc::execute_gc(&plan, target).await.unwrap();
            assert_eq!(deleted, plan.delete.len());
            let (after, _) = read::list_objects(target).await.unwrap();
            assert_eq!(after.len(), before.len() - deleted);
            assert_eq!(read_complete(target).await, b.c.1);

            let history = history::read_history(target, None).await.unwrap().entries;
            assert_eq!(history.len(), 3, "{kind:?}: every record survives");
            for entry in &history[..2] {
                let manifest = read::read_manifest(target, &entry.manifest).await.unwrap();
                let reachable = manifest.referenced().into_keys().chain([entry.manifest]);
                for d in reachable {
                    assert!(after.contains_key(&d), "{kind:?}: reachable {d} deleted");
                }
            }
            // b is still a complete rollback target; a is not, and says so.
            let plan = rollback::plan_rollback(target, Some(&b.b.1.to_string()))
                .await
                .unwrap();
            assert_eq!(plan.to, b.b.1);
            let err = rollback::plan_rollback(target, Some(&b.a.1.to_string()))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("gc"), "{err}");

            // A gc plan made before a publish is refused afterwards.
            let plan = gc::plan_gc(target, 1, Duration::ZERO, later).await.unwrap();
            publish(&b.a.0, target).await.unwrap();
            let err = gc::execute_gc(&plan, target).await.unwrap_err();
            assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
            assert_eq!(read_complete(target).await, b.a.1);
        });
    }
}

#[test]
fn large_objects_go_multipart() {
    let b = bundles();
    let store = fresh(Kind::Memory);
    let (target, counts) = counted(&store.target);
    rt().block_on(async {
        let options = PublishOptions {
            multipart_threshold: 40,
            part_size: 16,
            ..PublishOptions::default()
        };
        let report = publish_with(&b.a.0, &target, &options).await.unwrap();
        assert_eq!(report.uploaded, 8);
        assert!(Counting::count(&counts.multiparts) > 0);
        assert_eq!(read_complete(&target).await, b.a.1);
        counts.reset();
        let again = publish_with(&b.a.0, &target, &options).await.unwrap();
        assert_eq!(again.uploaded, 0);
        assert_eq!(Counting::count(&counts.multiparts), 0);
    });
}

#[test]
fn a_corrupt_local_object_is_refused_before_the_pointer_moves() {
    let b = bundles();
    let store = fresh(Kind::Memory);
    rt().block_on(async {
        publish(&b.a.0, &store.target).await.unwrap();
        let tmp = TempDir::new().unwrap();
        let digest = make_bundle(tmp.path(), 5, "z");
        let bundle = netboot_bundle::BundleDir::new(tmp.path());
        let (_, manifest) = bundle.open_current().unwrap().unwrap();
        let victim = manifest.routes["machines/by-name/node-000.ipxe"].object;
        let path = bundle.object_file(&victim);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err = publish(tmp.path(), &store.target).await.unwrap_err();
        assert!(matches!(err, StoreError::CorruptSource { .. }), "{err}");
        assert_ne!(read_complete(&store.target).await, digest);
    });
}

/// `--concurrency` really overlaps uploads: with a gate that holds every put until 16 are
/// in flight together, a publish at 16 completes (it would fail after the gate's limit
/// otherwise); one at a time never has two in flight.
#[test]
fn uploads_overlap_up_to_the_concurrency() {
    let tmp = TempDir::new().unwrap();
    make_bundle(tmp.path(), 45, "x");
    let most_in_flight = |concurrency: usize, gate: usize| {
        let store = fresh(Kind::Memory);
        let (target, counts) = counted(&store.target);
        counts.gate.store(gate, Ordering::SeqCst);
        rt().block_on(async {
            let options = PublishOptions {
                concurrency,
                ..PublishOptions::default()
            };
            let report = publish_with(tmp.path(), &target, &options).await.unwrap();
            assert_eq!(report.uploaded, 48);
        });
        Counting::count(&counts.max_in_flight)
    };
    assert_eq!(most_in_flight(1, 0), 1);
    assert_eq!(most_in_flight(16, 16), 16);
}
