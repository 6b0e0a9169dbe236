//! Rendered scripts and resolved images → the release: every object by digest and the
//! manifest that routes URL paths to them. Pure; `write.rs` puts it on disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use netboot_bundle::{
    CONTENT_TYPE_JSON, CONTENT_TYPE_OBJECT, Digest, FORMAT, MachineEntry, Manifest, ProfileEntry,
    RouteEntry,
};
use netboot_protocol::{Mac, Named, routes};
use rayon::prelude::*;
use serde::Serialize;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::images::ImageFile;
use crate::model::{BootFile, Config, ImageLocation, ImageSpec, Profile};
use crate::pi;
use crate::render::Renderer;
use crate::render::{FileSet, MachineOutput, PiFiles};
use crate::script::Script;

pub(crate) const CONTENT_TYPE_SCRIPT: &str = "text/plain; charset=utf-8";

/// The script a signed iPXE (which cannot embed one) fetches from its TFTP directory.
pub const AUTOEXEC: &str = "autoexec.ipxe";

/// Where an object's bytes come from.
#[derive(Debug, Clone)]
pub enum Object {
    Bytes(Arc<[u8]>),
    /// A verified local image (copied, and checked again, when written).
    File(ImageFile),
}

impl Object {
    pub(crate) fn size(&self) -> u64 {
        match self {
            Self::Bytes(b) => b.len() as u64,
            Self::File(f) => f.size,
        }
    }
}

/// A whole release, ready to write.
#[derive(Debug)]
pub struct Release {
    pub manifest: Manifest,
    /// The manifest's canonical bytes; its digest names the release.
    pub manifest_bytes: Arc<[u8]>,
    pub digest: Digest,
    /// Every object, the manifest included.
    pub objects: BTreeMap<Digest, Object>,
}

/// The scripts of one build, in `config.machines` order.
#[derive(Debug)]
pub struct Scripts {
    pub dispatcher: Script,
    pub unknown: Script,
    pub machines: Vec<MachineOutput>,
    /// What rendered them: renders a provisioning file again, with stand-ins for the
    /// secrets, for anything that shows it.
    pub renderer: Arc<Renderer>,
}

#[derive(Serialize)]
struct ImageManifest<'a> {
    format: &'static str,
    profile: &'a str,
    arch: &'a str,
    images: Vec<ImageRecord<'a>>,
}

#[derive(Serialize)]
struct ImageRecord<'a> {
    role: &'a str,
    /// What boot scripts fetch.
    url: String,
    /// Where the build took it from: the upstream URL or the config-relative path.
    source: &'a str,
    sha256: Digest,
    /// Known for mirrored images; `null` for upstream URLs the build never fetched.
    size: Option<u64>,
    mirrored: bool,
}

/// A machine's rendered output with its script hashed.
struct HashedMachine {
    digest: Digest,
    script: Arc<[u8]>,
    files: FileSet,
    pi: Option<PiFiles>,
}

#[derive(Default)]
struct Builder {
    manifest: Manifest,
    objects: BTreeMap<Digest, Object>,
}

impl Builder {
    fn add(&mut self, digest: Digest, object: Object, routes: &[String], content_type: &str) {
        for route in routes {
            self.manifest.routes.insert(
                route.clone(),
                RouteEntry {
                    object: digest,
                    size: object.size(),
                    content_type: content_type.to_owned(),
                },
            );
        }
        self.objects.entry(digest).or_insert(object);
    }

    fn add_bytes(&mut self, bytes: Vec<u8>, routes: &[String], content_type: &str) -> Digest {
        let digest = Digest::of(&bytes);
        self.add(digest, Object::Bytes(bytes.into()), routes, content_type);
        digest
    }

    /// A Raspberry Pi's boot tree under `tftp/<serial>/`: its profile's images (shared
    /// objects) and its own `config.txt` and `cmdline.txt`.
    fn add_pi_tree(
        &mut self,
        serial: &str,
        profile: &Profile,
        files: PiFiles,
        images: &BTreeMap<Digest, ImageFile>,
    ) {
        for (path, image) in pi::tree_images(profile) {
            // `check` made every tree image a bundle object (pi::check_board).
            if let Some(file) = images.get(&image.sha256) {
                self.add(
                    image.sha256,
                    Object::File(file.clone()),
                    &[routes::pi_tree(serial, path)],
                    CONTENT_TYPE_OBJECT,
                );
            }
        }
        for (path, text) in [
            (pi::CONFIG_TXT, files.config_txt),
            (pi::CMDLINE_TXT, files.cmdline_txt),
        ] {
            self.add_bytes(
                text.into_bytes(),
                &[routes::pi_tree(serial, path)],
                CONTENT_TYPE_SCRIPT,
            );
        }
    }

