//! A crate's module layering, read from its `src/`: which modules each module's code names
//! through `crate::…` and `super::…` paths, so a crate's test can assert that its modules
//! form layers: no circle between modules, and no module reaching up for an item of one of
//! its ancestors (the crate root's `Proxy`, a `mod.rs`'s trait), which is a circle too,
//! since the ancestor declares it.
//!
//! Modules are files (`src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `src/lib.rs` is the
//! root, named `crate`). A file is read up to its `mod tests` (its unit tests' `super::*`
//! is the file itself), skipping comments. `self::` paths only reach down, so
//! they are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What a crate's modules name of each other.
#[derive(Debug, Default)]
pub struct Layering {
    /// Module → the other modules its code names (their items, or the modules themselves).
    names: BTreeMap<String, BTreeSet<String>>,
    /// `(module, path)`: a path naming an item defined in an ancestor of the module.
    upward: Vec<(String, String)>,
}

impl Layering {
    /// Reads every `.rs` file under `src`.
    pub fn read(src: &Path) -> std::io::Result<Self> {
        let mut files = Vec::new();
        for entry in walk(src)? {
            let relative = entry.strip_prefix(src).unwrap_or(&entry);
            let text = std::fs::read_to_string(&entry)?;
            files.push((module_of(relative), text));
        }
        let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
        let mut layering = Self::default();
        for (module, text) in &files {
            let names = layering.names.entry(module.clone()).or_default();
            for path in paths(text) {
                let Some(absolute) = absolute(module, &path) else {
                    continue;
                };
                // The longest prefix that is a module; what follows is an item in it.
                let target = (0..=absolute.len())
                    .rev()
                    .map(|n| absolute[..n].join("::"))
                    .map(|m| if m.is_empty() { "crate".to_owned() } else { m })
                    .find(|m| modules.contains(m))
                    .unwrap_or_else(|| "crate".to_owned());
                let target_len = if target == "crate" {
                    0
                } else {
                    target.split("::").count()
                };
                let names_item = absolute.len() > target_len;
                if names_item && is_ancestor(&target, module) {
                    layering.upward.push((module.clone(), path.join("::")));
                } else if target != *module && !is_ancestor(&target, module) {
                    names.insert(target);
                }
            }
        }
        Ok(layering)
    }

    /// Every path that names an item of an ancestor module, as `module: path`.
    pub fn upward(&self) -> Vec<String> {
        self.upward
            .iter()
            .map(|(m, p)| format!("{m}: {p}"))
            .collect()
    }

    /// A circle of modules each naming the next (the first found), if there is one.
    pub fn circle(&self) -> Option<Vec<String>> {
        // Depth-first search; a module met again while on the stack closes a circle.
        fn visit<'a>(
            layering: &'a Layering,
            module: &'a str,
            stack: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) -> Option<Vec<String>> {
            if let Some(at) = stack.iter().position(|m| *m == module) {
                let mut circle: Vec<String> = stack[at..].iter().map(|m| m.to_string()).collect();
                circle.push(module.to_owned());
                return Some(circle);
            }
            if !done.insert(module) {
                return None;
            }
            stack.push(module);
            for next in layering.names.get(module).into_iter().flatten() {
                if let Some(circle) = visit(layering, next, stack, done) {
                    return Some(circle);
                }
            }
            stack.pop();
            None
        }
        let mut done = BTreeSet::new();
        self.names
            .keys()
            .find_map(|module| visit(self, module, &mut Vec::new(), &mut done))
    }
}

