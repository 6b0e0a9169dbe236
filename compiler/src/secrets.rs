//! Secrets: values provisioning files need (Talos cluster secrets, join tokens) that must
//! not live in the Git tree. Each comes from a file outside it (or one Git ignores) or an
//! environment variable, named by a `secret` node of the site; templates of provisioning
//! files see them as `secrets.<name>`, boot scripts do not see them at all.
//!
//! What keeps them out of sight: [`Redactor`] masks every secret string (8 bytes or longer)
//! in anything shown to a person (a rendered file quoted by a diagnostic, a template error,
//! `render --file`); [`Secrets::check_leaks`] reports a secret value found in a KDL file
//! or template of the config, and a secret file that Git tracks or would commit.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::loader::{GitStatus, Loader};
use crate::model::{SecretFormat, SecretSource, SecretSpec, Site};
use crate::source::SourceFile;

/// Strings shorter than this are neither masked nor searched for: they would match
/// ordinary words. A secret worth the name is longer.
pub const MIN_MASKED: usize = 8;

/// The secrets of a config, loaded.
#[derive(Debug, Default)]
pub struct Secrets {
    values: BTreeMap<String, serde_json::Value>,
    redactor: Redactor,
    /// Names of secrets whose values came from the real source (not an `example=`): the ones
    /// that must not appear in the config.
    real: Vec<String>,
}

impl Secrets {
    /// Reads every secret of the site. A missing secret with an `example=` falls back to
    /// it, with a warning; without one it is an error (and templates that use it fail).
    pub fn load(loader: &Loader, site: &Site, diags: &mut Diagnostics) -> Self {
        let mut secrets = Self::default();
        for spec in &site.secrets {
            let Some((text, from_example)) = read(loader, spec, diags) else {
                continue;
            };
            let Some(value) = parse(spec, &text, from_example, diags) else {
                continue;
            };
            secrets.redactor.add(&value);
            if !from_example {
                secrets.real.push(spec.name.value.clone());
            }
            secrets.values.insert(spec.name.value.clone(), value);
        }
        secrets.redactor.settle();
        secrets
    }

