//! The store commands through the real binary: publish, releases, rollback, gc and diff on
//! a directory store, and where each finds the bundle.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{EXAMPLE_MACHINES, EXAMPLE_PROFILES, Test};
use netboot_testkit::published::make_bundle;
use tempfile::TempDir;

/// Runs netbootc; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netbootc"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The command line end to end on a directory store.
#[test]
fn cli_publish_republish_releases_rollback_gc_diff() {
    let tmp = TempDir::new().unwrap();
    let bundle = |name: &str, machines: usize| {
        let path = tmp.path().join(name);
        let digest = make_bundle(&path, machines, name);
        (path, digest)
    };
    let (a, b) = (bundle("a", 5), bundle("b", 6));
    let store = tmp.path().join("store");
    let url = format!("file://{}", store.display());
    let from = |p: &Path| p.display().to_string();

    let (code, out, _) = run(&["publish", &url, "--from", &from(&a.0), "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("upload    8 objects") && out.contains("dry run"),
        "{out}"
    );
    assert!(!store.join("current").exists(), "dry run wrote");

    let (code, out, err) = run(&["publish", &url, "--from", &from(&a.0)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("published {}", a.1)), "{out}");
    let (code, out, _) = run(&["publish", &url, "--from", &from(&a.0)]);
    assert_eq!(code, 0);
    assert!(
        out.contains("uploaded  0 objects") && out.contains("untouched"),
        "{out}"
    );

    let (code, out, _) = run(&["diff", &url, &from(&b.0)]);
    assert_eq!(code, 0);
    assert!(
        out.contains("machines: 1 added, 0 removed, 5 changed"),
        "{out}"
    );

    let (code, _, _) = run(&["publish", &url, "--from", &from(&b.0)]);
    assert_eq!(code, 0);
    let (code, out, _) = run(&["releases", &url]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with('*'), "{out}");

    let (code, out, _) = run(&["releases", &url, "--json"]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[0]["manifest"], b.1.to_string());
    assert_eq!(list[1]["action"], "publish");
    assert_eq!(list.as_array().unwrap().len(), 2);

    let (code, out, _) = run(&["rollback", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("rolled back {url} to {}", a.1)),
        "{out}"
    );

    let (code, out, _) = run(&["gc", &url, "--keep", "1", "--grace", "0s", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("dry run: nothing was deleted"), "{out}");
    // No grace at all needs --force; not on a terminal, deleting needs --yes.
    let (code, _, err) = run(&["gc", &url, "--keep", "1", "--grace", "0s", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    let (code, _, err) = run(&["gc", &url, "--keep", "1", "--grace", "0s", "--force"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");
    let force = [
        "gc", &url, "--keep", "1", "--grace", "0s", "--force", "--yes",
    ];
    let (code, out, err) = run(&force);
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

/// `netbootc --config site build` writes `site/out`; `publish` and `diff` with the same
/// `--config`, run from elsewhere, find it there (not in `./out`).
#[test]
fn publish_and_diff_read_the_bundle_build_wrote() {
    let test = Test::new()
        .copy_tree(EXAMPLE_MACHINES, "site/machines")
        .copy_tree(EXAMPLE_PROFILES, "site/profiles");
    let site = test.path().join("site");
    let built = test.config(&site).args(["build"]).expect_exit(0).run();
    assert!(site.join("out/current").is_file(), "{}", built.stderr);
    assert!(!built.path().join("out").exists());
    let store = built.path().join("store").display().to_string();
    let published = built
        .again()
        .config(&site)
        .args(["publish", &store, "--yes"])
        .expect_exit(0)
        .run();
    assert!(
        published.stdout.contains("published sha256:"),
        "{}",
        published.stdout
    );
    let diffed = published
        .again()
        .config(&site)
        .args(["diff", &store])
        .expect_exit(0)
        .run();
    assert!(
        diffed.stdout.contains("no changes: the same release"),
        "{}",
        diffed.stdout
    );
}

/// Progress on a broken stderr (a full disk, a closed `| head`) is lost, and the publish
/// still finishes: `eprintln!` used to panic half-way (exit 101) with `current` unwritten.
#[test]
fn publish_finishes_when_stderr_is_broken() {
    let tmp = TempDir::new().unwrap();
    let (bundle, digest) = (
        tmp.path().join("a"),
        make_bundle(&tmp.path().join("a"), 5, "a"),
    );
    let store = tmp.path().join("store");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netbootc"))
        .args(["publish", &format!("file://{}", store.display()), "--from"])
        .arg(&bundle)
        .stderr(full)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(&format!("published {digest}")), "{stdout}");
    let current = std::fs::read_to_string(store.join("current")).unwrap();
    assert!(current.contains(&digest.hex()), "{current}");
}
