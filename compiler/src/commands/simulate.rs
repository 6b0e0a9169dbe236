//! `simulate`: a machine's boot, traced per firmware class, against the compiled config or
//! a built bundle.

use std::path::Path;
use std::time::SystemTime;

use netboot_compile::loader::Loader;
use netboot_compile::{model, parse, pi, secure_boot, simulate};
use netboot_protocol::{Arch, Firmware, Mac};

use super::answerable;
use crate::error::Error;
use crate::output;

/// `simulate`: the trace of each firmware class, and whether the machine boots as its KDL
/// says (exit 1 if not). A MAC or UUID no machine has is simulated as an unregistered one.
pub fn run(
    loader: &Loader,
    query: &str,
    firmware: Option<Firmware>,
    ipxe: Option<netboot_ipxe::IpxeBuild>,
    bundle: Option<&Path>,
) -> Result<(), Error> {
    let (config, scripts, index) = answerable(loader, query)?;
    let origin: Box<dyn netboot_ipxe::Origin> = match bundle {
        Some(dir) => Box::new(
            simulate::BundleOrigin::open(netboot_bundle::BundleDir::new(dir), &config)
                .map_err(Error::SimulationBundle)?,
        ),
        None => Box::new(simulate::MemoryOrigin::new(&config, &scripts)),
    };
    let machine = match index {
        Ok(index) => Some(&config.machines[index]),
        Err(e) if Mac::parse(query).is_none() && parse::normalize_uuid(query).is_none() => {
            return Err(e);
        }
        Err(_) => None,
    };
    if let (Some(m), Ok(index)) = (machine, &index)
        && let (Some(board), Some(files)) = (&m.pi, &scripts.machines[*index].pi)
    {
        let mut text = format!(
            "{} on its {} bootloader (serial {}), over TFTP from the proxy:\n",
            m.name,
            board.value.model.title(),
            board.value.serial
        );
        let trace = pi::fetch_trace(&board.value, &config.profiles[&m.profile], files);
        for (name, what) in &trace {
            text.push_str(&format!(
                "  tftp    {}/{name}  {what}\n",
                board.value.serial
            ));
        }
        text.push_str("  ok      then Linux, with cmdline.txt as its command line\n\n");
        output::print(&text)?;
    }
    let arch = machine.map_or(Arch::X86_64, |m| config.profiles[&m.profile].arch);
    let classes = firmware.map_or_else(|| simulate::expect::classes(&config, arch), |f| vec![f]);
    let mut failed = false;
    for firmware in classes {
        let ipxe = ipxe.unwrap_or_else(|| {
            config
                .site
                .machine_ipxe_build(machine.is_some_and(|m| m.secure_boot), firmware)
        });
        // Secure Boot: the first image its verifier refuses ends the boot there, with the
        // words the machine's console would show (and `first`: iPXE itself never runs).
        let refused = machine
            .filter(|m| m.secure_boot && firmware == arch.uefi())
            .and_then(|m| {
                let steps = secure_boot::decide_machine(&config, m, loader, SystemTime::now());
                steps
                    .into_iter()
                    .enumerate()
                    .find_map(|(i, d)| match d.outcome {
                        Some(Err(refusal)) => Some((
                            i == 0,
                            format!(
                                "Secure Boot: the {} refuses `{}` ({refusal}): \"{}\"",
                                d.step.stage.name(),
                                d.step.image.role,
                                d.step.refusal_words(i == 0)
                            ),
                        )),
                        _ => None,
                    })
            });
        let mut client = match machine {
            Some(m) => simulate::expect::client(m, firmware, ipxe),
            None => netboot_ipxe::Client {
                mac: Mac::parse(query).unwrap_or(simulate::expect::UNREGISTERED_MAC),
                uuid: parse::normalize_uuid(query),
                firmware,
                ipxe,
                secure_boot_refuses: false,
            },
        };
        // A later stage refused: iPXE runs the script, and its `boot` fails.
        client.secure_boot_refuses = refused.as_ref().is_some_and(|(first, _)| !first);
        let trace = netboot_ipxe::simulate(origin.as_ref(), &client);
        let who = machine.map_or_else(|| "an unregistered machine".to_owned(), |m| m.name.clone());
        let mut text = format!(
            "{who} on {firmware} firmware, iPXE {ipxe} (mac {}{}):\n{}",
            client.mac,
            client
                .uuid
                .as_ref()
                .map(|u| format!(", uuid {u}"))
                .unwrap_or_default(),
            trace.render()
        );
        if let Some((_, reason)) = refused {
            failed = true;
            text.push_str(&format!("  FAILS   {reason}\n"));
        } else if let Some(m) = machine {
            match simulate::expect::verdict(&config, m, &trace.end) {
                Ok(()) => text.push_str(&format!(
                    "  ok      as configured: {}\n",
                    match m.boot {
                        model::BootTarget::Network => format!("profile {}", m.profile),
                        model::BootTarget::Local => "its local disk".to_owned(),
                    }
                )),
                Err(reason) => {
                    failed = true;
                    text.push_str(&format!("  FAILS   {reason}\n"));
                }
            }
        }
        output::print(&format!("{text}\n"))?;
    }
    if failed {
        Err(Error::Diagnostics)
    } else {
        Ok(())
    }
}
