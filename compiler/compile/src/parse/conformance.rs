//! The compiler's KDL parser ([`document`](super::document), just-kdl) against the `kdl`
//! crate as an oracle: on the official test suite (compiler/tests/kdl-spec) and on
//! generated documents, the two accept and reject the same texts and read the same tree.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use kdl::{KdlDocument, KdlNode, KdlValue};
use proptest::prelude::*;

use super::document::{self, Node, Value};

/// A node without spans or formatting: what both parsers must agree on.
#[derive(Debug, PartialEq)]
struct Shape {
    name: String,
    entries: Vec<(Option<String>, Scalar)>,
    children: Option<Vec<Shape>>,
}

/// A value compared by meaning (`#nan` equals itself).
#[derive(Debug, PartialEq)]
enum Scalar {
    String(String),
    Integer(i128),
    Float(u64),
    Bool(bool),
    Null,
}

fn float(f: f64) -> Scalar {
    Scalar::Float(if f.is_nan() {
        f64::NAN.to_bits()
    } else {
        f.to_bits()
    })
}

fn ours(nodes: &[Node]) -> Vec<Shape> {
    nodes
        .iter()
        .map(|n| Shape {
            name: n.name().to_owned(),
            entries: n
                .entries()
                .iter()
                .map(|e| {
                    let value = match e.value() {
                        Value::String(s) => Scalar::String(s.clone()),
                        Value::Integer(i) => Scalar::Integer(*i),
                        Value::Float(f) => float(*f),
                        Value::Bool(b) => Scalar::Bool(*b),
                        Value::Null => Scalar::Null,
                    };
                    (e.name().map(str::to_owned), value)
                })
                .collect(),
            children: n.children().map(|b| ours(b.nodes())),
        })
        .collect()
}

fn oracle(nodes: &[KdlNode]) -> Vec<Shape> {
    nodes
        .iter()
        .map(|n| Shape {
            name: n.name().value().to_owned(),
            entries: n
                .entries()
                .iter()
                .map(|e| {
                    let value = match e.value() {
                        KdlValue::String(s) => Scalar::String(s.clone()),
                        KdlValue::Integer(i) => Scalar::Integer(*i),
                        KdlValue::Float(f) => float(*f),
                        KdlValue::Bool(b) => Scalar::Bool(*b),
                        KdlValue::Null => Scalar::Null,
                    };
                    (e.name().map(|k| k.value().to_owned()), value)
                })
                .collect(),
            children: n.children().map(|d| oracle(d.nodes())),
        })
        .collect()
}

/// Both parsers' readings of `text`: the tree, or `None` for a rejected text.
fn both(text: &str) -> (Option<Vec<Shape>>, Option<Vec<Shape>>) {
    let ours = document::parse(text).ok().map(|nodes| ours(&nodes));
    let oracle = KdlDocument::parse_v2(text).ok().map(|d| oracle(d.nodes()));
    (ours, oracle)
}

/// The suite's pretty-printed form (`expected_kdl/`): arguments, then properties sorted with
/// only the rightmost of a repeated key, and no empty children blocks.
fn printed(shapes: Vec<Shape>) -> Vec<Shape> {
    shapes
        .into_iter()
        .map(|mut shape| {
            let (mut props, args): (Vec<_>, Vec<_>) =
                shape.entries.into_iter().partition(|(k, _)| k.is_some());
            props.reverse();
            props.sort_by(|a, b| a.0.cmp(&b.0)); // stable: the rightmost of a key first
            props.dedup_by(|a, b| a.0 == b.0);
            shape.entries = args.into_iter().chain(props).collect();
            shape.children = shape.children.map(printed).filter(|c| !c.is_empty());
            shape
        })
        .collect()
}

/// Cases where a parser and the suite disagree, each checked to still disagree (so a fixed
/// parser shows up here): (case, which parser is wrong, why).
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "hex.kdl",
        "suite",
        "the kdl crate's copy of the suite has no expected_kdl/hex.kdl (0xabcdef1234567890 overflows i64); the spec's suite has it valid, and both parsers accept it",
    ),
    (
        "multiline_raw_string_single_line_err_fail.kdl",
        "kdl",
        "the kdl crate accepts a multi-line raw string opened and closed on one line",
    ),
    (
        "unicode_delete_fail.kdl",
        "kdl",
        "the kdl crate accepts U+007F (DELETE), which KDL v2 forbids",
    ),
    (
        "zero_space_before_slashdash_arg_fail.kdl",
        "ours",
        "just-kdl accepts `node \"string\"/-1` (no space before a slashdash): harmless, the slashdashed argument is dropped either way",
    ),
];

