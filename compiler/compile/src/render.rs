//! Validated config → iPXE scripts and provisioning files, with minijinja in
//! strict-undefined mode.
//!
//! Each profile's cmdline pieces are compiled once as small templates of their own, so an
//! error in one points at the exact column of the KDL string. A machine's provisioning
//! files render first (they see `secrets`, scripts never do), are checked for their kind
//! (`provision.rs`), and their URLs go into the script's context as `files`. Machines
//! render in parallel; the results come back in machine order, so output never depends on
//! scheduling.
//!
//! What a person sees of a provisioning file (`render --file`, a diagnostic quoting it or
//! its template's error) comes from rendering it again with stand-ins for the secrets
//! ([`Secrets::stand_ins`]): the real render goes only into the bundle, so no escape or
//! re-serialisation of a secret value can show it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value, context};
use rayon::prelude::*;
use serde::Serialize;

use netboot_bundle::Digest;
use netboot_protocol::{Firmware, Mac, Named};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::lint;
use crate::model::{BootTarget, ChainMode, Config, FileSpec, Machine, PiBoard, Profile};
use crate::pi;
use crate::provision::{FileKind, Problem, Side};
use crate::script::Script;
use crate::secrets::Secrets;
use crate::source::SourceFile;
use crate::templates::{Builtin, TemplateSet};

/// Where a compiled template's text lives, so error ranges map back to a file.
#[derive(Debug)]
struct Origin {
    source: Arc<SourceFile>,
    /// Byte offset of the template text inside `source` (non-zero for cmdline strings).
    offset: usize,
}

#[derive(Debug)]
struct ProfileCx {
    template: String,
    cmdline: Vec<String>,
    value: Value,
    images: Value,
    vars: BTreeMap<String, serde_json::Value>,
    files: BTreeMap<String, FileSpec>,
    /// `pi-config` lines.
    pi_config: Vec<String>,
    has_initrd: bool,
}

#[derive(Debug)]
pub struct Renderer {
    env: Environment<'static>,
    origins: HashMap<String, Origin>,
    site: Value,
    base_url: String,
    builtins: BTreeMap<Builtin, String>,
    profiles: BTreeMap<String, ProfileCx>,
    /// `secrets` for the bundle.
    secrets: Value,
    /// `secrets` for anything shown.
    stand_ins: Value,
}

/// Which values of the secrets a provisioning file renders with.
#[derive(Debug, Clone, Copy)]
enum SecretValues {
    /// For the bundle.
    Real,
    /// For anything shown to a person.
    StandIns,
}

/// The profile's and the machine's definition of one provisioning file (one or both).
#[derive(Debug, Clone, Copy)]
struct FilePair<'a> {
    base: Option<&'a FileSpec>,
    own: Option<&'a FileSpec>,
}

impl<'a> FilePair<'a> {
    /// The definition that names the file's kind and content type (the machine's first).
    fn spec(&self) -> Option<&'a FileSpec> {
        self.own.or(self.base)
    }

    fn kind(&self) -> FileKind {
        self.own
            .and_then(|f| f.kind)
            .or(self.base.and_then(|f| f.kind))
            .unwrap_or(FileKind::Raw)
    }
}

/// Why a provisioning file did not come out of a render. Never shown as it is when it
/// comes from the real secrets (it may quote them): see [`Renderer::shown_failure`].
#[derive(Debug)]
enum Failure<'a> {
    /// Its template is broken (reported when it was compiled).
    Broken,
    /// A template failed.
    Template(&'a FileSpec, minijinja::Error),
    /// One side of a merge, rendered as `String`, does not parse as the file's kind.
    Unparsed(&'a FileSpec, String, Problem),
    /// The file, rendered (and merged) as `String`, fails its kind's check.
    Rejected(String, Problem),
}

/// One provisioning file of one machine, rendered and checked.
#[derive(Debug, Clone)]
pub struct RenderedFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Arc<[u8]>,
    pub digest: Digest,
}

/// A machine's provisioning files, served together under `files/<set>/`.
#[derive(Debug, Clone, Default)]
pub struct FileSet {
    /// The hex digest of the set (its names and their objects' digests).
    pub set: String,
    /// By name.
    pub files: Vec<RenderedFile>,
}

impl FileSet {
    fn new(files: Vec<RenderedFile>) -> Self {
        if files.is_empty() {
            return Self::default();
        }
        let index: BTreeMap<&str, Digest> =
            files.iter().map(|f| (f.name.as_str(), f.digest)).collect();
        let canonical =
            netboot_bundle::canonical::to_vec(&index).expect("a map of digests serialises");
        Self {
            set: Digest::of(&canonical).hex(),
            files,
        }
    }

    pub(crate) fn route(&self, name: &str) -> String {
        netboot_protocol::routes::provisioning_file(&self.set, name)
    }
}

