//! Source files as the diagnostics see them: a display name and the text.

use std::ops::Range;
use std::sync::Arc;

/// A byte range into a [`SourceFile`].
pub type Span = Range<usize>;

/// One input text: a KDL file, a template, or a rendered script being linted.
#[derive(Debug)]
pub struct SourceFile {
    /// Path relative to the config directory with `/` separators, or a synthetic name such
    /// as `<built-in>/machine.ipxe.j2`.
    pub name: String,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            text: text.into(),
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_char_boundary(offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// Clamps a span to the text and to character boundaries, so a span computed from
    /// another tool's offsets can never make rendering panic.
    pub fn clamp(&self, span: &Span) -> Span {
        let start = self.floor_char_boundary(span.start.min(self.text.len()));
        let end = self.floor_char_boundary(span.end.clamp(start, self.text.len()));
        start..end
    }

    fn floor_char_boundary(&self, mut offset: usize) -> usize {
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let file = SourceFile::new("a.kdl", "ab\nçd e\n");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(3), (2, 1));
        // `ç` is two bytes but one column.
        assert_eq!(file.line_col(6), (2, 3));
        assert_eq!(file.line_col(999), (3, 1));
    }

    #[test]
    fn clamps_into_character_boundaries() {
        let file = SourceFile::new("a.kdl", "ç");
        assert_eq!(file.clamp(&(1..9)), 0..2);
    }
}
