//! Reading and checking values: strings, booleans, URLs, paths inside the config
//! directory, and the names, MACs and UUIDs that become routes.

use super::document::{Entry, Node, Value};

use super::{Cx, args, type_name};
use crate::diagnostic::Code;
use crate::model::Located;
use crate::source::Span;

impl Cx<'_> {
    /// The `index`th argument as a string; reports it missing or of the wrong type.
    pub(super) fn string_arg(
        &mut self,
        node: &Node,
        index: usize,
        what: &str,
    ) -> Option<Located<String>> {
        match args(node).nth(index) {
            None => {
                self.error(
                    Code::MissingField,
                    node.name_span(),
                    format!("`{}` needs {what}", node.name()),
                )
                .label(format!("{what} missing"));
                None
            }
            Some(entry) => self.string_value(node, entry, what),
        }
    }

    pub(super) fn string_value(
        &mut self,
        node: &Node,
        entry: &Entry,
        what: &str,
    ) -> Option<Located<String>> {
        match entry.value() {
            Value::String(s) => Some(self.located(s.clone(), entry.span())),
            other => {
                self.error(
                    Code::BadValue,
                    entry.span(),
                    format!(
                        "`{}` expects {what} as a string, found {}",
                        node.name(),
                        type_name(other)
                    ),
                )
                .label("not a string")
                .help("quote it: \"...\"");
                None
            }
        }
    }

    pub(super) fn string_prop(&mut self, node: &Node, key: &str) -> Option<Located<String>> {
        let entry = node.entries().iter().find(|e| e.name() == Some(key))?;
        self.string_value(node, entry, &format!("`{key}=`"))
    }

    /// Property `key` as a boolean; `None` when absent or not one (then reported).
    pub(super) fn bool_prop(&mut self, node: &Node, key: &str) -> Option<bool> {
        let entry = node.entries().iter().find(|e| e.name() == Some(key))?;
        match entry.value() {
            Value::Bool(b) => Some(*b),
            other => {
                self.error(
                    Code::BadValue,
                    entry.span(),
                    format!(
                        "`{key}=` expects #true or #false, found {}",
                        type_name(other)
                    ),
                )
                .label("not a boolean")
                .help("KDL v2 booleans are written #true and #false");
                None
            }
        }
    }

    pub(super) fn bool_arg(&mut self, node: &Node) -> Option<bool> {
        match args(node).next().map(|e| (e, e.value())) {
            Some((_, Value::Bool(b))) => Some(*b),
            Some((entry, other)) => {
                self.error(
                    Code::BadValue,
                    entry.span(),
                    format!(
                        "`{}` expects #true or #false, found {}",
                        node.name(),
                        type_name(other)
                    ),
                )
                .label("not a boolean")
                .help("KDL v2 booleans are written #true and #false");
                None
            }
            None => {
                self.error(
                    Code::MissingField,
                    node.name_span(),
                    format!("`{}` needs #true or #false", node.name()),
                )
                .label("value missing");
                None
            }
        }
    }

    pub(super) fn check_url(&mut self, url: &Located<String>, rule: UrlRule) -> bool {
        let value = url.value.as_str();
        let (scheme, rest) = value.split_once("://").unwrap_or(("", value));
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if !matches!(scheme, "http" | "https")
            || host.is_empty()
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            self.error(
                Code::BadUrl,
                url.span.clone(),
                format!("`{value}` is not an absolute http(s) URL"),
            )
            .label("not a URL")
            .help("write it as https://host/path");
            return false;
        }
        if rule == UrlRule::Https && scheme != "https" && !is_loopback(host) {
            self.error(
                Code::InsecureUrl,
                url.span.clone(),
                format!("`{value}` is not HTTPS"),
            )
            .label("plain HTTP")
            .help(format!(
                "use https://{rest}; plain http is only accepted for loopback hosts"
            ));
            return false;
        }
        true
    }

    /// An origin or proxy URL: a base that routes are appended to, written verbatim into
    /// router DHCP configs (dnsmasq, ISC dhcpd, Kea) and boot scripts. Beyond
    /// [`check_url`](Self::check_url), it is `scheme://host[:port][/path]` spelled only with
    /// characters none of those formats reads as syntax, so no value can end a string or a
    /// field there and become a directive.
    pub(super) fn check_base_url(&mut self, url: &Located<String>, rule: UrlRule) -> bool {
        let Some((at, why)) = base_url_problem(&url.value) else {
            return self.check_url(url, rule);
        };
        let content = string_content_span(&self.source.text, url.span.clone(), &url.value);
        // The offending character itself when the source spells the value without escapes.
        let span = if content.len() == url.value.len() {
            content.start + at.start..content.start + at.end
        } else {
            content
        };
        self.error(
            Code::UnsafeUrl,
            span,
            format!("`{}` has {why}", url.value.escape_debug()),
        )
        .label("not allowed in an origin or proxy URL")
        .help(
            "write scheme://host[:port][/path] with letters, digits, `-._~:/[]` and \
             %-escapes (`%22` for a quote); the URL is copied into routers' DHCP configs",
        );
        false
    }

    /// Resolves a path written relative to this KDL file into one relative to the config
    /// directory; refuses absolute paths and paths that leave the config directory, so a
    /// build depends only on the repository.
    pub(super) fn relative_path(&mut self, path: &Located<String>) -> Option<String> {
        let base = self.source.name.rsplit_once('/').map_or("", |(dir, _)| dir);
        let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
        let absolute =
            path.value.starts_with('/') || path.value.contains('\\') || path.value.contains(':');
        let mut escapes = absolute;
        for part in path.value.split('/') {
            match part {
                "" | "." => {}
                ".." => escapes |= parts.pop().is_none(),
                p => parts.push(p),
            }
        }
        if escapes || parts.is_empty() {
            self.error(
                Code::BadValue,
                path.span.clone(),
                format!("path `{}` leaves the config directory", path.value),
            )
            .label("outside the config directory")
            .help("paths are relative to the KDL file and must stay inside the config directory");
            return None;
        }
        Some(parts.join("/"))
    }

    pub(super) fn bad_name(&mut self, name: &Located<String>, what: &str) {
        self.error(
            Code::BadName,
            name.span.clone(),
            format!("`{}` is not a valid {what}", name.value),
        )
        .label("used in URLs")
        .help(
            "use letters, digits, `.`, `_` and `-`, starting with a letter or digit (at most 63)",
        );
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum UrlRule {
    Https,
    Http,
}

/// Why `url` (if it starts `http(s)://`) cannot be an origin or proxy URL: the byte range
/// of the first offending character and what it is.
fn base_url_problem(url: &str) -> Option<(Span, String)> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return None;
    }
    for (at, c) in url.char_indices() {
        let span = at..at + c.len_utf8();
        let why = match c {
            c if c.is_ascii_alphanumeric() || "-._~:/[]".contains(c) => continue,
            '%' => {
                let hex = url.get(at + 1..at + 3).unwrap_or("");
                if hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    continue;
                }
                "`%` not followed by two hex digits".to_owned()
            }
            '?' => "a query (`?`): routes are appended to this URL".to_owned(),
            '#' => "a fragment (`#`): routes are appended to this URL".to_owned(),
            '@' => "user information (`@`): DHCP hands this URL to every client".to_owned(),
            c if c.is_control() || c.is_whitespace() => {
                format!("the control or space character U+{:04X}", u32::from(c))
            }
            c if !c.is_ascii() => format!(
                "the non-ASCII character `{c}`: write the host in punycode (xn--…) and %-escape the path"
            ),
            c => format!("`{c}`, which router configs or boot scripts read as syntax"),
        };
        return Some((span, why));
    }
    None
}