fn walk(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(walk(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// `a/b.rs`, `a/b/mod.rs` → `a::b`; `lib.rs`, `main.rs` → `crate`.
fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] || parts == ["main"] {
        parts.pop();
    }
    if parts.is_empty() {
        "crate".to_owned()
    } else {
        parts.join("::")
    }
}

fn is_ancestor(candidate: &str, module: &str) -> bool {
    candidate == "crate" && module != "crate"
        || module
            .strip_prefix(candidate)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// A path as written (`crate::a::B`, `super::x`) from `module`, as segments from the root.
fn absolute(module: &str, path: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = if module == "crate" {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    };
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(base)
}

/// Every `crate::…` and `super::…` path in `text` before its `mod tests`, with
/// `use` groups (`crate::{a, b::{C, D}}`) expanded; a glob keeps its `*` (it names items).
fn paths(text: &str) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .take_while(|line| !line.trim_start().starts_with("mod tests"))
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let starts_path = [b"crate::", b"super::"]
            .iter()
            .any(|p| bytes[at..].starts_with(*p))
            && (at == 0 || !is_ident(bytes[at - 1]) && bytes[at - 1] != b':');
        if starts_path {
            at = tree(&code, at, Vec::new(), &mut found);
        } else {
            at += 1;
        }
    }
    found
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Reads one use tree at `at` under `prefix` into `found`; returns where it ended.
fn tree(code: &str, mut at: usize, mut prefix: Vec<String>, found: &mut Vec<Vec<String>>) -> usize {
    let bytes = code.as_bytes();
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < bytes.len() && bytes[at] == b'{' {
            at += 1;
            loop {
                at = tree(code, at, prefix.clone(), found);
                while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                    at += 1;
                }
                match bytes.get(at) {
                    Some(b',') => at += 1,
                    Some(b'}') => return at + 1,
                    _ => return at,
                }
                while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                    at += 1;
                }
                if bytes.get(at) == Some(&b'}') {
                    return at + 1;
                }
            }
        }
        let start = at;
        while at < bytes.len() && (is_ident(bytes[at]) || bytes[at] == b'*') {
            at += 1;
        }
        let segment = &code[start..at];
        if !segment.is_empty() {
            prefix.push(segment.to_owned());
        }
        if bytes[at..].starts_with(b"::") && !segment.is_empty() && segment != "*" {
            at += 2;
            continue;
        }
        if !prefix.is_empty() {
            found.push(prefix);
        }
        return at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layering(files: &[(&str, &str)]) -> Layering {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        Layering::read(dir.path()).expect("read")
    }

    #[test]
    fn finds_a_circle_between_siblings_and_none_in_layers() {
        let circle = layering(&[
            ("lib.rs", "mod t;"),
            ("t/mod.rs", "mod server; mod session;"),
            (
                "t/server.rs",
                "use super::session;\nfn f() { session::run() }",
            ),
            ("t/session.rs", "use super::server::{Slot, Limits};"),
        ]);
        assert_eq!(
            circle.circle(),
            Some(vec![
                "t::server".into(),
                "t::session".into(),
                "t::server".into()
            ])
        );
        let layers = layering(&[
            ("lib.rs", "pub use crate::server::serve;"),
            ("server.rs", "use crate::{admission::admit, session};"),
            (
                "session.rs",
                "use crate::admission::Slot;\nuse crate::limits::{self, Limits};",
            ),
            (
                "admission.rs",
                "use crate::limits::Limits; // crate::server::x in a comment",
            ),
            (
                "limits.rs",
                "#[cfg(all(test, unix))]\nmod tests { use crate::server::serve; }",
            ),
        ]);
        assert_eq!(layers.circle(), None);
        assert!(layers.upward().is_empty(), "{:?}", layers.upward());
    }

    #[test]
    fn finds_items_taken_from_an_ancestor() {
        let up = layering(&[
            ("lib.rs", "pub struct Proxy; mod follow; mod dhcp;"),
            ("follow.rs", "use crate::Proxy;"),
            ("dhcp/mod.rs", "pub struct Rates; mod args; mod answer;"),
            ("dhcp/args.rs", "fn rates(given: super::Rates) {}"),
            (
                "dhcp/answer.rs",
                "use super::args; use crate::dhcp::args::X;",
            ),
            ("dhcp/metrics.rs", "use super::*;"),
        ]);
        assert_eq!(
            up.upward(),
            [
                "dhcp::args: super::Rates",
                "dhcp::metrics: super::*",
                "follow: crate::Proxy"
            ]
        );
        assert_eq!(up.circle(), None);
    }
}
