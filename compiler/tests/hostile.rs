//! Hostile KDL: inputs built to make a parser backtrack, recurse, loop or allocate without
//! bound. `netbootc check` answers each with a diagnostic and exit 1, never a panic or a
//! hang. Each run has a generous bound (catching exponential blow-up or an endless loop
//! without flaking on a loaded machine); the real times are in bench/compiler.sh's hostile
//! table.

mod common;

use std::time::{Duration, Instant};

use common::Test;

/// Far above any real time (all are under 0.1 s in the benchmark): only a blow-up or a
/// hang gets here.
const BOUND: Duration = Duration::from_secs(20);

/// (name, text, what the diagnostic must say)
fn corpus() -> Vec<(&'static str, String, &'static str)> {
    let machine = "machine \"m\" {\n    mac \"52:54:00:00:00:01\"\n    profile \"p\"\n}\n";
    vec![
        (
            "nested slashdash children",
            format!("a {}x{}", "/-{ ".repeat(20), "}".repeat(20)),
            "kdl-syntax",
        ),
        (
            "slashdash before an unclosed block",
            format!("a {}{{", "/-a ".repeat(40)),
            "kdl-syntax",
        ),
        ("thousands of open braces", "a {\n".repeat(5000), "too-deep"),
        (
            "a hundred thousand open braces",
            "a{".repeat(100_000),
            "too-deep",
        ),
        (
            "a block opened in slashdashed children, never closed",
            format!("{machine}a /-{{ b {{ c"),
            "kdl-syntax",
        ),
        (
            "unclosed string",
            format!("machine \"{}", "x".repeat(1_000_000)),
            "kdl-syntax",
        ),
        (
            "unclosed multi-line string",
            format!("a \"\"\"\n{}", "    line\n".repeat(100_000)),
            "kdl-syntax",
        ),
        (
            "slashdashed multi-line string open at the end (looped forever in just-kdl 0.3.0)",
            "n /-\"\"\"\n  x\n".to_owned(),
            "kdl-syntax",
        ),
        (
            "long raw-string hash run",
            format!("a {}\"x\"", "#".repeat(1_000_000)),
            "kdl-syntax",
        ),
        (
            "raw string closed by too few hashes",
            format!("a {}\"x\"{}", "#".repeat(50_000), "#".repeat(49_999)),
            "kdl-syntax",
        ),
        (
            "a multi-MB line of arguments",
            format!(
                "a {}\nb {{",
                (0..400_000)
                    .map(|i| format!("\"v{i}\" "))
                    .collect::<String>()
            ),
            "kdl-syntax",
        ),
        (
            "a multi-MB line of properties",
            format!(
                "site {}\n",
                (0..300_000).map(|i| format!("k{i}=1 ")).collect::<String>()
            ),
            "unknown-property",
        ),
        ("deep nesting of comments", "/*".repeat(200_000), "too-deep"),
        (
            "escape runs",
            format!("a \"{}", "\\".repeat(1_000_001)),
            "kdl-syntax",
        ),
        (
            "type annotations left open",
            "n (".repeat(50_000),
            "kdl-syntax",
        ),
        (
            "property chains",
            format!("n {}", "a=".repeat(100_000)),
            "kdl-syntax",
        ),
        (
            "a million nodes on one line",
            "machine;".repeat(1_000_000),
            "missing-field",
        ),
        (
            "NUL and control characters",
            "machine \"a\u{0}b\" {\n\u{1}\n}\n".to_owned(),
            "kdl-syntax",
        ),
    ]
}

#[test]
fn every_hostile_input_gets_a_diagnostic_and_exit_1_quickly() {
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, "");
    for (name, text, code) in corpus() {
        let started = Instant::now();
        let out = Test::new()
            .base()
            .file("machines/hostile.kdl", &text)
            .args(["check"])
            .any_exit()
            .run();
        let took = started.elapsed();
        let stderr = &out.stderr[..out.stderr.len().min(2000)];
        if out.status != 1 || !out.stderr.contains(&format!("netbootc::{code}")) {
            failures.push(format!(
                "{name}: exit {}, expected {code}\n{stderr}",
                out.status
            ));
        } else if !out.stderr.contains("machines/hostile.kdl") {
            failures.push(format!(
                "{name}: the diagnostic does not name the file\n{stderr}"
            ));
        }
        assert!(took < BOUND, "{name}: {took:?}");
        if took > slowest.0 {
            slowest = (took, name);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!("slowest: {} in {:?}", slowest.1, slowest.0);
}

/// Writes the corpus to `$HOSTILE_DIR` (one `<n>.kdl` per input, its name in `names.txt`)
/// for bench/compiler.sh, which times the release binary on each.
#[test]
#[ignore = "run by bench/compiler.sh"]
fn write_corpus_for_the_benchmark() {
    let dir = std::path::PathBuf::from(std::env::var_os("HOSTILE_DIR").expect("HOSTILE_DIR"));
    std::fs::create_dir_all(&dir).expect("HOSTILE_DIR");
    let mut names = String::new();
    for (i, (name, text, _)) in corpus().into_iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.kdl")), text).expect("write");
        names += &format!("{i}\t{name}\n");
    }
    std::fs::write(dir.join("names.txt"), names).expect("write");
}