    /// `secrets` as templates of provisioning files see it.
    pub fn context(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.values
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Reports each real secret value found in `sources` (the config's KDL files and
    /// templates): by file and line, never quoting it.
    pub fn check_leaks<'a>(
        &self,
        sources: impl IntoIterator<Item = &'a Arc<SourceFile>>,
        diags: &mut Diagnostics,
    ) {
        let mut needles = Vec::new();
        for name in &self.real {
            let mut own = Redactor::default();
            own.add(&self.values[name]);
            needles.extend(own.needles.into_iter().map(|n| (name, n)));
        }
        if needles.is_empty() {
            return;
        }
        for source in sources {
            for (name, needle) in &needles {
                let Some(at) = source.text.find(needle.as_str()) else {
                    continue;
                };
                let (line, _) = source.line_col(at);
                diags
                    .push(Diagnostic::global(
                        Code::SecretInConfig,
                        format!(
                            "`{}` line {line} holds a value of secret `{name}`",
                            source.name
                        ),
                    ))
                    .help(format!(
                        "take it out and use {{{{ secrets.{name} }}}} in a provisioning file's template; if it was committed, rotate it"
                    ));
                break;
            }
        }
    }
}

/// The secret's text, and whether it came from its `example=`.
fn read(loader: &Loader, spec: &SecretSpec, diags: &mut Diagnostics) -> Option<(String, bool)> {
    let name = &spec.name;
    let missing = match &spec.from {
        SecretSource::Env(var) => match loader.secret_env(&var.value) {
            Some(text) => return Some((text, false)),
            None => format!("environment variable `{}` is not set", var.value),
        },
        SecretSource::Path { written, base } => {
            let path = loader.secret_path(base, &written.value);
            let finding = match loader.git_status(&path) {
                Some(GitStatus::Tracked) => Some((
                    true,
                    "tracked by",
                    "committed, or staged to be",
                    "`git rm --cached` it, add it to .gitignore, and rotate the secret: everyone with the repository has it",
                )),
                Some(GitStatus::NotIgnored) => Some((
                    false,
                    "not ignored by",
                    "`git add -A` would commit it",
                    "add it to .gitignore, or keep it outside the repository",
                )),
                Some(GitStatus::Ignored) | None => None,
            };
            if let Some((committed, how, label, help)) = finding {
                let d = diags.push(Diagnostic::error(
                    Code::SecretInGit,
                    &written.source,
                    written.span.clone(),
                    format!("the file of secret `{}` is {how} Git", name.value),
                ));
                d.label(label).help(help);
                // Not committed yet: a warning, until it is.
                if !committed {
                    d.warning();
                }
            }
            match loader.read_secret(&path) {
                Ok(Some(text)) => return Some((text, false)),
                Ok(None) => format!("`{}` does not exist", written.value),
                Err(e) => {
                    diags
                        .push(Diagnostic::error(
                            Code::SecretMissing,
                            &written.source,
                            written.span.clone(),
                            format!("secret `{}` cannot be read: {e}", name.value),
                        ))
                        .label("this file");
                    return None;
                }
            }
        }
    };
    if let Some(example) = &spec.example {
        match loader.read_text(&example.value) {
            Ok(file) => {
                diags
                    .push(Diagnostic::error(
                        Code::SecretFromExample,
                        &name.source,
                        name.span.clone(),
                        format!(
                            "secret `{}` uses the committed example values: {missing}",
                            name.value
                        ),
                    ))
                    .warning()
                    .label("stand-in values")
                    .help(format!(
                        "fine for trying the config; a bundle for real machines needs the secret itself (start from `{}`)",
                        example.value
                    ));
                return Some((file.text.to_string(), true));
            }
            Err(d) => {
                diags.push(*d);
                return None;
            }
        }
    }
    diags
        .push(Diagnostic::error(
            Code::SecretMissing,
            &name.source,
            name.span.clone(),
            format!("secret `{}` is missing: {missing}", name.value),
        ))
        .label("no value")
        .help("provide it where the build runs (it is kept out of Git on purpose), or give the secret an `example=` file of stand-in values");
    None
}

fn parse(
    spec: &SecretSpec,
    text: &str,
    from_example: bool,
    diags: &mut Diagnostics,
) -> Option<serde_json::Value> {
    // Parser messages can quote the text: only the place is reported.
    let failed = |line: Option<usize>, diags: &mut Diagnostics| {
        let at = line.map_or(String::new(), |l| format!(" (line {l})"));
        let origin = if from_example {
            "its example file"
        } else {
            "its value"
        };
        diags
            .push(Diagnostic::error(
                Code::SecretMissing,
                &spec.name.source,
                spec.name.span.clone(),
                format!(
                    "secret `{}`: {origin} does not parse as its `format=`{at}",
                    spec.name.value
                ),
            ))
            .label("unusable");
    };
    match spec.format {
        SecretFormat::Text => Some(serde_json::Value::from(
            text.strip_suffix('\n').unwrap_or(text),
        )),
        SecretFormat::Json => serde_json::from_str(text)
            .map_err(|e| failed(Some(e.line()), diags))
            .ok(),
        SecretFormat::Yaml => serde_yaml_ng::from_str(text)
            .map_err(|e| failed(e.location().map(|l| l.line()), diags))
            .ok(),
    }
}

/// Masks secret strings in text shown to people: each byte becomes `*`, so byte offsets
/// (diagnostic spans) into the text stay valid.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// Longest first, so a secret containing another is masked whole.
    needles: Vec<String>,
}

impl Redactor {
    fn add(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                // A multi-line secret (a PEM key) may be embedded line by line, indented.
                let lines = s.lines().map(str::trim).filter(|l| l.len() >= MIN_MASKED);
                self.needles.extend(lines.map(str::to_owned));
                if s.len() >= MIN_MASKED {
                    self.needles.push(s.clone());
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| self.add(v)),
            serde_json::Value::Object(map) => map.values().for_each(|v| self.add(v)),
            _ => {}
        }
    }

    /// Longest first (a secret containing another is masked whole), each once.
    fn settle(&mut self) {
        self.needles
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.needles.dedup();
    }

    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = Cow::Owned(out.replace(needle.as_str(), &"*".repeat(needle.len())));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_long_string_keeping_offsets() {
        let mut r = Redactor::default();
        r.add(&serde_json::json!({"token": "abcdefgh12", "id": "short", "pem": "-----BEGIN-----\nAAAABBBBCCCC\n-----END-----"}));
        r.settle();
        let text = "token=abcdefgh12 id=short\n    AAAABBBBCCCC\n";
        let masked = r.redact(text);
        assert_eq!(masked, "token=********** id=short\n    ************\n");
        assert_eq!(masked.len(), text.len());
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }
}
