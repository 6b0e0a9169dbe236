//! publish / releases / rollback / gc on object_store's `InMemory` and `LocalFileSystem`.
#![allow(clippy::unwrap_used)]

mod publish_common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use netboot_bundle::{Digest, Pointer};
use netbootc::publish::{self, PublishError, PublishOptions};
use netbootc::release;
use netbootc::store::Target;
use object_store::memory::InMemory;
use object_store::{ObjectStoreExt, PutPayload};
use publish_common::{Counting, counted, make_bundle, publish, publish_with, read_complete, rt};
use tempfile::TempDir;

/// The two kinds of store under test; each call gives a fresh, empty one.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Memory,
    Local,
}

struct Fresh {
    target: Target,
    _dir: Option<TempDir>,
}

fn fresh(kind: Kind) -> Fresh {
    match kind {
        Kind::Memory => Fresh {
            target: Target::new(
                Arc::new(InMemory::new()),
                "fleet/prod",
                "memory://fleet/prod",
            ),
            _dir: None,
        },
        Kind::Local => {
            let dir = TempDir::new().unwrap();
            Fresh {
                target: Target::local(&dir.path().join("bucket"), true).unwrap(),
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
        let (_, manifest) = publish::load_current(&store.target).await.unwrap();
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
        assert!(
            release::read_pointer(&target)
                .await
                .unwrap()
                .pointer
                .is_none()
        );
    });
}

/// Crash after every single upload (the k-th put fails, and so does every one after it)
/// and right before the pointer write: readers still see the old, complete release; the
/// next publish completes.
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
                let err = publish_with(&b.b.0, &target, &options).await.unwrap_err();
                assert!(
                    matches!(err, PublishError::Store { .. }),
                    "{kind:?} k={k}: {err}"
                );
                assert_eq!(read_complete(&store.target).await, b.a.1, "{kind:?} k={k}");
                // Recovery: the same publish again completes, re-using what was uploaded.
                let report = publish(&b.b.0, &store.target).await.unwrap();
                assert!(report.record.is_some());
                assert_eq!(read_complete(&store.target).await, b.b.1, "{kind:?} k={k}");
                let history = release::history(
                    &store.target,
                    release::read_pointer(&store.target)
                        .await
                        .unwrap()
                        .pointer
                        .as_ref(),
                    None,
                )
                .await
                .unwrap();
                assert_eq!(history.len(), 2, "{kind:?} k={k}");
            });
        }
    }
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
            let quiet = publish::Progress::quiet();
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
                matches!(loser, PublishError::Conflict { expected: Some(e), .. } if *e == b.a.1),
                "{kind:?}: {loser}"
            );
            assert_eq!(loser.exit_code(), 1);
            assert_eq!(read_complete(target).await, winner);
            let pointer = release::read_pointer(target).await.unwrap().pointer;
            let history = release::history(target, pointer.as_ref(), None)
                .await
                .unwrap();
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
            assert!(matches!(err, PublishError::Conflict { .. }), "{err}");
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

            let plan = publish::plan_rollback(target, None).await.unwrap();
            assert_eq!((plan.from, plan.to), (b.c.1, b.b.1));
            publish::execute_rollback(&plan, target).await.unwrap();
            assert_eq!(read_complete(target).await, b.b.1);

            let pointer = release::read_pointer(target).await.unwrap().pointer;
            let history = release::history(target, pointer.as_ref(), None)
                .await
                .unwrap();
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
            let plan = publish::plan_rollback(target, Some(prefix)).await.unwrap();
            assert_eq!(plan.to, b.a.1);
            // A publish in between makes that plan stale: conflict, nothing changes.
            publish(&b.c.0, target).await.unwrap();
            let err = publish::execute_rollback(&plan, target).await.unwrap_err();
            assert!(matches!(err, PublishError::Conflict { .. }), "{err}");
            assert_eq!(read_complete(target).await, b.c.1);

            let err = publish::plan_rollback(target, Some("ffffffffff"))
                .await
                .unwrap_err();
            assert!(matches!(err, PublishError::NoSuchRelease(_)), "{err}");
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
        let pointer = release::read_pointer(target).await.unwrap().pointer;
        let history = release::history(target, pointer.as_ref(), None)
            .await
            .unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].detail.as_ref().unwrap().action, "adopted");
        let plan = publish::plan_rollback(target, None).await.unwrap();
        publish::execute_rollback(&plan, target).await.unwrap();
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
            let (before, _) = release::list_objects(target).await.unwrap();

            // Within the grace period nothing goes.
            let plan = publish::plan_gc(target, 1, Duration::from_secs(3600), SystemTime::now())
                .await
                .unwrap();
            assert!(plan.delete.is_empty() && plan.young > 0, "{kind:?}");

            // Keep 2: a's own objects go; b's and c's, and every record, stay.
            let later = SystemTime::now() + Duration::from_secs(2);
            let plan = publish::plan_gc(target, 2, Duration::ZERO, later)
                .await
                .unwrap();
            assert!(!plan.delete.is_empty(), "{kind:?}");
            let deleted = publish::execute_gc(&plan, target).await.unwrap();
            assert_eq!(deleted, plan.delete.len());
            let (after, _) = release::list_objects(target).await.unwrap();
            assert_eq!(after.len(), before.len() - deleted);
            assert_eq!(read_complete(target).await, b.c.1);

            let pointer = release::read_pointer(target).await.unwrap().pointer;
            let history = release::history(target, pointer.as_ref(), None)
                .await
                .unwrap();
            assert_eq!(history.len(), 3, "{kind:?}: every record survives");
            for entry in &history[..2] {
                let manifest = release::read_manifest(target, &entry.manifest)
                    .await
                    .unwrap();
                for d in release::reachable_from(&entry.manifest, &manifest) {
                    assert!(after.contains_key(&d), "{kind:?}: reachable {d} deleted");
                }
            }
            // b is still a complete rollback target; a is not, and says so.
            let plan = publish::plan_rollback(target, Some(&b.b.1.to_string()))
                .await
                .unwrap();
            assert_eq!(plan.to, b.b.1);
            let err = publish::plan_rollback(target, Some(&b.a.1.to_string()))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("gc"), "{err}");

            // A gc plan made before a publish is refused afterwards.
            let plan = publish::plan_gc(target, 1, Duration::ZERO, later)
                .await
                .unwrap();
            publish(&b.a.0, target).await.unwrap();
            let err = publish::execute_gc(&plan, target).await.unwrap_err();
            assert!(matches!(err, PublishError::Conflict { .. }), "{err}");
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
        assert!(matches!(err, PublishError::CorruptSource { .. }), "{err}");
        assert_ne!(read_complete(&store.target).await, digest);
    });
}

