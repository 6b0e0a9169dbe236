//! KDL text → definitions ([`FileDefs`]). Pure: no I/O, every problem becomes a diagnostic
//! and parsing carries on with the next node, so one run reports everything.
//!
//! - [`document`]: KDL text → a node tree with byte spans (just-kdl's streaming reader:
//!   linear time on any input);
//! - [`depth`]: a pre-scan that refuses nesting the walkers (which recurse) and `fmt`'s
//!   `kdl` parser could choke on, before either runs;
//! - [`nodes`]: the walkers over the schema's nodes (`site`, `profile`, `machine` and their
//!   children), checking each node's shape;
//! - [`values`]: reading and checking the values in those nodes (strings, booleans, URLs,
//!   paths, names, MACs, UUIDs).

use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::model::{FileDefs, Located};
use crate::source::{SourceFile, Span};

#[cfg(test)]
mod conformance;
mod depth;
mod document;
mod nodes;
pub(crate) mod values;

use document::{Entry, Node, Value};
use nodes::TOP_LEVEL;

pub(crate) use depth::MAX_DEPTH;
pub(crate) use depth::too_deep;
pub use values::normalize_uuid;

pub fn parse_file(source: &Arc<SourceFile>, diags: &mut Diagnostics) -> FileDefs {
    let mut defs = FileDefs::default();
    if let Some(offset) = too_deep(&source.text) {
        diags
            .push(Diagnostic::error(
                Code::TooDeep,
                source,
                offset..offset + 1,
                "nesting is too deep",
            ))
            .label(if source.text[offset..].starts_with("/*") {
                format!("more than {MAX_DEPTH} nested `/*` comments here")
            } else {
                format!("more than {MAX_DEPTH} levels of `{{` here")
            })
            .help("machines, profiles and the site nest two levels; flatten the file");
        return defs;
    }
    let document = match document::parse(&source.text) {
        Ok(document) => document,
        Err(error) => {
            let diagnostic = diags
                .push(Diagnostic::error(
                    Code::KdlSyntax,
                    source,
                    error.span,
                    error.message,
                ))
                .label(error.label);
            if let Some(help) = error.help {
                diagnostic.help(help);
            }
            return defs;
        }
    };
    let mut cx = Cx::new(source, diags);
    for node in &document {
        match node.name() {
            "site" => defs.sites.push(cx.site(node)),
            "profile" => {
                if let Some(profile) = cx.profile(node) {
                    defs.profiles.push(profile);
                }
            }
            "machine" => {
                if let Some(machine) = cx.machine(node) {
                    defs.machines.push(machine);
                }
            }
            _ => cx.unknown_node(node, "at the top level", TOP_LEVEL),
        }
    }
    if let Some(span) = cx.first_unlisted {
        let more = cx.unlisted;
        cx.diags
            .push(Diagnostic::error(
                Code::TooManyProblems,
                source,
                span,
                format!("{more} more problems in this file are not listed"),
            ))
            .label("the first of them")
            .help(format!(
                "netbootc lists the first {MAX_PROBLEMS} problems of a file; fix those and run again"
            ));
    }
    defs
}

/// What the walkers share: the file being parsed and where its diagnostics go.
struct Cx<'a> {
    source: &'a Arc<SourceFile>,
    diags: &'a mut Diagnostics,
    listed: usize,
    /// Problems found past [`MAX_PROBLEMS`]: counted, not kept.
    unlisted: usize,
    first_unlisted: Option<Span>,
    /// Where the labels and help of an unlisted problem go.
    scratch: Diagnostic,
}

/// Problems listed per file. A file with more is garbage or generated wrong, and listing
/// every one of a million problems (each quoting its line) costs time that grows with the
/// product of their number and the file's size.
pub(crate) const MAX_PROBLEMS: usize = 100;

pub(super) fn args(node: &Node) -> impl Iterator<Item = &Entry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "#null",
    }
}

impl<'a> Cx<'a> {
    fn new(source: &'a Arc<SourceFile>, diags: &'a mut Diagnostics) -> Self {
        Self {
            source,
            diags,
            listed: 0,
            unlisted: 0,
            first_unlisted: None,
            scratch: Diagnostic::global(Code::TooManyProblems, ""),
        }
    }

    pub(super) fn error(
        &mut self,
        code: Code,
        span: Span,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let diagnostic = Diagnostic::error(code, self.source, span, message);
        if self.listed < MAX_PROBLEMS {
            self.listed += 1;
            return self.diags.push(diagnostic);
        }
        self.unlisted += 1;
        self.first_unlisted.get_or_insert(diagnostic.span.clone());
        self.scratch = diagnostic;
        &mut self.scratch
    }

    pub(super) fn located(&self, value: String, span: Span) -> Located<String> {
        self.located_as(value, span)
    }

    pub(super) fn located_as<T>(&self, value: T, span: Span) -> Located<T> {
        Located {
            value,
            source: Arc::clone(self.source),
            span,
        }
    }

    pub(super) fn unknown_node(&mut self, node: &Node, place: &str, known: &[&str]) {
        let name = node.name();
        let help = match suggest(name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of: {}", known.join(", ")),
        };
        self.error(
            Code::UnknownNode,
            node.name_span(),
            format!("unknown node `{name}` {place}"),
        )
        .label("not a known node")
        .help(help);
    }

    /// Checks properties against `allowed`, at most `max_args` arguments, no duplicate
    /// properties, and no children unless `children` is set.
    pub(super) fn check_shape(
        &mut self,
        node: &Node,
        max_args: usize,
        allowed: &[&str],
        children: bool,
    ) {
        let node_name = node.name().to_owned();
        let mut seen: Vec<&str> = Vec::new();
        for entry in node.entries() {
            let Some(key) = entry.name() else { continue };
            if !allowed.contains(&key) {
                let help = match suggest(key, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if allowed.is_empty() => format!("`{node_name}` takes no properties"),
                    None => format!("`{node_name}` takes: {}", allowed.join(", ")),
                };
                self.error(
                    Code::UnknownProperty,
                    entry.span(),
                    format!("unknown property `{key}` on `{node_name}`"),
                )
                .label("not a known property")
                .help(help);
            } else if seen.contains(&key) {
                self.error(
                    Code::DuplicateField,
                    entry.span(),
                    format!("property `{key}` given twice on `{node_name}`"),
                )
                .label("second value");
            }
            seen.push(key);
        }
        if let Some(extra) = args(node).nth(max_args) {
            let message = match max_args {
                0 => format!("`{node_name}` takes no arguments"),
                1 => format!("`{node_name}` takes one argument"),
                n => format!("`{node_name}` takes at most {n} arguments"),
            };
            self.error(Code::UnexpectedArgument, extra.span(), message)
                .label("unexpected");
        }
        if !children && let Some(block) = node.children() {
            self.error(
                Code::UnexpectedArgument,
                block.span(),
                format!("`{node_name}` takes no children block"),
            )
            .label("unexpected block");
        }
    }
}
