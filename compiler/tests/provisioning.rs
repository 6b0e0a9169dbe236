//! Provisioning files in the bundle: routed under the digest of each machine's set of
//! files with their kind's Content-Type, merged over the profile's file, one object when
//! machines render the same bytes; and secrets that reach the files but never the output.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{Test, kernel_sha256, sha256_hex};
use serde_json::Value;

const TOKEN: &str = "s3cr3t-j0in-t0ken-9f8e7d";

/// Two machines on a profile with a NoCloud set (`user-data`, `meta-data`) and a raw file;
/// node-02 merges its own `user-data` over the profile's and replaces the raw file.
fn fleet() -> Test {
    Test::new()
        .file(
            "profiles/site.kdl",
            "site {\n    origin \"https://boot.example.com\"\n    chain \"via-proxy\" proxy=\"http://10.0.0.2:8080\"\n    secret \"join\" env=\"NETBOOT_JOIN\"\n}\n",
        )
        .file("profiles/images/vmlinuz", common::KERNEL)
        .file(
            "profiles/ubuntu.kdl",
            format!(
                "profile \"ubuntu\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n    file \"user-data\" kind=\"cloud-config\" template=\"templates/user-data.j2\"\n    file \"meta-data\" kind=\"meta-data\" template=\"templates/meta-data.j2\"\n    file \"motd\" template=\"templates/motd.j2\"\n    cmdline \"ds=nocloud;s={{{{ files_url }}}} motd={{{{ files.motd.url }}}}\"\n}}\n",
                kernel_sha256()
            ),
        )
        .file(
            "profiles/templates/user-data.j2",
            "#cloud-config\nhostname: {{ machine.name }}\nruncmd:\n  - [kubeadm, join, --token, \"{{ secrets.join }}\"]\n",
        )
        .file("profiles/templates/meta-data.j2", "instance-id: fleet-1\n")
        .file("profiles/templates/motd.j2", "welcome\n")
        .file("profiles/templates/node-02.j2", "#cloud-config\npackages: [htop]\n")
        .file("profiles/templates/motd-02.j2", "node-02 only\n")
        .file(
            "machines/nodes.kdl",
            "machine \"node-01\" {\n    mac \"52:54:00:aa:00:01\"\n    profile \"ubuntu\"\n}\nmachine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"ubuntu\"\n    file \"user-data\" template=\"../profiles/templates/node-02.j2\"\n    file \"motd\" template=\"../profiles/templates/motd-02.j2\"\n}\n",
        )
        .env("NETBOOT_JOIN", TOKEN)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).expect("read")).expect("JSON")
}

fn object(out: &Path, digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    fs::read_to_string(out.join("objects/sha256").join(hex)).expect("object")
}

#[test]
fn files_are_routed_under_their_sets_digest_with_their_content_type() {
    let run = fleet()
        .args(["build"])
        .expect_exit(0)
        .expect_stderr("")
        .run();
    let out = run.path().join("out");
    let manifest = read_json(&out.join("manifest.json"));
    let routes = manifest["routes"].as_object().expect("routes");
    for machine in ["node-01", "node-02"] {
        let files = manifest["machines"][machine]["files"]
            .as_object()
            .expect("files");
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(names, ["meta-data", "motd", "user-data"]);
        // The set's digest: sha256 of the canonical JSON of name → object digest.
        let index: BTreeMap<&str, &str> = files
            .iter()
            .map(|(name, digest)| (name.as_str(), digest.as_str().expect("digest")))
            .collect();
        let set = sha256_hex(format!("{}\n", serde_json::to_string(&index).unwrap()).as_bytes());
        for (name, content_type) in [
            ("user-data", "text/cloud-config"),
            ("meta-data", "application/yaml"),
            ("motd", "application/octet-stream"),
        ] {
            let entry = &routes[&format!("files/{set}/{name}")];
            assert_eq!(entry["object"], files[name], "{machine} {name}");
            assert_eq!(entry["content_type"], content_type);
        }
        // The script points NoCloud at the set's directory (it appends the names itself).
        let script = object(
            &out,
            routes[&format!("machines/by-name/{machine}.ipxe")]["object"]
                .as_str()
                .unwrap(),
        );
        assert!(
            script.contains(&format!("ds=nocloud;s=http://10.0.0.2:8080/files/{set}/ motd=http://10.0.0.2:8080/files/{set}/motd")),
            "{script}"
        );
    }
    let files = |m: &str| manifest["machines"][m]["files"].clone();
    // Same bytes, one object: meta-data renders the same for both machines.
    assert_eq!(files("node-01")["meta-data"], files("node-02")["meta-data"]);
    // node-02's user-data is the profile's with its own merged over it; its motd replaced.
    let merged = object(&out, files("node-02")["user-data"].as_str().unwrap());
    assert!(merged.starts_with("#cloud-config\n"), "{merged}");
    for part in ["hostname: node-02", "packages:", "- htop", TOKEN] {
        assert!(merged.contains(part), "{part} missing in:\n{merged}");
    }
    assert_eq!(
        object(&out, files("node-02")["motd"].as_str().unwrap()),
        "node-02 only\n"
    );
    assert_eq!(
        object(&out, files("node-01")["motd"].as_str().unwrap()),
        "welcome\n"
    );
}

