//! `netbootc explain <machine>`: every value a machine ends up with (its profile chain,
//! images with digests, command line, template, variables, provisioning files, routes) and
//! the file and line that set it, following `extends` the way validation applies it: the
//! first profile from the machine's own up to the root that sets a field wins.

use crate::secure_boot::StepDecision;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use netboot_protocol::Named;

use crate::bundle::Scripts;
use crate::model::{
    BootTarget, Config, FileDefs, ImageLocation, ImageSpec, Machine, MachineDef, Profile,
    ProfileDef,
};
use crate::render::MachineOutput;
use crate::simulate::{self, MemoryOrigin};
use crate::source::{SourceFile, Span};

/// `file:line` of a span.
fn at(source: &SourceFile, span: &Span) -> String {
    format!("{}:{}", source.name, source.line_col(span.start).0)
}

/// What `explain` prints, and whether the machine boots as configured on every firmware
/// class it is simulated on (else `explain` exits 1, like `simulate`).
#[derive(Debug)]
pub struct Explanation {
    pub text: String,
    pub boots_as_configured: bool,
}

/// The explanation of machine `index` of `config`, with `defs` (the parsed files, for
/// where each value was written).
pub fn explain(
    config: &Config,
    scripts: &Scripts,
    defs: &[FileDefs],
    index: usize,
    secure_boot: &[StepDecision<'_>],
) -> Explanation {
    let machine = &config.machines[index];
    let output = &scripts.machines[index];
    let def: Option<&MachineDef> = defs
        .iter()
        .flat_map(|f| &f.machines)
        .find(|m| m.name.value == machine.name);
    let chain = profile_chain(defs, &machine.profile);
    let name_at = def.map_or_else(String::new, |d| {
        format!("  [{}]", at(&d.name.source, &d.name.span))
    });
    let mut out = Lines(format!("machine {}{name_at}\n", machine.name));
    if let Some(def) = def {
        identity(&mut out, def);
    }
    for pair in chain.windows(2) {
        if let Some(extends) = &pair[0].extends {
            out.line(
                "extends",
                format!("{} → {}", pair[0].name.value, pair[1].name.value),
                format!("[{}]", at(&extends.source, &extends.span)),
            );
        }
    }
    let profile = &config.profiles[&machine.profile];
    profile_values(&mut out, config, profile, &chain, &output.script.template);
    vars(&mut out, &chain, def);
    files(&mut out, config, machine, profile, output);
    if let (Some(board), Some(pi_files)) = (&machine.pi, &output.pi) {
        for (name, what) in crate::pi::fetch_trace(&board.value, profile, pi_files) {
            out.line("pi fetch", format!("{}/{name}", board.value.serial), what);
        }
    }
    let script = netboot_bundle::Digest::of(output.script.text.as_bytes());
    let mut routes = vec![netboot_protocol::routes::machine_by_name(&machine.name)];
    routes.extend(
        machine
            .macs
            .iter()
            .map(netboot_protocol::routes::machine_by_mac),
    );
    routes.extend(
        machine
            .uuid
            .iter()
            .map(|u| netboot_protocol::routes::machine_by_uuid(u)),
    );
    out.line(
        "script",
        format!("{script} at {}", routes.join(", ")),
        String::new(),
    );

    for StepDecision { step, outcome } in secure_boot {
        let decided = match outcome {
            Some(Ok(signed)) => format!(
                "signed by `{}`, trusted through `{}`",
                signed.signer, signed.anchor
            ),
            Some(Err(refusal)) => format!("REFUSED: {refusal}"),
            None => "not checked here (a URL: `build` verifies it)".to_owned(),
        };
        out.line(
            "secure-boot",
            format!("{} runs {}: {decided}", step.stage.name(), step.image.role),
            format!("[{}]", at(&step.image.source, &step.image.span)),
        );
    }
    let boots_as_configured = boots(&mut out, config, scripts, machine, profile);
    Explanation {
        text: out.0,
        boots_as_configured,
    }
}

/// The explanation being written: one `key value [where]` line at a time.
struct Lines(String);

impl Lines {
    fn line(&mut self, key: &str, value: String, place: String) {
        let _ = writeln!(self.0, "  {key:<9} {value}  {place}");
    }
}

/// `[file:line, profile <name>]`: where profile `p` set a value.
fn from(p: &ProfileDef, source: &SourceFile, span: &Span) -> String {
    format!("[{}, profile {}]", at(source, span), p.name.value)
}

/// Profile `name`, then what it extends, up to the root (the last definition of a name
/// wins, as in validation; a loop ends the chain).
fn profile_chain<'d>(defs: &'d [FileDefs], name: &str) -> Vec<&'d ProfileDef> {
    let profiles: BTreeMap<&str, &ProfileDef> = defs
        .iter()
        .flat_map(|f| &f.profiles)
        .rev()
        .map(|p| (p.name.value.as_str(), p))
        .collect();
    let mut chain: Vec<&ProfileDef> = Vec::new();
    let mut next = Some(name);
    while let Some(name) = next {
        let Some(profile) = profiles.get(name).copied() else {
            break;
        };
        if chain.iter().any(|p| p.name.value == name) {
            break;
        }
        chain.push(profile);
        next = profile.extends.as_ref().map(|e| e.value.as_str());
    }
    chain
}

