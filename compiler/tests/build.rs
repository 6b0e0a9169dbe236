//! `netbootc build`: the bundle on disk, incremental and failed builds, determinism, and
//! image mirroring from a loopback HTTP server.

mod common;

use std::fs;
use std::path::Path;

use common::{
    EXAMPLE_MACHINES, EXAMPLE_PROFILES, HttpServer, KERNEL, Output, Test, sha256_hex,
    snapshot_tree, walk,
};
use serde_json::Value;

fn example() -> Test {
    Test::new()
        .copy_tree(EXAMPLE_MACHINES, "machines")
        .copy_tree(EXAMPLE_PROFILES, "profiles")
}

fn objects(out: &Path) -> Vec<std::path::PathBuf> {
    walk(&out.join("objects/sha256"))
}

/// Canonical JSON as the format defines it: keys sorted by bytes, no whitespace, `\n`.
fn canonical(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push('{');
                for (i, (key, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(key).expect("key"));
                    out.push(':');
                    write(item, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&serde_json::to_string(other).expect("scalar")),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out.push('\n');
    out
}

fn hex_of(object: &Value) -> &str {
    object
        .as_str()
        .and_then(|o| o.strip_prefix("sha256:"))
        .unwrap_or_else(|| panic!("not a sha256:<hex> object reference: {object}"))
}

/// Checks the whole bundle under `out` against the format; returns the manifest.
fn verify_bundle(out: &Path) -> Value {
    // Every object is named by the sha256 of its bytes.
    let objects = objects(out);
    assert!(!objects.is_empty());
    for path in &objects {
        let name = path.file_name().expect("name").to_string_lossy();
        let bytes = fs::read(path).expect("read object");
        assert_eq!(name, sha256_hex(&bytes), "{}", path.display());
    }

    // `current` names the manifest, canonically.
    let current_bytes = fs::read_to_string(out.join("current")).expect("current");
    let current: Value = serde_json::from_str(&current_bytes).expect("current is JSON");
    assert_eq!(current["format"], "netboot-bundle/1");
    assert_eq!(
        canonical(&current),
        current_bytes,
        "current is canonical JSON"
    );
    let manifest_hex = hex_of(&current["manifest"]);
    let manifest_bytes = fs::read_to_string(out.join("objects/sha256").join(manifest_hex))
        .expect("the manifest object exists");
    let manifest: Value = serde_json::from_str(&manifest_bytes).expect("manifest is JSON");
    assert_eq!(
        canonical(&manifest),
        manifest_bytes,
        "manifest is canonical JSON"
    );
    assert_eq!(manifest["format"], "netboot-bundle/1");

    // The readable copy says the same.
    let readable: Value =
        serde_json::from_slice(&fs::read(out.join("manifest.json")).expect("manifest.json"))
            .expect("manifest.json is JSON");
    assert_eq!(readable, manifest);

    // Every route's object exists, with the size the manifest says.
    let routes = manifest["routes"].as_object().expect("routes");
    for route in ["boot.ipxe", "tftp/boot.ipxe", "machines/unknown.ipxe"] {
        assert!(routes.contains_key(route), "route {route}");
    }
    for (route, entry) in routes {
        let path = out.join("objects/sha256").join(hex_of(&entry["object"]));
        let size = fs::metadata(&path)
            .unwrap_or_else(|e| panic!("object of {route}: {e}"))
            .len();
        assert_eq!(entry["size"], size, "size of {route}");
        assert!(entry["content_type"].is_string(), "{route}");
        assert!(!route.starts_with('/'), "{route}");
    }

    // Every machine's routes exist; every profile's image manifest is an object.
    for (name, machine) in manifest["machines"].as_object().expect("machines") {
        let machine_routes = machine["routes"].as_array().expect("routes");
        assert!(
            machine_routes.contains(&Value::from(format!("machines/by-name/{name}.ipxe"))),
            "{name}"
        );
        for route in machine_routes {
            assert!(
                routes.contains_key(route.as_str().expect("route")),
                "{route}"
            );
        }
    }
    for (name, profile) in manifest["profiles"].as_object().expect("profiles") {
        let hex = hex_of(&profile["image_manifest"]);
        assert!(out.join("objects/sha256").join(hex).is_file(), "{name}");
        assert_eq!(
            hex_of(&routes[&format!("images/{name}.json")]["object"]),
            hex,
            "{name}"
        );
    }
    manifest
}

/// `objects   N (x new, y reused, …)` from the summary.
fn new_and_reused(out: &Output) -> (usize, usize) {
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("objects"))
        .unwrap_or_else(|| panic!("no objects line in:\n{}", out.stdout));
    let inner = line.split('(').nth(1).expect("(");
    let mut numbers = inner
        .split(',')
        .map(|part| part.split_whitespace().next().expect("number"));
    let new = numbers.next().expect("new").parse().expect("number");
    let reused = numbers.next().expect("reused").parse().expect("number");
    (new, reused)
}

