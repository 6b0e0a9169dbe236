//! Simulation as a check: every machine, on every firmware class the site declares for its
//! profile's architecture, must reach what its KDL says (its profile's kernel and initrd,
//! or its local disk). A machine that would not is a `simulation-failed` diagnostic on the
//! script line where it went wrong; one template line that fails many machines is one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use netboot_protocol::{Arch, Firmware, Mac, Named};
use rayon::prelude::*;

use crate::bundle::Scripts;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{BootTarget, Config, ImageSpec, Machine, Profile};
use crate::script::Script;
use crate::source::SourceFile;
use netboot_ipxe::{At, Client, End, IpxeBuild, Loaded, Origin, Trace, simulate};

/// Failing simulations after which `check` stops simulating more machines.
const MAX_FAILURES: usize = 256;

/// The firmware classes a machine of `arch` is simulated on: those the site declares a
/// boot file for (dhcp-config hands them out), else the UEFI class of the architecture.
pub fn classes(config: &Config, arch: Arch) -> Vec<Firmware> {
    let declared: Vec<Firmware> = Firmware::ALL
        .iter()
        .copied()
        .filter(|f| config.site.boot_file(*f).is_some() && f.cpu_arch() == arch)
        .collect();
    // A Secure Boot first stage is served by MAC, not by class: it declares no class here.
    let mut usual = config.site.boot_files.iter().filter(|f| !f.secure_boot);
    if !declared.is_empty() || !usual.all(|f| f.firmware.is_none()) {
        return declared;
    }
    vec![arch.uefi()]
}

/// The MAC a simulated client without one of its own has: locally administered, and in
/// no config (`check` would not matter: nothing is registered by it).
pub const UNREGISTERED_MAC: Mac = Mac::new([0x02, 0, 0, 0, 0, 0]);

/// The client a machine is simulated as: its first MAC (a MAC no machine has if it is
/// known by UUID only) and its UUID.
pub fn client(machine: &Machine, firmware: Firmware, ipxe: IpxeBuild) -> Client {
    Client {
        mac: machine.macs.first().copied().unwrap_or(UNREGISTERED_MAC),
        uuid: machine.uuid.clone(),
        firmware,
        ipxe,
        secure_boot_refuses: false,
    }
}

/// Why `end` is not what `machine` should reach, if it is not.
pub fn verdict(config: &Config, machine: &Machine, end: &End) -> Result<(), String> {
    let profile = &config.profiles[&machine.profile];
    match (machine.boot, end) {
        (BootTarget::Local, End::LocalDisk) => Ok(()),
        // An iPXE that cannot boot a local disk itself (UEFI before 1.21) hands the
        // machine back, and the firmware's next boot entry is the disk once one is
        // installed: what the built-in local template does there on purpose.
        (BootTarget::Local, End::Exit(_)) => Ok(()),
        (
            BootTarget::Network,
            End::Booted {
                kernel, initrds, ..
            },
        ) => {
            if !loads(config, profile, "kernel", std::iter::once(kernel.as_ref())) {
                return Err(format!(
                    "it boots {}, not the kernel of profile `{}`",
                    kernel.url, profile.name
                ));
            }
            if !loads(config, profile, "initrd", initrds.iter()) {
                return Err(format!(
                    "it boots without the initrd of profile `{}`",
                    profile.name
                ));
            }
            Ok(())
        }
        (BootTarget::Network, End::LocalDisk) => Err("it boots its local disk".to_owned()),
        (BootTarget::Local, End::Booted { kernel, .. }) => {
            Err(format!("it boots {} instead of its local disk", kernel.url))
        }
        (_, other) => Err(other.describe()),
    }
}

/// Whether `profile`'s image of `role`, if it has one, is among `loaded`.
fn loads<'l>(
    config: &Config,
    profile: &Profile,
    role: &str,
    mut loaded: impl Iterator<Item = &'l Loaded>,
) -> bool {
    profile
        .images
        .get(role)
        .is_none_or(|image| loaded.any(|l| is_image(config, image, l)))
}

/// Whether the client loaded `image`, however the site holds it: a bundle object (a
/// mirrored URL or a `path=` file) is its digest, wherever the script fetched it from; an
/// image left upstream has no object, and is the URL the config pins.
fn is_image(config: &Config, image: &ImageSpec, loaded: &Loaded) -> bool {
    match loaded.object {
        Some(object) => object == image.sha256,
        None => !config.site.mirrors(image) && config.site.image_url(image) == loaded.url,
    }
}

/// Why a simulated boot of `machine` is not what its KDL says, if it is not, and the
/// script line where it went wrong: where it failed, or for a boot that gave up, the fetch
/// that failed last.
pub fn failure(config: &Config, machine: &Machine, trace: &Trace) -> Option<(String, Option<At>)> {
    let reason = verdict(config, machine, &trace.end).err()?;
    Some(match (&trace.end, &trace.last_failure) {
        (End::Failed { at, .. }, _) => (reason, at.clone()),
        (_, Some((failed, at))) => (format!("{reason}, after {failed}"), Some(at.clone())),
        (_, None) => (reason, None),
    })
}