/// What one machine renders to.
#[derive(Debug, Clone)]
pub struct MachineOutput {
    pub script: Script,
    pub files: FileSet,
    /// A Raspberry Pi's rendered `config.txt` and `cmdline.txt`.
    pub pi: Option<PiFiles>,
}

/// The two files of a Pi's boot tree written per machine.
#[derive(Debug, Clone)]
pub struct PiFiles {
    pub config_txt: String,
    pub cmdline_txt: String,
}

#[derive(Serialize)]
struct PiValue<'a> {
    model: &'static str,
    title: &'static str,
    serial: &'a str,
    kernel: &'static str,
    initramfs: Option<&'static str>,
    cmdline: &'static str,
    config: &'a [String],
}

#[derive(Serialize)]
struct FileValue<'a> {
    url: String,
    sha256: String,
    digest: String,
    content_type: &'a str,
}

#[derive(Serialize)]
struct SiteValue<'a> {
    origin: &'a str,
    chain: &'a str,
    proxy: Option<&'a str>,
    base_url: &'a str,
    mirror: bool,
}

#[derive(Serialize)]
struct ProfileValue<'a> {
    name: &'a str,
    arch: &'a str,
    /// `${platform}/${buildarch}` of each firmware class of the arch on which scripts
    /// check the images' sha256 before `boot` (`Site::verifies_images`).
    verify_images: Vec<String>,
}

#[derive(Serialize)]
struct ImageValue {
    role: String,
    url: String,
    sha256: String,
    digest: String,
}

#[derive(Serialize)]
struct MachineValue<'a> {
    name: &'a str,
    /// As iPXE's `${mac:hexhyp}` spells them.
    macs: Vec<String>,
    mac: Option<String>,
    uuid: Option<&'a str>,
    profile: &'a str,
    /// `network` or `local`.
    boot: &'static str,
    /// It boots with Secure Boot on (scripts load the profile's `shim` first).
    secure_boot: bool,
}

impl Renderer {
    /// Compiles every template and cmdline; syntax errors become diagnostics and the
    /// profiles that need a broken template are left out of rendering.
    pub(crate) fn new(
        config: &Config,
        templates: &TemplateSet,
        secrets: &Secrets,
        diags: &mut Diagnostics,
    ) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // minijinja would JSON-escape every value in a template named `*.json.j2` or
        // `*.yaml.j2`: a string inside quotes would then break the file. Values go in as
        // they are; templates use `| tojson` where they want a quoted JSON string.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        // Templates are operator-written config; bound loops and recursion anyway so a
        // mistake cannot hang the build.
        env.set_fuel(Some(1_000_000));
        env.set_recursion_limit(64);

        let mut origins = HashMap::new();
        for (name, source) in &templates.sources {
            let compiled = env.add_template_owned(name.clone(), source.text.to_string());
            let origin = Origin {
                source: Arc::clone(source),
                offset: 0,
            };
            match compiled {
                Ok(()) => {
                    origins.insert(name.clone(), origin);
                }
                Err(e) => {
                    diags.push(error_diagnostic(&e, &origin, None));
                }
            }
        }

        let site = &config.site;
        let site_value = to_value(SiteValue {
            origin: &site.origin,
            chain: match site.chain {
                ChainMode::Direct => "direct",
                ChainMode::ViaProxy { .. } => "via-proxy",
            },
            proxy: match &site.chain {
                ChainMode::ViaProxy { proxy } => Some(proxy),
                ChainMode::Direct => None,
            },
            base_url: site.base_url(),
            mirror: site.mirror,
        });

        let machine_template = &templates.builtins[&Builtin::Machine];
        let mut profiles = BTreeMap::new();
        for (name, profile) in &config.profiles {
            let template = profile
                .template
                .as_ref()
                .map_or(machine_template, |t| &t.value)
                .clone();
            let mut sound = origins.contains_key(&template);
            let mut cmdline = Vec::new();
            for (i, piece) in profile.cmdline.iter().enumerate() {
                let key = format!("<cmdline of {name} #{i}>");
                let origin = Origin {
                    source: Arc::clone(&piece.source),
                    offset: piece.span.start,
                };
                match env.add_template_owned(key.clone(), piece.value.clone()) {
                    Ok(()) => {
                        origins.insert(key.clone(), origin);
                        cmdline.push(key);
                    }
                    Err(e) => {
                        diags.push(error_diagnostic(&e, &origin, None));
                        sound = false;
                    }
                }
            }
            if sound {
                profiles.insert(name.clone(), profile_cx(config, profile, template, cmdline));
            }
        }