fn is_loopback(host: &str) -> bool {
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    name == "localhost" || name == "::1" || name.starts_with("127.")
}

/// Names that become URL path segments: `[A-Za-z0-9][A-Za-z0-9._-]{0,62}`.
pub(crate) fn is_safe_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A UUID in 8-4-4-4-12 form, lowercased.
pub fn normalize_uuid(uuid: &str) -> Option<String> {
    let groups: Vec<&str> = uuid.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    ok.then(|| uuid.to_ascii_lowercase())
}

/// The UUIDs firmware reports when it has none of its own (all zeros, all `f`): many
/// machines share them, so they cannot identify one.
pub(crate) fn is_placeholder_uuid(uuid: &str) -> bool {
    let hex = uuid.bytes().filter(|&b| b != b'-');
    let digits: Vec<u8> = hex.collect();
    digits.iter().all(|&b| b == b'0') || digits.iter().all(|&b| b.eq_ignore_ascii_case(&b'f'))
}

/// The span of a string value's content inside its entry, when the source spells it
/// without escapes; otherwise the whole entry.
pub(super) fn string_content_span(text: &str, entry: Span, value: &str) -> Span {
    let Some(raw) = text.get(entry.clone()) else {
        return entry;
    };
    match raw.find(value) {
        Some(at)
            if !value.is_empty()
                && raw[at + value.len()..]
                    .trim_start_matches('#')
                    .starts_with('"') =>
        {
            entry.start + at..entry.start + at + value.len()
        }
        _ => entry,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::diagnostic::Diagnostics;
    use crate::source::SourceFile;

    #[test]
    fn placeholder_uuids_are_recognised() {
        assert!(is_placeholder_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(is_placeholder_uuid("FFFFFFFF-ffff-FFFF-ffff-ffffffffffff"));
        assert!(!is_placeholder_uuid("4c4c4544-0042-3510-8052-b4c04f4d4e31"));
        assert!(!is_placeholder_uuid("00000000-0000-0000-0000-000000000001"));
    }

    #[test]
    fn uuids_normalise_to_lowercase() {
        assert_eq!(
            normalize_uuid("4C4C4544-0042-3510-8052-B4C04F4D4E31").as_deref(),
            Some("4c4c4544-0042-3510-8052-b4c04f4d4e31")
        );
        assert_eq!(normalize_uuid("4c4c4544-0042-3510-8052"), None);
    }

    #[test]
    fn paths_stay_inside_the_config_directory() {
        let source = SourceFile::new("profiles/flatcar.kdl", "");
        let mut diags = Diagnostics::default();
        let mut cx = Cx::new(&source, &mut diags);
        let at = |p: &str| Located {
            value: p.to_owned(),
            source: Arc::clone(&source),
            span: 0..0,
        };
        assert_eq!(
            cx.relative_path(&at("images/a")).as_deref(),
            Some("profiles/images/a")
        );
        assert_eq!(
            cx.relative_path(&at("../machines/x")).as_deref(),
            Some("machines/x")
        );
        assert_eq!(cx.relative_path(&at("../../etc/passwd")), None);
        assert_eq!(cx.relative_path(&at("/etc/passwd")), None);
        assert_eq!(cx.relative_path(&at("C:\\x")), None);
    }
}
