//! `build`: compile, resolve the images, assemble the release and write it into the bundle
//! directory (objects first, `current` last).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use netboot_compile::diagnostic::Diagnostics;
use netboot_compile::images::{self, ImageCache};
use netboot_compile::loader::Loader;
use netboot_compile::{bundle, compile, pi, secure_boot, write};

use super::{failed, finish};
use crate::cli::{DiagnosticArgs, OutDirArgs};
use crate::error::Error;

pub fn run(
    bundle: &OutDirArgs,
    output: &DiagnosticArgs,
    clean: bool,
    image_cache: Option<PathBuf>,
) -> Result<(), Error> {
    let loader = Loader::new(&bundle.config.dir)?;
    let out = bundle.dir();
    let cache = ImageCache::new(image_cache.unwrap_or_else(ImageCache::default_dir));
    build(&loader, &out, clean, &cache, output)
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
    pi::check_kernels(
        &config,
        |image| images.get(&image.sha256).map(|f| f.path.clone()),
        &mut diags,
    );
    let bytes = secure_boot::Bytes::Built(&images);
    secure_boot::verify(&config, loader, bytes, SystemTime::now(), &mut diags);
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