/// `--concurrency` really overlaps uploads: with a 25 ms round trip per put, 16 in flight
/// beat one at a time by far.
#[test]
fn uploads_overlap_up_to_the_concurrency() {
    let tmp = TempDir::new().unwrap();
    make_bundle(tmp.path(), 45, "x");
    let timed = |concurrency: usize| {
        let store = fresh(Kind::Memory);
        let (target, counts) = counted(&store.target);
        counts.put_delay_ms.store(25, Ordering::SeqCst);
        rt().block_on(async {
            let options = PublishOptions {
                concurrency,
                ..PublishOptions::default()
            };
            let started = std::time::Instant::now();
            let report = publish_with(tmp.path(), &target, &options).await.unwrap();
            assert_eq!(report.uploaded, 48);
            started.elapsed()
        })
    };
    let serial = timed(1);
    let parallel = timed(16);
    assert!(serial >= Duration::from_millis(48 * 25), "{serial:?}");
    assert!(
        parallel * 4 < serial,
        "serial {serial:?}, parallel {parallel:?}"
    );
}

#[test]
fn durations_parse() {
    let d = publish::parse_duration;
    assert_eq!(d("24h"), Ok(Duration::from_secs(86_400)));
    assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(d("0"), Ok(Duration::ZERO));
    assert_eq!(d("2w"), Ok(Duration::from_secs(1_209_600)));
    assert!(d("12").is_ok() && d("3x").is_err() && d("h").is_err() && d("5h3").is_err());
}

/// The command line end to end on a directory store.
#[test]
fn cli_publish_republish_releases_rollback_gc_diff() {
    let b = bundles();
    let tmp = TempDir::new().unwrap();
    let store = tmp.path().join("store");
    let url = format!("file://{}", store.display());
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_netbootc"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let from = |p: &Path| p.display().to_string();

    let (code, out, _) = run(&["publish", &url, "--from", &from(&b.a.0), "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("upload    8 objects") && out.contains("dry run"),
        "{out}"
    );
    assert!(!store.join("current").exists(), "dry run wrote");

    let (code, out, err) = run(&["publish", &url, "--from", &from(&b.a.0)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("published {}", b.a.1)), "{out}");
    let (code, out, _) = run(&["publish", &url, "--from", &from(&b.a.0)]);
    assert_eq!(code, 0);
    assert!(
        out.contains("uploaded  0 objects") && out.contains("untouched"),
        "{out}"
    );

    let (code, out, _) = run(&["diff", &url, &from(&b.b.0)]);
    assert_eq!(code, 0);
    assert!(
        out.contains("machines: 1 added, 0 removed, 5 changed"),
        "{out}"
    );

    let (code, _, _) = run(&["publish", &url, "--from", &from(&b.b.0)]);
    assert_eq!(code, 0);
    let (code, out, _) = run(&["releases", &url]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with('*'), "{out}");

    let (code, out, _) = run(&["releases", &url, "--json"]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[0]["manifest"], b.b.1.to_string());
    assert_eq!(list[1]["action"], "publish");
    assert_eq!(list.as_array().unwrap().len(), 2);

    let (code, out, _) = run(&["rollback", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("rolled back {url} to {}", b.a.1)),
        "{out}"
    );

    let (code, out, _) = run(&["gc", &url, "--keep", "1", "--grace", "0s", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("dry run: nothing was deleted"), "{out}");
    // Not on a terminal: deleting needs --yes.
    let (code, _, err) = run(&["gc", &url, "--keep", "1", "--grace", "0s"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = run(&["gc", &url, "--keep", "1", "--grace", "0s", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("deleted"), "{out}");

    let (code, _, err) = run(&["rollback", "s3:///x"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn credentials_in_the_location_are_refused_and_never_echoed() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netbootc"))
        .args([
            "publish",
            "s3://AKIAEXAMPLE:SeCrEt@bucket/prefix",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("credentials do not belong"), "{stderr}");
    assert!(
        !stderr.contains("SeCrEt") && !stderr.contains("AKIAEXAMPLE"),
        "{stderr}"
    );
}