/// The machine's own lines: MACs, UUID, boot target, profile.
fn identity(out: &mut Lines, def: &MachineDef) {
    for mac in &def.macs {
        out.line(
            "mac",
            mac.value.hexhyp(),
            format!("[{}]", at(&mac.source, &mac.span)),
        );
    }
    if let Some(uuid) = &def.uuid {
        out.line(
            "uuid",
            uuid.value.clone(),
            format!("[{}]", at(&uuid.source, &uuid.span)),
        );
    }
    if let Some(pi) = &def.pi {
        out.line(
            "pi",
            format!("{}, serial {}", pi.value.model.title(), pi.value.serial),
            format!("[{}]", at(&pi.source, &pi.span)),
        );
    }
    match &def.boot {
        Some(boot) => out.line(
            "boot",
            boot.value.name().to_owned(),
            format!("[{}]", at(&boot.source, &boot.span)),
        ),
        None => out.line(
            "boot",
            BootTarget::Network.name().to_owned(),
            "[default]".to_owned(),
        ),
    }
    if let Some(profile) = &def.profile {
        out.line(
            "profile",
            profile.value.clone(),
            format!("[{}]", at(&profile.source, &profile.span)),
        );
    }
}

/// The profile's arch, images, command line and template, each at the profile of the
/// chain that set it.
fn profile_values(
    out: &mut Lines,
    config: &Config,
    profile: &Profile,
    chain: &[&ProfileDef],
    built_in: &str,
) {
    match chain.iter().find_map(|p| Some((p, p.arch_span.as_ref()?))) {
        Some((p, span)) => out.line(
            "arch",
            profile.arch.name().to_owned(),
            from(p, &p.name.source, span),
        ),
        None => out.line(
            "arch",
            profile.arch.name().to_owned(),
            "[default]".to_owned(),
        ),
    }
    for image in profile.images.values() {
        let owner = chain.iter().find(|p| {
            p.kernel.iter().chain(&p.initrd).chain(&p.images).any(|i| {
                i.role == image.role && i.source.name == image.source.name && i.span == image.span
            })
        });
        let place = owner.map_or_else(String::new, |p| from(p, &image.source, &image.span));
        out.line(&image.role, describe_image(config, image), place);
    }
    for piece in &profile.cmdline {
        let owner = chain.iter().find(|p| {
            p.cmdline
                .iter()
                .chain(&p.cmdline_append)
                .any(|c| c.source.name == piece.source.name && c.span == piece.span)
        });
        let place = owner.map_or_else(String::new, |p| from(p, &piece.source, &piece.span));
        out.line("cmdline", format!("{:?}", piece.value), place);
    }
    match &profile.template {
        Some(t) => {
            let owner = chain.iter().find(|p| {
                p.template
                    .as_ref()
                    .is_some_and(|o| o.span == t.span && o.source.name == t.source.name)
            });
            let place = owner.map_or_else(String::new, |p| from(p, &t.source, &t.span));
            out.line("template", t.value.clone(), place);
        }
        None => out.line("template", built_in.to_owned(), "[built-in]".to_owned()),
    }
}

