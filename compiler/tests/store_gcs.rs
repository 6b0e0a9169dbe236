//! `gs://` end to end against Google's own GCS emulator (googleapis/storage-testbench,
//! installed by .ci/python-deps, with the test kit's wrapper for what it lacks against real
//! GCS: runtime/testkit/gcs-testbench/server.py). Every request goes through object_store's
//! real GCS client, XML API, conditional writes on `x-goog-if-generation-match`: publish,
//! republish, releases, diff, rollback, gc, multipart; then faults injected through the
//! testbench's Retry Test API into each operation publish, rollback and gc make; then
//! racing publishers. Each test starts its own emulator; if it cannot, the test fails.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use netboot_bundle::{Digest, object_path};
use netboot_store::object_store::ObjectStoreExt;
use netboot_store::publish::{self, PublishOptions, Silent};
use netboot_store::{Location, history, read};
use netboot_testkit::CountingStore as Counting;
use netboot_testkit::Emulator;
use netboot_testkit::published::{counted, make_bundle, read_complete, rt};
use tempfile::TempDir;

/// A bucket on the emulator as a [`Location`] under `site`.
fn location(gcs: &Emulator, bucket: &str) -> Location {
    let store = gcs.gcs_bucket(bucket);
    Location::new(Arc::new(store), "site", format!("gs://{bucket}/site"))
}

