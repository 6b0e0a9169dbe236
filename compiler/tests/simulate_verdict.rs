//! What `check` calls a machine that boots as configured: its profile's kernel and initrd,
//! however each is held (a mirrored URL, an upstream URL with `mirror #false`, a local
//! `path=`), and nothing else.

mod common;

use common::{HttpServer, Test, sha256_hex};
use serde_json::Value;

const KERNEL: &[u8] = b"a kernel served over loopback HTTP\n";
const INITRD: &[u8] = b"an initrd served over loopback HTTP\n";
const OTHER: &[u8] = b"an image that is neither\n";

/// How a profile holds one image.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Held {
    /// A URL with `mirror #true`: a bundle object.
    Mirrored,
    /// A URL with `mirror #false`: iPXE fetches it from upstream.
    Upstream,
    /// `path=`: a bundle object whatever `mirror` says.
    Path,
}

/// Every combination a site can hold, with its `mirror` setting: a site mirrors all its
/// URL images or none, so a mirrored URL and an upstream one never meet in one profile.
fn combinations() -> Vec<(bool, Held, Held)> {
    let mut all = Vec::new();
    for (mirror, url) in [(true, Held::Mirrored), (false, Held::Upstream)] {
        for kernel in [url, Held::Path] {
            for initrd in [url, Held::Path] {
                all.push((mirror, kernel, initrd));
            }
        }
    }
    all
}

/// Loopback upstreams for the URL forms (`check` fetches nothing; they make the URLs real).
struct Upstream {
    kernel: HttpServer,
    initrd: HttpServer,
    other: HttpServer,
}

impl Upstream {
    fn new() -> Self {
        Self {
            kernel: HttpServer::serve("/vmlinuz", KERNEL),
            initrd: HttpServer::serve("/initrd.img", INITRD),
            other: HttpServer::serve("/other.img", OTHER),
        }
    }
}

/// One image node: `role` held as `held`, its bytes `bytes` at `url` or `images/<file>`.
fn image(node: &str, held: Held, url: &str, file: &str, bytes: &[u8]) -> String {
    let sha256 = sha256_hex(bytes);
    match held {
        Held::Mirrored | Held::Upstream => format!("    {node} \"{url}\" sha256=\"{sha256}\"\n"),
        Held::Path => format!("    {node} path=\"images/{file}\" sha256=\"{sha256}\"\n"),
    }
}

/// A fleet of one machine whose profile holds its kernel and initrd as given (and an
/// extra image `other` held like the initrd), booted by `template` (`None`: the built-in).
fn fleet(
    upstream: &Upstream,
    (mirror, kernel, initrd): (bool, Held, Held),
    template: Option<&str>,
) -> Test {
    let site =
        format!("site {{\n    origin \"https://boot.example.com\"\n    mirror #{mirror}\n}}\n");
    let mut profile = String::from("profile \"flatcar-stable\" {\n");
    profile += &image(
        "kernel",
        kernel,
        &upstream.kernel.url("/vmlinuz"),
        "vmlinuz",
        KERNEL,
    );
    profile += &image(
        "initrd",
        initrd,
        &upstream.initrd.url("/initrd.img"),
        "initrd.img",
        INITRD,
    );
    profile += &image(
        "image \"other\"",
        initrd,
        &upstream.other.url("/other.img"),
        "other.img",
        OTHER,
    );
    if template.is_some() {
        profile += "    template \"templates/node.ipxe.j2\"\n";
    }
    profile += "}\n";
    let test = Test::new()
        .file("profiles/site.kdl", site)
        .file("profiles/flatcar.kdl", profile)
        .file("profiles/images/vmlinuz", KERNEL)
        .file("profiles/images/initrd.img", INITRD)
        .file("profiles/images/other.img", OTHER)
        .file("machines/rack-a.kdl", common::MACHINE_KDL);
    match template {
        Some(text) => test.file("profiles/templates/node.ipxe.j2", text),
        None => test,
    }
}

