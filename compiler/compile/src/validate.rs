//! Definitions from every file → one [`Config`]: the single site, `extends` resolved,
//! names, MACs and UUIDs unique, every machine's profile known. Problems become diagnostics;
//! whatever is still sound goes on to rendering, so template errors show up in the same run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use netboot_protocol::{Arch, Firmware, Mac, Named};

use crate::dhcp::DhcpPlan;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::model::{
    ChainMode, Config, FileDefs, FileSpec, ImageLocation, Located, Machine, MachineDef, Profile,
    ProfileDef, Site, SiteDef,
};
use crate::provision::FileKind;

pub fn validate(files: Vec<FileDefs>, diags: &mut Diagnostics) -> Option<Config> {
    let mut sites = Vec::new();
    let mut profile_defs = Vec::new();
    let mut machine_defs = Vec::new();
    for file in files {
        sites.extend(file.sites);
        profile_defs.extend(file.profiles);
        machine_defs.extend(file.machines);
    }
    let site = the_site(&sites, diags);
    let by_name = profiles_by_name(profile_defs, diags);
    let profiles = resolve_profiles(&by_name, diags);
    let (machines, used) = machines(machine_defs, &by_name, &profiles, site.as_ref(), diags);
    warn_unused_profiles(&by_name, &used, diags);

    let site = site?;
    check_router_values(&site, &sites[0], diags);
    warn_unreachable_images(&site, &profiles, diags);
    // A Raspberry Pi's bootloader needs no first-stage iPXE.
    let booted_by_ipxe: BTreeSet<String> = machines
        .iter()
        .filter(|m| m.pi.is_none())
        .map(|m| m.profile.clone())
        .collect();
    check_firmware(&site, &profiles, &by_name, &booted_by_ipxe, diags);
    Some(Config {
        site,
        profiles,
        machines,
    })
}

/// The one `site` of the config (a second is reported); `None` if there is none or it
/// has no usable origin.
fn the_site(sites: &[SiteDef], diags: &mut Diagnostics) -> Option<Site> {
    match sites {
        [] => {
            diags
                .push(Diagnostic::global(
                    Code::MissingSite,
                    "no `site` node in the config",
                ))
                .help("add profiles/site.kdl with: site { origin \"https://boot.example.com\" }");
            None
        }
        [first, rest @ ..] => {
            for extra in rest {
                diags
                    .push(Diagnostic::error(
                        Code::DuplicateSite,
                        &extra.source,
                        extra.span.clone(),
                        "a second `site` node",
                    ))
                    .label("second site")
                    .related(&first.source, first.span.clone(), "first site defined here")
                    .help("the whole config has exactly one `site`; merge them");
            }
            first.origin.as_ref().map(|origin| Site {
                origin: origin.value.clone(),
                chain: first.chain.clone(),
                mirror: first.mirror,
                boot_files: first.boot_files.clone(),
                trust: first.trust.clone(),
                secrets: first.secrets.clone(),
                ipxe_builds: first.ipxe_builds.clone(),
            })
        }
    }
}

