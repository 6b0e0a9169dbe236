//! Getting image bytes for the bundle: local `path=` files are read in place; URLs go
//! through a download cache keyed by digest. Everything is checked against its `sha256=`
//! before it can reach the bundle. `check` only looks that local files exist; it never
//! touches the network.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use netboot_bundle::Digest;
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::loader::Loader;
use crate::model::{Config, ImageLocation, ImageSpec};

/// Largest image downloaded or copied (a Flatcar initrd is ~400 MB).
const IMAGE_LIMIT: u64 = 4 << 30;

/// A verified local copy of an image's bytes.
#[derive(Debug, Clone)]
pub struct ImageFile {
    pub path: PathBuf,
    pub size: u64,
}

/// Where downloaded images are kept between builds: files named by their hex digest.
#[derive(Debug, Clone)]
pub struct ImageCache {
    dir: PathBuf,
}

impl ImageCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$XDG_CACHE_HOME/netbootc/images`, else `~/.cache/netbootc/images`.
    pub fn default_dir() -> PathBuf {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("netbootc").join("images")
    }

    fn entry(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    /// Downloads `url` into the cache unless it is there already; the caller verifies.
    fn fetch(&self, url: &str, digest: &Digest) -> Result<PathBuf, String> {
        let path = self.entry(digest);
        if path.is_file() {
            return Ok(path);
        }
        fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create cache {}: {e}", self.dir.display()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_global(Some(Duration::from_secs(30 * 60)))
            .max_redirects(5)
            .build()
            .into();
        let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
        let mut body = response
            .body_mut()
            .with_config()
            .limit(IMAGE_LIMIT)
            .reader();
        let tmp = self
            .dir
            .join(format!(".{}.part.{}", digest.hex(), std::process::id()));
        let result = (|| {
            let mut file = fs::File::create(&tmp)?;
            io::copy(&mut body, &mut file)?;
            file.flush()?;
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e.to_string());
        }
        Ok(path)
    }
}

/// The sha256 and size of a file, read in chunks.
pub(crate) fn hash_file(path: &Path) -> io::Result<(Digest, u64)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > IMAGE_LIMIT {
            return Err(io::Error::other(format!(
                "larger than the {} GiB image limit",
                IMAGE_LIMIT >> 30
            )));
        }
        hasher.update(&buf[..n]);
    }
    Ok((Digest::from_hasher(hasher), size))
}

/// Every image that becomes a bundle object, once per digest, in a stable order: profile
/// images and Pi tree files the site mirrors, and every boot file (TFTP clients can only get it from the
/// bundle, whatever `mirror` says).
pub(crate) fn mirrored(config: &Config) -> BTreeMap<Digest, &ImageSpec> {
    let mut out = BTreeMap::new();
    let profile_images = config.profiles.values().flat_map(|p| p.images.values());
    for image in profile_images.filter(|i| config.site.mirrors(i)) {
        out.entry(image.sha256).or_insert(image);
    }
    for file in &config.site.boot_files {
        out.entry(file.image.sha256).or_insert(&file.image);
    }
    // A Pi's tree files are served over TFTP only (pi::check_board holds them local or
    // mirrored).
    let pi_files = config.profiles.values().flat_map(|p| p.pi_files.values());
    for image in pi_files.filter(|i| config.site.mirrors(i)) {
        out.entry(image.sha256).or_insert(image);
    }
    out
}

/// The file a local image is read from; `None` for a URL.
pub fn local_path(image: &ImageSpec, loader: &Loader) -> Option<PathBuf> {
    match &image.location {
        ImageLocation::Path { relative, .. } => Some(loader.full_path(relative)),
        ImageLocation::Url(_) => None,
    }
}

/// `check`: local images exist. No hashing of large files, no network.
pub fn check_local(config: &Config, loader: &Loader, diags: &mut Diagnostics) {
    for image in mirrored(config).values() {
        if let ImageLocation::Path { display, relative } = &image.location
            && !loader.full_path(relative).is_file()
        {
            diags.push(not_found(image, display));
        }
    }
}

/// `build`: a verified local file for every mirrored image, downloading what is missing.
pub fn resolve(
    config: &Config,
    loader: &Loader,
    cache: &ImageCache,
    diags: &mut Diagnostics,
) -> BTreeMap<Digest, ImageFile> {
    let wanted: Vec<(Digest, &ImageSpec)> = mirrored(config).into_iter().collect();
    let results: Vec<Result<ImageFile, Box<Diagnostic>>> = wanted
        .par_iter()
        .map(|(digest, image)| resolve_one(image, digest, loader, cache))
        .collect();
    let mut files = BTreeMap::new();
    for ((digest, _), result) in wanted.into_iter().zip(results) {
        match result {
            Ok(file) => {
                files.insert(digest, file);
            }
            Err(d) => {
                diags.push(*d);
            }
        }
    }
    files
}

fn resolve_one(
    image: &ImageSpec,
    digest: &Digest,
    loader: &Loader,
    cache: &ImageCache,
) -> Result<ImageFile, Box<Diagnostic>> {
    let (path, what) = match &image.location {
        ImageLocation::Path { display, relative } => {
            let path = loader.full_path(relative);
            if !path.is_file() {
                return Err(Box::new(not_found(image, display)));
            }
            (path, display.clone())
        }
        ImageLocation::Url(url) => {
            let path = cache.fetch(url, digest).map_err(|e| {
                let mut d = Diagnostic::error(
                    Code::ImageFetch,
                    &image.source,
                    image.location_span.clone(),
                    format!("cannot download image `{}` from {url}: {e}", image.role),
                );
                d.label("download failed")
                    .help("check the URL and the network, or use path= with a local copy");
                Box::new(d)
            })?;
            (path, url.clone())
        }
    };
    let (actual, size) = hash_file(&path).map_err(|e| {
        let mut d = Diagnostic::error(
            Code::Io,
            &image.source,
            image.location_span.clone(),
            format!("cannot read image `{}` ({what}): {e}", image.role),
        );
        d.label("unreadable");
        Box::new(d)
    })?;
    if actual != *digest {
        if matches!(image.location, ImageLocation::Url(_)) {
            // Never keep a wrong download: the next build fetches again.
            let _ = fs::remove_file(&path);
        }
        let mut d = Diagnostic::error(
            Code::DigestMismatch,
            &image.source,
            image.sha256_span.clone(),
            format!(
                "image `{}` ({what}) does not match its sha256: expected {digest}, found {actual}",
                image.role
            ),
        );
        d.label("expected this digest")
            .related(
                &image.source,
                image.location_span.clone(),
                format!("this has {actual}"),
            )
            .help(format!(
                "if the new file is the one you want, pin it: sha256=\"{}\"",
                actual.hex()
            ));
        return Err(Box::new(d));
    }
    Ok(ImageFile { path, size })
}

fn not_found(image: &ImageSpec, display: &str) -> Diagnostic {
    let mut d = Diagnostic::error(
        Code::ImageNotFound,
        &image.source,
        image.location_span.clone(),
        format!("image `{}`: file `{display}` does not exist", image.role),
    );
    d.label("no such file")
        .help("`path=` is relative to the KDL file that names it");
    d
}