#[test]
fn secrets_reach_the_files_and_nothing_else() {
    let run = fleet().args(["build"]).expect_exit(0).run();
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
    let out = run.path().join("out");
    // In the files that need it (that is where it is for), not in the manifest or a script.
    let mut holders = Vec::new();
    for entry in fs::read_dir(out.join("objects/sha256")).expect("objects") {
        let path = entry.expect("entry").path();
        if fs::read_to_string(&path).is_ok_and(|t| t.contains(TOKEN)) {
            holders.push(path);
        }
    }
    assert_eq!(holders.len(), 2, "each machine's user-data, nothing else");
    let text = fs::read_to_string(out.join("manifest.json")).expect("manifest");
    assert!(!text.contains(TOKEN));
    let render = run
        .again()
        .env("NETBOOT_JOIN", TOKEN)
        .args(["render", "node-01"])
        .expect_exit(0)
        .run();
    assert!(render.stdout.contains("ds=nocloud") && !render.stdout.contains(TOKEN));
    // `render --file` shows the file as the machine gets it, with a stand-in for the secret.
    let render = render
        .again()
        .env("NETBOOT_JOIN", TOKEN)
        .args(["render", "52-54-00-aa-00-01", "--file", "user-data"])
        .expect_exit(0)
        .run();
    assert_eq!(
        render.stdout,
        "#cloud-config\nhostname: node-01\nruncmd:\n  - [kubeadm, join, --token, \"SECRET-join\"]\n"
    );
    let render = render
        .again()
        .env("NETBOOT_JOIN", TOKEN)
        .args(["render", "node-01", "--file", "ignition"])
        .expect_exit(2)
        .run();
    assert_eq!(
        render.stderr,
        "error: machine `node-01` has no provisioning file `ignition` (it has: meta-data, motd, user-data)\n"
    );
    // A file that does not parse is quoted in the report, with a stand-in for the secret.
    let test = render
        .again()
        .env("NETBOOT_JOIN", TOKEN)
        .file(
            "profiles/templates/user-data.j2",
            "#cloud-config\nruncmd: [{{ secrets.join }}, [\n",
        )
        .args(["check"])
        .expect_exit(1)
        .run();
    assert!(test.stderr.contains("not valid YAML"), "{}", test.stderr);
    assert!(
        test.stderr.contains("runcmd: [SECRET-join, ["),
        "{}",
        test.stderr
    );
    assert!(!test.stderr.contains(TOKEN), "{}", test.stderr);
}

#[test]
fn the_machine_file_must_be_of_its_profiles_kind() {
    let run = fleet()
        .file(
            "machines/nodes.kdl",
            "machine \"node-01\" {\n    mac \"52:54:00:aa:00:01\"\n    profile \"ubuntu\"\n    file \"user-data\" kind=\"ignition\" template=\"../profiles/templates/motd.j2\"\n}\n",
        )
        .args(["check"])
        .expect_exit(1)
        .run();
    assert!(
        run.stderr
            .contains("file `user-data` is `ignition` here but `cloud-config` in profile `ubuntu`"),
        "{}",
        run.stderr
    );
}
