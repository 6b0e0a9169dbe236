//! KDL v2 text → a small tree of nodes with byte spans, read by `just-kdl`'s streaming
//! reader: one pass over the text, no backtracking, no recursion, so any input is answered
//! in time linear in its length (the `kdl` crate, kept for `netbootc fmt` and as the
//! oracle of the differential tests, backtracks exponentially on some malformed inputs).
//! Formatting and type annotations are dropped: nothing in the schema reads them.

use just_kdl::dom::{Event, Value as KdlValue};
use just_kdl::lexer::LexerError;
use just_kdl::reader::{Reader, ReaderError};

use crate::source::Span;

/// A node: its name, properties and arguments in order, and its children block.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    name: String,
    name_span: Span,
    span: Span,
    entries: Vec<Entry>,
    children: Option<Block>,
}

/// A `{ … }` children block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    nodes: Vec<Node>,
    span: Span,
}

/// An argument (`name` is `None`) or a property.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    name: Option<String>,
    value: Value,
    span: Span,
}

/// A value as the schema reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Integer(i128),
    Float(f64),
    Bool(bool),
    Null,
}

/// The first syntax error in a document: no recovery, the reader stops there.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
    pub label: &'static str,
    pub help: Option<&'static str>,
}

impl Node {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn name_span(&self) -> Span {
        self.name_span.clone()
    }
    /// From the name to the node's end (its `;`, newline or closing `}`).
    pub fn span(&self) -> Span {
        self.span.clone()
    }
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
    pub fn children(&self) -> Option<&Block> {
        self.children.as_ref()
    }
}

impl Block {
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    pub fn span(&self) -> Span {
        self.span.clone()
    }
}

impl Entry {
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    pub fn value(&self) -> &Value {
        &self.value
    }
    /// The whole entry: `key=value` for a property.
    pub fn span(&self) -> Span {
        self.span.clone()
    }
}

fn value(value: KdlValue) -> Value {
    match value {
        KdlValue::String(s) => Value::String(s.into()),
        KdlValue::Number(n) => match i128::try_from(&n) {
            Ok(i) => Value::Integer(i),
            Err(_) => Value::Float(n.coerce_to_f64()),
        },
        KdlValue::Bool(b) => Value::Bool(b),
        KdlValue::Null => Value::Null,
    }
}

/// The error as the diagnostic says it: just-kdl's message (lower-cased, without the byte
/// offset the span already shows), a label, and help for the mistakes people make.
fn syntax_error(error: &ReaderError, span: Span) -> SyntaxError {
    let text = error.to_string();
    let text = text
        .rsplit_once(" at ")
        .filter(|(_, at)| at.chars().all(|c| c.is_ascii_digit()))
        .map_or(text.as_str(), |(head, _)| head);
    let mut chars = text.chars();
    let message = chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    });
    let (label, help) = match error {
        ReaderError::Lexer(LexerError::UnexpectedStringNewline(_)) => (
            "the string is not closed on its line",
            Some("close it with `\"`, or make it multi-line: `\"\"\"` followed by a newline"),
        ),
        ReaderError::Lexer(LexerError::UnexpectedEof(_)) => (
            "the file ends here",
            Some("a string, a comment or a type annotation is not closed"),
        ),
        ReaderError::Lexer(LexerError::InvalidEscape(_) | LexerError::BadUnicodeEscape(_)) => (
            "not a KDL escape",
            Some(
                "escapes are \\n \\r \\t \\\\ \\\" \\b \\f \\s \\u{…}; or use a raw string: #\"…\"#",
            ),
        ),
        ReaderError::UnclosedOpen => ("no `}` closes this block", None),
        ReaderError::UnmatchedClose => ("no `{` opened this", None),
        ReaderError::ExpectedEntrySpace => (
            "needs a space before it",
            Some("arguments and properties are separated by spaces"),
        ),
        ReaderError::Lexer(LexerError::UnexpectedKeyword) => (
            "a bare keyword",
            Some("KDL v2 writes #true, #false and #null; quote it if it is a string"),
        ),
        _ => ("here", None),
    };
    SyntaxError {
        message,
        span,
        label,
        help,
    }
}

/// Parses a whole document. Nodes are built on an explicit stack, so depth costs no
/// recursion here (the walkers over the tree do recurse: `parse` refuses nesting past
/// [`super::MAX_DEPTH`] before this runs).
pub fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    // Open nodes, innermost last; the top-level nodes are the root block's.
    let mut open: Vec<Node> = Vec::new();
    let mut root: Vec<Node> = Vec::new();
    for event in Reader::new(text.as_bytes()) {
        let (event, span) = event.map_err(|(error, span)| {
            // An unclosed block is best shown at its `{`, which only this builder knows.
            let span = match (&error, open.iter().rev().find_map(|n| n.children.as_ref())) {
                (ReaderError::UnclosedOpen, Some(block)) => block.span.clone(),
                _ => {
                    let start = span.start.min(text.len());
                    start..span.end.max(start + 1).min(text.len())
                }
            };
            syntax_error(&error, span)
        })?;
        match event {
            Event::Node { name, .. } => open.push(Node {
                name: name.into(),
                name_span: span.clone(),
                span,
                entries: Vec::new(),
                children: None,
            }),
            Event::Entry(entry) => {
                if let Some(node) = open.last_mut() {
                    node.entries.push(Entry {
                        name: entry.name.map(Into::into),
                        value: value(entry.value),
                        span,
                    });
                }
            }
            Event::Children => {
                if let Some(node) = open.last_mut() {
                    node.children = Some(Block {
                        nodes: Vec::new(),
                        span,
                    });
                }
            }
            Event::End => {
                let Some(mut node) = open.pop() else { continue };
                node.span.end = span.end.max(node.span.end);
                if let Some(block) = &mut node.children {
                    block.span.end = span.end.max(block.span.end);
                }
                match open.last_mut().and_then(|parent| parent.children.as_mut()) {
                    Some(block) => block.nodes.push(node),
                    None => root.push(node),
                }
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn spans_cover_names_entries_blocks_and_nodes() {
        let text = "machine \"a\" x=1 {\n    mac \"52\"\n}\nb 1.5 #true #null\n";
        let nodes = parse(text).unwrap();
        let machine = &nodes[0];
        assert_eq!(&text[machine.name_span()], "machine");
        assert_eq!(&text[machine.entries()[0].span()], "\"a\"");
        assert_eq!(&text[machine.entries()[1].span()], "x=1");
        assert_eq!(machine.entries()[1].name(), Some("x"));
        assert_eq!(machine.entries()[1].value(), &Value::Integer(1));
        let block = machine.children().unwrap();
        assert_eq!(&text[block.span()], "{\n    mac \"52\"\n}");
        assert_eq!(
            &text[machine.span()],
            &text[..text.find("}\n").unwrap() + 1]
        );
        assert_eq!(block.nodes()[0].name(), "mac");
        let b = &nodes[1];
        let values: Vec<_> = b.entries().iter().map(|e| e.value().clone()).collect();
        assert_eq!(values, [Value::Float(1.5), Value::Bool(true), Value::Null]);
    }

    #[test]
    fn the_first_error_has_a_span_and_a_plain_message() {
        let text = "a \"unclosed\nb";
        let error = parse(text).unwrap_err();
        assert!(error.span.start <= text.len(), "{error:?}");
        assert!(error.message.starts_with(char::is_lowercase), "{error:?}");
        assert!(!error.message.ends_with(char::is_numeric), "{error:?}");
    }
}