/// `check`'s exit code and its diagnostics as `code: message` lines.
fn check(test: Test) -> (i32, Vec<String>) {
    let out = test.args(["check", "--format", "json"]).any_exit().run();
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let list = report["diagnostics"].as_array().expect("a list").iter();
    let lines = list
        .map(|d| {
            format!(
                "{}: {}",
                d["code"].as_str().unwrap_or(""),
                d["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    (out.status, lines)
}

#[test]
fn a_machine_booting_its_kernel_and_initrd_passes_however_they_are_held() {
    let upstream = Upstream::new();
    for combination in combinations() {
        let (status, diagnostics) = check(fleet(&upstream, combination, None));
        assert_eq!((status, diagnostics), (0, vec![]), "{combination:?}");
        let out = fleet(&upstream, combination, None)
            .args(["simulate", "node-01"])
            .any_exit()
            .run();
        assert_eq!(out.status, 0, "{combination:?}: {}", out.stdout);
        assert!(
            out.stdout
                .contains("ok      as configured: profile flatcar-stable"),
            "{combination:?}: {}",
            out.stdout
        );
    }
    // `check` fetched nothing from the upstreams.
    let requests = [&upstream.kernel, &upstream.initrd, &upstream.other].map(HttpServer::requests);
    assert_eq!(requests, [0, 0, 0]);

    // The same against the bundle `build` writes (mirrored images downloaded from the
    // loopback upstreams), as the servers would serve it.
    for combination in combinations() {
        let test = fleet(&upstream, combination, None);
        let cache = test.path().join("image-cache");
        let out = test
            .arg("build")
            .arg("--image-cache")
            .arg(&cache)
            .any_exit()
            .run();
        assert_eq!(out.status, 0, "{combination:?}: {}", out.stderr);
        let out = out
            .again()
            .args(["simulate", "node-01", "--bundle", "out"])
            .any_exit()
            .run();
        assert!(
            out.status == 0
                && out
                    .stdout
                    .contains("ok      as configured: profile flatcar-stable"),
            "{combination:?}: {}",
            out.stdout
        );
    }
}

#[test]
fn an_image_is_the_bundle_object_wherever_the_script_fetches_it_from() {
    // Through the proxy, and straight from the origin: one object.
    let upstream = Upstream::new();
    let template = "#!ipxe\nkernel {{ site.proxy }}/objects/sha256/{{ images.kernel.sha256 }} initrd=initrd\ninitrd --name initrd {{ site.origin }}/objects/sha256/{{ images.initrd.sha256 }}\nboot\n";
    let test = fleet(&upstream, (true, Held::Mirrored, Held::Path), Some(template)).file(
        "profiles/site.kdl",
        "site {\n    origin \"https://boot.example.com\"\n    chain \"via-proxy\" proxy=\"http://10.0.0.2:8080\"\n}\n",
    );
    let (status, diagnostics) = check(test);
    assert_eq!((status, diagnostics), (0, vec![]));
}

#[test]
fn a_machine_booting_another_kernel_or_initrd_fails_however_they_are_held() {
    let upstream = Upstream::new();
    let wrong_initrd = "#!ipxe\nkernel {{ images.kernel.url }} initrd=initrd\ninitrd --name initrd {{ images.other.url }}\nboot\n";
    let wrong_kernel = "#!ipxe\nkernel {{ images.other.url }} initrd=initrd\ninitrd --name initrd {{ images.initrd.url }}\nboot\n";
    // The initrd as a kernel, the kernel as the initrd: each image is compared with its
    // own role only.
    let swapped = "#!ipxe\nkernel {{ images.initrd.url }} initrd=initrd\ninitrd --name initrd {{ images.kernel.url }}\nboot\n";
    let no_initrd = "#!ipxe\nkernel {{ images.kernel.url }}\nboot\n";
    for combination in combinations() {
        for (template, expected) in [
            (
                wrong_initrd,
                "it boots without the initrd of profile `flatcar-stable`",
            ),
            (
                no_initrd,
                "it boots without the initrd of profile `flatcar-stable`",
            ),
            (wrong_kernel, ", not the kernel of profile `flatcar-stable`"),
            (swapped, ", not the kernel of profile `flatcar-stable`"),
        ] {
            let (status, diagnostics) = check(fleet(&upstream, combination, Some(template)));
            let wanted = "netbootc::simulation-failed: machine `node-01` would not boot as configured on uefi-x86_64 firmware: it boots ";
            assert_eq!(status, 1, "{combination:?}, {template:?}");
            assert!(
                diagnostics.len() == 1
                    && diagnostics[0].starts_with(wanted)
                    && diagnostics[0].contains(expected),
                "{combination:?}, {template:?}: {diagnostics:#?}"
            );
        }
    }
}