/// Profiles by name; the first definition wins, later ones are reported.
fn profiles_by_name(
    profile_defs: Vec<ProfileDef>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, ProfileDef> {
    let mut by_name: BTreeMap<String, ProfileDef> = BTreeMap::new();
    for def in profile_defs {
        if let Some(first) = by_name.get(&def.name.value) {
            duplicate(
                diags,
                Code::DuplicateProfile,
                "profile",
                &def.name,
                &first.name,
            );
        } else {
            by_name.insert(def.name.value.clone(), def);
        }
    }
    by_name
}

/// The machines that are sound (unique name, MACs and UUID, a known profile, files that
/// fit it), sorted by name, and the names of the profiles machines use.
fn machines(
    machine_defs: Vec<MachineDef>,
    by_name: &BTreeMap<String, ProfileDef>,
    profiles: &BTreeMap<String, Profile>,
    site: Option<&Site>,
    diags: &mut Diagnostics,
) -> (Vec<Machine>, BTreeSet<String>) {
    let mut machines = Vec::new();
    let mut names: HashMap<String, Located<String>> = HashMap::new();
    let mut macs: HashMap<Mac, (Located<Mac>, String)> = HashMap::new();
    let mut uuids: HashMap<String, (Located<String>, String)> = HashMap::new();
    let mut serials: HashMap<String, (Located<String>, String)> = HashMap::new();
    let mut used = BTreeSet::new();
    for def in machine_defs {
        let name = &def.name.value;
        if let Some(first) = names.get(name) {
            duplicate(diags, Code::DuplicateMachine, "machine", &def.name, first);
            continue;
        }
        names.insert(name.clone(), def.name.clone());
        let mut sound = true;
        for mac in &def.macs {
            let shown = mac.value.hexhyp();
            sound &= unique_key(
                diags,
                &mut macs,
                mac,
                &shown,
                name,
                Code::DuplicateMac,
                "MAC",
            );
        }
        if let Some(uuid) = &def.uuid {
            sound &= unique_key(
                diags,
                &mut uuids,
                uuid,
                &uuid.value,
                name,
                Code::DuplicateUuid,
                "UUID",
            );
        }
        if let Some(pi) = &def.pi {
            let serial = Located {
                value: pi.value.serial.clone(),
                source: pi.source.clone(),
                span: pi.span.clone(),
            };
            sound &= unique_key(
                diags,
                &mut serials,
                &serial,
                &serial.value,
                name,
                Code::DuplicateSerial,
                "Raspberry Pi serial",
            );
        }
        let Some(profile) = &def.profile else {
            continue;
        };
        used.insert(profile.value.clone());
        if !by_name.contains_key(&profile.value) {
            unknown_profile(diags, profile, by_name.keys(), &format!("machine `{name}`"));
            continue;
        }
        if let Some(resolved) = profiles.get(&profile.value) {
            sound &= check_machine_files(&def.files, resolved, diags);
            if let Some(pi) = &def.pi {
                sound &= crate::pi::check_board(pi, resolved, site, diags);
            }
        }
        if sound && profiles.contains_key(&profile.value) {
            machines.push(Machine {
                name: name.clone(),
                boot: def.boot.as_ref().map(|b| b.value).unwrap_or_default(),
                macs: def.macs.iter().map(|m| m.value).collect(),
                uuid: def.uuid.as_ref().map(|u| u.value.clone()),
                pi: def.pi.clone(),
                profile: profile.value.clone(),
                secure_boot: def.secure_boot.as_ref().map_or(
                    profiles.get(&profile.value).is_some_and(|p| p.secure_boot),
                    |sb| sb.value,
                ),
                vars: def.vars,
                files: def
                    .files
                    .into_iter()
                    .map(|f| (f.name.value.clone(), f))
                    .collect(),
            });
        }
    }
    machines.sort_by(|a, b| a.name.cmp(&b.name));
    (machines, used)
}

/// A profile no machine uses and none extends: a warning.
fn warn_unused_profiles(
    by_name: &BTreeMap<String, ProfileDef>,
    used: &BTreeSet<String>,
    diags: &mut Diagnostics,
) {
    let extended: BTreeSet<&str> = by_name
        .values()
        .filter_map(|p| p.extends.as_ref().map(|e| e.value.as_str()))
        .collect();
    for (name, def) in by_name {
        if !used.contains(name) && !extended.contains(name.as_str()) {
            diags
                .push(Diagnostic::error(
                    Code::UnusedProfile,
                    &def.name.source,
                    def.name.span.clone(),
                    format!("profile `{name}` is not used by any machine"),
                ))
                .warning()
                .label("unused")
                .help("remove it, or give a machine `profile \"".to_owned() + name + "\"`");
        }
    }
}

/// What `dhcp-config` (and the Pi's proxyDHCP) hands out as file names: the dispatcher's
/// URL and the boot files' names and URLs. Whatever the plan would refuse is reported at
/// `check`, on the URL it starts with.
fn check_router_values(site: &Site, def: &SiteDef, diags: &mut Diagnostics) {
    // The next-server is no file name; any address lets the plan be built.
    let Err(error) = DhcpPlan::new(site, Some(Ipv4Addr::UNSPECIFIED)) else {
        return;
    };
    let (span, label) = match (&site.chain, &def.origin) {
        (ChainMode::Direct, Some(origin)) => (origin.span.clone(), "the origin"),
        _ => (def.span.clone(), "the proxy URL of this site"),
    };
    diags
        .push(Diagnostic::error(
            Code::BadValue,
            &def.source,
            span,
            error.to_string(),
        ))
        .label(format!("{label} starts it"));
}

/// `via-proxy` exists for iPXE builds without HTTPS; with `mirror #false` their scripts
/// would still point at HTTPS upstream URLs they cannot fetch.
fn warn_unreachable_images(
    site: &Site,
    profiles: &BTreeMap<String, Profile>,
    diags: &mut Diagnostics,
) {
    if !matches!(site.chain, ChainMode::ViaProxy { .. }) {
        return;
    }
    let mut seen = BTreeSet::new();
    for image in profiles.values().flat_map(|p| p.images.values()) {
        let ImageLocation::Url(url) = &image.location else {
            continue;
        };
        if site.mirrors(image) || !url.starts_with("https://") {
            continue;
        }
        if seen.insert((image.source.name.clone(), image.location_span.start)) {
            diags
                .push(Diagnostic::error(
                    Code::UnreachableImage,
                    &image.source,
                    image.location_span.clone(),
                    format!("image `{}` is fetched over HTTPS, which stock iPXE cannot do", image.role),
                ))
                .warning()
                .label("scripts fetch this URL directly")
                .help("`chain \"via-proxy\"` is for iPXE without HTTPS: turn `mirror` on so the image is served through the proxy");
        }
    }
}

/// One boot file per firmware class; and, once the site names boot files by firmware, a
/// profile whose `arch` none of them can start is worth a warning (its machines can only
/// boot from an iPXE ROM of their own).
fn check_firmware(
    site: &Site,
    profiles: &BTreeMap<String, Profile>,
    defs: &BTreeMap<String, ProfileDef>,
    used: &BTreeSet<String>,
    diags: &mut Diagnostics,
) {
    // One usual boot file per class, and one for its Secure Boot machines.
    let mut first: BTreeMap<(Firmware, bool), &Located<Firmware>> = BTreeMap::new();
    let classes = site
        .boot_files
        .iter()
        .filter_map(|f| f.firmware.as_ref().map(|c| (c, f.secure_boot)));
    for (class, secure_boot) in classes {
        match first.get(&(class.value, secure_boot)) {
            Some(earlier) => {
                diags
                    .push(Diagnostic::error(
                        Code::DuplicateFirmware,
                        &class.source,
                        class.span.clone(),
                        format!("a second boot file for firmware `{}`", class.value),
                    ))
                    .label("second boot file")
                    .related(&earlier.source, earlier.span.clone(), "first one here")
                    .help("a client of one class gets one file: keep one `firmware=` per class");
            }
            None => {
                first.insert((class.value, secure_boot), class);
            }
        }
    }
    if first.is_empty() {
        return;
    }
    let startable: BTreeSet<Arch> = first.keys().map(|(f, _)| f.cpu_arch()).collect();
    for (name, profile) in profiles.iter().filter(|(name, _)| used.contains(*name)) {
        let arch = profile.arch;
        if startable.contains(&arch) {
            continue;
        }
        let wanted: Vec<String> = Firmware::ALL
            .iter()
            .filter(|f| f.cpu_arch() == arch)
            .map(|f| format!("`boot-file … firmware=\"{f}\"`"))
            .collect();
        let Some(def) = defs.get(name) else {
            continue;
        };
        diags
            .push(Diagnostic::error(
                Code::NoBootFile,
                &def.name.source,
                def.name.span.clone(),
                format!("no boot file of the site starts profile `{name}` ({arch})"),
            ))
            .warning()
            .label(format!("{arch} machines"))
            .help(format!(
                "add {} to the site, or these machines must bring their own iPXE",
                wanted.join(" or ")
            ));
    }
}

fn duplicate(
    diags: &mut Diagnostics,
    code: Code,
    what: &str,
    second: &Located<String>,
    first: &Located<String>,
) {
    diags
        .push(Diagnostic::error(
            code,
            &second.source,
            second.span.clone(),
            format!("{what} `{}` is defined twice", second.value),
        ))
        .label("second definition")
        .related(&first.source, first.span.clone(), "first defined here")
        .help(format!(
            "rename one of them; {what} names are unique across all files"
        ));
}

/// Records `key` for `machine`; reports it if another machine (or this one) has it.
/// `shown` is the key as messages spell it.
fn unique_key<K: Clone + Eq + std::hash::Hash>(
    diags: &mut Diagnostics,
    seen: &mut HashMap<K, (Located<K>, String)>,
    key: &Located<K>,
    shown: &str,
    machine: &str,
    code: Code,
    what: &str,
) -> bool {
    if let Some((first, owner)) = seen.get(&key.value) {
        let message = if owner == machine {
            format!("{what} `{shown}` is listed twice for machine `{machine}`")
        } else {
            format!("{what} `{shown}` is already used by machine `{owner}`")
        };
        diags
            .push(Diagnostic::error(
                code,
                &key.source,
                key.span.clone(),
                message,
            ))
            .label("duplicate")
            .related(
                &first.source,
                first.span.clone(),
                format!("first used by `{owner}` here"),
            )
            .help(format!(
                "each {what} identifies exactly one machine at boot"
            ));
        return false;
    }
    seen.insert(key.value.clone(), (key.clone(), machine.to_owned()));
    true
}

fn unknown_profile<'a>(
    diags: &mut Diagnostics,
    name: &Located<String>,
    known: impl Iterator<Item = &'a String>,
    who: &str,
) {
    let known: Vec<&str> = known.map(String::as_str).collect();
    let help = match suggest(&name.value, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => "no profiles are defined".to_owned(),
        None => format!("known profiles: {}", known.join(", ")),
    };
    diags
        .push(Diagnostic::error(
            Code::UnknownProfile,
            &name.source,
            name.span.clone(),
            format!("{who} uses unknown profile `{}`", name.value),
        ))
        .label("no such profile")
        .help(help);
}

