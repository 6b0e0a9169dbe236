//! The boot status (`GET /status`): clients on distinct loopback addresses (curl
//! `--interface 127.0.0.N`) walk through a boot over TFTP and LAN HTTP, and the status says
//! what each got. Time comes from the proxy's test clock file, so a stall is reached by
//! rewriting the file, never by waiting.

#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test, with its location.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{admin, fast_proxy, lan, metric, origin, wait_health};
use netboot_bundle::Digest;
use netboot_testkit::{Curl, Reply, Server, TestBundle, files, image, wait_until};
use serde_json::Value;

const TEXT: &str = "text/plain; charset=utf-8";
const OCTETS: &str = "application/octet-stream";
const MAC_1: &str = "52-54-00-00-00-01";
const MAC_2: &str = "52-54-00-00-00-02";
const FILE_ROUTE: &str =
    "files/0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0/ignition";

/// A release like the compiler's: boot file, dispatcher, two machine scripts whose
/// `kernel` and `initrd` lines name the image objects, `unknown.ipxe`, a provisioning file.
struct Fleet {
    bundle: TestBundle,
    manifest: Digest,
    efi: Vec<u8>,
    kernel: Vec<u8>,
    initrd: Vec<u8>,
}

impl Fleet {
    fn new() -> Self {
        let (efi, kernel, initrd) = (image(40_000, 1), image(300_000, 2), image(120_000, 3));
        let object = |bytes: &[u8]| {
            format!(
                "http://10.0.0.2:8080/objects/sha256/{}",
                Digest::of(bytes).hex()
            )
        };
        let script = |name: &str, args: &str| {
            format!(
                "#!ipxe\necho {name}\nkernel {} initrd=initrd console=ttyS0{args} || goto failed\ninitrd --name initrd {} || goto failed\nboot\n",
                object(&kernel),
                object(&initrd)
            )
        };
        // node-01's provisioning file is named on its command line; node-02 has none.
        let (script_1, script_2) = (
            script(
                "node-01",
                &format!(" ignition.config.url=http://10.0.0.2:8080/{FILE_ROUTE}"),
            ),
            script("node-02", ""),
        );
        let bundle = TestBundle::new();
        let manifest = bundle.publish(&[
            (
                "boot.ipxe",
                b"#!ipxe\nchain machines/by-mac/${mac:hexhyp}.ipxe\n",
                TEXT,
            ),
            ("tftp/boot.ipxe", b"#!ipxe\nchain boot.ipxe\n", TEXT),
            ("tftp/ipxe.efi", &efi, OCTETS),
            (
                &format!("machines/by-mac/{MAC_1}.ipxe"),
                script_1.as_bytes(),
                TEXT,
            ),
            (
                &format!("machines/by-mac/{MAC_2}.ipxe"),
                script_2.as_bytes(),
                TEXT,
            ),
            (
                "machines/unknown.ipxe",
                b"#!ipxe\necho not registered\n",
                TEXT,
            ),
            ("images/flatcar/kernel", &kernel, OCTETS),
            ("images/flatcar/initrd", &initrd, OCTETS),
            (
                FILE_ROUTE,
                b"{\"ignition\":{\"version\":\"3.4.0\"}}\n",
                TEXT,
            ),
        ]);
        Self {
            bundle,
            manifest,
            efi,
            kernel,
            initrd,
        }
    }
}

/// The proxy's test clock: a file holding "now".
struct TestClock(PathBuf);

impl TestClock {
    fn new(dir: &Path) -> Self {
        let clock = Self(dir.join("clock"));
        clock.set(0);
        clock
    }

    /// Sets "now" to `seconds` past 2026-01-01T00:00:00Z (monotonic time moves with it).
    fn set(&self, seconds: u64) {
        std::fs::write(&self.0, wall(seconds)).unwrap();
    }

    /// Sets wall time to `wall_seconds` past 2026-01-01T00:00:00Z (negative: before) and
    /// monotonic time to `monotonic_seconds`, apart: a step of the wall clock.
    fn set_apart(&self, wall_seconds: i64, monotonic_seconds: u64) {
        let text = format!(
            "{}\nmonotonic {monotonic_seconds}s\n",
            wall_at(wall_seconds)
        );
        std::fs::write(&self.0, text).unwrap();
    }
}