/// Simulates every machine that can be recognised on each of its classes and reports
/// those that would not boot as their KDL says.
pub fn check_fleet(
    config: &Config,
    scripts: &Scripts,
    origin: &dyn Origin,
    diags: &mut Diagnostics,
) {
    // A template that fails every machine would otherwise be simulated for each of them;
    // the report already names how many machines it hits once this many have.
    let failed = AtomicUsize::new(0);
    let failures: Vec<Failure> = config
        .machines
        .par_iter()
        .enumerate()
        .filter(|(_, machine)| !machine.macs.is_empty() || machine.uuid.is_some())
        .filter(|_| failed.load(Ordering::Relaxed) < MAX_FAILURES)
        .flat_map_iter(|(index, machine)| {
            let arch = config.profiles[&machine.profile].arch;
            classes(config, arch)
                .into_iter()
                .filter_map(move |firmware| {
                    let build = config
                        .site
                        .machine_ipxe_build(machine.secure_boot, firmware);
                    let trace = simulate(origin, &client(machine, firmware, build));
                    let (reason, at) = failure(config, machine, &trace)?;
                    Some(Failure {
                        machine: index,
                        firmware,
                        reason,
                        at,
                    })
                })
        })
        .collect();
    // One report per script line (or per reason, for ends with no line), counting machines.
    let mut grouped: BTreeMap<(String, usize, String), (Failure, usize)> = BTreeMap::new();
    for failure in failures {
        let key = match &failure.at {
            Some(at) => (
                served_script(scripts, config, failure.machine, &at.route)
                    .map_or_else(|| at.route.clone(), |script| script.template.clone()),
                at.line,
                String::new(),
            ),
            None => (String::new(), 0, failure.reason.clone()),
        };
        grouped.entry(key).or_insert((failure, 0)).1 += 1;
    }
    for (failure, count) in grouped.into_values() {
        diags.push(failure.diagnostic(config, scripts, count));
    }
}

/// A machine that would not boot as configured on one firmware class.
struct Failure {
    machine: usize,
    firmware: Firmware,
    reason: String,
    at: Option<At>,
}

impl Failure {
    /// The report, on the script line when there is one; `count` machines fail alike.
    fn diagnostic(self, config: &Config, scripts: &Scripts, count: usize) -> Diagnostic {
        let Self {
            machine: index,
            firmware,
            reason,
            at,
        } = self;
        let machine = &config.machines[index];
        let more = match count {
            1 => String::new(),
            2 => " (and 1 more machine)".to_owned(),
            n => format!(" (and {} more machines)", n - 1),
        };
        let message = format!(
            "machine `{}` would not boot as configured on {firmware} firmware: {reason}{more}",
            machine.name
        );
        let help = format!(
            "`netbootc simulate {} --firmware {firmware}` prints every step",
            machine.name
        );
        let script = at
            .as_ref()
            .and_then(|at| Some((at, served_script(scripts, config, index, &at.route)?)));
        let Some((at, script)) = script else {
            let mut d = Diagnostic::global(Code::SimulationFailed, message);
            d.help(help);
            return d;
        };
        let source = SourceFile::new(format!("{} (rendered)", at.route), script.text.as_str());
        let start: usize = source
            .text
            .split_inclusive('\n')
            .take(at.line)
            .map(str::len)
            .sum();
        let line = source.text[start..].lines().next().unwrap_or("");
        let mut d = Diagnostic::error(
            Code::SimulationFailed,
            &source,
            start..start + line.len(),
            message,
        );
        d.label("here").help(format!(
            "{help}; the script was rendered from template `{}`",
            script.template
        ));
        d
    }
}

/// The script a route of machine `index`'s boot served (the fleet-wide ones or its own).
fn served_script<'s>(
    scripts: &'s Scripts,
    config: &Config,
    index: usize,
    route: &str,
) -> Option<&'s Script> {
    if route == netboot_protocol::routes::DISPATCHER {
        return Some(&scripts.dispatcher);
    }
    if route == netboot_protocol::routes::UNKNOWN_MACHINE {
        return Some(&scripts.unknown);
    }
    let machine = &config.machines[index];
    let own = std::iter::once(netboot_protocol::routes::machine_by_name(&machine.name))
        .chain(
            machine
                .macs
                .iter()
                .map(netboot_protocol::routes::machine_by_mac),
        )
        .chain(
            machine
                .uuid
                .iter()
                .map(|u| netboot_protocol::routes::machine_by_uuid(u)),
        );
    own.into_iter()
        .any(|r| r == route)
        .then_some(&scripts.machines[index].script)
}
