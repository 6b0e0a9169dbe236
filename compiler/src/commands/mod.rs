//! One module per command; [`execute`] hands each parsed command to its module. What
//! several commands share (printing diagnostics, finding a machine, a checked config) is
//! here.

pub mod build;
pub mod check;
pub mod dev_certs;
pub mod dhcp_config;
pub mod explain;
pub mod fmt;
pub mod init;
pub mod ipxe_bootstrap;
pub mod manual;
pub mod pi_eeprom;
pub mod pki;
pub mod render;
pub mod simulate;
pub mod status;
pub mod store;

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use netboot_compile::bundle::Scripts;
use netboot_compile::diagnostic::{self, Diagnostics, Severity, suggest};
use netboot_compile::loader::Loader;
use netboot_compile::model::Config;
use netboot_compile::{compile, parse, report};
use netboot_protocol::{Firmware, Mac, Named};

use crate::cli::{Command, DiagnosticArgs};
use crate::error::Error;
use crate::output;

/// Runs one parsed command.
pub fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Check { config, output } => check::run(&Loader::new(config.dir)?, &output),
        Command::Build {
            bundle,
            output,
            clean,
            image_cache,
        } => build::run(&bundle, &output, clean, image_cache),
        Command::Render {
            machine,
            file,
            config,
        } => render::run(&Loader::new(config.dir)?, &machine, file.as_deref()),
        Command::Simulate {
            client,
            firmware,
            ipxe,
            bundle,
            config,
        } => simulate::run(
            &Loader::new(config.dir)?,
            &client,
            firmware.as_deref().and_then(<Firmware as Named>::parse),
            ipxe.as_deref().and_then(netboot_ipxe::IpxeBuild::parse),
            bundle.as_deref(),
        ),
        Command::Explain { machine, config } => explain::run(&Loader::new(config.dir)?, &machine),
        Command::Fmt { config, check } => fmt::run(&Loader::new(config.dir)?, check),
        Command::Publish(args) => store::publish(args),
        Command::Releases(args) => store::releases(args),
        Command::Rollback(args) => store::rollback(args),
        Command::Gc(args) => store::gc(args),
        Command::Diff(args) => store::diff(args),
        Command::Status(args) => status::command(&args),
        Command::DevCerts {
            dir,
            names,
            lan_names,
        } => dev_certs::run(&dir, &names, &lan_names),
        Command::PiEeprom {
            config,
            machine,
            tftp_ip,
            file,
        } => pi_eeprom::run(
            &Loader::new(config.dir)?,
            &machine,
            tftp_ip,
            file.as_deref(),
        ),
        Command::Init(args) => init::run(&args),
        Command::Pki(command) => pki::run(&command),
        Command::IpxeBootstrap { config, file } => {
            ipxe_bootstrap::run(&Loader::new(config.dir)?, file.as_deref())
        }
        Command::DhcpConfig {
            config,
            format,
            next_server,
            file,
        } => dhcp_config::run(
            &Loader::new(&config.dir)?,
            format,
            next_server,
            file.as_deref(),
        ),
        Command::Completions { shell } => manual::completions_command(shell),
        Command::Man { out_dir } => manual::man_command(out_dir.as_deref()),
    }
}

/// A config that passes `check` (its diagnostics are printed either way): what is derived
/// from it (a router's configuration, `status`) must not come from a broken one.
pub fn checked_config(loader: &Loader) -> Result<Config, Error> {
    let mut diags = Diagnostics::default();
    let compiled = compile(loader, &mut diags)?;
    let output = DiagnosticArgs::default();
    let config = compiled
        .filter(|_| !failed(&diags, &output))
        .map(|(config, _)| config);
    finish(diags, &output)?;
    config.ok_or(Error::Diagnostics)
}