        Self {
            env,
            origins,
            site: site_value,
            base_url: site.base_url().to_owned(),
            builtins: templates.builtins.clone(),
            profiles,
            secrets: to_value(secrets.context()),
            stand_ins: to_value(secrets.stand_ins()),
        }
    }

    /// Renders one of the fleet-wide scripts (dispatcher, unknown); `None` if its template
    /// is broken (already reported).
    pub(crate) fn render_builtin(
        &self,
        builtin: Builtin,
        diags: &mut Diagnostics,
    ) -> Option<Script> {
        let name = &self.builtins[&builtin];
        let ctx = context! { site => self.site.clone() };
        self.render(name, ctx, None, diags)
    }

    /// Renders every machine in parallel. The result is in `machines` order, `None` for a
    /// machine that failed (its diagnostics are in `diags`, merged across machines so one
    /// template bug reported once, naming how many machines it hits).
    pub(crate) fn render_machines(
        &self,
        machines: &[Machine],
        diags: &mut Diagnostics,
    ) -> Vec<Option<MachineOutput>> {
        let results: Vec<(Option<MachineOutput>, Diagnostics)> = machines
            .par_iter()
            .map(|machine| {
                let mut local = Diagnostics::default();
                let script = self.render_machine(machine, &mut local);
                (script, local)
            })
            .collect();
        // Keyed so that one template bug hit by many machines is one entry: by place in
        // the template or KDL file, or, for lint findings (which point into each machine's
        // own rendered text), by template and message.
        let mut merged: BTreeMap<(Code, String, String), (Diagnostic, usize)> = BTreeMap::new();
        let mut scripts = Vec::with_capacity(results.len());
        for (script, local) in results {
            scripts.push(script);
            for d in local.into_sorted() {
                let key = if lint::is_lint(d.code) || d.code == Code::ProvisioningInvalid {
                    (
                        d.code,
                        d.help.clone().unwrap_or_default(),
                        d.message.clone(),
                    )
                } else {
                    let file = d.source.as_ref().map(|s| s.name.clone());
                    (d.code, file.unwrap_or_default(), format!("{:?}", d.span))
                };
                merged.entry(key).or_insert((d, 0)).1 += 1;
            }
        }
        for (_, (mut d, count)) in merged {
            match count {
                1 => {}
                2 => d.message.push_str(" (and 1 more machine)"),
                n => d
                    .message
                    .push_str(&format!(" (and {} more machines)", n - 1)),
            }
            diags.push(d);
        }
        scripts
    }

    fn render_machine(&self, machine: &Machine, diags: &mut Diagnostics) -> Option<MachineOutput> {
        let profile = self.profiles.get(&machine.profile)?;
        let base = self.base_context(machine, profile);
        let files = self.render_files(machine, profile, &base, diags)?;
        let mut entries = base.to_vec();
        let file_values: BTreeMap<&str, FileValue> = files
            .files
            .iter()
            .map(|f| {
                let value = FileValue {
                    url: self.file_url(&files, &f.name),
                    sha256: f.digest.hex(),
                    digest: f.digest.to_string(),
                    content_type: &f.content_type,
                };
                (f.name.as_str(), value)
            })
            .collect();
        entries.push(("files", to_value(&file_values)));
        if !files.files.is_empty() {
            entries.push(("files_url", Value::from(self.file_url(&files, ""))));
        }
        let ctx = flat_context(entries.iter().cloned());
        let mut cmdline = Vec::with_capacity(profile.cmdline.len());
        for piece in &profile.cmdline {
            let text = self.render(piece, ctx.clone(), Some(&machine.name), diags)?;
            cmdline.push(text.text.trim().to_owned());
        }
        entries.push(("cmdline", Value::from(cmdline.join(" "))));
        let ctx = flat_context(entries);
        let template = match machine.boot {
            BootTarget::Network => &profile.template,
            BootTarget::Local => &self.builtins[&Builtin::Local],
        };
        let pi = match &machine.pi {
            Some(board) => Some(self.render_pi(machine, &board.value, profile, &ctx, diags)?),
            None => None,
        };
        let script = self.render(template, ctx, Some(&machine.name), diags)?;
        lint::lint(
            &script,
            &netboot_protocol::routes::machine_by_name(&machine.name),
            diags,
        );
        Some(MachineOutput { script, files, pi })
    }

    /// A Pi's `config.txt` and `cmdline.txt`: the script's context and `pi`.
    fn render_pi(
        &self,
        machine: &Machine,
        board: &PiBoard,
        profile: &ProfileCx,
        ctx: &Value,
        diags: &mut Diagnostics,
    ) -> Option<PiFiles> {
        let pi = to_value(PiValue {
            model: board.model.name(),
            title: board.model.title(),
            serial: &board.serial,
            kernel: pi::KERNEL_FILE,
            initramfs: profile.has_initrd.then_some(pi::INITRAMFS_FILE),
            cmdline: pi::CMDLINE_TXT,
            config: &profile.pi_config,
        });
        let ctx = context! { pi => pi, ..ctx.clone() };
        let mut render = |builtin| {
            let name = &self.builtins[&builtin];
            self.render(name, ctx.clone(), Some(&machine.name), diags)
                .map(|s| s.text)
        };
        let config_txt = render(Builtin::PiConfig);
        let cmdline_txt = render(Builtin::PiCmdline);
        Some(PiFiles {
            config_txt: config_txt?,
            cmdline_txt: cmdline_txt?,
        })
    }

    /// What scripts and provisioning files of `machine` both see. Contexts are built flat,
    /// key by key: a context layered on another (`..ctx`) looks every variable up through
    /// each layer, for every machine.
    fn base_context(&self, machine: &Machine, profile: &ProfileCx) -> [(&'static str, Value); 5] {
        let mut vars = profile.vars.clone();
        vars.extend(machine.vars.clone());
        [
            ("site", self.site.clone()),
            ("profile", profile.value.clone()),
            ("images", profile.images.clone()),
            (
                "machine",
                to_value(MachineValue {
                    name: &machine.name,
                    macs: machine.macs.iter().map(Mac::hexhyp).collect(),
                    mac: machine.macs.first().map(Mac::hexhyp),
                    uuid: machine.uuid.as_deref(),
                    profile: &machine.profile,
                    boot: machine.boot.name(),
                    secure_boot: machine.secure_boot,
                }),
            ),
            ("vars", to_value(&vars)),
        ]
    }

    /// Where a machine's file `name` is served (its set's directory for `""`).
    fn file_url(&self, files: &FileSet, name: &str) -> String {
        format!("{}/{}", self.base_url, files.route(name))
    }

    /// Renders, merges and checks every provisioning file of `machine`: its profile's,
    /// with the machine's own of the same name merged over them, and the machine's others.
    /// `None` if any failed (each failure reported from a render with stand-ins).
    fn render_files(
        &self,
        machine: &Machine,
        profile: &ProfileCx,
        base: &[(&'static str, Value)],
        diags: &mut Diagnostics,
    ) -> Option<FileSet> {
        let names: BTreeSet<&String> = profile.files.keys().chain(machine.files.keys()).collect();
        if names.is_empty() {
            return Some(FileSet::new(Vec::new()));
        }
        let real = self.file_context(base, SecretValues::Real);
        let mut files = Vec::with_capacity(names.len());
        let mut sound = true;
        for name in names {
            let pair = FilePair {
                base: profile.files.get(name),
                own: machine.files.get(name),
            };
            let kind = pair.kind();
            let checked = self
                .file_text(pair, &real)
                .and_then(|text| match kind.check(&text) {
                    Ok(()) => Ok(text),
                    Err(problem) => Err(vec![Failure::Rejected(text, problem)]),
                });
            let text = match checked {
                Ok(text) => text,
                Err(failures) => {
                    for failure in failures {
                        diags.extend(self.shown_failure(failure, pair, &machine.name, base));
                    }
                    sound = false;
                    continue;
                }
            };
            let content_type = pair
                .own
                .and_then(|f| f.content_type.clone())
                .or_else(|| pair.base.and_then(|f| f.content_type.clone()))
                .unwrap_or_else(|| kind.content_type().to_owned());
            let bytes: Arc<[u8]> = text.into_bytes().into();
            files.push(RenderedFile {
                name: name.clone(),
                content_type,
                digest: Digest::of(&bytes),
                bytes,
            });
        }
        sound.then(|| FileSet::new(files))
    }

    /// The context of a machine's provisioning files, with `secrets` as `values` says.
    fn file_context(&self, base: &[(&'static str, Value)], values: SecretValues) -> Value {
        let secrets = match values {
            SecretValues::Real => self.secrets.clone(),
            SecretValues::StandIns => self.stand_ins.clone(),
        };
        flat_context(base.iter().cloned().chain([("secrets", secrets)]))
    }

    /// One provisioning file rendered in `ctx`, the machine's merged over the profile's
    /// when both have it (unchecked).
    fn file_text<'a>(&self, pair: FilePair<'a>, ctx: &Value) -> Result<String, Vec<Failure<'a>>> {
        let kind = pair.kind();
        match (pair.base, pair.own) {
            (Some(base), Some(own)) if kind.mergeable() => {
                let (base_text, own_text) =
                    match (self.template_text(base, ctx), self.template_text(own, ctx)) {
                        (Ok(base_text), Ok(own_text)) => (base_text, own_text),
                        (base_text, own_text) => {
                            return Err([base_text.err(), own_text.err()]
                                .into_iter()
                                .flatten()
                                .collect());
                        }
                    };
                kind.merge(&base_text, &own_text)
                    .map_err(|(side, problem)| {
                        let (spec, text) = match side {
                            Side::Base => (base, base_text),
                            Side::Override => (own, own_text),
                        };
                        vec![Failure::Unparsed(spec, text, problem)]
                    })
            }
            _ => match pair.spec() {
                Some(spec) => self.template_text(spec, ctx).map_err(|f| vec![f]),
                None => Err(vec![Failure::Broken]),
            },
        }
    }

    /// One file's template rendered in `ctx`.
    fn template_text<'a>(&self, spec: &'a FileSpec, ctx: &Value) -> Result<String, Failure<'a>> {
        let Ok(template) = self.env.get_template(&spec.template.value) else {
            return Err(Failure::Broken);
        };
        template
            .render(ctx.clone())
            .map_err(|e| Failure::Template(spec, e))
    }

    /// A machine's provisioning file `name` as shown to a person (`render --file`):
    /// rendered and merged with stand-ins for the secrets. `None` when it does not render
    /// that way (reported: it renders with the real values, or it would not be asked for).
    pub fn shown_file(
        &self,
        machine: &Machine,
        name: &str,
        diags: &mut Diagnostics,
    ) -> Option<String> {
        let profile = self.profiles.get(&machine.profile)?;
        let pair = FilePair {
            base: profile.files.get(name),
            own: machine.files.get(name),
        };
        let base = self.base_context(machine, profile);
        let failures = match self.file_text(pair, &self.file_context(&base, SecretValues::StandIns))
        {
            Ok(text) => return Some(text),
            Err(failures) => failures,
        };
        let help = "it is shown with stand-ins for its secrets (strings as `SECRET-<name>`, numbers as 0, booleans as false), and it only renders with their real values";
        for failure in failures {
            let shown = match failure {
                Failure::Template(spec, error) => {
                    self.template_diagnostic(&error, spec, &machine.name)
                }
                Failure::Unparsed(spec, text, problem) => {
                    Some(self.file_problem(spec, pair.kind(), &machine.name, &text, problem))
                }
                Failure::Broken | Failure::Rejected(..) => None,
            };
            if let Some(mut d) = shown {
                d.help(help);
                diags.push(d);
            }
        }
        None
    }

    /// What a person is shown of `failure` (from the render with the real secrets): the
    /// same step redone with stand-ins for the secrets, and its failure shown if it fails
    /// the same way; otherwise the failure is a secret value's doing and only its place
    /// is shown.
    fn shown_failure(
        &self,
        failure: Failure<'_>,
        pair: FilePair<'_>,
        machine: &str,
        base: &[(&'static str, Value)],
    ) -> Option<Diagnostic> {
        let stand_ins = self.file_context(base, SecretValues::StandIns);
        let kind = pair.kind();
        match failure {
            Failure::Broken => None,
            Failure::Template(spec, error) => match self.template_text(spec, &stand_ins) {
                Err(Failure::Template(_, shown))
                    if shown.kind() == error.kind()
                        && shown.name() == error.name()
                        && shown.range() == error.range() =>
                {
                    self.template_diagnostic(&shown, spec, machine)
                }
                _ => self.withheld_template_error(&error, spec, machine),
            },
            Failure::Unparsed(spec, text, problem) => {
                let shown = self.template_text(spec, &stand_ins).ok();
                Some(
                    self.shown_problem(spec, kind, machine, &text, problem, shown, |t| {
                        kind.document(t).map(drop)
                    }),
                )
            }
            Failure::Rejected(text, problem) => {
                let spec = pair.spec()?;
                let shown = self.file_text(pair, &stand_ins).ok();
                Some(
                    self.shown_problem(spec, kind, machine, &text, problem, shown, |t| {
                        kind.check(t)
                    }),
                )
            }
        }
    }

    /// `problem`, found in `text` rendered with the real secrets, as shown: on `shown`,
    /// the same file rendered with stand-ins, judged again; if that finds a problem on the
    /// same line, that problem (it quotes only stand-ins), else the line with the reason
    /// withheld, as it would quote a secret's value.
    #[allow(
        clippy::too_many_arguments,
        reason = "the one place both renders of a file meet"
    )]
    fn shown_problem(
        &self,
        spec: &FileSpec,
        kind: FileKind,
        machine: &str,
        text: &str,
        problem: Problem,
        shown: Option<String>,
        judge: impl Fn(&str) -> Result<(), Problem>,
    ) -> Diagnostic {
        let line = problem.offset.map(|at| line_of(text, at));
        let withheld = match line {
            Some(line) => format!(
                "line {line} is invalid with the real values of its secrets and valid with stand-ins: a secret's value is the cause (not quoted here)"
            ),
            None => "it is invalid with the real values of its secrets and valid with stand-ins: a secret's value is the cause (not quoted here)".to_owned(),
        };
        let Some(shown) = shown else {
            let mut d = Diagnostic::global(
                Code::ProvisioningInvalid,
                format!(
                    "{kind} file `{}` of `{machine}` would be rejected: {withheld}",
                    spec.name.value
                ),
            );
            d.related(&spec.source, spec.span.clone(), "the file is chosen here")
                .help(format!("rendered from `{}`", spec.template.value));
            return d;
        };
        if let Err(again) = judge(&shown)
            && again.offset.map(|at| line_of(&shown, at)) == line
        {
            return self.file_problem(spec, kind, machine, &shown, again);
        }
        // The line's first character: the reason is withheld, so is the token.
        let offset = line.and_then(|line| line_start(&shown, line)).map(|start| {
            let rest = &shown[start..];
            start + rest.len() - rest.trim_start_matches([' ', '\t']).len()
        });
        let problem = Problem {
            offset,
            message: withheld,
        };
        let mut d = self.file_problem(spec, kind, machine, &shown, problem);
        d.help(format!(
            "rendered from `{}`; a value written into JSON or YAML without `| tojson` breaks it when it holds a quote, a backslash or a line break",
            spec.template.value
        ));
        d
    }

    /// A rendered file its consumer would reject, shown with the place in it, the KDL
    /// node that chose it and, when the offending line is written out in the template,
    /// that line. `text` is never the render with the real secrets.
    fn file_problem(
        &self,
        spec: &FileSpec,
        kind: FileKind,
        machine: &str,
        text: &str,
        problem: Problem,
    ) -> Diagnostic {
        let shown = SourceFile::new(
            format!("{} (rendered for `{machine}`)", spec.template.value),
            text.to_owned(),
        );
        let offset = problem.offset.unwrap_or(0).min(text.len());
        // The token at the offset: up to the end of its JSON value or YAML line.
        let end = shown.text[offset..]
            .find([',', '\n', '}', ']'])
            .map_or(shown.text.len(), |i| offset + i)
            .max((offset + 1).min(shown.text.len()));
        let mut d = Diagnostic::error(
            Code::ProvisioningInvalid,
            &shown,
            offset..end,
            format!(
                "{kind} file `{}` would be rejected: {}",
                spec.name.value, problem.message
            ),
        );
        d.label(if problem.offset.is_some() {
            "here"
        } else {
            "in this file"
        })
        .related(&spec.source, spec.span.clone(), "the file is chosen here")
        .help(format!("rendered from `{}`", spec.template.value));
        let line_start = shown.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = shown.text[line_start..end].trim();
        if let Some(template) = self.origins.get(&spec.template.value)
            && line.len() >= 3
            && template.source.text.matches(line).count() == 1
            && let Some(at) = template.source.text.find(line)
        {
            d.related(
                &template.source,
                at..at + line.len(),
                "written here in the template",
            );
        }
        d
    }

    /// A template error of a provisioning file, from a render with stand-ins, on the
    /// template (or KDL string) it came from.
    fn template_diagnostic(
        &self,
        error: &minijinja::Error,
        spec: &FileSpec,
        machine: &str,
    ) -> Option<Diagnostic> {
        let origin = self.error_origin(error, &spec.template.value)?;
        Some(error_diagnostic(error, origin, Some(machine)))
    }

    /// A template error that happens only with the real secrets: its place, not its
    /// text (which may quote a value).
    fn withheld_template_error(
        &self,
        error: &minijinja::Error,
        spec: &FileSpec,
        machine: &str,
    ) -> Option<Diagnostic> {
        let origin = self.error_origin(error, &spec.template.value)?;
        let range = error.range().unwrap_or(0..0);
        let span = origin.offset + range.start..origin.offset + range.end;
        let mut d = Diagnostic::error(
            Code::TemplateError,
            &origin.source,
            span,
            format!(
                "template failed while rendering machine `{machine}`, with the real values of its secrets only"
            ),
        );
        d.label("fails here").help(
            "with stand-ins for the secrets it renders, so a secret's value is the cause; the error is not quoted, as it may quote that value",
        );
        Some(d)
    }

    /// Where the template an error of rendering `name` is in was written.
    fn error_origin(&self, error: &minijinja::Error, name: &str) -> Option<&Origin> {
        self.origins
            .get(error.name().unwrap_or(name))
            .or_else(|| self.origins.get(name))
    }

    fn render(
        &self,
        name: &str,
        ctx: Value,
        machine: Option<&str>,
        diags: &mut Diagnostics,
    ) -> Option<Script> {
        let template = self.env.get_template(name).ok()?;
        match template.render(ctx) {
            Ok(text) => Some(Script {
                text,
                template: name.to_owned(),
            }),
            Err(e) => {
                let origin = self.error_origin(&e, name)?;
                diags.push(error_diagnostic(&e, origin, machine));
                None
            }
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The byte offset where 1-based `line` of `text` starts, if it has that many.
fn line_start(text: &str, line: usize) -> Option<usize> {
    if line == 1 {
        return Some(0);
    }
    text.match_indices('\n').nth(line - 2).map(|(at, _)| at + 1)
}

/// A template context of these variables, one map (no layers to look through).
fn flat_context(entries: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::from(entries.into_iter().collect::<BTreeMap<&str, Value>>())
}

fn to_value<T: Serialize>(value: T) -> Value {
    Value::from(Serde(value))
}

fn profile_cx(
    config: &Config,
    profile: &Profile,
    template: String,
    cmdline: Vec<String>,
) -> ProfileCx {
    let images: BTreeMap<&str, ImageValue> = profile
        .images
        .values()
        .map(|image| {
            (
                image.role.as_str(),
                ImageValue {
                    role: image.role.clone(),
                    url: config.site.image_url(image),
                    sha256: image.sha256.hex(),
                    digest: image.sha256.to_string(),
                },
            )
        })
        .collect();
    ProfileCx {
        template,
        cmdline,
        value: to_value(ProfileValue {
            name: &profile.name,
            arch: profile.arch.name(),
            verify_images: Firmware::ALL
                .iter()
                .filter(|f| f.cpu_arch() == profile.arch && config.site.verifies_images(**f))
                .map(|f| format!("{}/{}", f.platform().name(), netboot_ipxe::buildarch(*f)))
                .collect(),
        }),
        images: to_value(&images),
        vars: profile.vars.clone(),
        files: profile.files.clone(),
        pi_config: profile.pi_config.iter().map(|l| l.value.clone()).collect(),
        has_initrd: profile.images.contains_key("initrd"),
    }
}

/// A minijinja error as a diagnostic on the template (or KDL string) it came from.
fn error_diagnostic(e: &minijinja::Error, origin: &Origin, machine: Option<&str>) -> Diagnostic {
    let range = e.range().unwrap_or(0..0);
    let span = origin.offset + range.start..origin.offset + range.end;
    let snippet = origin.source.text.get(span.clone()).unwrap_or("").trim();
    let for_machine = machine
        .map(|m| format!(" while rendering machine `{m}`"))
        .unwrap_or_default();
    let kind = e.kind().to_string();
    let detail = e.detail().unwrap_or(&kind);
    let (code, message, label) = match e.kind() {
        ErrorKind::SyntaxError => (
            Code::TemplateSyntax,
            format!("template syntax error: {detail}"),
            detail.to_owned(),
        ),
        ErrorKind::UndefinedError => (
            Code::TemplateUndefined,
            format!("undefined value in template{for_machine}"),
            if snippet.is_empty() {
                "undefined".to_owned()
            } else {
                format!("`{snippet}` is undefined")
            },
        ),
        _ => (
            Code::TemplateError,
            format!("template failed{for_machine}: {detail}"),
            detail.to_owned(),
        ),
    };
    let mut d = Diagnostic::error(code, &origin.source, span, message);
    d.label(label);
    if code == Code::TemplateUndefined {
        d.help("scripts see: site, profile, machine, images, vars, files, files_url, cmdline; provisioning files see: site, profile, machine, images, vars, secrets; set missing values with `var key=\"...\"` on the machine or profile");
    }
    d
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::diagnostic::Diagnostic;
    use crate::parse::parse_file;
    use crate::validate::validate;

    const SHA: &str = "8d53eaeaf1f2eeb15149901cc093dd2f0d65b15bc0929cb07541a937a7e71162";

    /// A config of one site, the profile `p` with `profile_body` (kernel and initrd given)
    /// and `machines`, validated without errors; the built-in templates plus `templates`
    /// (by name as the config resolves it).
    fn config(profile_body: &str, machines: &str) -> (Config, TemplateSet) {
        let text = format!(
            r#"site {{
    origin "https://boot.example.com"
    mirror #false
}}
profile "p" {{
    kernel "https://images.example.com/vmlinuz" sha256="{SHA}"
    initrd "https://images.example.com/initrd.img" sha256="{SHA}"
    {profile_body}
}}
{machines}"#
        );
        let mut diags = Diagnostics::default();
        let defs = parse_file(&SourceFile::new("profiles/site.kdl", text), &mut diags);
        let config = validate(vec![defs], &mut diags).unwrap();
        assert!(!diags.has_errors(), "{:?}", diags.into_sorted());
        let mut templates = TemplateSet::default();
        for builtin in Builtin::ALL {
            templates.add_embedded(builtin);
        }
        (config, templates)
    }

    /// Adds a template under the name profile `p`'s `template` resolved to.
    fn with_profile_template(config: &Config, templates: &mut TemplateSet, text: &str) {
        let name = config.profiles["p"]
            .template
            .as_ref()
            .unwrap()
            .value
            .clone();
        templates
            .sources
            .insert(name.clone(), SourceFile::new(name, text.to_owned()));
    }

    fn render(
        config: &Config,
        templates: &TemplateSet,
    ) -> (Vec<Option<MachineOutput>>, Vec<Diagnostic>) {
        let mut diags = Diagnostics::default();
        let renderer = Renderer::new(config, templates, &Secrets::default(), &mut diags);
        let machines = renderer.render_machines(&config.machines, &mut diags);
        (machines, diags.into_sorted())
    }

    #[test]
    fn a_machine_script_has_its_images_and_cmdline_with_variables_expanded() {
        let (config, templates) = config(
            r#"cmdline "console={{ vars.console }} host={{ machine.name }}"
    cmdline-append "mac={{ machine.mac }}"
    var console="ttyS0""#,
            r#"machine "web-1" {
    mac "52:54:00:aa:00:01"
    profile "p"
}
"#,
        );
        let (machines, diags) = render(&config, &templates);
        assert!(diags.is_empty(), "{diags:?}");
        let script = &machines[0].as_ref().unwrap().script;
        assert_eq!(script.template, "<built-in>/machine.ipxe.j2");
        assert!(script.text.starts_with("#!ipxe\n"), "{}", script.text);
        // Not mirrored: the images' own URLs, the cmdline pieces joined.
        assert!(
            script.text.contains(
                "kernel https://images.example.com/vmlinuz initrd=initrd console=ttyS0 host=web-1 mac=52-54-00-aa-00-01 || goto failed"
            ),
            "{}",
            script.text
        );
        assert!(
            script
                .text
                .contains("initrd --name initrd https://images.example.com/initrd.img"),
            "{}",
            script.text
        );
    }

    #[test]
    fn machines_come_back_in_their_order_and_a_local_one_gets_the_local_script() {
        let machines: String = (0..40)
            .map(|i| {
                let boot = if i % 3 == 0 { "local" } else { "network" };
                format!(
                    "machine \"m{i:02}\" {{\n    mac \"52:54:00:aa:00:{i:02x}\"\n    profile \"p\"\n    boot \"{boot}\"\n}}\n"
                )
            })
            .collect();
        let (config, templates) = config("", &machines);
        let (first, diags) = render(&config, &templates);
        assert!(diags.is_empty(), "{diags:?}");
        for (i, output) in first.iter().enumerate() {
            let script = &output.as_ref().unwrap().script;
            assert!(
                script.text.contains(&format!("m{i:02}")),
                "machine {i}: {}",
                script.text
            );
            let expected = if i % 3 == 0 {
                "<built-in>/local.ipxe.j2"
            } else {
                "<built-in>/machine.ipxe.j2"
            };
            assert_eq!(script.template, expected, "machine {i}");
        }
        // Rendering in parallel changes nothing between runs.
        let (second, _) = render(&config, &templates);
        let texts = |outputs: &[Option<MachineOutput>]| -> Vec<String> {
            outputs
                .iter()
                .map(|o| o.as_ref().unwrap().script.text.clone())
                .collect()
        };
        assert_eq!(texts(&first), texts(&second));
    }

    #[test]
    fn an_undefined_variable_in_a_cmdline_points_at_the_kdl_string() {
        let (config, templates) = config(
            r#"cmdline "console=ttyS0 {{ vars.missing }}""#,
            "machine \"web-1\" {\n    mac \"52:54:00:aa:00:01\"\n    profile \"p\"\n}\n",
        );
        let (machines, diags) = render(&config, &templates);
        assert!(machines[0].is_none());
        let [d] = diags.as_slice() else {
            panic!("one diagnostic: {diags:?}");
        };
        assert_eq!(d.code, Code::TemplateUndefined);
        let source = d.source.as_ref().unwrap();
        assert_eq!(source.name, "profiles/site.kdl");
        // Inside the KDL string, on the expression (not the whole string).
        let quoted = &source.text[d.span.clone()];
        assert!(quoted.contains("missing"), "{quoted:?}");
        assert!(!quoted.contains("console=ttyS0"), "{quoted:?}");
    }

    #[test]
    fn one_template_bug_hit_by_many_machines_is_one_diagnostic_counting_them() {
        let machines: String = (0..3)
            .map(|i| {
                format!(
                    "machine \"m{i}\" {{\n    mac \"52:54:00:aa:00:0{i}\"\n    profile \"p\"\n}}\n"
                )
            })
            .collect();
        let (config, mut templates) = config(r#"template "templates/custom.ipxe.j2""#, &machines);
        with_profile_template(
            &config,
            &mut templates,
            "#!ipxe\necho {{ machine.name }}\nchain {{ site.nope }}\n",
        );
        let (outputs, diags) = render(&config, &templates);
        assert!(outputs.iter().all(Option::is_none));
        let [d] = diags.as_slice() else {
            panic!("one diagnostic: {diags:?}");
        };
        assert_eq!(d.code, Code::TemplateUndefined);
        assert!(
            d.message.ends_with(" (and 2 more machines)"),
            "{}",
            d.message
        );
        let source = d.source.as_ref().unwrap();
        assert!(
            source.name.ends_with("templates/custom.ipxe.j2"),
            "{}",
            source.name
        );
        assert!(source.text[d.span.clone()].contains("nope"));
    }

    #[test]
    fn a_rendered_script_is_linted_against_the_machine_route() {
        let (config, mut templates) = config(
            r#"template "templates/custom.ipxe.j2""#,
            "machine \"web-1\" {\n    mac \"52:54:00:aa:00:01\"\n    profile \"p\"\n}\n",
        );
        with_profile_template(&config, &mut templates, "#!ipxe\ngoto nowhere\n");
        let (_, diags) = render(&config, &templates);
        let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::LintMissingLabel], "{diags:?}");
    }
}
