//! `ipxe-bootstrap`: the script to embed in a site's own iPXE build.

use std::path::Path;

use netboot_compile::diagnostic::Diagnostics;
use netboot_compile::error::Error;
use netboot_compile::loader::Loader;
use netboot_compile::{bootstrap, compile};

use super::{failed, finish, write_output};
use crate::cli::DiagnosticArgs;

/// `ipxe-bootstrap`: the whole config is checked as by `check` (a broken site must not end
/// up in a firmware image), then the script for its site is written.
pub fn run(loader: &Loader, file: Option<&Path>) -> Result<(), Error> {
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