/// Applies `extends` field by field. A profile in a cycle, or extending an unknown or
/// broken profile, is left out (and reported once).
fn resolve_profiles(
    defs: &BTreeMap<String, ProfileDef>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Profile> {
    let mut resolved = BTreeMap::new();
    let mut reported_cycles: BTreeSet<Vec<String>> = BTreeSet::new();
    'profiles: for (name, def) in defs {
        // The chain from this profile up to its root.
        let mut chain = vec![def];
        while let Some(parent) = &chain[chain.len() - 1].extends {
            if let Some(at) = chain.iter().position(|p| p.name.value == parent.value) {
                let mut members: Vec<String> =
                    chain[at..].iter().map(|p| p.name.value.clone()).collect();
                members.sort();
                if reported_cycles.insert(members) {
                    let path: Vec<&str> = chain[at..]
                        .iter()
                        .map(|p| p.name.value.as_str())
                        .chain([parent.value.as_str()])
                        .collect();
                    diags
                        .push(Diagnostic::error(
                            Code::ExtendsCycle,
                            &parent.source,
                            parent.span.clone(),
                            format!("profiles extend each other in a loop: {}", path.join(" → ")),
                        ))
                        .label("closes the loop")
                        .help("remove one `extends` so the chain ends at a profile without one");
                }
                continue 'profiles;
            }
            match defs.get(&parent.value) {
                Some(p) => chain.push(p),
                None => {
                    if std::ptr::eq(chain[chain.len() - 1], def) {
                        unknown_profile(
                            diags,
                            parent,
                            defs.keys(),
                            &format!("profile `{name}` extends"),
                        );
                    }
                    continue 'profiles;
                }
            }
        }
        // Root first, so children override field by field.
        let mut arch = None;
        let mut secure_boot = false;
        let mut images = BTreeMap::new();
        let mut cmdline: Vec<Located<String>> = Vec::new();
        let mut template = None;
        let mut vars = BTreeMap::new();
        let mut files = BTreeMap::new();
        let mut pi_files = BTreeMap::new();
        let mut pi_config = Vec::new();
        for p in chain.iter().rev() {
            arch = p.arch.or(arch);
            secure_boot = p.secure_boot.as_ref().map_or(secure_boot, |sb| sb.value);
            for image in p
                .kernel
                .iter()
                .chain(&p.initrd)
                .chain(&p.shim)
                .chain(&p.images)
            {
                images.insert(image.role.clone(), image.clone());
            }
            if let Some(base) = &p.cmdline {
                cmdline = vec![base.clone()];
            }
            cmdline.extend(p.cmdline_append.iter().cloned());
            if p.template.is_some() {
                template = p.template.clone();
            }
            vars.extend(p.vars.clone());
            for file in &p.files {
                files.insert(file.name.value.clone(), file.clone());
            }
            for file in &p.pi_files {
                pi_files.insert(file.role.clone(), file.clone());
            }
            pi_config.extend(p.pi_config.iter().cloned());
        }
        if !images.contains_key("kernel") {
            // A `kernel` that was written but is invalid has its own diagnostic already.
            if !chain.iter().any(|p| p.kernel_written) {
                diags
                    .push(Diagnostic::error(
                        Code::MissingField,
                        &def.name.source,
                        def.name.span.clone(),
                        format!("profile `{name}` has no `kernel`"),
                    ))
                    .label("no kernel here or in the profiles it extends")
                    .help("add: kernel \"https://...\" sha256=\"...\" (or path=\"...\")");
            }
            continue;
        }
        resolved.insert(
            name.clone(),
            Profile {
                name: name.clone(),
                arch: arch.unwrap_or(Arch::X86_64),
                images,
                secure_boot,
                cmdline,
                template,
                vars,
                files,
                pi_files,
                pi_config,
            },
        );
    }
    resolved
}

/// A machine's `file` of a name its profile also has is merged over the profile's: it must
/// be of the same kind (or say none).
fn check_machine_files(files: &[FileSpec], profile: &Profile, diags: &mut Diagnostics) -> bool {
    let mut sound = true;
    for file in files {
        let Some(base) = profile.files.get(&file.name.value) else {
            continue;
        };
        let base_kind = base.kind.unwrap_or(FileKind::Raw);
        if file.kind.is_some_and(|kind| kind != base_kind) {
            sound = false;
            diags
                .push(Diagnostic::error(
                    Code::BadValue,
                    &file.source,
                    file.span.clone(),
                    format!(
                        "file `{}` is `{}` here but `{base_kind}` in profile `{}`",
                        file.name.value,
                        file.kind.unwrap_or(FileKind::Raw),
                        profile.name
                    ),
                ))
                .label("another kind")
                .related(&base.source, base.span.clone(), "the profile's file")
                .help("a machine's file is merged over its profile's file of the same name: leave out `kind=`, or give the file another name");
        }
    }
    sound
}
