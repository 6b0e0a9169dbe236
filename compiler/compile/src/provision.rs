//! Provisioning files (Ignition, Talos machine configs, cloud-init NoCloud): what each kind
//! is served as, what its consumer requires of it (checked on every machine's rendered
//! file, so `check` catches what would leave a node unconfigured), and how a machine's file
//! is merged over its profile's. Pure: text in, text or a [`Problem`] out.

use netboot_protocol::Named;
use serde::Deserialize;
use serde_json::Value;
use strum::{EnumString, IntoStaticStr, VariantArray, VariantNames};

/// What a `file` is, by who reads it (`kind=`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumString,
    IntoStaticStr,
    VariantArray,
    VariantNames,
)]
#[strum(serialize_all = "kebab-case")]
pub enum FileKind {
    /// Ignition (Flatcar, Fedora CoreOS): JSON, spec 3.x.
    Ignition,
    /// A Talos machine configuration: YAML, `version: v1alpha1`.
    Talos,
    /// cloud-init `user-data`: `#cloud-config` then YAML.
    CloudConfig,
    /// cloud-init NoCloud `meta-data`: YAML with `instance-id`.
    MetaData,
    /// cloud-init `network-config`: YAML, network config version 1 or 2.
    NetworkConfig,
    /// Anything else: served as written, not checked.
    Raw,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Ignition spec versions Flatcar's and Fedora CoreOS's Ignition 2.x accept.
pub const IGNITION_VERSIONS: [&str; 6] = ["3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0", "3.5.0"];

/// Why a rendered file would be rejected: a byte offset into the text checked, if the
/// problem has a place, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub offset: Option<usize>,
    pub message: String,
}

impl Problem {
    fn at(offset: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }
}

impl FileKind {
    /// What servers send it as.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Ignition => "application/vnd.coreos.ignition+json",
            Self::CloudConfig => "text/cloud-config",
            Self::Talos | Self::MetaData | Self::NetworkConfig => "application/yaml",
            Self::Raw => netboot_bundle::CONTENT_TYPE_OBJECT,
        }
    }

    /// Whether a machine's file of this kind can be merged over its profile's.
    pub fn mergeable(self) -> bool {
        self != Self::Raw
    }

    /// Checks `text` for what this kind's consumer requires.
    pub fn check(self, text: &str) -> Result<(), Problem> {
        match self {
            Self::Ignition => check_ignition(text),
            Self::Talos => check_talos(text),
            Self::CloudConfig => {
                let body = cloud_config_body(text)?;
                let value = yaml_document(text, body)?;
                require_mapping(text, &value, "user-data", true)
            }
            Self::MetaData => {
                let value = yaml_document(text, 0)?;
                require_mapping(text, &value, "meta-data", false)?;
                match value.get("instance-id") {
                    Some(Value::String(id)) if !id.is_empty() => Ok(()),
                    Some(_) => Err(Problem::at(
                        key_offset(text, "instance-id"),
                        "`instance-id` must be a non-empty string",
                    )),
                    None => Err(Problem::at(
                        None,
                        "no `instance-id`: cloud-init needs one to tell a new instance from a reboot",
                    )),
                }
            }
            Self::NetworkConfig => {
                let value = yaml_document(text, 0)?;
                require_mapping(text, &value, "network-config", false)?;
                let inner = value.get("network").unwrap_or(&value);
                match inner.get("version").and_then(Value::as_u64) {
                    Some(1 | 2) => Ok(()),
                    _ => Err(Problem::at(
                        key_offset(text, "version"),
                        "network config needs `version: 1` or `version: 2`",
                    )),
                }
            }
            Self::Raw => Ok(()),
        }
    }

    /// `text` (rendered, of this kind) parsed as the document its consumer reads.
    pub fn document(self, text: &str) -> Result<Value, Problem> {
        match self {
            Self::Ignition => json_document(text),
            Self::CloudConfig => yaml_document(text, cloud_config_body(text)?),
            _ => yaml_document(text, 0),
        }
    }

    /// `over` merged into `base` (both rendered texts of this kind): mappings merge key by
    /// key, recursively; anything else in `over` replaces what `base` has. The error names
    /// which side did not parse.
    pub fn merge(self, base: &str, over: &str) -> Result<String, (Side, Problem)> {
        let mut merged = self.document(base).map_err(|p| (Side::Base, p))?;
        let over = self.document(over).map_err(|p| (Side::Override, p))?;
        merge_values(&mut merged, over);
        Ok(match self {
            Self::Ignition => {
                let mut text =
                    serde_json::to_string_pretty(&merged).expect("a JSON value serialises");
                text.push('\n');
                text
            }
            Self::CloudConfig => format!("#cloud-config\n{}", to_yaml(&merged)),
            _ => to_yaml(&merged),
        })
    }
}

