//! Rendering diagnostics, once, at the edge: human (miette's graphical report, colour
//! only on a terminal), JSON, or GitHub workflow annotations.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use clap::ValueEnum;
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    NamedSource, SourceCode, SourceSpan, SpanContents,
};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Span;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Github,
}

/// Width the human report wraps at when not on a terminal (and in snapshot tests).
pub const DEFAULT_WIDTH: usize = 100;

/// Writes `diagnostics` (already sorted) to `out` in `format`.
pub fn write(
    out: &mut dyn Write,
    diagnostics: &[Diagnostic],
    format: Format,
    color: bool,
) -> io::Result<()> {
    match format {
        Format::Human => {
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme).with_width(DEFAULT_WIDTH);
            for d in diagnostics {
                out.write_all(human(&handler, d).as_bytes())?;
                writeln!(out)?;
            }
            let errors = diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let warnings = diagnostics.len() - errors;
            if !diagnostics.is_empty() {
                writeln!(
                    out,
                    "{}, {}",
                    plural(errors, "error"),
                    plural(warnings, "warning")
                )?;
            }
            Ok(())
        }
        Format::Json => {
            let records: Vec<JsonRecord<'_>> = diagnostics.iter().map(JsonRecord::from).collect();
            serde_json::to_writer_pretty(
                &mut *out,
                &JsonReport {
                    diagnostics: records,
                },
            )?;
            writeln!(out)
        }
        Format::Github => {
            for d in diagnostics {
                writeln!(out, "{}", github(d))?;
            }
            Ok(())
        }
    }
}

/// One diagnostic as miette draws it.
pub fn human(handler: &GraphicalReportHandler, d: &Diagnostic) -> String {
    let mut s = String::new();
    handler
        .render_report(&mut s, &Report::new(d))
        .expect("writing to a String cannot fail");
    s
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    diagnostics: Vec<JsonRecord<'a>>,
}

#[derive(Serialize)]
struct JsonRecord<'a> {
    code: String,
    severity: &'static str,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    offset: Option<usize>,
    length: Option<usize>,
    label: &'a str,
    help: Option<&'a str>,
}

impl<'a> From<&'a Diagnostic> for JsonRecord<'a> {
    fn from(d: &'a Diagnostic) -> Self {
        let position = d.source.as_ref().map(|s| s.line_col(d.span.start));
        Self {
            code: d.code.to_string(),
            severity: d.severity.as_str(),
            message: &d.message,
            file: d.source.as_ref().map(|s| s.name.as_str()),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            offset: d.source.as_ref().map(|_| d.span.start),
            length: d.source.as_ref().map(|_| d.span.len()),
            label: &d.label,
            help: d.help.as_deref(),
        }
    }
}

/// `::error file=…,line=…,col=…,title=…::message`, escaped as the runner expects.
fn github(d: &Diagnostic) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut properties = Vec::new();
    if let Some(source) = &d.source {
        let (line, col) = source.line_col(d.span.start);
        let (end_line, end_col) = source.line_col(d.span.end);
        properties.push(format!("file={}", escape_property(&source.name)));
        properties.push(format!("line={line}"));
        properties.push(format!("col={col}"));
        properties.push(format!("endLine={end_line}"));
        properties.push(format!("endColumn={end_col}"));
    }
    properties.push(format!("title={}", escape_property(&d.code.to_string())));
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{level} {}::{}",
        properties.join(","),
        escape_data(&message)
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Adapts a [`Diagnostic`] to miette. Secondary labels in the same file are drawn in the
/// same snippet; those in other files become related reports.
struct Report<'a> {
    d: &'a Diagnostic,
    source: Option<Snippet>,
    related: Vec<RelatedReport>,
}

/// The text a report quotes: the whole file, or for a problem on or next to a very long
/// line (a generated file, a hostile one) an excerpt of its own line. miette walks every
/// character of the lines it quotes, so quoting a multi-megabyte line once per problem
/// made reporting take minutes.
enum Snippet {
    Whole(NamedSource<Arc<str>>),
    Excerpt { name: String, text: Arc<str> },
}