/// Variables: the profiles' from the root down, then the machine's, each over the last.
fn vars(out: &mut Lines, chain: &[&ProfileDef], def: Option<&MachineDef>) {
    let mut vars: BTreeMap<&str, (String, String)> = BTreeMap::new();
    for p in chain.iter().rev() {
        for (key, value) in &p.vars {
            let place = p
                .var_spans
                .get(key)
                .map_or_else(String::new, |s| from(p, &p.name.source, s));
            vars.insert(key, (value.to_string(), place));
        }
    }
    if let Some(def) = def {
        for (key, value) in &def.vars {
            let place = def
                .var_spans
                .get(key)
                .map_or_else(String::new, |s| format!("[{}]", at(&def.name.source, s)));
            vars.insert(key, (value.to_string(), place));
        }
    }
    for (key, (value, place)) in vars {
        out.line("var", format!("{key} = {value}"), place);
    }
}

/// Provisioning files: template, digest and URL, and whether the machine's merged over
/// its profile's.
fn files(
    out: &mut Lines,
    config: &Config,
    machine: &Machine,
    profile: &Profile,
    output: &MachineOutput,
) {
    for file in &output.files.files {
        let spec = machine
            .files
            .get(&file.name)
            .or_else(|| profile.files.get(&file.name));
        let place = spec.map_or_else(String::new, |s| format!("[{}]", at(&s.source, &s.span)));
        let merged =
            machine.files.contains_key(&file.name) && profile.files.contains_key(&file.name);
        out.line(
            "file",
            format!(
                "{} ({}{}) {} at {}/{}",
                file.name,
                spec.map_or("", |s| s.template.value.as_str()),
                if merged {
                    ", merged over the profile's"
                } else {
                    ""
                },
                file.digest,
                config.site.base_url(),
                output.files.route(&file.name)
            ),
            place,
        );
    }
}

/// What it boots, by the simulator, on each firmware class `check` simulates it on; a
/// boot that is not what its KDL says is part of the answer. True if every class boots
/// as configured.
fn boots(
    out: &mut Lines,
    config: &Config,
    scripts: &Scripts,
    machine: &Machine,
    profile: &Profile,
) -> bool {
    let origin = MemoryOrigin::new(config, scripts);
    let mut boots_as_configured = true;
    for firmware in simulate::expect::classes(config, profile.arch) {
        let build = config
            .site
            .machine_ipxe_build(machine.secure_boot, firmware);
        let trace =
            netboot_ipxe::simulate(&origin, &simulate::expect::client(machine, firmware, build));
        let what = match simulate::expect::failure(config, machine, &trace) {
            Some((reason, at)) => {
                boots_as_configured = false;
                let at = at.map(|at| format!(" (at {at})")).unwrap_or_default();
                format!("FAILS: {reason}{at}")
            }
            None => match &trace.end {
                netboot_ipxe::End::Booted { cmdline, .. } => {
                    format!("boots its kernel with: {cmdline}")
                }
                other => other.describe(),
            },
        };
        out.line(
            "boots",
            what,
            format!("[simulated: {firmware}, iPXE {build}]"),
        );
    }
    boots_as_configured
}

fn describe_image(config: &Config, image: &ImageSpec) -> String {
    let source = match &image.location {
        ImageLocation::Url(url) => url.clone(),
        ImageLocation::Path { display, .. } => format!("path {display}"),
    };
    format!(
        "{source} {} → {}",
        image.sha256,
        config.site.image_url(image)
    )
}