#[test]
fn example_fleet_builds_a_valid_bundle() {
    let out = example().args(["build"]).expect_exit(0).run();
    // The one warning: on a fresh clone the Talos secrets are the committed stand-ins.
    assert!(
        out.stderr.contains("netbootc::secret-from-example")
            && out.stderr.ends_with("0 errors, 1 warning\n"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.starts_with("built sha256:"), "{}", out.stdout);
    let manifest = verify_bundle(&out.path().join("out"));
    // Flatcar nodes boot with their own Ignition config, Talos boards with a machine
    // config: each compiled into the bundle, served next to the script that names it.
    for (machine, file, content_type, expected) in [
        (
            "node-01",
            "ignition",
            "application/vnd.coreos.ignition+json",
            "data:,node-01",
        ),
        ("arm-02", "talos", "application/yaml", "hostname: arm-02"),
    ] {
        let digest = manifest["machines"][machine]["files"][file]
            .as_str()
            .unwrap_or_else(|| panic!("{machine} has no {file}: {manifest}"));
        let (route, entry) = manifest["routes"]
            .as_object()
            .expect("routes")
            .iter()
            .find(|(route, entry)| route.starts_with("files/") && entry["object"] == digest)
            .expect("a route serves the file");
        assert!(route.ends_with(&format!("/{file}")), "{route}");
        assert_eq!(entry["content_type"], content_type);
        let bytes = fs::read_to_string(
            out.path()
                .join("out/objects/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .expect("the file's object");
        assert!(bytes.contains(expected), "{bytes}");
        let script = fs::read_to_string(out.path().join("out/objects/sha256").join(hex_of(
            &manifest["routes"][format!("machines/by-name/{machine}.ipxe")]["object"],
        )))
        .expect("script");
        assert!(
            script.contains(&format!("http://10.0.0.2:8080/{route}")),
            "{machine}'s script does not point at {route}:\n{script}"
        );
    }
    let machines = manifest["machines"].as_object().expect("machines");
    assert!(machines.len() >= 5, "{machines:?}");
    // Every machine in the example fleet has its by-MAC route, MACs as iPXE prints them.
    for machine in machines.values() {
        for mac in machine["macs"].as_array().expect("macs") {
            let mac = mac.as_str().expect("mac");
            assert_eq!(mac, mac.to_ascii_lowercase());
            assert!(!mac.contains(':'));
            let route = format!("machines/by-mac/{mac}.ipxe");
            assert!(manifest["routes"].get(&route).is_some(), "{route}");
        }
    }
}

#[test]
fn base_config_routes() {
    let out = Test::new().base().args(["build"]).run();
    let manifest = verify_bundle(&out.path().join("out"));
    let routes = manifest["routes"].as_object().expect("routes");
    let mut names: Vec<&str> = routes.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "boot.ipxe",
            "images/flatcar-stable.json",
            "images/flatcar-stable/kernel",
            "machines/by-mac/52-54-00-aa-00-01.ipxe",
            "machines/by-name/node-01.ipxe",
            "machines/by-uuid/4c4c4544-0042-3510-8052-b4c04f4d4e31.ipxe",
            "machines/unknown.ipxe",
            "tftp/boot.ipxe",
        ]
    );
    assert_eq!(
        hex_of(&routes["images/flatcar-stable/kernel"]["object"]),
        sha256_hex(KERNEL)
    );
    assert_eq!(
        routes["boot.ipxe"]["object"],
        routes["tftp/boot.ipxe"]["object"]
    );
}

#[test]
fn second_build_writes_nothing_new() {
    let out = example().args(["build"]).run();
    let (new, reused) = new_and_reused(&out);
    assert!(new > 0);
    assert_eq!(reused, 0);
    let before = snapshot_tree(&out.path().join("out"));
    let inodes = inodes(&out.path().join("out"));

    let out = out.again().args(["build"]).run();
    assert_eq!(new_and_reused(&out), (0, new), "{}", out.stdout);
    assert_eq!(snapshot_tree(&out.path().join("out")), before);
    // Objects were not rewritten (a rewrite goes through a new file and a rename).
    assert_eq!(inodes, self::inodes(&out.path().join("out")));
}

#[cfg(unix)]
fn inodes(out: &Path) -> Vec<u64> {
    use std::os::unix::fs::MetadataExt;
    objects(out)
        .iter()
        .map(|p| fs::metadata(p).expect("metadata").ino())
        .collect()
}

#[cfg(not(unix))]
fn inodes(_: &Path) -> Vec<u64> {
    Vec::new()
}

#[test]
fn clean_removes_unreferenced_objects_only() {
    let out = Test::new().base().args(["build"]).run();
    let objects_dir = out.path().join("out/objects/sha256");
    let stale = b"an object from an old release\n";
    let stale_path = objects_dir.join(sha256_hex(stale));
    fs::write(&stale_path, stale).expect("plant");
    let unrelated = objects_dir.join("README");
    fs::write(&unrelated, "not an object\n").expect("plant");
    let kept = objects(&out.path().join("out"));

    // Without --clean the stray object stays.
    let out = out.again().args(["build"]).run();
    assert!(stale_path.is_file());

    let out = out.again().args(["build", "--clean"]).run();
    assert!(!stale_path.exists(), "stale object removed");
    assert!(
        unrelated.is_file(),
        "files that are not objects are left alone"
    );
    assert!(
        out.stdout.contains("removed   1 unreferenced objects"),
        "{}",
        out.stdout
    );
    let mut after = objects(&out.path().join("out"));
    after.push(stale_path);
    after.sort();
    assert_eq!(after, kept);
    fs::remove_file(&unrelated).expect("rm");
    verify_bundle(&out.path().join("out"));
}

#[test]
fn failed_build_leaves_the_previous_release_untouched() {
    let out = example().args(["build"]).run();
    let before = snapshot_tree(&out.path().join("out"));
    // Break an image: its bytes no longer match the pinned digest.
    let kernel = out
        .path()
        .join("profiles/images/flatcar/flatcar_production_pxe.vmlinuz");
    assert!(kernel.is_file());
    fs::write(&kernel, b"tampered\n").expect("tamper");
    // And change a machine, so a successful build would have written new objects.
    let rack = out.path().join("machines/rack-a.kdl");
    let text = fs::read_to_string(&rack).expect("read");
    fs::write(&rack, text.replace("control-plane", "worker")).expect("write");

    let out = out.again().args(["build"]).expect_exit(1).run();
    assert!(
        out.stderr.contains("netbootc::digest-mismatch"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot_tree(&out.path().join("out")), before);
}

#[test]
fn warnings_fail_the_build_only_when_denied() {
    let unused = format!(
        "profile \"memtest\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n}}\n",
        sha256_hex(KERNEL)
    );
    let out = Test::new()
        .base()
        .file("profiles/memtest.kdl", unused)
        .args(["build", "--deny-warnings"])
        .expect_exit(1)
        .run();
    assert!(
        out.stderr.contains("netbootc::unused-profile"),
        "{}",
        out.stderr
    );
    assert!(!out.path().join("out").exists(), "nothing written");

    let out = out.again().args(["build"]).expect_exit(0).run();
    assert!(out.stderr.contains("0 errors, 1 warning"), "{}", out.stderr);
    verify_bundle(&out.path().join("out"));
}

#[test]
fn output_directory_flag() {
    let test = Test::new().base();
    let target = test.path().join("elsewhere/bundle");
    let out = test.arg("build").arg("-o").arg(&target).run();
    assert!(!out.path().join("out").exists());
    verify_bundle(&target);
}

// --- determinism --------------------------------------------------------------------------

#[test]
fn builds_are_byte_identical_across_dirs_file_order_and_threads() {
    let a = example()
        .env("RAYON_NUM_THREADS", "1")
        .args(["build"])
        .run();
    let b = example()
        .reverse_file_order()
        .env("RAYON_NUM_THREADS", "2")
        .args(["build"])
        .run();
    assert_ne!(a.path(), b.path());
    let tree_a = snapshot_tree(&a.path().join("out"));
    let tree_b = snapshot_tree(&b.path().join("out"));
    let names_a: Vec<&String> = tree_a.iter().map(|(n, _)| n).collect();
    let names_b: Vec<&String> = tree_b.iter().map(|(n, _)| n).collect();
    assert_eq!(names_a, names_b, "same files");
    for ((name, bytes_a), (_, bytes_b)) in tree_a.iter().zip(&tree_b) {
        assert!(bytes_a == bytes_b, "{name} differs");
    }
    // The summaries name the same release.
    let digest = |o: &Output| o.stdout.split_whitespace().nth(1).map(str::to_owned);
    assert_eq!(digest(&a), digest(&b));
}

// --- image mirroring over HTTP ------------------------------------------------------------

const SERVED: &[u8] = b"a kernel served over loopback HTTP\n";

fn http_profile(url: &str, sha256: &str) -> String {
    format!(
        "profile \"flatcar-stable\" {{\n    kernel \"{url}\" sha256=\"{sha256}\"\n    cmdline \"console=ttyS0\"\n}}\n"
    )
}

#[test]
fn mirrors_http_images_through_the_cache() {
    let server = HttpServer::serve("/vmlinuz", SERVED);
    let digest = sha256_hex(SERVED);
    let test = Test::new().base().file(
        "profiles/flatcar.kdl",
        http_profile(&server.url("/vmlinuz"), &digest),
    );
    let cache = test.path().join("image-cache");

    // check never touches the network.
    let out = test.args(["check"]).expect_exit(0).expect_stderr("").run();
    assert_eq!(server.requests(), 0);

    let out = out
        .again()
        .arg("build")
        .arg("--image-cache")
        .arg(&cache)
        .expect_stderr("")
        .run();
    assert_eq!(server.requests(), 1);
    let object = out.path().join("out/objects/sha256").join(&digest);
    assert_eq!(fs::read(&object).expect("object in the bundle"), SERVED);
    assert_eq!(fs::read(cache.join(&digest)).expect("cached"), SERVED);
    let manifest = verify_bundle(&out.path().join("out"));
    assert_eq!(
        hex_of(&manifest["routes"]["images/flatcar-stable/kernel"]["object"]),
        digest
    );
    // The script fetches the mirrored object from the origin, not the upstream URL.
    let script = out.again().args(["render", "node-01"]).run();
    assert!(
        script
            .stdout
            .contains(&format!("https://boot.example.com/objects/sha256/{digest}")),
        "{}",
        script.stdout
    );
    assert!(!script.stdout.contains("127.0.0.1"), "{}", script.stdout);

    // A second build, even into an empty out/, takes the image from the cache.
    fs::remove_dir_all(script.path().join("out")).expect("rm out");
    let out = script
        .again()
        .arg("build")
        .arg("--image-cache")
        .arg(&cache)
        .run();
    assert_eq!(server.requests(), 1, "no new download");
    assert_eq!(
        fs::read(&object).unwrap_or_else(|e| panic!("{e}: {}", out.stdout)),
        SERVED
    );
}

#[test]
fn wrong_digest_from_http_is_not_cached() {
    let server = HttpServer::serve("/vmlinuz", SERVED);
    let pinned = sha256_hex(b"the kernel we meant\n");
    let test = Test::new().base().file(
        "profiles/flatcar.kdl",
        http_profile(&server.url("/vmlinuz"), &pinned),
    );
    let cache = test.path().join("image-cache");
    let out = test
        .arg("build")
        .arg("--image-cache")
        .arg(&cache)
        .expect_exit(1)
        .run();
    assert_eq!(server.requests(), 1);
    assert!(
        out.stderr.contains("netbootc::digest-mismatch"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&pinned),
        "expected digest: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&sha256_hex(SERVED)),
        "actual digest: {}",
        out.stderr
    );
    assert!(
        !cache.exists() || walk(&cache).is_empty(),
        "nothing left in the cache: {:?}",
        walk(&cache)
    );
    assert!(!out.path().join("out").exists(), "no bundle written");

    // Trying again downloads again (the bad bytes were not kept) and fails the same way.
    out.again()
        .arg("build")
        .arg("--image-cache")
        .arg(&cache)
        .expect_exit(1)
        .run();
    assert_eq!(server.requests(), 2);
}

#[test]
fn http_404_is_an_image_fetch_error() {
    let server = HttpServer::serve("/vmlinuz", SERVED);
    let test = Test::new().base().file(
        "profiles/flatcar.kdl",
        http_profile(&server.url("/missing"), &sha256_hex(SERVED)),
    );
    let cache = test.path().join("image-cache");
    let out = test
        .arg("build")
        .arg("--image-cache")
        .arg(&cache)
        .expect_exit(1)
        .run();
    assert!(
        out.stderr.contains("netbootc::image-fetch"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("404"), "{}", out.stderr);
    assert!(!cache.exists() || walk(&cache).is_empty());
}

#[test]
fn boot_files_are_bundle_objects_even_without_mirror() {
    let server = HttpServer::serve("/ipxe.efi", SERVED);
    let digest = sha256_hex(SERVED);
    let site = format!(
        "site {{\n    origin \"https://boot.example.com\"\n    mirror #false\n    boot-file \"ipxe.efi\" \"{}\" sha256=\"{digest}\"\n}}\n",
        server.url("/ipxe.efi")
    );
    let test = Test::new().base().file("profiles/site.kdl", site);
    let cache = test.path().join("image-cache");
    let out = test.arg("build").arg("--image-cache").arg(&cache).run();
    assert_eq!(server.requests(), 1);
    let manifest = verify_bundle(&out.path().join("out"));
    assert_eq!(
        hex_of(&manifest["routes"]["tftp/ipxe.efi"]["object"]),
        digest
    );
    let object = out.path().join("out/objects/sha256").join(&digest);
    assert_eq!(fs::read(object).expect("boot file in the bundle"), SERVED);
}

#[test]
fn the_manifest_names_each_firmwares_boot_file() {
    let file = |name: &str, firmware: &str| {
        format!(
            "    boot-file \"{name}\" path=\"images/vmlinuz\" sha256=\"{}\" firmware=\"{firmware}\"\n",
            sha256_hex(KERNEL)
        )
    };
    let site = format!(
        "site {{\n    origin \"https://boot.example.com\"\n{}{}    boot-file \"memtest.bin\" path=\"images/vmlinuz\" sha256=\"{}\"\n}}\n",
        file("undionly.kpxe", "bios"),
        file("ipxe.efi", "uefi-x86_64"),
        sha256_hex(KERNEL)
    );
    let out = Test::new()
        .base()
        .file("profiles/site.kdl", site)
        .args(["build"])
        .run();
    let manifest = verify_bundle(&out.path().join("out"));
    assert_eq!(
        manifest["firmware"],
        serde_json::json!({"bios": "tftp/undionly.kpxe", "uefi-x86_64": "tftp/ipxe.efi"})
    );
    // A boot file without `firmware=` is a TFTP file like any other, for no class.
    assert!(manifest["routes"].get("tftp/memtest.bin").is_some());
    // The format crate reads the map back.
    let dir = netboot_bundle::BundleDir::new(out.path().join("out"));
    let (_, parsed) = dir.open_current().expect("readable").expect("a release");
    assert_eq!(
        parsed.boot_file(netboot_protocol::Firmware::Bios),
        Some("tftp/undionly.kpxe")
    );
}

#[test]
fn a_machine_told_to_boot_locally_gets_the_local_script() {
    let out = Test::new()
        .base()
        .file(
            "machines/rack-b.kdl",
            "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stable\"\n    boot \"local\"\n}\n",
        )
        .args(["render", "node-02"])
        .expect_exit(0)
        .run();
    let script = &out.stdout;
    assert!(script.starts_with("#!ipxe\n"), "{script}");
    assert!(
        script.contains("sanboot --no-describe --drive 0x80"),
        "{script}"
    );
    assert!(script.contains("booting the local disk"), "{script}");
    assert!(
        script.contains("iseq ${platform} efi && exit 1 ||"),
        "{script}"
    );
    assert!(!script.contains("kernel "), "{script}");
    // The other machine still boots its profile.
    let other = out.again().args(["render", "node-01"]).expect_exit(0).run();
    assert!(other.stdout.contains("\nkernel "), "{}", other.stdout);
}

/// What a server checks before it serves a bundle directory: `current`, its manifest, and
/// every object it references, each hashed against its name. `None`: no release yet.
fn servable(out: &Path) -> Option<netboot_bundle::Digest> {
    let dir = netboot_bundle::BundleDir::new(out);
    let (pointer, manifest) = dir.open_current().expect("a readable release")?;
    for (digest, referenced) in manifest.referenced() {
        let bytes = dir
            .read_object(&digest, u64::MAX)
            .unwrap_or_else(|e| panic!("{} for {}: {e}", digest, referenced.used_by));
        if let Some(size) = referenced.size {
            assert_eq!(bytes.len() as u64, size, "{}", referenced.used_by);
        }
    }
    Some(pointer.manifest)
}

/// Crash injection: a build of 400 machines is killed (SIGKILL) at pseudo-random moments,
/// 25 times, over an `out/` that also has objects corrupted in place (same size, other
/// bytes). After every kill `current` names a release a server can serve (the previous
/// one, or the new one complete), and the next build repairs what was corrupted and ends
/// with exactly what a clean build writes. (A kill keeps the page cache; the power-cut
/// half of the guarantee is the syncfs-before-`current` order, tested in netboot-bundle.)
#[test]
fn a_build_killed_at_any_moment_leaves_a_servable_bundle() {
    let mut test = Test::new().base();
    let mut machines = String::new();
    for i in 0..400 {
        machines += &format!(
            "machine \"n{i:03}\" {{\n    mac \"52:54:01:00:{:02x}:{:02x}\"\n    profile \"flatcar-stable\"\n    var slot={i}\n}}\n",
            i / 256,
            i % 256
        );
    }
    test = test.file("machines/many.kdl", machines);
    let config = test.path().to_owned();
    let reference = test
        .args(["build", "-o"])
        .arg(config.join("reference"))
        .run();
    let expected = snapshot_tree(&reference.path().join("reference"));
    let out = config.join("out");
    let build = || {
        let mut command = std::process::Command::new(common::BIN);
        command
            .args(["build", "--config"])
            .arg(&config)
            .arg("-o")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    // How long a whole build takes here, to spread the kills over it.
    let started = std::time::Instant::now();
    assert!(build().status().unwrap().success());
    let span = started.elapsed().as_micros().max(1000) as u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..25 {
        if round % 5 == 4 {
            // Corrupt an object in place, keeping its size.
            let objects = objects(&out);
            let victim = &objects[(next() % objects.len() as u64) as usize];
            let mut bytes = fs::read(victim).unwrap();
            if let Some(first) = bytes.first_mut() {
                *first ^= 0x55;
                fs::write(victim, &bytes).unwrap();
            }
            assert!(build().status().unwrap().success());
        }
        let mut child = build().spawn().unwrap();
        // Crash injection at a pseudo-random moment of the build (not synchronisation).
        std::thread::sleep(std::time::Duration::from_micros(next() % span));
        let _ = child.kill();
        let _ = child.wait();
        assert!(servable(&out).is_some(), "round {round}");
    }
    let finished = build().arg("--clean").status().unwrap();
    assert!(finished.success());
    assert_eq!(snapshot_tree(&out), expected);
}
