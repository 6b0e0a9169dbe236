//! Diagnostics: a kind (with a stable code), a severity, and labelled spans into sources.
//! Every stage pushes into a [`Diagnostics`] list and carries on; the list is sorted and
//! rendered once, at the edge (see `report.rs`).

use std::fmt;
use std::sync::Arc;

use crate::source::{SourceFile, Span};

// Each code with its one-line summary: the summaries document the codes here
// (docs/configuration.md's list of diagnostics says the same for operators); nothing reads them.
macro_rules! codes {
    ($($variant:ident => $code:literal, $summary:literal;)*) => {
        /// What went wrong. The code (`netbootc::<code>`) is stable: scripts and editors
        /// match on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The part after `netbootc::`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }
        }
    };
}

codes! {
    Io => "io", "a file or directory could not be read";
    NotUtf8 => "not-utf8", "a KDL file or template is not valid UTF-8";
    FileTooLarge => "file-too-large", "a KDL file or template is over the size limit (8 MiB)";
    TooDeep => "too-deep", "KDL nesting deeper than 32 levels";
    TooManyProblems => "too-many-problems", "a KDL file with more than 100 problems: the rest are not listed";
    EmptyConfig => "empty-config", "no `*.kdl` files under `machines/` and `profiles/`";
    KdlSyntax => "kdl-syntax", "the file is not valid KDL v2";
    UnknownNode => "unknown-node", "a node name the schema does not know";
    UnknownProperty => "unknown-property", "a property name the node does not take";
    UnexpectedArgument => "unexpected-argument", "an argument where none (or fewer) are taken";
    MissingField => "missing-field", "a required node, argument or property is missing";
    DuplicateField => "duplicate-field", "a node or property that may appear once appears twice";
    BadValue => "bad-value", "a value of the wrong type, or not one of the allowed values";
    BadName => "bad-name", "a machine, profile or image name that cannot be a URL path segment";
    BadMac => "bad-mac", "not a MAC address";
    BadUuid => "bad-uuid", "not a UUID";
    PlaceholderUuid => "placeholder-uuid", "an all-zero or all-`f` UUID: a firmware placeholder that many machines share";
    BadSha256 => "bad-sha256", "not 64 hex digits";
    BadUrl => "bad-url", "not an absolute http(s) URL";
    InsecureUrl => "insecure-url", "an image or origin URL that is not HTTPS";
    UnsafeUrl => "unsafe-url", "an origin or proxy URL with a character router configs or boot scripts would read as syntax, a query, a fragment or user information";
    UnpinnedImage => "unpinned-image", "an image without `sha256=`";
    MissingSite => "missing-site", "no `site` node in the whole config";
    DuplicateSite => "duplicate-site", "more than one `site` node";
    DuplicateMachine => "duplicate-machine", "two machines with the same name";
    DuplicateMac => "duplicate-mac", "one MAC address given to two machines (or twice)";
    DuplicateUuid => "duplicate-uuid", "one UUID given to two machines";
    DuplicateProfile => "duplicate-profile", "two profiles with the same name";
    DuplicateFirmware => "duplicate-firmware", "two boot files for one firmware class";
    NoBootFile => "no-boot-file", "a profile's `arch` that none of the site's firmware boot files can start (warning)";
    UnknownProfile => "unknown-profile", "a machine or `extends` names a profile that does not exist";
    ExtendsCycle => "extends-cycle", "profiles that extend each other in a loop";
    UnusedProfile => "unused-profile", "a profile no machine uses (warning)";
    UnreachableImage => "unreachable-image", "in `via-proxy` mode without `mirror`, an HTTPS image stock iPXE cannot fetch (warning)";
    ImageNotFound => "image-not-found", "an image `path=` that does not exist";
    ImageFetch => "image-fetch", "an image URL that could not be downloaded";
    DigestMismatch => "digest-mismatch", "an image whose bytes do not match its `sha256=`";
    TemplateNotFound => "template-not-found", "a `template` path that does not exist";
    TemplateSyntax => "template-syntax", "a template that does not parse";
    TemplateUndefined => "template-undefined", "a template uses a variable the context lacks";
    TemplateError => "template-error", "a template failed while rendering";
    LintShebang => "lint-shebang", "a rendered script whose first line is not `#!ipxe`";
    LintUnknownCommand => "lint-unknown-command", "a rendered script uses a command iPXE does not have";
    LintMissingLabel => "lint-missing-label", "a rendered script jumps to a label it does not define";
    SimulationFailed => "simulation-failed", "a machine that, simulated on a firmware class of the site, would not boot its profile (or its disk)";
    ProvisioningInvalid => "provisioning-invalid", "a machine's rendered provisioning file its consumer would reject (Ignition, Talos, cloud-init)";
    SecretMissing => "secret-missing", "a secret whose file or environment variable is absent or unreadable";
    SecretFromExample => "secret-from-example", "a secret absent where the build runs, replaced by its committed `example=` values (warning)";
    SecretInConfig => "secret-in-config", "a secret's value written into a KDL file or template of the config";
    SecretInGit => "secret-in-git", "a secret file Git tracks (error) or does not ignore (warning)";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "netbootc::{}", self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// A secondary label, possibly in another file ("first defined here").
#[derive(Debug, Clone)]
pub struct Related {
    pub source: Arc<SourceFile>,
    pub span: Span,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// `None` for problems that belong to no file (an empty config directory).
    pub source: Option<Arc<SourceFile>>,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// An error labelled at `span` of `source`.
    pub(crate) fn error(
        code: Code,
        source: &Arc<SourceFile>,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            span: source.clamp(&span),
            source: Some(Arc::clone(source)),
            label: String::new(),
            help: None,
            related: Vec::new(),
        }
    }

    /// An error that belongs to no file.
    pub(crate) fn global(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            source: None,
            span: 0..0,
            label: String::new(),
            help: None,
            related: Vec::new(),
        }
    }

    pub(crate) fn warning(&mut self) -> &mut Self {
        self.severity = Severity::Warning;
        self
    }

    pub(crate) fn label(&mut self, label: impl Into<String>) -> &mut Self {
        self.label = label.into();
        self
    }

    pub(crate) fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary label, possibly in another file ("first defined here").
    pub(crate) fn related(
        &mut self,
        source: &Arc<SourceFile>,
        span: Span,
        label: impl Into<String>,
    ) -> &mut Self {
        self.related.push(Related {
            span: source.clamp(&span),
            source: Arc::clone(source),
            label: label.into(),
        });
        self
    }

    /// Sort key: file, then position, then code, so output is stable across runs.
    fn sort_key(&self) -> (Option<&str>, usize, usize, Code, &str) {
        (
            self.source.as_ref().map(|s| s.name.as_str()),
            self.span.start,
            self.span.end,
            self.code,
            &self.message,
        )
    }
}

/// The diagnostics of one run.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Adds a diagnostic and returns it for labelling.
    pub fn push(&mut self, diagnostic: Diagnostic) -> &mut Diagnostic {
        self.list.push(diagnostic);
        let last = self.list.len() - 1;
        &mut self.list[last]
    }

    pub(crate) fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.list.extend(other);
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.list.iter().filter(|d| d.severity == severity).count()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }

    /// Sorted by file and position; exact duplicates removed.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.list.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.list.dedup_by(|a, b| a.sort_key() == b.sort_key());
        self.list
    }
}

/// Best "did you mean" candidate for `word` among `candidates`, if any is close.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["flatcar-stable", "flatcar-debug", "talos"];
        assert_eq!(suggest("flatcar-stabel", names), Some("flatcar-stable"));
        assert_eq!(suggest("memtest", names), None);
    }

    #[test]
    fn readme_lists_every_code() {
        let readme = include_str!("../../../docs/configuration.md");
        for code in Code::ALL {
            assert!(
                readme.contains(&format!("`{code}`")),
                "docs/configuration.md does not list {code}"
            );
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