    /// Each machine's script under its routes (by name, MAC, UUID), its provisioning
    /// files, its Pi boot tree, and its manifest entry.
    fn add_machines(
        &mut self,
        config: &Config,
        machines: Vec<MachineOutput>,
        images: &BTreeMap<Digest, ImageFile>,
    ) {
        // Hashing thousands of scripts is the hot part of a large build: do it in parallel,
        // then insert in machine order.
        let hashed: Vec<HashedMachine> = machines
            .into_par_iter()
            .map(|out| {
                let script: Arc<[u8]> = out.script.text.into_bytes().into();
                HashedMachine {
                    digest: Digest::of(&script),
                    script,
                    files: out.files,
                    pi: out.pi,
                }
            })
            .collect();
        for (machine, hashed) in config.machines.iter().zip(hashed) {
            let HashedMachine {
                digest,
                script: bytes,
                files,
                pi,
            } = hashed;
            if let (Some(board), Some(pi)) = (&machine.pi, pi) {
                self.add_pi_tree(
                    &board.value.serial,
                    &config.profiles[&machine.profile],
                    pi,
                    images,
                );
            }
            let mut machine_routes = vec![routes::machine_by_name(&machine.name)];
            machine_routes.extend(machine.macs.iter().map(routes::machine_by_mac));
            machine_routes.extend(
                machine
                    .uuid
                    .iter()
                    .map(|uuid| routes::machine_by_uuid(uuid)),
            );
            machine_routes.sort();
            self.add(
                digest,
                Object::Bytes(bytes),
                &machine_routes,
                CONTENT_TYPE_SCRIPT,
            );
            for file in &files.files {
                self.add(
                    file.digest,
                    Object::Bytes(Arc::clone(&file.bytes)),
                    &[files.route(&file.name)],
                    &file.content_type,
                );
            }
            self.manifest.machines.insert(
                machine.name.clone(),
                MachineEntry {
                    profile: machine.profile.clone(),
                    macs: machine.macs.iter().map(Mac::hexhyp).collect(),
                    routes: machine_routes,
                    files: files
                        .files
                        .iter()
                        .map(|f| (f.name.clone(), f.digest))
                        .collect(),
                },
            );
        }
    }

    /// Each profile's image manifest, and its images that are bundle objects.
    fn add_profiles(&mut self, config: &Config, images: &BTreeMap<Digest, ImageFile>) {
        for profile in config.profiles.values() {
            let image_manifest = image_manifest(config, profile, images);
            let digest = self.add_bytes(
                image_manifest,
                &[routes::image_manifest(&profile.name)],
                CONTENT_TYPE_JSON,
            );
            self.manifest.profiles.insert(
                profile.name.clone(),
                ProfileEntry {
                    image_manifest: digest,
                },
            );
            for image in profile.images.values() {
                if let Some(file) = images.get(&image.sha256) {
                    let route = routes::image(&profile.name, &image.role);
                    self.add(
                        image.sha256,
                        Object::File(file.clone()),
                        &[route],
                        CONTENT_TYPE_OBJECT,
                    );
                }
            }
        }
    }

