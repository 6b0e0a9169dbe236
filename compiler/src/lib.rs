//! `netbootc`: KDL machine and profile definitions → a content-addressed netboot bundle.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! loader  (read machines/ and profiles/)        I/O
//! parse   (KDL → definitions, per file)          pure, parallel over files, linear time
//! validate(definitions → one Config)             pure
//! secrets (outside Git: files, environment)     I/O
//! templates + render (minijinja, strict)         pure, parallel over machines
//! provision (check rendered Ignition/Talos/cloud-init files)  pure
//! lint    (rendered iPXE scripts)                pure
//! simulate(every machine boots, per firmware)    pure, parallel over machines
//! images  (verify local files, download cache)   I/O, `build` only
//! bundle  (scripts + images → objects, manifest) pure
//! write   (objects, then `current` last)         I/O
//! ```
//!
//! Every stage pushes [`diagnostic::Diagnostic`]s into one list and carries on; the list
//! is rendered once, by `report`, when the command ends.

pub mod bootstrap;
pub mod bundle;
pub mod cli;
pub mod dhcp;
pub mod diagnostic;
pub mod error;
pub mod explain;
pub mod fmt;
pub mod images;
pub mod lint;
pub mod loader;
pub mod manual;
pub mod model;
pub mod output;
pub mod parse;
pub mod provision;
pub mod render;
pub mod report;
pub mod script;
pub mod secrets;
pub mod simulate;
pub mod source;
pub mod status;
pub mod store_commands;
pub mod templates;
pub mod validate;
pub mod write;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use clap::Parser;
use netboot_protocol::{Arch, Mac, Named};
use rayon::prelude::*;

use crate::bundle::Scripts;
use crate::cli::{Cli, Command, DiagnosticArgs};
use crate::diagnostic::{Diagnostics, Severity, suggest};
use crate::error::Error;
use crate::images::ImageCache;
use crate::loader::Loader;
use crate::model::Config;
use crate::render::Renderer;
use crate::secrets::Secrets;
use crate::templates::{Builtin, TemplateSet};

/// Runs the command line and returns the process exit code: 0 clean, 1 diagnostics with
/// errors, 2 usage or I/O failure.
pub fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match execute(cli.command) {
        Ok(()) => 0,
        Err(e) => {
            if e.exit_code() == 2 || matches!(e, Error::Store(_) | Error::Declined) {
                output::to_stderr(&format!("error: {e}\n"));
            }
            e.exit_code()
        }
    }
}

fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Check { config, output } => {
            let loader = Loader::new(config.dir)?;
            let mut diags = Diagnostics::default();
            if let Some((config, _)) = compile(&loader, &mut diags)? {
                images::check_local(&config, &loader, &mut diags);
            }
            finish(diags, &output)
        }
        Command::Build {
            bundle,
            output,
            clean,
            image_cache,
        } => {
            let loader = Loader::new(&bundle.config.dir)?;
            let out = bundle.dir();
            let cache = ImageCache::new(image_cache.unwrap_or_else(ImageCache::default_dir));
            build(&loader, &out, clean, &cache, &output)
        }
        Command::Render {
            machine,
            file,
            config,
        } => {
            let loader = Loader::new(config.dir)?;
            let Some((config, scripts, index)) = compiled_machine(&loader, &machine)? else {
                return Ok(());
            };
            let output = &scripts.machines[index];
            let text = match &file {
                None => output.script.text.clone(),
                Some(name) => {
                    let machine = &config.machines[index];
                    if !output.files.files.iter().any(|f| &f.name == name) {
                        return Err(Error::NoSuchFile {
                            machine: machine.name.clone(),
                            file: name.clone(),
                            known: output.files.files.iter().map(|f| f.name.clone()).collect(),
                        });
                    }
                    // Shown with stand-ins for the secrets: the real file is only in the bundle.
                    let mut diags = Diagnostics::default();
                    match scripts.renderer.shown_file(machine, name, &mut diags) {
                        Some(text) => text,
                        None => return finish(diags, &DiagnosticArgs::default()),
                    }
                }
            };
            io::stdout()
                .write_all(text.as_bytes())
                .map_err(Error::io("<stdout>"))
        }
        Command::Simulate {
            client,
            firmware,
            ipxe,
            bundle,
            config,
        } => simulate_command(
            &Loader::new(config.dir)?,
            &client,
            firmware
                .as_deref()
                .and_then(<netboot_protocol::Firmware as Named>::parse),
            ipxe.as_deref().and_then(simulate::IpxeBuild::parse),
            bundle.as_deref(),
        ),
        Command::Explain { machine, config } => {
            let loader = Loader::new(config.dir)?;
            let (config, scripts, index) = answerable(&loader, &machine)?;
            let index = index?;
            // The files again, for where each value was written (validation keeps values).
            let defs: Vec<model::FileDefs> = loader
                .kdl_files(&mut Diagnostics::default())?
                .iter()
                .map(|file| parse::parse_file(file, &mut Diagnostics::default()))
                .collect();
            let explanation = explain::explain(&config, &scripts, &defs, index);
            output::print(&explanation.text)?;
            if explanation.boots_as_configured {
                Ok(())
            } else {
                Err(Error::Diagnostics)
            }
        }
        Command::Fmt { config, check } => format_files(&Loader::new(config.dir)?, check),
        Command::Publish(args) => store_commands::publish(args),
        Command::Releases(args) => store_commands::releases(args),
        Command::Rollback(args) => store_commands::rollback(args),
        Command::Gc(args) => store_commands::gc(args),
        Command::Diff(args) => store_commands::diff(args),
        Command::Status(args) => status::command(&args),
        Command::DevCerts { dir, names } => {
            let written = netboot_devcerts::write_dev_certs(&dir, &names)
                .map_err(|e| Error::DevCerts(e.to_string()))?;
            for path in written {
                output::print(&format!("wrote {}\n", path.display()))?;
            }
            Ok(())
        }
        Command::IpxeBootstrap { config, file } => {
            ipxe_bootstrap(&Loader::new(config.dir)?, file.as_deref())
        }
        Command::DhcpConfig {
            config,
            format,
            next_server,
            file,
        } => {
            let loader = Loader::new(&config.dir)?;
            let site = checked_site(&loader)?;
            let plan = dhcp::DhcpPlan::new(&site, next_server).map_err(Error::Dhcp)?;
            write_output(file.as_deref(), &plan.render(format))
        }
        Command::Completions { shell } => {
            let mut stdout = io::stdout().lock();
            manual::completions(shell, &mut stdout);
            stdout.flush().map_err(Error::io("<stdout>"))
        }
        Command::Man { out_dir: None } => {
            manual::man_page(&mut io::stdout().lock()).map_err(Error::io("<stdout>"))
        }
        Command::Man { out_dir: Some(dir) } => {
            for path in manual::man_pages(&dir)? {
                output::print(&format!("wrote {}\n", path.display()))?;
            }
            Ok(())
        }
    }
}

/// `ipxe-bootstrap`: the whole config is checked as by `check` (a broken site must not end
/// up in a firmware image), then the script for its site is written.
fn ipxe_bootstrap(loader: &Loader, file: Option<&Path>) -> Result<(), Error> {
    let mut diags = Diagnostics::default();
    let compiled = compile(loader, &mut diags)?;
    let text = compiled.map(|(config, _)| bootstrap::checked_script(&config.site, &mut diags));
    let output = DiagnosticArgs::default();
    let text = text.filter(|_| !failed(&diags, &output));
    finish(diags, &output)?;
    let Some(text) = text else {
        return Err(Error::Diagnostics);
    };
    write_output(file, &text)
}

/// The site of a config that passes `check`: see [`checked_config`].
fn checked_site(loader: &Loader) -> Result<model::Site, Error> {
    checked_config(loader).map(|config| config.site)
}