/// A problem whose quoted lines (its own and one on each side) are longer than this in all
/// is quoted as an excerpt.
const LONG_LINES: usize = 3 * 1024;
/// How much of a long line an excerpt shows on each side of the problem.
const EXCERPT: usize = 100;

impl Snippet {
    fn new(name: &str, text: &Arc<str>, span: &Span) -> Self {
        let start = span.start.min(text.len());
        let before = text[..start].rfind('\n').unwrap_or(0);
        let before = text[..before].rfind('\n').map_or(0, |i| i + 1);
        let end = span.end.clamp(start, text.len());
        let after = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        let after = text[after..].find('\n').map_or(text.len(), |i| after + i);
        if after - before > LONG_LINES {
            Self::Excerpt {
                name: name.to_owned(),
                text: Arc::clone(text),
            }
        } else {
            Self::Whole(NamedSource::new(name, Arc::clone(text)))
        }
    }

    fn is_excerpt(&self) -> bool {
        matches!(self, Self::Excerpt { .. })
    }
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let (name, text) = match self {
            Self::Whole(source) => {
                return source.read_span(span, context_lines_before, context_lines_after);
            }
            Self::Excerpt { name, text } => (name, text),
        };
        let start = span.offset().min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        // miette asks for no context when it wants the span's own position (the header).
        let from = if context_lines_before == 0 {
            start
        } else {
            floor_boundary(text, start.saturating_sub(EXCERPT).max(line_start))
        };
        let to = floor_boundary(text, (start + span.len() + EXCERPT).min(line_end));
        let line = text.as_bytes()[..from]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Ok(Box::new(MietteSpanContents::new_named(
            name.clone(),
            &text.as_bytes()[from..to],
            (from, to - from).into(),
            line,
            from - line_start,
            line + 1,
        )))
    }
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

struct RelatedReport {
    label: String,
    span: SourceSpan,
    source: NamedSource<Arc<str>>,
}

impl<'a> Report<'a> {
    fn new(d: &'a Diagnostic) -> Self {
        let same_file = |name: &str| d.source.as_ref().is_some_and(|s| s.name == name);
        Self {
            d,
            source: d
                .source
                .as_ref()
                .map(|s| Snippet::new(&s.name, &s.text, &d.span)),
            related: d
                .related
                .iter()
                .filter(|r| !same_file(&r.source.name))
                .map(|r| RelatedReport {
                    label: r.label.clone(),
                    span: r.span.clone().into(),
                    source: NamedSource::new(&r.source.name, Arc::clone(&r.source.text)),
                })
                .collect(),
        }
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.d, f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.d.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.d
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let source = self.d.source.as_ref()?;
        let excerpt = self.source.as_ref().is_some_and(Snippet::is_excerpt);
        let mut span = self.d.span.clone();
        if excerpt {
            // An excerpt is one line: the label stays on it, and others are not drawn.
            let line_end = source.text[span.start..]
                .find('\n')
                .map_or(source.text.len(), |i| span.start + i);
            span.end = floor_boundary(
                &source.text,
                span.end.min(line_end).min(span.start + EXCERPT),
            );
        }
        let primary = LabeledSpan::new_primary_with_span(
            Some(self.d.label.clone()).filter(|l| !l.is_empty()),
            span,
        );
        let secondary = self
            .d
            .related
            .iter()
            .filter(move |r| r.source.name == source.name && !excerpt)
            .map(|r| LabeledSpan::new_with_span(Some(r.label.clone()), r.span.clone()));
        Some(Box::new(std::iter::once(primary).chain(secondary)))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

impl fmt::Debug for RelatedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl fmt::Display for RelatedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl std::error::Error for RelatedReport {}

impl miette::Diagnostic for RelatedReport {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            self.span,
        ))))
    }
}
