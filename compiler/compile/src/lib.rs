//! netboot-compile: the pipeline behind `netbootc`, from KDL machine and profile definitions
//! to a content-addressed netboot bundle. The `netbootc` binary holds the command line.
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
//! secure_boot (Authenticode of each Secure Boot machine's EFI images)  I/O: check + build
//! bundle  (scripts + images → objects, manifest) pure
//! write   (objects, then `current` last)         I/O
//! ```
//!
//! Every stage pushes [`diagnostic::Diagnostic`]s into one list and carries on; the list
//! is rendered once, by `report`, when the command ends.
//!
//! The public surface is what the `netbootc` commands, the tests and the fuzz target
//! name: [`compile`] and the stages a command runs after it (`images`, `bundle`, `write`,
//! `explain`, `fmt`, `bootstrap`, `dhcp`), the config model, diagnostics and their
//! reports. Rendering, templates, secrets, provisioning checks and the lint are private
//! stages. The iPXE interpreter is the `netboot-ipxe` crate below this one; `simulate`
//! here holds what it needs from the config (origins, and what each machine must reach).

pub mod bootstrap;
pub mod bundle;
pub mod dhcp;
pub mod diagnostic;
pub mod error;
pub mod explain;
pub mod fmt;
pub mod images;
mod lint;
pub mod loader;
pub mod model;
pub mod parse;
pub mod pi;
mod provision;
mod render;
pub mod report;
mod script;
mod secrets;
pub mod secure_boot;
pub mod simulate;
pub mod source;
mod templates;
pub mod validate;
pub mod write;

use std::sync::Arc;

use rayon::prelude::*;

use crate::bundle::Scripts;
use crate::diagnostic::Diagnostics;
use crate::error::Error;
use crate::loader::Loader;
use crate::model::Config;
use crate::render::Renderer;
use crate::secrets::Secrets;
use crate::templates::{Builtin, TemplateSet};

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
    for (machine, out) in config.machines.iter().zip(&machines) {
        if let (Some(board), Some(Some(files))) = (&machine.pi, out.as_ref().map(|o| &o.pi)) {
            let profile = &config.profiles[&machine.profile];
            pi::check_config(&machine.name, board, profile, &files.config_txt, diags);
        }
    }
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