/// Runs netbootc with the emulator's credentials; returns (exit code, stdout + stderr).
fn netbootc(gcs: &Emulator, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netbootc"))
        .args(args)
        .env("GOOGLE_SERVICE_ACCOUNT_KEY", gcs.gcs_service_account())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn bundle(tmp: &TempDir, name: &str, machines: usize) -> (PathBuf, Digest) {
    let path = tmp.path().join(name);
    let digest = make_bundle(&path, machines, name);
    (path, digest)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The number `netbootc publish` printed as uploaded.
fn uploaded(out: &str) -> usize {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("uploaded"))
        .unwrap_or_else(|| panic!("no upload count in {out}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn object_exists(location: &Location, digest: &Digest) -> bool {
    let key = location.key(&object_path(digest));
    match location.store.head(&key).await {
        Ok(_) => true,
        Err(netboot_store::object_store::Error::NotFound { .. }) => false,
        Err(e) => panic!("HEAD {key}: {e}"),
    }
}

#[test]
fn gs_publish_republish_releases_diff_rollback_gc_and_multipart() {
    let gcs = Emulator::gcs_testbench();
    let target = location(&gcs, "netboot");
    let url = target.label.clone();
    let tmp = TempDir::new().unwrap();
    let (a, da) = bundle(&tmp, "a", 5);
    let (b, db) = bundle(&tmp, "b", 6);

    let (code, out) = netbootc(&gcs, &["publish", &url, "--from", path(&a)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("published {da}")), "{out}");
    assert_eq!(uploaded(&out), 8, "{out}");
    rt().block_on(async { assert_eq!(read_complete(&target).await, da) });

    // Republish: 0 uploads; one GET and one LIST, no write.
    let (code, out) = netbootc(&gcs, &["publish", &url, "--from", path(&a)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("uploaded  0 objects") && out.contains("untouched"),
        "{out}"
    );
    let (counted_target, counts) = counted(&target);
    rt().block_on(async {
        let plan = publish::plan_publish(&a, &counted_target).await.unwrap();
        let report =
            publish::execute_publish(&plan, &counted_target, &PublishOptions::default(), &Silent)
                .await
                .unwrap();
        assert_eq!((report.uploaded, report.record), (0, None));
    });
    assert_eq!(Counting::count(&counts.puts), 0);
    assert_eq!(Counting::count(&counts.gets), 1);
    assert_eq!(Counting::count(&counts.lists), 1);

    let (code, out) = netbootc(&gcs, &["diff", &url, path(&b)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("machines: 1 added, 0 removed, 5 changed"),
        "{out}"
    );
    let (code, out) = netbootc(&gcs, &["publish", &url, "--from", path(&b)]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = netbootc(&gcs, &["releases", &url]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.lines().nth(1).unwrap().starts_with('*') && out.contains(&db.hex()[..12]),
        "{out}"
    );

    let (code, out) = netbootc(&gcs, &["rollback", &url, "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{db} → {da}")), "{out}");
    let (code, out) = netbootc(&gcs, &["rollback", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("rolled back {url} to {da}")), "{out}");
    rt().block_on(async { assert_eq!(read_complete(&target).await, da) });

    // gc: with a grace period nothing just written goes; without one, b's own objects do.
    let b_only = Digest::of(b"#!ipxe\necho node-005 b\n");
    let (code, out) = netbootc(&gcs, &["gc", &url, "--keep", "1", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("delete    0 objects"), "{out}");
    let gc = [
        "gc", &url, "--keep", "1", "--grace", "0s", "--force", "--yes",
    ];
    let (code, out) = netbootc(&gcs, &gc);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deleted 8 objects"), "{out}");
    rt().block_on(async {
        assert_eq!(read_complete(&target).await, da);
        assert!(!object_exists(&target, &b_only).await);
        let history = history::read_history(&target, None).await.unwrap();
        assert!(history.broken.is_none(), "{history:?}");
        assert_eq!(history.entries.len(), 3);
    });

    // Multipart (XML API uploads in parts) for every object of a third release.
    let (c, dc) = bundle(&tmp, "c", 3);
    rt().block_on(async {
        let options = PublishOptions {
            multipart_threshold: 0,
            ..PublishOptions::default()
        };
        let plan = publish::plan_publish(&c, &target).await.unwrap();
        let report = publish::execute_publish(&plan, &target, &options, &Silent)
            .await
            .unwrap();
        assert_eq!(report.uploaded, 5);
        assert_eq!(read_complete(&target).await, dc);
        let key = target.key(&object_path(&Digest::of(b"#!ipxe\necho node-000 c\n")));
        let got = target.store.get(&key).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"#!ipxe\necho node-000 c\n");
    });
}

/// What an injected fault must leave behind.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// The command finishes despite the fault (object_store retried).
    Finishes,
    /// The command exits non-zero with this in its message.
    Fails(&'static str),
}

const INSERT: &str = "storage.objects.insert";
const GET: &str = "storage.objects.get";
const LIST: &str = "storage.objects.list";
const DELETE: &str = "storage.objects.delete";
/// A path suffix that stands for the key of the object [`aim`] is given.
const ONE_OBJECT: &str = "<one object>";

/// The path suffix that faults are injected on: `ONE_OBJECT` becomes `object`'s key.
fn aim(path_suffix: &str, object: &[u8]) -> String {
    match path_suffix {
        ONE_OBJECT => Digest::of(object).hex(),
        other => other.to_owned(),
    }
}

/// One fault case: which requests (by path suffix), which faults, and the outcome.
struct Fault {
    name: &'static str,
    path_suffix: &'static str,
    faults: &'static [(&'static str, &'static [&'static str])],
    outcome: Outcome,
}

impl Fault {
    /// Runs netbootc with these faults injected (`object`: the one `ONE_OBJECT` aims at),
    /// checks that every fault fired and the outcome; returns the exit code and output.
    fn run(&self, gcs: &Emulator, object: &[u8], args: &[&str]) -> (i32, String) {
        let id = gcs.inject_faults(&aim(self.path_suffix, object), self.faults);
        let (code, out) = netbootc(gcs, args);
        gcs.clear_faults();
        if let Err(left) = gcs.faults_fired(&id) {
            panic!("{}: faults not all fired: {left}", self.name);
        }
        println!(
            "{}: exit {code}: {}",
            self.name,
            out.trim_end().lines().last().unwrap_or("")
        );
        match self.outcome {
            Outcome::Finishes => assert_eq!(code, 0, "{}: {out}", self.name),
            Outcome::Fails(message) => {
                assert_ne!(code, 0, "{}: {out}", self.name);
                assert!(out.contains(message), "{}: {out}", self.name);
            }
        }
        (code, out)
    }
}

/// Faults on the requests a publish makes: object inserts, the `current` write, gets,
/// lists; each case on its own bucket, over a release already served. Whatever happens,
/// `current` names a complete release (the old or the new one), and a rerun finishes the
/// job uploading only what is still missing.
#[test]
fn gs_publish_under_injected_faults() {
    const CASES: &[Fault] = &[
        Fault {
            name: "insert 503 twice",
            path_suffix: "",
            faults: &[(INSERT, &["return-503", "return-503"])],
            outcome: Outcome::Finishes,
        },
        Fault {
            name: "insert 429",
            path_suffix: "",
            faults: &[(INSERT, &["return-429"])],
            outcome: Outcome::Finishes,
        },
        // Retried by netboot-store: objects are content-addressed, so a create that may
        // have landed can be sent again.
        Fault {
            name: "insert connection reset twice",
            path_suffix: "",
            faults: &[(
                INSERT,
                &["return-reset-connection", "return-reset-connection"],
            )],
            outcome: Outcome::Finishes,
        },
        Fault {
            name: "insert connection reset three times",
            path_suffix: ONE_OBJECT,
            faults: &[(INSERT, &["return-reset-connection"; 3])],
            outcome: Outcome::Fails("error sending request"),
        },
        Fault {
            name: "insert 412 on an absent object",
            path_suffix: "",
            faults: &[(INSERT, &["return-412"])],
            outcome: Outcome::Fails("missing after the upload"),
        },
        Fault {
            name: "insert 400",
            path_suffix: "",
            faults: &[(INSERT, &["return-400"])],
            outcome: Outcome::Fails("400"),
        },
        Fault {
            name: "current write 503",
            path_suffix: "/current",
            faults: &[(INSERT, &["return-503"])],
            outcome: Outcome::Finishes,
        },
        Fault {
            name: "current write connection reset",
            path_suffix: "/current",
            faults: &[(INSERT, &["return-reset-connection"])],
            outcome: Outcome::Fails("read back, it is unchanged"),
        },
        Fault {
            name: "current write 412",
            path_suffix: "/current",
            faults: &[(INSERT, &["return-412"])],
            outcome: Outcome::Fails("`current` was rewritten by another writer"),
        },
        Fault {
            name: "current read 503 and reset",
            path_suffix: "/current",
            faults: &[(GET, &["return-503", "return-reset-connection"])],
            outcome: Outcome::Finishes,
        },
        Fault {
            name: "current read 500 past the 10 retries",
            path_suffix: "/current",
            faults: &[(GET, &["return-500"; 11])],
            outcome: Outcome::Fails("500"),
        },
        Fault {
            name: "current read stalls 3 s",
            path_suffix: "/current",
            faults: &[(GET, &["stall-for-3s-after-0K"])],
            outcome: Outcome::Finishes,
        },
        Fault {
            name: "list 503 and reset",
            path_suffix: "",
            faults: &[(
                LIST,
                &["return-503", "return-reset-connection", "return-503"],
            )],
            outcome: Outcome::Finishes,
        },
        Fault {
            name: "list 403",
            path_suffix: "",
            faults: &[(LIST, &["return-403"])],
            outcome: Outcome::Fails("403"),
        },
    ];
    let gcs = Emulator::gcs_testbench();
    let tmp = TempDir::new().unwrap();
    let (old, d_old) = bundle(&tmp, "old", 4);
    let (new, d_new) = bundle(&tmp, "new", 6);
    for (i, case) in CASES.iter().enumerate() {
        let target = location(&gcs, &format!("faults-{i}"));
        let url = target.label.clone();
        let (code, out) = netbootc(&gcs, &["publish", &url, "--from", path(&old)]);
        assert_eq!(code, 0, "{out}");

        let (code, _) = case.run(
            &gcs,
            b"#!ipxe\necho node-005 new\n",
            &["publish", &url, "--from", path(&new)],
        );
        rt().block_on(async {
            let served = read_complete(&target).await;
            let expected = if code == 0 { d_new } else { d_old };
            assert_eq!(served, expected, "{}", case.name);
            let missing = publish::plan_publish(&new, &target)
                .await
                .unwrap()
                .upload
                .len();
            let (code, out) = netbootc(&gcs, &["publish", &url, "--from", path(&new)]);
            assert_eq!(code, 0, "{}: rerun: {out}", case.name);
            assert_eq!(uploaded(&out), missing, "{}: rerun: {out}", case.name);
            assert_eq!(read_complete(&target).await, d_new, "{}", case.name);
        });
    }
}

/// Faults on rollback's `current` write and on gc's deletes and lists.
#[test]
fn gs_rollback_and_gc_under_injected_faults() {
    let gcs = Emulator::gcs_testbench();
    let tmp = TempDir::new().unwrap();
    let (a, da) = bundle(&tmp, "a", 4);
    let (b, db) = bundle(&tmp, "b", 5);
    let cases: &[Fault] = &[
        Fault {
            name: "rollback: current write 503",
            path_suffix: "/current",
            faults: &[(INSERT, &["return-503"])],
            outcome: Outcome::Finishes,
        },
        Fault {
            name: "rollback: current write reset",
            path_suffix: "/current",
            faults: &[(INSERT, &["return-reset-connection"])],
            outcome: Outcome::Fails("read back, it is unchanged"),
        },
        Fault {
            name: "gc: delete 503 and list reset",
            path_suffix: "",
            faults: &[
                (DELETE, &["return-503"]),
                (LIST, &["return-reset-connection"]),
            ],
            outcome: Outcome::Finishes,
        },
        // Sent again by netboot-store: a delete is harmless twice.
        Fault {
            name: "gc: delete reset twice",
            path_suffix: "",
            faults: &[(DELETE, &["return-reset-connection"; 2])],
            outcome: Outcome::Finishes,
        },
        Fault {
            name: "gc: one delete reset three times",
            path_suffix: ONE_OBJECT,
            faults: &[(DELETE, &["return-reset-connection"; 3])],
            outcome: Outcome::Fails("error sending request"),
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let target = location(&gcs, &format!("undo-{i}"));
        let url = target.label.clone();
        for from in [&a, &b] {
            let (code, out) = netbootc(&gcs, &["publish", &url, "--from", path(from)]);
            assert_eq!(code, 0, "{out}");
        }
        let command: Vec<&str> = if case.name.starts_with("rollback") {
            vec!["rollback", &url]
        } else {
            vec![
                "gc", &url, "--keep", "1", "--grace", "0s", "--force", "--yes",
            ]
        };
        // gc deletes a's own objects, this one among them.
        case.run(&gcs, b"#!ipxe\necho node-000 a\n", &command);
        let (code, out) = netbootc(&gcs, &command);
        if command[0] == "rollback" {
            // A second rollback after one that landed goes back once more: to b.
            assert_eq!(code, 0, "{}: rerun: {out}", case.name);
        } else {
            assert_eq!(code, 0, "{}: rerun: {out}", case.name);
            assert!(
                out.contains("deleted") || out.contains("delete    0 objects"),
                "{out}"
            );
        }
        rt().block_on(async {
            let served = read_complete(&target).await;
            assert!(served == da || served == db, "{}", case.name);
            let history = history::read_history(&target, None).await.unwrap();
            assert!(history.broken.is_none(), "{}: {history:?}", case.name);
        });
    }
}

/// N publishers of different bundles at once, many rounds, each round on the release the
/// last one left: the history gains exactly the publishes that reported success, in order
/// on top of what was there, and every object a recorded release needs is present.
#[test]
fn gs_racing_publishers() {
    const PUBLISHERS: usize = 4;
    const ROUNDS: usize = 6;
    let gcs = Emulator::gcs_testbench();
    let target = location(&gcs, "racing");
    let url = target.label.clone();
    let tmp = TempDir::new().unwrap();
    let bundles: Vec<(PathBuf, Digest)> = (0..PUBLISHERS * ROUNDS)
        .map(|i| bundle(&tmp, &format!("r{i}"), 3 + i % 4))
        .collect();
    let mut succeeded = Vec::new();
    for round in 0..ROUNDS {
        let children: Vec<_> = bundles[round * PUBLISHERS..(round + 1) * PUBLISHERS]
            .iter()
            .map(|(dir, digest)| {
                let child = Command::new(env!("CARGO_BIN_EXE_netbootc"))
                    .args(["publish", &url, "--from", path(dir)])
                    .env("GOOGLE_SERVICE_ACCOUNT_KEY", gcs.gcs_service_account())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                (child, *digest)
            })
            .collect();
        let mut winners = 0;
        for (child, digest) in children {
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => {
                    assert!(text.contains(&format!("published {digest}")), "{text}");
                    succeeded.push(digest);
                    winners += 1;
                }
                // Lost the race for `current` (1), or the fence (1: busy); never anything else.
                Some(1) => assert!(
                    text.contains("another publisher won the race") || text.contains("in progress"),
                    "round {round}: {text}"
                ),
                other => panic!("round {round}: exit {other:?}: {text}"),
            }
        }
        assert!(winners >= 1, "round {round}: nobody won");
    }
    rt().block_on(async {
        let history = history::read_history(&target, None).await.unwrap();
        assert!(history.broken.is_none(), "{history:?}");
        let mut recorded: Vec<Digest> = history.entries.iter().map(|e| e.manifest).collect();
        recorded.reverse(); // oldest first, like `succeeded`
        let mut expected = succeeded.clone();
        expected.sort();
        let mut got = recorded.clone();
        got.sort();
        assert_eq!(
            got, expected,
            "the history holds exactly the successful publishes"
        );
        for digest in &recorded {
            let manifest = read::read_manifest(&target, digest).await.unwrap();
            for object in manifest.referenced().into_keys() {
                assert!(
                    object_exists(&target, &object).await,
                    "{object} of {digest}"
                );
            }
        }
        assert_eq!(read_complete(&target).await, *recorded.last().unwrap());
    });
    println!(
        "{} of {} publishes won",
        succeeded.len(),
        PUBLISHERS * ROUNDS
    );
}
