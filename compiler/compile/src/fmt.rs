//! `netbootc fmt`: the kdl crate's formatter (indentation, spacing, one node a line) with
//! values kept as written, and one blank line between top-level blocks for readability.

use std::sync::Arc;

use kdl::{FormatConfig, KdlDocument};

use crate::source::SourceFile;

/// The canonical text of a KDL file, or `None` if it does not parse (`check` explains why).
pub fn format(file: &Arc<SourceFile>) -> Option<String> {
    if crate::parse::too_deep(&file.text).is_some() {
        return None;
    }
    let mut document = KdlDocument::parse_v2(&file.text).ok()?;
    let mut config = FormatConfig::default();
    config.entry_autoformate_keep = true;
    document.autoformat_config(&config);
    normalize_entry_spacing(&mut document);
    let mut out = String::with_capacity(file.text.len());
    let mut after_block = false;
    for line in document.to_string().lines() {
        let line = line.trim_end();
        let starts_node = !line.is_empty() && !line.starts_with(['}', ' ']);
        if after_block && starts_node {
            out.push('\n');
        }
        after_block = line == "}";
        out.push_str(line);
        out.push('\n');
    }
    Some(out)
}

/// Keeping values as written also keeps the space around them; make it one space before
/// each entry and none around `=`.
fn normalize_entry_spacing(document: &mut KdlDocument) {
    for node in document.nodes_mut() {
        for entry in node.entries_mut() {
            if let Some(format) = entry.format_mut() {
                format.leading = " ".into();
                format.trailing = String::new();
                format.after_key = String::new();
                format.after_eq = String::new();
            }
        }
        if let Some(children) = node.children_mut() {
            normalize_entry_spacing(children);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_idempotently_and_keeps_comments_and_quotes() {
        let messy = "// fleet\nmachine   \"a\"{\nmac \"52:54:00:aa:00:01\"\n  profile \"p\"\n}\n// next\nmachine \"b\" {\n        profile \"p\" }\n";
        let once = format(&SourceFile::new("m.kdl", messy)).unwrap();
        assert_eq!(
            once,
            "// fleet\nmachine \"a\" {\n    mac \"52:54:00:aa:00:01\"\n    profile \"p\"\n}\n\n// next\nmachine \"b\" {\n    profile \"p\"\n}\n"
        );
        assert_eq!(
            format(&SourceFile::new("m.kdl", once.clone())).unwrap(),
            once
        );
    }

    #[test]
    fn refuses_what_does_not_parse() {
        assert_eq!(format(&SourceFile::new("m.kdl", "machine {")), None);
    }
}
