//! `--format json` and `--format github`: the machine-readable diagnostics.

mod common;

use common::{Test, several_errors};
use serde_json::Value;

const BAD_MAC_FILE: &str = "machines/rack-b.kdl";
const BAD_MAC_KDL: &str = "// Rack B: the new nodes.\nmachine \"node-02\" {\n    mac \"52:54:00:aa:00\"\n    profile \"flatcar-stable\"\n}\n";
const BAD_MAC_TOKEN: &str = "\"52:54:00:aa:00\"";

/// 1-based line and character column of a byte offset, computed here independently of
/// the compiler.
fn line_col(text: &str, offset: usize) -> (u64, u64) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line as u64, column as u64)
}

fn json(test: Test, exit: i32) -> Vec<Value> {
    let out = test
        .args(["check", "--format", "json"])
        .expect_exit(exit)
        .run();
    assert_eq!(out.stderr, "", "JSON mode prints nothing on stderr");
    let report: Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    report["diagnostics"]
        .as_array()
        .expect("a `diagnostics` array")
        .clone()
}

#[test]
fn json_carries_every_field() {
    let list = json(Test::new().base().file(BAD_MAC_FILE, BAD_MAC_KDL), 1);
    assert_eq!(list.len(), 1, "{list:#?}");
    let d = &list[0];
    let offset = BAD_MAC_KDL.find(BAD_MAC_TOKEN).expect("token in fixture");
    let (line, column) = line_col(BAD_MAC_KDL, offset);
    assert_eq!((line, column), (3, 9));
    assert_eq!(d["code"], "netbootc::bad-mac");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["message"], "`52:54:00:aa:00` is not a MAC address");
    assert_eq!(d["file"], BAD_MAC_FILE);
    assert_eq!(d["line"], line);
    assert_eq!(d["column"], column);
    assert_eq!(d["offset"], offset as u64);
    assert_eq!(d["length"], BAD_MAC_TOKEN.len() as u64);
    assert_eq!(d["label"], "expected six hex pairs");
    assert!(
        d["help"]
            .as_str()
            .is_some_and(|h| h.contains("52:54:00:aa:00:01")),
        "{d:#}"
    );
}

#[test]
fn json_counts_columns_in_characters() {
    // `é` is two bytes: the byte offset and the character column differ.
    let kdl = "// Baie B — nœuds\nmachine \"node-02\" { mac \"52:54:00:aa:00\"; profile \"flatcar-stable\"; }\n";
    let list = json(Test::new().base().file(BAD_MAC_FILE, kdl), 1);
    let offset = kdl.find(BAD_MAC_TOKEN).expect("token");
    let (line, column) = line_col(kdl, offset);
    assert_eq!(list[0]["offset"], offset as u64);
    assert_eq!(list[0]["line"], line);
    assert_eq!(list[0]["column"], column);
}

#[test]
fn json_is_empty_and_exit_0_when_clean() {
    assert!(json(Test::new().base(), 0).is_empty());
}

#[test]
fn json_global_diagnostic_has_no_position() {
    let list = json(Test::new().base().remove("profiles/site.kdl"), 1);
    let d = &list[0];
    assert_eq!(d["code"], "netbootc::missing-site");
    for key in ["file", "line", "column", "offset", "length"] {
        assert!(d[key].is_null(), "{key} should be null: {d:#}");
    }
}

#[test]
fn json_lists_every_error_sorted() {
    let list = json(several_errors(), 1);
    let keys: Vec<(String, u64)> = list
        .iter()
        .map(|d| {
            (
                d["file"].as_str().expect("file").to_owned(),
                d["offset"].as_u64().expect("offset"),
            )
        })
        .collect();
    assert!(keys.is_sorted(), "{keys:?}");
    let codes: Vec<&str> = list
        .iter()
        .map(|d| d["code"].as_str().expect("code"))
        .collect();
    assert_eq!(
        codes,
        [
            "netbootc::bad-mac",
            "netbootc::unknown-profile",
            "netbootc::bad-uuid",
            "netbootc::unknown-node",
        ]
    );
}

#[test]
fn json_warning_severity() {
    let list = json(
        Test::new().base().file(
            "profiles/memtest.kdl",
            format!(
                "profile \"memtest\" {{\n    kernel path=\"images/vmlinuz\" sha256=\"{}\"\n}}\n",
                common::kernel_sha256()
            ),
        ),
        0,
    );
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["code"], "netbootc::unused-profile");
    assert_eq!(list[0]["severity"], "warning");
    assert_eq!(list[0]["line"], 1);
    assert_eq!(list[0]["column"], 9);
}

#[test]
fn github_annotations() {
    Test::new()
        .base()
        .file(BAD_MAC_FILE, BAD_MAC_KDL)
        .args(["check", "--format", "github"])
        .expect_exit(1)
        .expect_stdout(
            "::error file=machines/rack-b.kdl,line=3,col=9,endLine=3,endColumn=25,title=netbootc%3A%3Abad-mac::`52:54:00:aa:00` is not a MAC address%0Ahelp: write it as 52:54:00:aa:00:01 (`:` or `-` separators, any case)\n",
        )
        .expect_stderr("")
        .run();
}

#[test]
fn github_one_line_per_diagnostic() {
    let out = several_errors()
        .args(["check", "--format", "github"])
        .expect_exit(1)
        .run();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    let prefixes = [
        "::error file=machines/rack-a.kdl,line=8,col=9,",
        "::error file=machines/rack-a.kdl,line=9,col=13,",
        "::error file=machines/rack-b.kdl,line=4,col=10,",
        "::error file=profiles/rescue.kdl,line=3,col=5,",
    ];
    for (line, prefix) in lines.iter().zip(prefixes) {
        assert!(
            line.starts_with(prefix),
            "{line}\n  should start with\n{prefix}"
        );
    }
}

#[test]
fn github_warning_and_global() {
    let out = Test::new()
        .base()
        .remove("profiles/site.kdl")
        .args(["check", "--format", "github"])
        .expect_exit(1)
        .run();
    assert_eq!(
        out.stdout,
        "::error title=netbootc%3A%3Amissing-site::no `site` node in the config%0Ahelp: add profiles/site.kdl with: site { origin \"https://boot.example.com\" }\n"
    );
}