/// Which of the two files of a merge a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The profile's.
    Base,
    /// The machine's.
    Override,
}

fn merge_values(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge_values(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

fn to_yaml(value: &Value) -> String {
    serde_yaml_ng::to_string(value).expect("a JSON value serialises as YAML")
}

/// The byte offset of 1-based `line`, `column` (serde_json counts columns in bytes).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(text.len())
}

fn json_document(text: &str) -> Result<Value, Problem> {
    serde_json::from_str(text).map_err(|e| json_problem(text, &e))
}

fn json_problem(text: &str, e: &serde_json::Error) -> Problem {
    // serde_json's message ends with " at line L column C"; the place is the span.
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    Problem::at(
        Some(offset_of(text, e.line(), e.column())),
        format!("not valid JSON: {message}"),
    )
}

/// The first YAML document of `text[from..]` as a value (an empty document is null).
fn yaml_document(text: &str, from: usize) -> Result<Value, Problem> {
    let body = &text[from..];
    let mut documents = serde_yaml_ng::Deserializer::from_str(body);
    let Some(first) = documents.next() else {
        return Ok(Value::Null);
    };
    Value::deserialize(first).map_err(|e| {
        let offset = e.location().map(|l| from + l.index());
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        Problem::at(offset, format!("not valid YAML: {message}"))
    })
}

/// Where the YAML of a `#cloud-config` file starts (after its header line).
fn cloud_config_body(text: &str) -> Result<usize, Problem> {
    let first = text.lines().next().unwrap_or("");
    if first.trim_end() != "#cloud-config" {
        return Err(Problem::at(
            Some(0),
            "user-data must start with the line `#cloud-config`, or cloud-init does not read it as a cloud config",
        ));
    }
    Ok(text.find('\n').map_or(text.len(), |i| i + 1))
}

fn require_mapping(text: &str, value: &Value, what: &str, empty_ok: bool) -> Result<(), Problem> {
    match value {
        Value::Object(_) => Ok(()),
        Value::Null if empty_ok => Ok(()),
        _ => Err(Problem::at(
            Some(
                text.len()
                    .min(text.find(|c: char| !c.is_whitespace()).unwrap_or(0)),
            ),
            format!("{what} must be a YAML mapping (`key: value` lines)"),
        )),
    }
}

/// The offset of the first line that starts with `key:` (after indentation), if any.
fn key_offset(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let quoted = format!("\"{key}\"");
        if trimmed.starts_with(&format!("{key}:")) || trimmed.starts_with(&quoted) {
            return Some(offset + line.len() - trimmed.len());
        }
        offset += line.len();
    }
    None
}

/// The offset of the JSON string `"value"` in `text`, for problems found after parsing.
fn string_offset(text: &str, value: &str) -> Option<usize> {
    let quoted = serde_json::to_string(value).ok()?;
    text.find(&quoted)
}

