//! Secrets: values provisioning files need (Talos cluster secrets, join tokens) that must
//! not live in the Git tree. Each comes from a file outside it (or one Git ignores) or an
//! environment variable, named by a `secret` node of the site; templates of provisioning
//! files see them as `secrets.<name>`, boot scripts do not see them at all.
//!
//! What keeps them out of sight: anything shown to a person (`render --file`, a rendered
//! file quoted by a diagnostic, a template error) is rendered from [`Secrets::stand_ins`],
//! never from the values, so no escaping, quoting or re-serialisation of a value can leak
//! it; the real values go only into the bundle. [`Secrets::check_leaks`] reports a secret
//! value found in a KDL file or template of the config, and a secret file that Git tracks
//! or would commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::loader::{GitStatus, Loader};
use crate::model::{SecretFormat, SecretSource, SecretSpec, Site};
use crate::source::SourceFile;

/// Strings shorter than this are not searched for in the config: they would match
/// ordinary words. A secret worth the name is longer.
pub const MIN_SEARCHED: usize = 8;

/// What a secret string shows as, `SECRET-` and its path (`SECRET-talos.cluster.token`):
/// letters, digits, `-`, `_` and `.` only, which JSON, YAML and URLs take as they are.
pub const STAND_IN_PREFIX: &str = "SECRET-";

/// The secrets of a config, loaded.
#[derive(Debug, Default)]
pub struct Secrets {
    values: BTreeMap<String, serde_json::Value>,
    /// The same tree with every leaf replaced by a stand-in of its type (see [`stand_in`]).
    stand_ins: BTreeMap<String, serde_json::Value>,
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
            let name = &spec.name.value;
            if !from_example {
                secrets.real.push(name.clone());
            }
            secrets
                .stand_ins
                .insert(name.clone(), stand_in(name, &value));
            secrets.values.insert(name.clone(), value);
        }
        secrets
    }

    /// `secrets` as templates of provisioning files see it for the bundle.
    pub fn context(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.values
    }

    /// `secrets` as templates see it for anything shown to a person.
    pub fn stand_ins(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.stand_ins
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
            let mut own = Vec::new();
            searched(&self.values[name], &mut own);
            // Longest first (the line reported is where most of the value is), each once.
            own.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            own.dedup();
            needles.extend(own.into_iter().map(|n| (name, n)));
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
        SecretFormat::Text => {
            // A file saved on Windows: its line ends are `\r\n`, and the `\r` is no part
            // of the value (a token with one breaks whatever it is pasted into).
            let text = text.replace("\r\n", "\n");
            Some(serde_json::Value::from(
                text.strip_suffix('\n').unwrap_or(&text),
            ))
        }
        SecretFormat::Json => serde_json::from_str(text)
            .map_err(|e| failed(Some(e.line()), diags))
            .ok(),
        SecretFormat::Yaml => serde_yaml_ng::from_str(text)
            .map_err(|e| failed(e.location().map(|l| l.line()), diags))
            .ok(),
    }
}

/// `value` with each leaf replaced by a stand-in of the same type, so a template renders
/// (and a provisioning file parses) as it does with the value: a string by
/// [`STAND_IN_PREFIX`] and its path, once per line (the text keeps its line count, so line
/// numbers of the real render hold for the stand-in one), a number by 0, a boolean by
/// `false`. A number or a boolean can be secret too, and shows nothing of itself.
fn stand_in(path: &str, value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            let shown: String = path
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let token = format!("{STAND_IN_PREFIX}{shown}");
            let lines = s
                .split('\n')
                .map(|line| if line.is_empty() { "" } else { &token });
            Value::from(lines.collect::<Vec<_>>().join("\n"))
        }
        Value::Number(n) if n.is_f64() => Value::from(0.0),
        Value::Number(_) => Value::from(0),
        Value::Bool(_) => Value::Bool(false),
        Value::Null => Value::Null,
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| stand_in(&format!("{path}.{i}"), v))
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), stand_in(&format!("{path}.{k}"), v)))
            .collect(),
    }
}

/// The pieces of `value` worth searching the config for: each line of each string (a
/// multi-line one may be pasted line by line, indented), as it is and JSON-escaped, and each number written out,
/// [`MIN_SEARCHED`] bytes or longer, except the public lines of a PEM bundle (its
/// `-----BEGIN …-----`/`-----END …-----` markers and `Name: value` headers), which any
/// certificate or key has.
fn searched(value: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    let long = |s: &str| s.len() >= MIN_SEARCHED;
    match value {
        Value::String(s) => {
            for line in s.lines().map(str::trim) {
                if long(line) && !pem_public(line) {
                    // Pasted into a JSON file, it is there escaped.
                    let escaped = serde_json::to_string(line).expect("a string serialises");
                    let escaped = &escaped[1..escaped.len() - 1];
                    if escaped != line {
                        out.push(escaped.to_owned());
                    }
                    out.push(line.to_owned());
                }
            }
        }
        Value::Number(n) => out.extend(Some(n.to_string()).filter(|n| long(n))),
        Value::Array(items) => items.iter().for_each(|v| searched(v, out)),
        Value::Object(map) => map.values().for_each(|v| searched(v, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// A line of a PEM file every such file has: an encapsulation boundary, or an RFC 1421
/// header (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`).
fn pem_public(line: &str) -> bool {
    let boundary = line.starts_with("-----BEGIN ") || line.starts_with("-----END ");
    let header = ["Proc-Type:", "DEK-Info:", "Content-Domain:"]
        .iter()
        .any(|h| line.starts_with(h));
    (boundary && line.ends_with("-----")) || header
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stand_ins_keep_types_and_line_counts_and_nothing_of_the_value() {
        let value = json!({"token": "Sup3r\"Secret", "port": 6443, "ratio": 0.5, "on": true,
            "none": null, "pem": "-----BEGIN X-----\nAAAA\n-----END X-----\n", "list": ["a b"], "we ird": "x"});
        let shown = stand_in("talos", &value);
        assert_eq!(
            shown,
            json!({"token": "SECRET-talos.token", "port": 0, "ratio": 0.0, "on": false,
                "none": null, "pem": "SECRET-talos.pem\nSECRET-talos.pem\nSECRET-talos.pem\n",
                "list": ["SECRET-talos.list.0"], "we ird": "SECRET-talos.we_ird"})
        );
    }

    #[test]
    fn searches_values_and_numbers_but_not_pem_markers() {
        let mut found = Vec::new();
        searched(
            &json!({"pem": "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n", "pw": "Sup3r\"Secret",
                "id": 123456789, "short": "abc", "flag": true}),
            &mut found,
        );
        found.sort();
        assert_eq!(
            found,
            [
                "123456789",
                "MIIBszCCAVmgAwIBAgIU",
                "Sup3r\"Secret",
                "Sup3r\\\"Secret"
            ]
        );
    }
}
