//! `netbootc explain <machine>`: every value a machine ends up with (its profile chain,
//! images with digests, command line, template, variables, provisioning files, routes) and
//! the file and line that set it, following `extends` the way validation applies it: the
//! first profile from the machine's own up to the root that sets a field wins.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use netboot_protocol::Named;

use crate::bundle::Scripts;
use crate::model::{
    BootTarget, Config, FileDefs, ImageLocation, ImageSpec, MachineDef, ProfileDef,
};
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
pub fn explain(config: &Config, scripts: &Scripts, defs: &[FileDefs], index: usize) -> Explanation {
    let machine = &config.machines[index];
    let output = &scripts.machines[index];
    let profiles: BTreeMap<&str, &ProfileDef> = defs
        .iter()
        .flat_map(|f| &f.profiles)
        .rev()
        .map(|p| (p.name.value.as_str(), p))
        .collect();
    let def: Option<&MachineDef> = defs
        .iter()
        .flat_map(|f| &f.machines)
        .find(|m| m.name.value == machine.name);
    // The machine's profile, then what it extends, up to the root.
    let mut chain: Vec<&ProfileDef> = Vec::new();
    let mut next = Some(machine.profile.as_str());
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
    let from = |p: &ProfileDef, source: &SourceFile, span: &Span| {
        format!("[{}, profile {}]", at(source, span), p.name.value)
    };
    let name_at = def.map_or_else(String::new, |d| {
        format!("  [{}]", at(&d.name.source, &d.name.span))
    });
    let mut out = format!("machine {}{name_at}\n", machine.name);
    let mut line = |key: &str, value: String, place: String| {
        let _ = writeln!(out, "  {key:<9} {value}  {place}");
    };
    if let Some(def) = def {
        for mac in &def.macs {
            line(
                "mac",
                mac.value.hexhyp(),
                format!("[{}]", at(&mac.source, &mac.span)),
            );
        }
        if let Some(uuid) = &def.uuid {
            line(
                "uuid",
                uuid.value.clone(),
                format!("[{}]", at(&uuid.source, &uuid.span)),
            );
        }
        match &def.boot {
            Some(boot) => line(
                "boot",
                boot.value.name().to_owned(),
                format!("[{}]", at(&boot.source, &boot.span)),
            ),
            None => line(
                "boot",
                BootTarget::Network.name().to_owned(),
                "[default]".to_owned(),
            ),
        }
        if let Some(profile) = &def.profile {
            line(
                "profile",
                profile.value.clone(),
                format!("[{}]", at(&profile.source, &profile.span)),
            );
        }
    }
    for pair in chain.windows(2) {
        if let Some(extends) = &pair[0].extends {
            line(
                "extends",
                format!("{} → {}", pair[0].name.value, pair[1].name.value),
                format!("[{}]", at(&extends.source, &extends.span)),
            );
        }
    }
    let profile = &config.profiles[&machine.profile];
    match chain.iter().find_map(|p| Some((p, p.arch_span.as_ref()?))) {
        Some((p, span)) => line(
            "arch",
            profile.arch.name().to_owned(),
            from(p, &p.name.source, span),
        ),
        None => line(
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
        line(&image.role, describe_image(config, image), place);
    }
    for piece in &profile.cmdline {
        let owner = chain.iter().find(|p| {
            p.cmdline
                .iter()
                .chain(&p.cmdline_append)
                .any(|c| c.source.name == piece.source.name && c.span == piece.span)
        });
        let place = owner.map_or_else(String::new, |p| from(p, &piece.source, &piece.span));
        line("cmdline", format!("{:?}", piece.value), place);
    }
    match &profile.template {
        Some(t) => {
            let owner = chain.iter().find(|p| {
                p.template
                    .as_ref()
                    .is_some_and(|o| o.span == t.span && o.source.name == t.source.name)
            });
            let place = owner.map_or_else(String::new, |p| from(p, &t.source, &t.span));
            line("template", t.value.clone(), place);
        }
        None => line(
            "template",
            output.script.template.clone(),
            "[built-in]".to_owned(),
        ),
    }
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
        line("var", format!("{key} = {value}"), place);
    }
    for file in &output.files.files {
        let spec = machine
            .files
            .get(&file.name)
            .or_else(|| profile.files.get(&file.name));
        let place = spec.map_or_else(String::new, |s| format!("[{}]", at(&s.source, &s.span)));
        let merged =
            machine.files.contains_key(&file.name) && profile.files.contains_key(&file.name);
        line(
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
    line(
        "script",
        format!("{script} at {}", routes.join(", ")),
        String::new(),
    );

    // What it boots, by the simulator, on each firmware class `check` simulates it on;
    // a boot that is not what its KDL says is part of the answer.
    let origin = MemoryOrigin::new(config, scripts);
    let build = simulate::expect::site_build(config);
    let mut boots_as_configured = true;
    for firmware in simulate::expect::classes(config, profile.arch) {
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
        line(
            "boots",
            what,
            format!("[simulated: {firmware}, iPXE {build}]"),
        );
    }
    Explanation {
        text: out,
        boots_as_configured,
    }
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