/// A config that passes `check` (its diagnostics are printed either way): what is derived
/// from it (a router's configuration, `status`) must not come from a broken one.
pub(crate) fn checked_config(loader: &Loader) -> Result<Config, Error> {
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
fn write_output(file: Option<&Path>, text: &str) -> Result<(), Error> {
    match file {
        Some(path) => Ok(netboot_bundle::write_atomic(path, text.as_bytes(), true)?),
        None => io::stdout()
            .write_all(text.as_bytes())
            .map_err(Error::io("<stdout>")),
    }
}

/// Load → parse → validate → render → lint. `None` when the config is too broken to
/// render the fleet-wide scripts; the reasons are in `diags`. A machine whose own script
/// did not render is left out of the config (its errors are in `diags`), so that
/// `explain` and `simulate` can still answer for the others.
pub fn compile(
    loader: &Loader,
    diags: &mut Diagnostics,
) -> Result<Option<(Config, Scripts)>, Error> {
    let files = loader.kdl_files(diags)?;
    if files.is_empty() {
        // Already reported: nothing to validate, so no "missing site" on top.
        return Ok(None);
    }
    let parsed: Vec<(model::FileDefs, Diagnostics)> = files
        .par_iter()
        .map(|file| {
            let mut local = Diagnostics::default();
            (parse::parse_file(file, &mut local), local)
        })
        .collect();
    let mut defs = Vec::with_capacity(parsed.len());
    for (file_defs, local) in parsed {
        defs.push(file_defs);
        diags.extend(local.into_sorted());
    }
    let Some(mut config) = validate::validate(defs, diags) else {
        return Ok(None);
    };
    let secrets = Secrets::load(loader, &config.site, diags);
    let templates = TemplateSet::load(loader, &config, diags);
    secrets.check_leaks(files.iter().chain(templates.sources.values()), diags);
    let renderer = Renderer::new(&config, &templates, &secrets, diags);
    let dispatcher = renderer.render_builtin(Builtin::Dispatcher, diags);
    let unknown = renderer.render_builtin(Builtin::Unknown, diags);
    for (script, route) in [
        (&dispatcher, netboot_protocol::routes::DISPATCHER),
        (&unknown, netboot_protocol::routes::UNKNOWN_MACHINE),
    ] {
        if let Some(script) = script {
            lint::lint(script, route, diags);
        }
    }
    let machines = renderer.render_machines(&config.machines, diags);
    let Some((dispatcher, unknown)) = dispatcher.zip(unknown) else {
        return Ok(None);
    };
    let mut rendered = machines.iter().map(Option::is_some);
    config.machines.retain(|_| rendered.next().unwrap_or(false));
    let machines = machines.into_iter().flatten().collect();
    let scripts = Scripts {
        dispatcher,
        unknown,
        machines,
        renderer: Arc::new(renderer),
    };
    // Whole-fleet behaviour: only worth simulating once nothing else is wrong.
    if !diags.has_errors() {
        let origin = simulate::MemoryOrigin::new(&config, &scripts);
        simulate::expect::check_fleet(&config, &scripts, &origin, diags);
    }
    Ok(Some((config, scripts)))
}

fn build(
    loader: &Loader,
    out: &Path,
    clean: bool,
    cache: &ImageCache,
    output: &DiagnosticArgs,
) -> Result<(), Error> {
    let mut diags = Diagnostics::default();
    let compiled = compile(loader, &mut diags)?;
    let compiled = compiled.filter(|_| !failed(&diags, output));
    let Some((config, scripts)) = compiled else {
        return finish(diags, output);
    };
    let images = images::resolve(&config, loader, cache, &mut diags);
    if failed(&diags, output) {
        return finish(diags, output);
    }
    let Some(release) = bundle::assemble(&config, scripts, &images, &mut diags) else {
        return finish(diags, output);
    };
    let stats = write::write(&release, out, clean)?;
    finish(diags, output)?;
    let mut stdout = io::stdout().lock();
    let summary = format!(
        "built {} into {}\n  machines  {}\n  profiles  {}\n  routes    {}\n  objects   {} ({} new, {} reused, {}){}\n",
        release.digest,
        out.display(),
        release.manifest.machines.len(),
        release.manifest.profiles.len(),
        release.manifest.routes.len(),
        release.objects.len(),
        stats.new,
        stats.reused,
        indicatif::HumanBytes(stats.bytes),
        if clean {
            format!("\n  removed   {} unreferenced objects", stats.removed)
        } else {
            String::new()
        },
    );
    stdout
        .write_all(summary.as_bytes())
        .map_err(Error::io("<stdout>"))
}

fn failed(diags: &Diagnostics, output: &DiagnosticArgs) -> bool {
    diags.has_errors() || (output.deny_warnings && diags.count(Severity::Warning) > 0)
}

/// Prints the diagnostics (human ones to stderr, machine-readable ones to stdout) and
/// turns errors, or warnings under `--deny-warnings`, into exit code 1.
fn finish(diags: Diagnostics, output: &DiagnosticArgs) -> Result<(), Error> {
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

/// `simulate`: the trace of each firmware class, and whether the machine boots as its KDL
/// says (exit 1 if not). A MAC or UUID no machine has is simulated as an unregistered one.
fn simulate_command(
    loader: &Loader,
    query: &str,
    firmware: Option<netboot_protocol::Firmware>,
    ipxe: Option<simulate::IpxeBuild>,
    bundle: Option<&Path>,
) -> Result<(), Error> {
    let (config, scripts, index) = answerable(loader, query)?;
    let origin: Box<dyn simulate::Origin> = match bundle {
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
    let arch = machine.map_or(Arch::X86_64, |m| config.profiles[&m.profile].arch);
    let classes = firmware.map_or_else(|| simulate::expect::classes(&config, arch), |f| vec![f]);
    let ipxe = ipxe.unwrap_or_else(|| simulate::expect::site_build(&config));
    let mut failed = false;
    for firmware in classes {
        let client = match machine {
            Some(m) => simulate::expect::client(m, firmware, ipxe),
            None => simulate::Client {
                mac: Mac::parse(query).unwrap_or(simulate::expect::UNREGISTERED_MAC),
                uuid: parse::normalize_uuid(query),
                firmware,
                ipxe,
            },
        };
        let trace = simulate::simulate(origin.as_ref(), &client);
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
        if let Some(m) = machine {
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

/// For `explain` and `simulate`, the commands reached for when something is wrong: the
/// config as far as it compiles, and the machine `query` names. Errors are printed first
/// and do not stop the answer; they end the command when the config does not compile, or
/// when `query` names no machine and they may have left machines out (its own KDL or
/// script has errors; a MAC no machine has might be that machine's).
fn answerable(
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
fn compiled_machine(
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

fn find_machine(config: &Config, query: &str) -> Result<usize, Error> {
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

fn format_files(loader: &Loader, check: bool) -> Result<(), Error> {
    let mut diags = Diagnostics::default();
    let files = loader.kdl_files(&mut diags)?;
    let mut unformatted = Vec::new();
    for file in &files {
        match fmt::format(file) {
            Some(text) if text != *file.text => unformatted.push((file, text)),
            Some(_) => {}
            // Unparsable files are left alone; parsing them again gives the diagnostics.
            None => {
                parse::parse_file(file, &mut diags);
            }
        }
    }
    if diags.has_errors() {
        return finish(diags, &DiagnosticArgs::default());
    }
    for (file, text) in &unformatted {
        if check {
            output::print(&format!("{} is not formatted\n", file.name))?;
        } else {
            let path = loader.full_path(&file.name);
            // Write through a symlink to the file it names, rather than replacing the link.
            let path = std::fs::canonicalize(&path).unwrap_or(path);
            netboot_bundle::write_atomic(&path, text.as_bytes(), true)?;
            output::print(&format!("formatted {}\n", file.name))?;
        }
    }
    if check && !unformatted.is_empty() {
        Err(Error::Unformatted)
    } else {
        Ok(())
    }
}