fn wall(seconds: u64) -> String {
    wall_at(i64::try_from(seconds).unwrap())
}

fn wall_at(seconds: i64) -> String {
    let epoch = humantime::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let step = Duration::from_secs(seconds.unsigned_abs());
    let t = if seconds < 0 {
        epoch - step
    } else {
        epoch + step
    };
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Origin, proxy (on the test clock, with `flags`) and the fleet, the release served.
fn start(flags: &[(&str, &str)]) -> (Fleet, Server, Server, TestClock, tempfile::TempDir) {
    let fleet = Fleet::new();
    let origin = origin(fleet.bundle.root());
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(dir.path());
    let builder = fast_proxy(
        origin.port(),
        &dir.path().join("cache"),
        (files::CLIENT_ECDSA_CERT, files::CLIENT_ECDSA_KEY),
    )
    .env("NETBOOT_PROXY_TEST_CLOCK", &clock.0);
    let proxy = flags
        .iter()
        .fold(builder, |b, (name, value)| b.flag(name, value))
        .start();
    assert!(wait_health(&proxy, &fleet.manifest.to_string()).starts_with("ok "));
    (fleet, origin, proxy, clock, dir)
}

/// GET `path` on the proxy's LAN listener from loopback address `client`.
fn get(proxy: &Server, client: &str, path: &str) -> Reply {
    Curl::plain(format!("http://{}{path}", proxy.addr))
        .arg("--interface")
        .arg(client)
        .run()
}

/// TFTP `name` from loopback address `client`.
fn tftp(proxy: &Server, client: &str, name: &str) -> Reply {
    let addr = proxy.field("tftp").unwrap();
    Curl::plain(format!("tftp://{addr}/{name}"))
        .arg("--interface")
        .arg(client)
        .run()
}

fn status(proxy: &Server) -> Value {
    let reply = admin(proxy, "/status");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    serde_json::from_slice(&reply.body).unwrap()
}

fn client<'a>(status: &'a Value, ip: &str) -> Option<&'a Value> {
    status["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ip"] == ip)
}

