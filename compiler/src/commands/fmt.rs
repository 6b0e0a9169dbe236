//! `fmt`: the KDL files in canonical form, rewritten in place or (`--check`) listed.

use netboot_compile::diagnostic::Diagnostics;
use netboot_compile::error::Error;
use netboot_compile::loader::Loader;
use netboot_compile::{fmt, parse};

use super::finish;
use crate::cli::DiagnosticArgs;
use crate::output;

pub fn run(loader: &Loader, check: bool) -> Result<(), Error> {
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