// Ignition spec 3.x, as far as netbootc checks it: the sections that exist (a misspelt one
// is ignored by nobody: Ignition refuses the config), the fields its nodes are found by,
// and absolute paths.
#[allow(
    dead_code,
    reason = "the schema is checked by deserialising it; only some fields are read"
)]
mod ignition {
    use serde::Deserialize;
    use serde::de::IgnoredAny;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct IgnitionConfig {
        pub(super) ignition: IgnitionSection,
        pub(super) storage: Option<Storage>,
        pub(super) systemd: Option<Systemd>,
        pub(super) passwd: Option<Passwd>,
        pub(super) kernel_arguments: Option<KernelArguments>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct IgnitionSection {
        pub(super) version: String,
        pub(super) config: Option<IgnoredAny>,
        pub(super) timeouts: Option<IgnoredAny>,
        pub(super) security: Option<IgnoredAny>,
        pub(super) proxy: Option<IgnoredAny>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Storage {
        pub(super) disks: Option<Vec<IgnoredAny>>,
        pub(super) raid: Option<Vec<IgnoredAny>>,
        pub(super) filesystems: Option<Vec<IgnoredAny>>,
        pub(super) files: Option<Vec<PathNode>>,
        pub(super) directories: Option<Vec<PathNode>>,
        pub(super) links: Option<Vec<PathNode>>,
        pub(super) luks: Option<Vec<IgnoredAny>>,
    }

    #[derive(Deserialize)]
    pub(super) struct PathNode {
        pub(super) path: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Systemd {
        pub(super) units: Option<Vec<Unit>>,
    }

    #[derive(Deserialize)]
    pub(super) struct Unit {
        pub(super) name: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Passwd {
        pub(super) users: Option<Vec<User>>,
        pub(super) groups: Option<Vec<Group>>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct User {
        pub(super) name: String,
        pub(super) ssh_authorized_keys: Option<Vec<String>>,
    }

    #[derive(Deserialize)]
    pub(super) struct Group {
        pub(super) name: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct KernelArguments {
        pub(super) should_exist: Option<Vec<String>>,
        pub(super) should_not_exist: Option<Vec<String>>,
    }
}

fn check_ignition(text: &str) -> Result<(), Problem> {
    json_document(text)?;
    let config: ignition::IgnitionConfig = serde_json::from_str(text).map_err(|e| {
        let mut p = json_problem(text, &e);
        p.message = p
            .message
            .replacen("not valid JSON", "not an Ignition config", 1);
        p
    })?;
    let version = &config.ignition.version;
    if !IGNITION_VERSIONS.contains(&version.as_str()) {
        return Err(Problem::at(
            string_offset(text, version),
            format!(
                "Ignition spec version `{version}` is not supported: use one of {}",
                IGNITION_VERSIONS.join(", ")
            ),
        ));
    }
    let storage = config.storage.iter();
    let paths = storage.flat_map(|s| {
        [&s.files, &s.directories, &s.links]
            .into_iter()
            .flatten()
            .flatten()
    });
    for node in paths {
        if !node.path.starts_with('/') {
            return Err(Problem::at(
                string_offset(text, &node.path),
                format!("storage path `{}` is not absolute", node.path),
            ));
        }
    }
    for unit in config.systemd.iter().flat_map(|s| s.units.iter().flatten()) {
        if !unit.name.contains('.') || unit.name.starts_with('.') {
            return Err(Problem::at(
                string_offset(text, &unit.name),
                format!(
                    "systemd unit name `{}` has no type suffix (`.service`, `.timer`, …)",
                    unit.name
                ),
            ));
        }
    }
    let keys = config
        .passwd
        .iter()
        .flat_map(|p| p.users.iter().flatten())
        .flat_map(|u| u.ssh_authorized_keys.iter().flatten());
    for key in keys {
        if key.split_whitespace().count() < 2 {
            return Err(Problem::at(
                string_offset(text, key),
                "an SSH authorized key needs a type and the key (`ssh-ed25519 AAAA…`)",
            ));
        }
    }
    Ok(())
}

fn check_talos(text: &str) -> Result<(), Problem> {
    let value = yaml_document(text, 0)?;
    require_mapping(text, &value, "a Talos machine config", false)?;
    match value.get("version").and_then(Value::as_str) {
        Some("v1alpha1") => {}
        Some(other) => {
            return Err(Problem::at(
                key_offset(text, "version"),
                format!("Talos config version `{other}` is not `v1alpha1`"),
            ));
        }
        None => {
            return Err(Problem::at(
                None,
                "no `version: v1alpha1`: Talos does not read it as a machine config",
            ));
        }
    }
    for section in ["machine", "cluster"] {
        if !value.get(section).is_some_and(Value::is_object) {
            return Err(Problem::at(
                key_offset(text, section),
                format!("a Talos machine config needs a `{section}` mapping"),
            ));
        }
    }
    match value["machine"].get("type").and_then(Value::as_str) {
        Some("init" | "controlplane" | "worker") => Ok(()),
        _ => Err(Problem::at(
            key_offset(text, "type"),
            "`machine.type` must be `controlplane` or `worker` (or `init`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IGNITION: &str = r#"{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAAC3Nza core@x"]}]},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":"data:,n1"}}]}}"#;

    fn problem(kind: FileKind, text: &str) -> Problem {
        kind.check(text).expect_err("should be rejected")
    }

    #[test]
    fn ignition_accepts_a_valid_config_and_points_at_what_is_wrong() {
        FileKind::Ignition.check(IGNITION).unwrap();
        let p = problem(FileKind::Ignition, &IGNITION.replace("3.4.0", "2.9.0"));
        assert!(p.message.contains("`2.9.0` is not supported"), "{p:?}");
        assert_eq!(p.offset, IGNITION.find("\"3.4.0\""));
        let p = problem(FileKind::Ignition, &IGNITION.replace("passwd", "password"));
        assert!(p.message.contains("unknown field `password`"), "{p:?}");
        let p = problem(
            FileKind::Ignition,
            &IGNITION.replace("/etc/hostname", "etc/x"),
        );
        assert!(p.message.contains("`etc/x` is not absolute"), "{p:?}");
        let p = problem(
            FileKind::Ignition,
            "{\"ignition\": {\"version\": \"3.4.0\"},\n}",
        );
        assert!(
            p.message.starts_with("not valid JSON: trailing comma"),
            "{p:?}"
        );
        assert_eq!(
            p.offset,
            Some(35),
            "at the closing brace after the trailing comma"
        );
        let p = problem(FileKind::Ignition, "{}");
        assert!(p.message.contains("missing field `ignition`"), "{p:?}");
    }

    #[test]
    fn cloud_init_kinds_need_their_header_and_keys() {
        FileKind::CloudConfig
            .check("#cloud-config\nhostname: n1\n")
            .unwrap();
        FileKind::CloudConfig.check("#cloud-config\n").unwrap();
        let p = problem(FileKind::CloudConfig, "hostname: n1\n");
        assert!(p.message.contains("#cloud-config"), "{p:?}");
        let p = problem(FileKind::CloudConfig, "#cloud-config\nusers: [a\n");
        assert!(p.message.starts_with("not valid YAML"), "{p:?}");
        assert!(p.offset.unwrap() >= 14, "{p:?}");
        FileKind::MetaData.check("instance-id: n1\n").unwrap();
        let p = problem(FileKind::MetaData, "local-hostname: n1\n");
        assert!(p.message.contains("instance-id"), "{p:?}");
        FileKind::NetworkConfig
            .check("network:\n  version: 2\n")
            .unwrap();
        problem(FileKind::NetworkConfig, "version: 3\n");
    }

    #[test]
    fn talos_needs_version_machine_and_cluster() {
        let ok = "version: v1alpha1\nmachine:\n  type: worker\ncluster:\n  id: x\n";
        FileKind::Talos.check(ok).unwrap();
        let p = problem(FileKind::Talos, &ok.replace("worker", "boss"));
        assert_eq!(p.offset, ok.find("type"));
        let p = problem(
            FileKind::Talos,
            "version: v1alpha1\nmachine:\n  type: worker\n",
        );
        assert!(p.message.contains("`cluster`"), "{p:?}");
        FileKind::Raw.check("anything { at all").unwrap();
    }

    #[test]
    fn merges_mappings_recursively_and_replaces_the_rest() {
        let merged = FileKind::CloudConfig
            .merge(
                "#cloud-config\nhostname: a\nusers: [x]\nntp:\n  enabled: true\n",
                "#cloud-config\nusers: [y]\nntp:\n  servers: [t]\n",
            )
            .unwrap();
        assert!(merged.starts_with("#cloud-config\n"));
        FileKind::CloudConfig.check(&merged).unwrap();
        let value = yaml_document(&merged, cloud_config_body(&merged).unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"hostname": "a", "users": ["y"], "ntp": {"enabled": true, "servers": ["t"]}})
        );
        let merged = FileKind::Ignition
            .merge(
                IGNITION,
                r#"{"ignition":{"version":"3.4.0"},"systemd":{"units":[{"name":"a.service"}]}}"#,
            )
            .unwrap();
        FileKind::Ignition.check(&merged).unwrap();
        assert!(merged.contains("a.service") && merged.contains("/etc/hostname"));
        let (side, _) = FileKind::Talos.merge("a: [", "b: 1").unwrap_err();
        assert_eq!(side, Side::Base);
    }
}
