//! `render`: one machine's script, or one of its provisioning files with stand-ins for the
//! secrets.

use std::io::{self, Write};

use netboot_compile::diagnostic::Diagnostics;
use netboot_compile::error::Error;
use netboot_compile::loader::Loader;

use super::{compiled_machine, finish};
use crate::cli::DiagnosticArgs;

pub fn run(loader: &Loader, machine: &str, file: Option<&str>) -> Result<(), Error> {
    let Some((config, scripts, index)) = compiled_machine(loader, machine)? else {
        return Ok(());
    };
    let output = &scripts.machines[index];
    let text = match file {
        None => output.script.text.clone(),
        Some(name) => {
            let machine = &config.machines[index];
            if !output.files.files.iter().any(|f| f.name == name) {
                return Err(Error::NoSuchFile {
                    machine: machine.name.clone(),
                    file: name.to_owned(),
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
