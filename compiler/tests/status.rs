//! `netbootc status` against a netboot-proxy's `/status`, recorded as the proxy writes it
//! (runtime/proxy/tests/status.rs checks the proxy's side) and served by a small local
//! HTTP server: the join with the config says which machines were never seen, which are
//! done, which are stuck or on an old release, and which MACs are unknown.

mod common;

use common::{HttpServer, Test, closed_port};

const RELEASE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const OLD: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const STANZA: &str = "machine \"new-52-54-00-1a-00-99\" {\n    mac \"52:54:00:1a:00:99\"\n    profile \"<choose one>\"\n}\n";

/// The base config's node-01, plus node-02 and node-03.
fn fleet() -> Test {
    Test::new().base().file(
        "machines/more.kdl",
        "machine \"node-02\" {\n    mac \"52:54:00:aa:00:02\"\n    profile \"flatcar-stable\"\n}\n\
         machine \"node-03\" {\n    mac \"52:54:00:aa:00:03\"\n    profile \"flatcar-stable\"\n}\n",
    )
}

/// A proxy's `/status`: node-01 (by UUID) done, node-02 (by MAC) stalled on an old
/// release, node-03 never seen, and an unknown MAC.
fn recorded(unknown: bool) -> String {
    let boot = |started: &str, state: &str, release: &str, script: &str| {
        serde_json::json!({
            "started": started, "state": state, "release": release, "script": script,
            "kernel": null, "initrds": null, "stages": [], "stages_not_kept": 0,
        })
    };
    let unknown_macs = if unknown {
        serde_json::json!([{"mac": "52:54:00:1a:00:99", "ip": "10.0.0.99", "stanza": STANZA}])
    } else {
        serde_json::json!([])
    };
    serde_json::json!({
        "release": RELEASE,
        "now": "2026-01-01T01:00:00Z",
        "stall_timeout_seconds": 120,
        "clients": [
            {"ip": "10.0.0.11", "mac": null, "last_seen": "2026-01-01T00:30:00Z", "boots": [
                boot("2026-01-01T00:30:00Z", "done", RELEASE, "machines/by-uuid/4c4c4544-0042-3510-8052-b4c04f4d4e31.ipxe"),
            ]},
            {"ip": "10.0.0.12", "mac": "52:54:00:aa:00:02", "last_seen": "2026-01-01T00:20:00Z", "boots": [
                boot("2026-01-01T00:20:00Z", "stalled", OLD, "machines/by-mac/52-54-00-aa-00-02.ipxe"),
                boot("2026-01-01T00:00:00Z", "done", OLD, "machines/by-mac/52-54-00-aa-00-02.ipxe"),
            ]},
            {"ip": "10.0.0.99", "mac": "52:54:00:1a:00:99", "last_seen": "2026-01-01T00:40:00Z", "boots": [
                boot("2026-01-01T00:40:00Z", "unknown-machine", RELEASE, "machines/unknown.ipxe"),
            ]},
        ],
        "unknown_macs": unknown_macs,
    })
    .to_string()
}

#[test]
fn status_joins_the_proxys_boots_with_the_config() {
    let proxy = HttpServer::serve("/status", recorded(true));
    let out = fleet()
        .args(["status", "--proxy", &proxy.url("")])
        .expect_exit(1)
        .run();
    let text = &out.stdout;
    assert!(
        text.starts_with(&format!("proxy serves {RELEASE}\n")),
        "{text}"
    );
    let section = |title: &str| {
        let start = text
            .find(&format!("\n{title} ("))
            .unwrap_or_else(|| panic!("no {title}: {text}"));
        let rest = &text[start + 1..];
        rest[..rest.find("\n\n").unwrap_or(rest.len())].to_owned()
    };
    assert!(
        section("stuck").contains("node-02") && section("stuck").contains("stalled"),
        "{text}"
    );
    assert!(section("old release").contains("node-02"), "{text}");
    assert!(
        section("done").contains("node-01") && !section("done").contains("node-02"),
        "{text}"
    );
    assert!(section("never seen").contains("node-03"), "{text}");
    assert!(text.contains("52:54:00:1a:00:99 at 10.0.0.99"), "{text}");
    for line in STANZA.lines() {
        assert!(text.contains(&format!("  {line}\n")), "{line:?} in {text}");
    }

    let out = fleet()
        .args(["status", "--format", "json", "--proxy", &proxy.url("")])
        .expect_exit(1)
        .run();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let state = |name: &str| {
        let m = report["machines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap();
        (
            m["state"].as_str().unwrap().to_owned(),
            m["old_release"].as_bool().unwrap(),
        )
    };
    assert_eq!(state("node-01"), ("done".into(), false));
    assert_eq!(state("node-02"), ("stalled".into(), true));
    assert_eq!(state("node-03"), ("never-seen".into(), false));
    assert_eq!(report["unknown_macs"][0]["stanza"], STANZA);
    assert_eq!(proxy.requests(), 2);
}

#[test]
fn status_exits_0_when_every_machine_seen_is_done_and_2_without_a_proxy() {
    let done_only = recorded(false).replace("\"stalled\"", "\"done\"");
    let proxy = HttpServer::serve("/status", done_only);
    let out = fleet()
        .args(["status", "--proxy", &proxy.url("/")])
        .expect_exit(0)
        .run();
    assert!(out.stdout.contains("never seen (1)"), "{}", out.stdout);

    let out = fleet()
        .args([
            "status",
            "--proxy",
            &format!("http://127.0.0.1:{}", closed_port()),
        ])
        .expect_exit(2)
        .run();
    assert!(
        out.stderr.contains("error: status: http://127.0.0.1:"),
        "{}",
        out.stderr
    );
}
