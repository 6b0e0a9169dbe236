//! The nesting pre-scan: the `kdl` parser recurses per level of `{` and of nested `/*`
//! comments, so a file nested past [`MAX_DEPTH`] is refused before it is parsed.

/// Deeper nesting than this is refused before the KDL parser (which recurses) sees it.
pub const MAX_DEPTH: usize = 32;

/// The offset of the first `{` past [`MAX_DEPTH`], skipping strings and comments.
pub(crate) fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'#' => {
                // Skip a string: `"…"` and `"""…"""` honour backslash escapes, raw
                // `#"…"#` / `#"""…"""#` (any number of `#`) do not. Getting this wrong would
                // hide the rest of the file, and its braces, from this scan.
                let hashes = bytes[i..].iter().take_while(|&&b| b == b'#').count();
                let rest = &bytes[i + hashes..];
                if !rest.starts_with(b"\"") {
                    i += hashes;
                    continue;
                }
                let quotes = if rest.starts_with(b"\"\"\"") { 3 } else { 1 };
                let mut close = vec![b'"'; quotes];
                close.extend(std::iter::repeat_n(b'#', hashes));
                i += hashes + quotes;
                while i < bytes.len() && !bytes[i..].starts_with(&close) {
                    i += if hashes == 0 && bytes[i] == b'\\' {
                        2
                    } else {
                        1
                    };
                }
                i += close.len();
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // Block comments nest in KDL v2, and the parser recurses into each level.
                let mut level = 0usize;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"/*") {
                        level += 1;
                        if level > MAX_DEPTH {
                            return Some(i);
                        }
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        level -= 1;
                        i += 2;
                        if level == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scan_ignores_braces_in_strings_and_comments() {
        let deep = "a ".to_owned() + &"{ b ".repeat(40) + &"}".repeat(40);
        assert!(too_deep(&deep).is_some());
        let quoted = format!(
            "a \"{}\" // {}\n/* {} */",
            "{".repeat(99),
            "{".repeat(99),
            "{".repeat(99)
        );
        assert_eq!(too_deep(&quoted), None);
    }
}
