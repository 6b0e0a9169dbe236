//! What the simulated client's URLs resolve to: the bundle's routes and objects under the
//! site's URLs (the proxy's in `via-proxy` mode, and the origin), and upstream URLs of
//! images the bundle does not mirror.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use netboot_bundle::{BundleDir, Digest, Manifest};
use netboot_ipxe::{Loaded, Origin};
use netboot_protocol::routes;

use crate::bundle::Scripts;
use crate::model::Config;

fn bases(config: &Config) -> Vec<String> {
    let mut bases = vec![config.site.base_url().to_owned()];
    let origin = config.site.origin.trim_end_matches('/').to_owned();
    if !bases.contains(&origin) {
        bases.push(origin);
    }
    bases
}

/// A compiled config, before anything is written: what `check` simulates against.
#[derive(Debug, Default)]
pub struct MemoryOrigin {
    bases: Vec<String>,
    routes: HashMap<String, Digest>,
    objects: HashSet<Digest>,
    scripts: HashMap<Digest, Arc<str>>,
    /// Upstream image URLs, with their pinned sha256.
    upstream: HashMap<String, Digest>,
}

impl MemoryOrigin {
    pub fn new(config: &Config, scripts: &Scripts) -> Self {
        let mut origin = Self {
            bases: bases(config),
            ..Self::default()
        };
        let dispatcher = origin.add_script(&scripts.dispatcher.text);
        origin.add_route(routes::DISPATCHER.to_owned(), dispatcher);
        origin.add_route(routes::tftp(routes::DISPATCHER), dispatcher);
        let unknown = origin.add_script(&scripts.unknown.text);
        origin.add_route(routes::UNKNOWN_MACHINE.to_owned(), unknown);
        for (machine, output) in config.machines.iter().zip(&scripts.machines) {
            let digest = origin.add_script(&output.script.text);
            origin.add_route(routes::machine_by_name(&machine.name), digest);
            for mac in &machine.macs {
                origin.add_route(routes::machine_by_mac(mac), digest);
            }
            if let Some(uuid) = &machine.uuid {
                origin.add_route(routes::machine_by_uuid(uuid), digest);
            }
            for file in &output.files.files {
                origin.add_route(output.files.route(&file.name), file.digest);
            }
        }
        for profile in config.profiles.values() {
            for image in profile.images.values() {
                if config.site.mirrors(image) {
                    origin.add_route(routes::image(&profile.name, &image.role), image.sha256);
                } else {
                    origin
                        .upstream
                        .insert(config.site.image_url(image), image.sha256);
                }
            }
        }
        for file in &config.site.boot_files {
            origin.add_route(routes::tftp(&file.image.role), file.image.sha256);
        }
        origin
    }

    fn add_script(&mut self, text: &str) -> Digest {
        let digest = Digest::of(text.as_bytes());
        self.scripts.entry(digest).or_insert_with(|| text.into());
        digest
    }

    fn add_route(&mut self, route: String, digest: Digest) {
        self.objects.insert(digest);
        self.routes.insert(route, digest);
    }
}

impl Origin for MemoryOrigin {
    fn bases(&self) -> &[String] {
        &self.bases
    }

    fn route(&self, route: &str) -> Option<Digest> {
        self.routes.get(route).copied()
    }

    fn has_object(&self, digest: &Digest) -> bool {
        self.objects.contains(digest)
    }

    fn script(&self, digest: &Digest) -> Option<Arc<str>> {
        self.scripts.get(digest).cloned()
    }

    fn is_upstream(&self, url: &str) -> bool {
        self.upstream.contains_key(url)
    }

    /// The compiler made each object from bytes of that digest.
    fn image_digest(&self, image: &Loaded) -> Option<Digest> {
        image
            .object
            .or_else(|| self.upstream.get(&image.url).copied())
    }
}

/// A built bundle directory (`out/`): its current release, read as servers read it.
#[derive(Debug)]
pub struct BundleOrigin {
    bases: Vec<String>,
    dir: BundleDir,
    manifest: Manifest,
    objects: HashSet<Digest>,
    /// Upstream image URLs, with their pinned sha256.
    upstream: HashMap<String, Digest>,
}

/// Scripts are small; anything larger is not one.
const SCRIPT_LIMIT: u64 = 1024 * 1024;

impl BundleOrigin {
    /// The release `current` names in `dir`, served under the config's site URLs.
    pub fn open(dir: BundleDir, config: &Config) -> Result<Self, String> {
        let (_, manifest) = dir
            .open_current()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} has no `current`: build it first", dir.root().display()))?;
        let referenced: BTreeMap<Digest, _> = manifest.referenced();
        let mut upstream = HashMap::new();
        for profile in manifest.profiles.values() {
            let bytes = dir
                .read_object(&profile.image_manifest, SCRIPT_LIMIT)
                .map_err(|e| e.to_string())?;
            let images: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            for image in images["images"].as_array().into_iter().flatten() {
                if image["mirrored"] == false
                    && let Some(url) = image["url"].as_str()
                    && let Some(sha256) = image["sha256"]
                        .as_str()
                        .and_then(|hex| Digest::from_hex(hex.trim_start_matches("sha256:")).ok())
                {
                    upstream.insert(url.to_owned(), sha256);
                }
            }
        }
        Ok(Self {
            bases: bases(config),
            objects: referenced.into_keys().collect(),
            dir,
            manifest,
            upstream,
        })
    }
}

impl Origin for BundleOrigin {
    fn bases(&self) -> &[String] {
        &self.bases
    }

    fn route(&self, route: &str) -> Option<Digest> {
        self.manifest.routes.get(route).map(|r| r.object)
    }

    fn has_object(&self, digest: &Digest) -> bool {
        self.objects.contains(digest)
    }

    fn script(&self, digest: &Digest) -> Option<Arc<str>> {
        let bytes = self.dir.read_object(digest, SCRIPT_LIMIT).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        text.starts_with("#!ipxe").then(|| text.into())
    }

    fn is_upstream(&self, url: &str) -> bool {
        self.upstream.contains_key(url)
    }

    /// An object's digest as its bytes on disk say, not its name: a store whose object
    /// was swapped is what `sha256sum` in a script is there to catch.
    fn image_digest(&self, image: &Loaded) -> Option<Digest> {
        match image.object {
            Some(object) => {
                let mut file = std::fs::File::open(self.dir.object_file(&object)).ok()?;
                Digest::of_reader(&mut file).ok()
            }
            None => self.upstream.get(&image.url).copied(),
        }
    }
}
