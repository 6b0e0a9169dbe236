//! `check`: the whole pipeline short of writing, and the local image files.

use netboot_compile::diagnostic::Diagnostics;
use netboot_compile::error::Error;
use netboot_compile::loader::Loader;
use netboot_compile::{compile, images};

use super::finish;
use crate::cli::DiagnosticArgs;

pub fn run(loader: &Loader, output: &DiagnosticArgs) -> Result<(), Error> {
    let mut diags = Diagnostics::default();
    if let Some((config, _)) = compile(loader, &mut diags)? {
        images::check_local(&config, loader, &mut diags);
    }
    finish(diags, output)
}