    /// The site's boot files under `tftp/<name>`, and which firmware class gets which;
    /// false if a name collides with a route (reported).
    fn add_boot_files(
        &mut self,
        config: &Config,
        images: &BTreeMap<Digest, ImageFile>,
        diags: &mut Diagnostics,
    ) -> bool {
        let mut sound = true;
        for BootFile {
            image: file,
            firmware,
            secure_boot,
        } in &config.site.boot_files
        {
            let route = routes::tftp(&file.role);
            if self.manifest.routes.contains_key(&route) {
                diags
                    .push(Diagnostic::error(
                        Code::DuplicateField,
                        &file.source,
                        file.span.clone(),
                        format!("boot file `{}` collides with route `{route}`", file.role),
                    ))
                    .label("name already taken")
                    .help("`tftp/boot.ipxe` is the dispatcher; give the boot file another name");
                sound = false;
                continue;
            }
            if let Some(local) = images.get(&file.sha256) {
                self.add(
                    file.sha256,
                    Object::File(local.clone()),
                    std::slice::from_ref(&route),
                    CONTENT_TYPE_OBJECT,
                );
            }
            // A Secure Boot first stage is served by name, never as a class's default.
            if let Some(firmware) = firmware.as_ref().filter(|_| !secure_boot) {
                self.manifest
                    .firmware
                    .insert(firmware.value.name().to_owned(), route);
            }
        }
        sound
    }
}

impl Builder {
    /// Each Secure Boot machine's MACs → its class's Secure Boot first stage, for
    /// proxyDHCP (`dhcp-config` writes the same by MAC for routers).
    fn add_secure_boot_macs(&mut self, config: &Config) {
        for machine in config.machines.iter().filter(|m| m.secure_boot) {
            let Some(profile) = config.profiles.get(&machine.profile) else {
                continue;
            };
            let Some(file) = config.site.secure_boot_file(profile.arch.uefi()) else {
                continue; // `check` reports it (secure-boot-chain)
            };
            for mac in &machine.macs {
                self.manifest
                    .secure_boot
                    .insert(mac.hexhyp(), routes::tftp(&file.image.role));
            }
        }
    }
}

pub fn assemble(
    config: &Config,
    scripts: Scripts,
    images: &BTreeMap<Digest, ImageFile>,
    diags: &mut Diagnostics,
) -> Option<Release> {
    let mut b = Builder::default();
    b.add_bytes(
        scripts.dispatcher.text.into_bytes(),
        &[
            routes::DISPATCHER.to_owned(),
            routes::tftp(routes::DISPATCHER),
        ],
        CONTENT_TYPE_SCRIPT,
    );
    b.add_bytes(
        scripts.unknown.text.into_bytes(),
        &[routes::UNKNOWN_MACHINE.to_owned()],
        CONTENT_TYPE_SCRIPT,
    );
    b.add_machines(config, scripts.machines, images);
    b.add_profiles(config, images);
    // A Secure Boot iPXE carries no embedded script: it runs `autoexec.ipxe` from its TFTP
    // directory, which chains the dispatcher as the bootstrap script does. Added before the
    // boot files, so a boot file of that name is reported as a collision.
    if config.site.boot_files.iter().any(|f| f.secure_boot) {
        b.add_bytes(
            crate::bootstrap::script(&config.site).into_bytes(),
            &[routes::tftp(AUTOEXEC)],
            CONTENT_TYPE_SCRIPT,
        );
    }
    if !b.add_boot_files(config, images, diags) {
        return None;
    }
    b.add_secure_boot_macs(config);

    let manifest = b.manifest;
    let manifest_bytes: Arc<[u8]> = manifest.to_canonical().into();
    let digest = Digest::of(&manifest_bytes);
    b.objects
        .insert(digest, Object::Bytes(Arc::clone(&manifest_bytes)));
    Some(Release {
        manifest,
        manifest_bytes,
        digest,
        objects: b.objects,
    })
}

fn image_manifest<'a>(
    config: &Config,
    profile: &'a Profile,
    images: &BTreeMap<Digest, ImageFile>,
) -> Vec<u8> {
    let record = |image: &'a ImageSpec| {
        let mirrored = config.site.mirrors(image);
        ImageRecord {
            role: &image.role,
            url: config.site.image_url(image),
            source: match &image.location {
                ImageLocation::Url(url) => url,
                ImageLocation::Path { relative, .. } => relative,
            },
            sha256: image.sha256,
            size: images
                .get(&image.sha256)
                .filter(|_| mirrored)
                .map(|f| f.size),
            mirrored,
        }
    };
    let manifest = ImageManifest {
        format: FORMAT,
        profile: &profile.name,
        arch: profile.arch.name(),
        images: profile.images.values().map(record).collect(),
    };
    netboot_bundle::canonical::to_vec(&manifest).expect("an image manifest always serialises")
}
