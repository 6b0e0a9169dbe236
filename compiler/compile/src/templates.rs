//! Which template renders what: the built-ins (embedded), the operator's overrides under
//! `profiles/templates/`, and each profile's own `template`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::loader::Loader;
use crate::model::Config;
use crate::source::SourceFile;

/// The built-in scripts, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Builtin {
    Dispatcher,
    Machine,
    /// A machine told to boot its own disk (`boot "local"`).
    Local,
    Unknown,
    /// A Raspberry Pi's `config.txt` (machines with `pi`).
    PiConfig,
    /// A Raspberry Pi's `cmdline.txt`: the profile's command line, rendered.
    PiCmdline,
}

impl Builtin {
    pub(crate) const ALL: [Builtin; 6] = [
        Builtin::Dispatcher,
        Builtin::Machine,
        Builtin::Local,
        Builtin::Unknown,
        Builtin::PiConfig,
        Builtin::PiCmdline,
    ];

    pub(crate) fn file_name(self) -> &'static str {
        match self {
            Self::Dispatcher => "boot.ipxe.j2",
            Self::Machine => "machine.ipxe.j2",
            Self::Local => "local.ipxe.j2",
            Self::Unknown => "unknown.ipxe.j2",
            Self::PiConfig => "config.txt.j2",
            Self::PiCmdline => "cmdline.txt.j2",
        }
    }

    fn embedded(self) -> &'static str {
        match self {
            Self::Dispatcher => include_str!("templates/boot.ipxe.j2"),
            Self::Machine => include_str!("templates/machine.ipxe.j2"),
            Self::Local => include_str!("templates/local.ipxe.j2"),
            Self::Unknown => include_str!("templates/unknown.ipxe.j2"),
            Self::PiConfig => include_str!("templates/config.txt.j2"),
            Self::PiCmdline => include_str!("templates/cmdline.txt.j2"),
        }
    }

    /// Where an operator puts a file to replace the built-in.
    pub(crate) fn override_path(self) -> String {
        format!("profiles/templates/{}", self.file_name())
    }
}

/// Template sources by name (a config-relative path, or `<built-in>/<file>`).
#[derive(Debug, Default)]
pub(crate) struct TemplateSet {
    pub sources: BTreeMap<String, Arc<SourceFile>>,
    /// The template name each built-in role resolves to.
    pub builtins: BTreeMap<Builtin, String>,
}

impl TemplateSet {
    /// Loads the overrides that exist, the built-ins for the rest, every profile's
    /// `template` and every provisioning file's; a missing template is a diagnostic.
    pub(crate) fn load(loader: &Loader, config: &Config, diags: &mut Diagnostics) -> Self {
        let mut set = Self::default();
        // Reported once, however many profiles or machines name it.
        let mut missing = BTreeSet::new();
        for builtin in Builtin::ALL {
            let path = builtin.override_path();
            if !loader.full_path(&path).is_file() {
                set.add_embedded(builtin);
                continue;
            }
            match loader.read_text(&path) {
                Ok(file) => {
                    set.sources.insert(path.clone(), file);
                    set.builtins.insert(builtin, path);
                }
                Err(d) => {
                    diags.push(*d);
                }
            }
        }
        // Boot script templates of profiles, then every provisioning file's template.
        let profile_templates = config.profiles.values().filter_map(|p| p.template.as_ref());
        let file_templates = config
            .profiles
            .values()
            .flat_map(|p| p.files.values())
            .chain(config.machines.iter().flat_map(|m| m.files.values()))
            .map(|f| &f.template);
        for template in profile_templates.chain(file_templates) {
            if set.sources.contains_key(&template.value) || missing.contains(&template.value) {
                continue;
            }
            if !loader.full_path(&template.value).is_file() {
                missing.insert(template.value.clone());
                diags
                    .push(Diagnostic::error(
                        Code::TemplateNotFound,
                        &template.source,
                        template.span.clone(),
                        format!("template `{}` does not exist", template.value),
                    ))
                    .label("no such file")
                    .help("the path is relative to the KDL file that names it");
                continue;
            }
            match loader.read_text(&template.value) {
                Ok(file) => {
                    set.sources.insert(template.value.clone(), file);
                }
                Err(d) => {
                    missing.insert(template.value.clone());
                    diags.push(*d);
                }
            }
        }
        set
    }

    pub(crate) fn add_embedded(&mut self, builtin: Builtin) {
        let name = format!("<built-in>/{}", builtin.file_name());
        self.sources.insert(
            name.clone(),
            SourceFile::new(name.clone(), builtin.embedded()),
        );
        self.builtins.insert(builtin, name);
    }
}