/// `text` to `file` (atomically) or stdout.
pub fn write_output(file: Option<&Path>, text: &str) -> Result<(), Error> {
    match file {
        Some(path) => Ok(netboot_bundle::write_atomic(path, text.as_bytes(), true)?),
        None => io::stdout()
            .write_all(text.as_bytes())
            .map_err(Error::io("<stdout>")),
    }
}

pub fn failed(diags: &Diagnostics, output: &DiagnosticArgs) -> bool {
    diags.has_errors() || (output.deny_warnings && diags.count(Severity::Warning) > 0)
}

/// Prints the diagnostics (human ones to stderr, machine-readable ones to stdout) and
/// turns errors, or warnings under `--deny-warnings`, into exit code 1.
pub fn finish(diags: Diagnostics, output: &DiagnosticArgs) -> Result<(), Error> {
    let failed = failed(&diags, output);
    let list = diags.into_sorted();
    let result = match output.format {
        report::Format::Human if list.is_empty() => Ok(()),
        report::Format::Human => {
            let color = io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            report::write(&mut io::stderr().lock(), &list, output.format, color)
        }
        _ => report::write(&mut io::stdout().lock(), &list, output.format, false),
    };
    result.map_err(Error::io("<output>"))?;
    if failed {
        Err(Error::Diagnostics)
    } else {
        Ok(())
    }
}

/// For `explain` and `simulate`, the commands reached for when something is wrong: the
/// config as far as it compiles, and the machine `query` names. Errors are printed first
/// and do not stop the answer; they end the command when the config does not compile, or
/// when `query` names no machine and they may have left machines out (its own KDL or
/// script has errors; a MAC no machine has might be that machine's).
pub fn answerable(
    loader: &Loader,
    query: &str,
) -> Result<(Config, Scripts, Result<usize, Error>), Error> {
    let mut diags = Diagnostics::default();
    let compiled = compile(loader, &mut diags)?;
    // Failed simulations leave every machine in; any other error may have left some out.
    let incomplete = diags
        .iter()
        .any(|d| d.severity == Severity::Error && d.code != diagnostic::Code::SimulationFailed);
    let found = compiled.map(|(config, scripts)| {
        let index = find_machine(&config, query);
        (config, scripts, index)
    });
    if diags.has_errors() || found.is_none() {
        match finish(diags, &DiagnosticArgs::default()) {
            Ok(()) | Err(Error::Diagnostics) => {}
            Err(e) => return Err(e),
        }
    }
    let Some((config, scripts, index)) = found else {
        return Err(Error::Diagnostics);
    };
    if index.is_err() && incomplete {
        output::to_stderr(&format!(
            "error: `{query}` is no machine of what compiled; the errors above may concern it\n"
        ));
        return Err(Error::Diagnostics);
    }
    Ok((config, scripts, index))
}

/// The config, compiled without errors, and the index of the machine `query` names;
/// `None` when there is nothing to show (diagnostics with errors end the command).
pub fn compiled_machine(
    loader: &Loader,
    query: &str,
) -> Result<Option<(Config, Scripts, usize)>, Error> {
    let mut diags = Diagnostics::default();
    let compiled = compile(loader, &mut diags)?;
    let Some((config, scripts)) = compiled.filter(|_| !diags.has_errors()) else {
        return finish(diags, &DiagnosticArgs::default()).map(|()| None);
    };
    let index = find_machine(&config, query)?;
    Ok(Some((config, scripts, index)))
}

pub(crate) fn find_machine(config: &Config, query: &str) -> Result<usize, Error> {
    let mac = Mac::parse(query);
    let uuid = parse::normalize_uuid(query);
    config
        .machines
        .iter()
        .position(|m| {
            m.name == query
                || mac.as_ref().is_some_and(|mac| m.macs.contains(mac))
                || uuid.is_some() && m.uuid == uuid
        })
        .ok_or_else(|| Error::NoSuchMachine {
            query: query.to_owned(),
            suggestion: suggest(query, config.machines.iter().map(|m| m.name.as_str()))
                .map(str::to_owned),
        })
}