/// The state of `ip`'s last boot, once the status has one.
fn last_state(proxy: &Server, ip: &str) -> String {
    client(&status(proxy), ip)
        .and_then(|c| c["boots"][0]["state"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Waits until `ip`'s last boot is in `state` (transfers are recorded as their last byte
/// leaves, which may be just after the client has it); the status, for the asserts.
#[track_caller]
fn wait_state(proxy: &Server, ip: &str, state: &str) -> Value {
    assert!(
        wait_until(Duration::from_secs(10), || last_state(proxy, ip) == state),
        "{ip} never got to {state}: {:#}",
        status(proxy)
    );
    status(proxy)
}

fn stage<'a>(boot: &'a Value, kind: &str) -> &'a Value {
    boot["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == kind)
        .unwrap_or_else(|| panic!("no {kind} stage in {boot:#}"))
}

#[test]
fn a_boot_is_followed_to_done_and_a_kernel_without_initrd_stalls_on_the_clock() {
    let (fleet, _origin, proxy, clock, _dir) = start(&[("--status-stall-timeout", "120s")]);
    let (a, b) = ("127.0.0.2", "127.0.0.3");
    let kernel_path = format!("/objects/sha256/{}", Digest::of(&fleet.kernel).hex());
    let initrd_path = format!("/objects/sha256/{}", Digest::of(&fleet.initrd).hex());

    // A: the whole chain, the boot file over TFTP, then the OS's provisioning file.
    assert_eq!(tftp(&proxy, a, "ipxe.efi").body, fleet.efi);
    for path in [
        "/boot.ipxe".to_owned(),
        format!("/machines/by-mac/{MAC_1}.ipxe"),
        kernel_path.clone(),
        initrd_path.clone(),
        format!("/{FILE_ROUTE}"),
    ] {
        assert_eq!(get(&proxy, a, &path).status, 200, "{path}");
    }
    let report = wait_state(&proxy, a, "done");
    assert_eq!(report["release"], fleet.manifest.to_string());
    let seen = client(&report, a).unwrap();
    assert_eq!(seen["mac"], "52:54:00:00:00:01");
    let boot = &seen["boots"][0];
    assert_eq!(boot["release"], fleet.manifest.to_string());
    assert_eq!(boot["script"], format!("machines/by-mac/{MAC_1}.ipxe"));
    assert_eq!(boot["started"], "2026-01-01T00:00:00Z");
    let kinds: Vec<&str> = boot["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "boot-file",
            "dispatcher",
            "script",
            "kernel",
            "initrd",
            "file"
        ]
    );
    for (kind, bytes, transport) in [
        ("boot-file", &fleet.efi, "tftp"),
        ("kernel", &fleet.kernel, "http"),
        ("initrd", &fleet.initrd, "http"),
    ] {
        let stage = stage(boot, kind);
        assert_eq!(stage["object"], Digest::of(bytes).to_string(), "{kind}");
        assert_eq!(stage["bytes"], bytes.len() as u64, "{kind}");
        assert_eq!(stage["complete"], true, "{kind}");
        assert_eq!(stage["status"], 200, "{kind}");
        assert_eq!(stage["transport"], transport, "{kind}");
        assert_eq!(stage["release"], fleet.manifest.to_string(), "{kind}");
    }
    assert_eq!(boot["kernel"], Digest::of(&fleet.kernel).to_string());

    // B: script and kernel, never the initrd: in progress until the timeout has passed
    // on the proxy's clock, then stalled.
    for path in [
        format!("/machines/by-mac/{MAC_2}.ipxe"),
        kernel_path.clone(),
    ] {
        assert_eq!(get(&proxy, b, &path).status, 200, "{path}");
    }
    assert!(wait_until(Duration::from_secs(10), || {
        client(&status(&proxy), b)
            .is_some_and(|c| stage(&c["boots"][0], "kernel")["complete"] == true)
    }));
    clock.set(119);
    assert_eq!(last_state(&proxy, b), "in-progress");
    clock.set(120);
    assert_eq!(last_state(&proxy, b), "stalled");
    assert_eq!(last_state(&proxy, a), "done", "a done boot never stalls");
    assert_eq!(
        metric(&proxy, "netboot_proxy_boots{state=\"stalled\"}"),
        Some(1)
    );
    assert_eq!(
        metric(&proxy, "netboot_proxy_boots{state=\"done\"}"),
        Some(1)
    );
    assert_eq!(metric(&proxy, "netboot_proxy_clients_tracked"), Some(2));

    // A boots again: a new boot, the done one kept behind it.
    assert_eq!(get(&proxy, a, "/boot.ipxe").status, 200);
    let report = status(&proxy);
    let boots = client(&report, a).unwrap()["boots"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(boots.len(), 2);
    assert_eq!(boots[0]["state"], "in-progress");
    assert_eq!(boots[0]["started"], "2026-01-01T00:02:00Z");
    assert_eq!(boots[1]["state"], "done");
    // Nothing of a provisioning file but its route and digest.
    assert!(!report.to_string().contains("3.4.0"));
}

#[test]
fn an_unknown_mac_is_listed_with_a_stanza_to_paste() {
    let (_fleet, _origin, proxy, _clock, _dir) = start(&[]);
    let c = "127.0.0.4";
    assert_eq!(tftp(&proxy, c, "boot.ipxe").exit, 0);
    assert_eq!(
        get(&proxy, c, "/machines/by-mac/52-54-00-1A-00-99.ipxe").status,
        404
    );
    assert_eq!(get(&proxy, c, "/machines/unknown.ipxe").status, 200);
    let report = wait_state(&proxy, c, "unknown-machine");
    let seen = client(&report, c).unwrap();
    assert_eq!(seen["mac"], "52:54:00:1a:00:99");
    let boot = &seen["boots"][0];
    assert_eq!(stage(boot, "dispatcher")["transport"], "tftp");
    let lookup = &boot["stages"][1];
    assert_eq!(lookup["route"], "machines/by-mac/52-54-00-1A-00-99.ipxe");
    assert_eq!(lookup["status"], 404);
    assert_eq!(lookup["object"], Value::Null);
    assert_eq!(
        report["unknown_macs"],
        serde_json::json!([{
            "mac": "52:54:00:1a:00:99",
            "ip": c,
            "stanza": "machine \"new-52-54-00-1a-00-99\" {\n    mac \"52:54:00:1a:00:99\"\n    profile \"<choose one>\"\n}\n",
        }])
    );
    assert_eq!(
        metric(&proxy, "netboot_proxy_boots{state=\"unknown-machine\"}"),
        Some(1)
    );
}

#[test]
fn clients_and_boots_stay_within_their_bounds() {
    let (_fleet, _origin, proxy, _clock, _dir) = start(&[
        ("--status-max-clients", "3"),
        ("--status-boots-per-client", "2"),
    ]);
    for n in 10..15 {
        assert_eq!(
            get(&proxy, &format!("127.0.0.{n}"), "/boot.ipxe").status,
            200
        );
    }
    let report = status(&proxy);
    let ips: Vec<&str> = report["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ip"].as_str().unwrap())
        .collect();
    assert_eq!(
        ips,
        ["127.0.0.12", "127.0.0.13", "127.0.0.14"],
        "the oldest are forgotten; the rest listed in address order"
    );
    assert_eq!(report["next_after"], Value::Null, "one page holds them");
    assert_eq!(
        metric(&proxy, "netboot_proxy_clients_dropped_total"),
        Some(2)
    );
    assert_eq!(metric(&proxy, "netboot_proxy_clients_tracked"), Some(3));

    // Three boots (dispatcher, script; again; again): the last two are kept.
    let c = "127.0.0.14";
    for _ in 0..3 {
        assert_eq!(get(&proxy, c, "/boot.ipxe").status, 200);
        let script = get(&proxy, c, &format!("/machines/by-mac/{MAC_1}.ipxe"));
        assert_eq!(script.status, 200);
    }
    let report = status(&proxy);
    assert_eq!(
        client(&report, c).unwrap()["boots"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(report["clients"].as_array().unwrap().len(), 3);
}

/// The boot journal's records, oldest first (the rotated generation, then the file).
fn journal(dir: &Path) -> Vec<Value> {
    ["boots.jsonl.1", "boots.jsonl"]
        .iter()
        .filter_map(|name| std::fs::read_to_string(dir.join(name)).ok())
        .flat_map(|text| {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

/// Waits until the journal has a record of `ip` in `state`; all records, for the asserts.
#[track_caller]
fn wait_journal(dir: &Path, ip: &str, state: &str) -> Vec<Value> {
    assert!(
        wait_until(Duration::from_secs(20), || journal(dir)
            .iter()
            .any(|r| r["ip"] == ip && r["state"] == state)),
        "no {state} record of {ip} in the journal: {:#?}",
        journal(dir)
    );
    journal(dir)
}

#[test]
fn the_boot_journal_records_each_boot_once_it_comes_to_something() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("boots.jsonl");
    let (fleet, _origin, proxy, clock, _proxy_dir) = start(&[
        ("--status-stall-timeout", "4s"),
        ("--status-log", log.to_str().unwrap()),
    ]);
    let (a, b) = ("127.0.0.2", "127.0.0.3");
    let kernel_path = format!("/objects/sha256/{}", Digest::of(&fleet.kernel).hex());
    let initrd_path = format!("/objects/sha256/{}", Digest::of(&fleet.initrd).hex());

    // A boots to the end: one record, done, with its stages; nothing of the file's bytes.
    for path in [
        "/boot.ipxe".to_owned(),
        format!("/machines/by-mac/{MAC_1}.ipxe"),
        kernel_path.clone(),
        initrd_path,
        format!("/{FILE_ROUTE}"),
    ] {
        assert_eq!(get(&proxy, a, &path).status, 200, "{path}");
    }
    let records = wait_journal(dir.path(), a, "done");
    let done = records.iter().find(|r| r["ip"] == a).unwrap();
    assert_eq!(done["mac"], "52:54:00:00:00:01");
    assert_eq!(done["script"], format!("machines/by-mac/{MAC_1}.ipxe"));
    assert_eq!(done["release"], fleet.manifest.to_string());
    assert_eq!(stage(done, "kernel")["complete"], true);
    assert!(!std::fs::read_to_string(&log).unwrap().contains("3.4.0"));

    // B stalls: nobody asks for anything, the proxy's sweep notices on its clock.
    for path in [format!("/machines/by-mac/{MAC_2}.ipxe"), kernel_path] {
        assert_eq!(get(&proxy, b, &path).status, 200, "{path}");
    }
    assert!(wait_until(Duration::from_secs(10), || {
        client(&status(&proxy), b)
            .is_some_and(|c| stage(&c["boots"][0], "kernel")["complete"] == true)
    }));
    clock.set(5);
    let records = wait_journal(dir.path(), b, "stalled");

    // A starts again and gives up after the dispatcher: that boot is recorded as it was
    // left once A starts the next one. Each state of each boot is recorded once.
    assert_eq!(get(&proxy, a, "/boot.ipxe").status, 200);
    assert_eq!(
        get(&proxy, a, &format!("/machines/by-mac/{MAC_1}.ipxe")).status,
        200
    );
    assert_eq!(get(&proxy, a, "/boot.ipxe").status, 200);
    let after = wait_journal(dir.path(), a, "in-progress");
    let states: Vec<(&str, &str)> = after
        .iter()
        .map(|r| (r["ip"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [(a, "done"), (b, "stalled"), (a, "in-progress")],
        "{after:#?}"
    );
    assert_eq!(records.len(), 2);
}

#[test]
fn a_wall_clock_step_neither_stalls_a_boot_nor_ends_a_stall() {
    let (fleet, _origin, proxy, clock, _dir) = start(&[("--status-stall-timeout", "120s")]);
    clock.set_apart(0, 0);
    let b = "127.0.0.3";
    let kernel_path = format!("/objects/sha256/{}", Digest::of(&fleet.kernel).hex());
    for path in [format!("/machines/by-mac/{MAC_2}.ipxe"), kernel_path] {
        assert_eq!(get(&proxy, b, &path).status, 200, "{path}");
    }
    assert!(wait_until(Duration::from_secs(10), || {
        client(&status(&proxy), b)
            .is_some_and(|c| stage(&c["boots"][0], "kernel")["complete"] == true)
    }));
    // NTP steps a Pi without a real-time clock forward by a day, ten seconds later.
    clock.set_apart(86_400, 10);
    assert_eq!(
        last_state(&proxy, b),
        "in-progress",
        "a forward step is no stall"
    );
    clock.set_apart(86_400, 120);
    assert_eq!(last_state(&proxy, b), "stalled");
    // And back by two days: the stall stays, and the display shows the wall time.
    clock.set_apart(-86_400, 121);
    let report = status(&proxy);
    assert_eq!(report["now"], wall_at(-86_400));
    assert_eq!(client(&report, b).unwrap()["boots"][0]["state"], "stalled");
    assert_eq!(
        client(&report, b).unwrap()["boots"][0]["started"],
        "2026-01-01T00:00:00Z"
    );
}

#[test]
fn the_lan_listener_serves_boots_and_the_admin_listener_the_rest() {
    let (_fleet, _origin, proxy, _clock, _dir) = start(&[]);
    for path in ["/status", "/metrics", "/status?after=127.0.0.1"] {
        let reply = lan(&proxy, path);
        assert_eq!(reply.status, 404, "{path} on the LAN");
        assert!(!String::from_utf8_lossy(&reply.body).contains("netboot_proxy_"));
    }
    assert_eq!(lan(&proxy, "/boot.ipxe").status, 200);
    assert!(lan(&proxy, "/healthz").body.starts_with(b"ok "));
    assert_eq!(admin(&proxy, "/status").status, 200);
    assert!(
        String::from_utf8(admin(&proxy, "/metrics").body)
            .unwrap()
            .contains("netboot_proxy_status_bytes ")
    );
    assert!(admin(&proxy, "/healthz").body.starts_with(b"ok "));
    assert_eq!(
        admin(&proxy, "/boot.ipxe").status,
        404,
        "no boot routes for the operator"
    );
    assert_eq!(admin(&proxy, "/status?after=nonsense").status, 400);
    assert_eq!(admin(&proxy, "/status?page=2").status, 400);
}

/// A machine's provisioning files go to the address that fetched its script in its current
/// boot, within `--files-window` on the proxy's clock; any other asker gets 403, recorded
/// in its boot status, and nobody gets the file's object by its digest.
#[test]
fn provisioning_files_go_only_to_their_machine_within_the_window() {
    let (_fleet, _origin, proxy, clock, _dir) = start(&[("--files-window", "10m")]);
    let (machine, neighbour) = ("127.0.0.2", "127.0.0.3");
    let file = format!("/{FILE_ROUTE}");
    let forbidden = |client: &str, why: &str| {
        let reply = get(&proxy, client, &file);
        assert_eq!(reply.status, 403, "{client}: {why}");
        assert!(!String::from_utf8_lossy(&reply.body).contains("3.4.0"));
        reply
    };

    forbidden(machine, "before its script");
    assert_eq!(
        get(&proxy, machine, &format!("/machines/by-mac/{MAC_1}.ipxe")).status,
        200
    );
    assert_eq!(
        get(&proxy, machine, &file).body,
        b"{\"ignition\":{\"version\":\"3.4.0\"}}\n"
    );
    let refused = forbidden(neighbour, "another LAN host");
    assert!(String::from_utf8_lossy(&refused.body).contains("current boot"));
    // The refusal is in the asker's boot status, as a file stage with its status.
    let report = status(&proxy);
    let stage = stage(&client(&report, neighbour).unwrap()["boots"][0], "file");
    assert_eq!(stage["status"], 403);
    assert_eq!(stage["route"], FILE_ROUTE);
    // The file's object is not served by its digest either: 404, as if it did not exist.
    let digest = Digest::of(b"{\"ignition\":{\"version\":\"3.4.0\"}}\n");
    assert_eq!(
        get(
            &proxy,
            neighbour,
            &format!("/objects/sha256/{}", digest.hex())
        )
        .status,
        404
    );

    // Within the window the OS may ask again; past it, not.
    clock.set(600);
    assert_eq!(get(&proxy, machine, &file).status, 200);
    clock.set(601);
    let late = forbidden(machine, "past the window");
    assert!(String::from_utf8_lossy(&late.body).contains("window"));

    // A new boot: the script again opens the window; the dispatcher of the next one ends it.
    assert_eq!(
        get(&proxy, machine, &format!("/machines/by-mac/{MAC_1}.ipxe")).status,
        200
    );
    assert_eq!(get(&proxy, machine, &file).status, 200);
    assert_eq!(get(&proxy, machine, "/boot.ipxe").status, 200);
    forbidden(machine, "a new boot began");
    // Another machine's script gives its own sets only (node-02 has none).
    assert_eq!(
        get(&proxy, neighbour, &format!("/machines/by-mac/{MAC_2}.ipxe")).status,
        200
    );
    forbidden(neighbour, "node-02's script names no files");
}

/// A script that refused an image asks for `refused/sha256/<image>`, and one whose
/// firmware refused the kernel at `boot` (Secure Boot) for `refused/secure-boot/kernel`:
/// a 404 that the boot status records as a `refused` stage, and the boot as refused though
/// every image was served whole.
#[test]
fn a_refused_image_makes_the_boot_refused() {
    for refused in ["refused/sha256/kernel", "refused/secure-boot/kernel"] {
        let (fleet, _origin, proxy, _clock, _dir) = start(&[]);
        let machine = "127.0.0.5";
        for path in [
            format!("/machines/by-mac/{MAC_1}.ipxe"),
            format!("/objects/sha256/{}", Digest::of(&fleet.kernel).hex()),
            format!("/objects/sha256/{}", Digest::of(&fleet.initrd).hex()),
        ] {
            assert_eq!(get(&proxy, machine, &path).status, 200, "{path}");
        }
        wait_state(&proxy, machine, "done");
        assert_eq!(get(&proxy, machine, &format!("/{refused}")).status, 404);
        let report = wait_state(&proxy, machine, "refused");
        let boot = &client(&report, machine).unwrap()["boots"][0];
        assert_eq!(stage(boot, "refused")["route"], refused);
        assert_eq!(
            metric(&proxy, "netboot_proxy_boots{state=\"refused\"}"),
            Some(1)
        );
    }
}
