//! `explain`: where each of a machine's values came from, and what its boot does.

use netboot_compile::diagnostic::Diagnostics;
use netboot_compile::loader::Loader;
use std::time::SystemTime;

use netboot_compile::{explain, model, parse, secure_boot};

use super::answerable;
use crate::error::Error;
use crate::output;

pub fn run(loader: &Loader, machine: &str) -> Result<(), Error> {
    let (config, scripts, index) = answerable(loader, machine)?;
    let index = index?;
    // The files again, for where each value was written (validation keeps values).
    let defs: Vec<model::FileDefs> = loader
        .kdl_files(&mut Diagnostics::default())?
        .iter()
        .map(|file| parse::parse_file(file, &mut Diagnostics::default()))
        .collect();
    let machine = &config.machines[index];
    let secure_boot = if machine.secure_boot {
        secure_boot::decide_machine(&config, machine, loader, SystemTime::now())
    } else {
        Vec::new()
    };
    let explanation = explain::explain(&config, &scripts, &defs, index, &secure_boot);
    output::print(&explanation.text)?;
    if explanation.boots_as_configured {
        Ok(())
    } else {
        Err(Error::Diagnostics)
    }
}