#[test]
fn the_kdl_test_suite() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/kdl-spec");
    let mut cases: Vec<_> = std::fs::read_dir(suite.join("input"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(
        cases.len() > 300,
        "the suite is missing: {}",
        suite.display()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(case).unwrap().replace("\r\n", "\n");
        let expected = std::fs::read_to_string(suite.join("expected_kdl").join(&name)).ok();
        let (ours, oracle) = both(&text);
        let wrong = KNOWN.iter().find(|k| k.0 == name).map(|k| k.1);
        let valid = expected.is_some() != (wrong == Some("suite"));
        if (ours.is_some() == valid) == (wrong == Some("ours")) {
            failures.push(format!(
                "{name}: valid={valid}, ours accepts: {}",
                ours.is_some()
            ));
        }
        if (oracle.is_some() == valid) == (wrong == Some("kdl")) {
            failures.push(format!(
                "{name}: valid={valid}, kdl accepts: {}",
                oracle.is_some()
            ));
        }
        if let (Some(ours), Some(oracle)) = (&ours, &oracle)
            && ours != oracle
        {
            failures.push(format!(
                "{name}: trees differ\n ours: {ours:?}\n kdl:  {oracle:?}"
            ));
        }
        if let (Some(ours), Some(expected)) = (ours, expected) {
            // The suite's printed form reads as the same tree, up to its printing rules.
            let printed_tree = document::parse(&expected).map(|n| printed(self::ours(&n)));
            if printed_tree.as_ref().ok() != Some(&printed(ours)) {
                failures.push(format!(
                    "{name}: differs from expected_kdl: {printed_tree:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// An identifier, quoted when it must be.
fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_-]{0,8}",
        "[a-z ]{1,6}".prop_map(|s| format!("{s:?}")),
        Just("\"true\"".to_owned()),
    ]
}

/// A value as text, in the forms KDL offers for it.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 .:/_-]{0,12}".prop_map(|s| format!("{s:?}")),
        // Raw strings: no `"` inside, or `#"""#` would open a multi-line one.
        "[a-z0-9 \\\\]{0,8}".prop_map(|s| format!("#\"{s}\"#")),
        "[a-z0-9 ]{0,8}".prop_map(|s| format!("\"\"\"\n    {s}\n    \"\"\"")),
        any::<i32>().prop_map(|i| i.to_string()),
        any::<u16>().prop_map(|i| format!("0x{i:x}")),
        (-1000i32..1000, 0u8..100).prop_map(|(a, b)| format!("{a}.{b}")),
        prop_oneof![Just("#true"), Just("#false"), Just("#null"), Just("#inf")]
            .prop_map(str::to_owned),
        "[a-z][a-z0-9]{0,5}",
    ]
}

/// A document as text, with comments, slashdashes, line continuations and blocks; nodes end
/// with a newline, a comment or (if `semicolons`) a `;`.
fn document(depth: u32, semicolons: bool) -> BoxedStrategy<String> {
    let entry = prop_oneof![
        value(),
        (ident(), value()).prop_map(|(k, v)| format!("{k}={v}")),
        value().prop_map(|v| format!("/-{v}")),
        value().prop_map(|v| format!("/* c */ {v}")),
        value().prop_map(|v| format!("\\\n  {v}")),
    ];
    let children = if depth == 0 {
        Just(String::new()).boxed()
    } else {
        prop_oneof![
            3 => Just(String::new()),
            1 => document(depth - 1, semicolons).prop_map(|d| format!(" {{\n{d}}}")),
            1 => document(depth - 1, semicolons).prop_map(|d| format!(" /-{{\n{d}}}")),
            1 => Just(" {}".to_owned()),
        ]
        .boxed()
    };
    let node = (
        prop_oneof![Just(""), Just("/-"), Just("(t)")],
        ident(),
        prop::collection::vec(entry, 0..4),
        children,
        prop_oneof![Just("\n"), Just(";"), Just(" // c\n")],
    )
        .prop_map(move |(prefix, name, entries, children, end)| {
            let entries: String = entries.iter().map(|e| format!(" {e}")).collect();
            // The kdl crate rejects a slashdashed node ended by `;` (`/-a 3;b`), which
            // KDL v2 allows: not generated.
            let end = if end == ";" && (prefix == "/-" || !semicolons) {
                "\n"
            } else {
                end
            };
            format!("{prefix}{name}{entries}{children}{end}")
        });
    prop::collection::vec(node, 0..5)
        .prop_map(|nodes| nodes.concat())
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Generated documents: both parsers accept them and read the same tree.
    #[test]
    fn generated_documents_read_the_same(text in document(2, true)) {
        let (ours, oracle) = both(&text);
        prop_assert!(ours.is_some(), "we reject {text:?}");
        prop_assert_eq!(ours, oracle, "{:?}", text);
    }

    /// Such documents with a byte changed: where both accept, the same tree. (Verdicts can
    /// differ: [`where_the_parsers_differ`].)
    #[test]
    fn damaged_documents_read_the_same_where_both_accept(
        text in document(2, false),
        cut in any::<prop::sample::Index>(),
        byte in prop_oneof![Just(b'{'), Just(b'}'), Just(b'"'), Just(b'#'), Just(b'/'), Just(b'\\'), Just(b'='), Just(b' ')],
    ) {
        let mut bytes = text.into_bytes();
        if !bytes.is_empty() {
            let at = cut.index(bytes.len());
            bytes[at] = byte;
        }
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
        if let (Some(ours), Some(oracle)) = both(&text) {
            prop_assert_eq!(ours, oracle, "{:?}", text);
        }
    }
}

/// Where the two parsers' verdicts differ (found by the damaged-document test), kept so a
/// change in either shows up: (text, just-kdl accepts, kdl accepts).
#[test]
fn where_the_parsers_differ() {
    let cases = [
        // Valid (node-terminator `;` after a slashdashed node): the kdl crate is wrong.
        ("/-a 3;b\n", true, false),
        // Invalid (only slashdashed children blocks may follow a children block): the kdl
        // crate is wrong.
        ("n {} /-\"x\"\n", false, true),
    ];
    for (text, ours_accepts, kdl_accepts) in cases {
        let (ours, oracle) = both(text);
        assert_eq!(ours.is_some(), ours_accepts, "just-kdl on {text:?}");
        assert_eq!(oracle.is_some(), kdl_accepts, "kdl on {text:?}");
    }
}
