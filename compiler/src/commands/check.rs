//! `check`: the whole pipeline short of writing, and the local image files.

use netboot_compile::diagnostic::Diagnostics;
use netboot_compile::loader::Loader;
use std::time::SystemTime;

use netboot_compile::{compile, images, pi, secure_boot};

use super::finish;
use crate::cli::DiagnosticArgs;
use crate::error::Error;

pub fn run(loader: &Loader, output: &DiagnosticArgs) -> Result<(), Error> {
    let mut diags = Diagnostics::default();
    if let Some((config, _)) = compile(loader, &mut diags)? {
        images::check_local(&config, loader, &mut diags);
        pi::check_kernels(
            &config,
            |image| images::local_path(image, loader),
            &mut diags,
        );
        let bytes = secure_boot::Bytes::LocalOnly(loader);
        secure_boot::verify(&config, loader, bytes, SystemTime::now(), &mut diags);
    }
    finish(diags, output)
}
