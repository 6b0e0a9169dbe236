//! Shared by the publish tests: hand-made bundles, the request-counting / crash-injecting
//! store wrapper (from netboot-testkit), and a reader that checks a release is complete.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use netboot_bundle::{BundleDir, Digest, MachineEntry, Manifest, ProfileEntry, RouteEntry};
use netbootc::publish::{self, Progress, PublishError, PublishOptions, PublishReport};
use netbootc::release;
use netbootc::store::Target;

/// Writes a bundle like `netbootc build` does: `machines` scripts (their text depends on
/// `variant`), a dispatcher shared by all variants, one profile, `current` last.
pub fn make_bundle(dir: &Path, machines: usize, variant: &str) -> Digest {
    let bundle = BundleDir::new(dir);
    let mut manifest = Manifest::new();
    let add = |m: &mut Manifest, route: &str, bytes: &[u8], ct: &str| {
        let (digest, _) = bundle.store_object(bytes).unwrap();
        m.routes.insert(
            route.to_owned(),
            RouteEntry {
                object: digest,
                size: bytes.len() as u64,
                content_type: ct.to_owned(),
            },
        );
        digest
    };
    add(
        &mut manifest,
        "boot.ipxe",
        b"#!ipxe\nchain machines/by-name/x.ipxe\n",
        "text/plain; charset=utf-8",
    );
    let images = format!("{{\"images\":[],\"variant\":\"{variant}\"}}\n");
    let image_manifest = add(
        &mut manifest,
        "images/p.json",
        images.as_bytes(),
        "application/json",
    );
    manifest
        .profiles
        .insert("p".into(), ProfileEntry { image_manifest });
    for i in 0..machines {
        let name = format!("node-{i:03}");
        let route = format!("machines/by-name/{name}.ipxe");
        let text = format!("#!ipxe\necho {name} {variant}\n");
        add(
            &mut manifest,
            &route,
            text.as_bytes(),
            "text/plain; charset=utf-8",
        );
        manifest.machines.insert(
            name,
            MachineEntry {
                profile: "p".into(),
                macs: vec![],
                routes: vec![route],
            },
        );
    }
    let (digest, _) = bundle.store_object(&manifest.to_canonical()).unwrap();
    bundle.write_pointer(&digest).unwrap();
    digest
}

pub use netboot_testkit::CountingStore as Counting;

/// A single-threaded runtime for one test's async steps.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A target whose store is wrapped in [`Counting`], keeping the target's other settings.
pub fn counted(target: &Target) -> (Target, Arc<Counting>) {
    let counting = Counting::new(target.store.clone());
    let mut wrapped = target.clone();
    wrapped.store = counting.clone();
    (wrapped, counting)
}

pub async fn publish(source: &Path, target: &Target) -> Result<PublishReport, PublishError> {
    publish_with(source, target, &PublishOptions::default()).await
}

pub async fn publish_with(
    source: &Path,
    target: &Target,
    options: &PublishOptions,
) -> Result<PublishReport, PublishError> {
    let plan = publish::plan_publish(source, target).await?;
    publish::execute_publish(&plan, target, options, &Progress::quiet()).await
}

/// What a server would do: read `current`, the manifest, and every object it routes to,
/// each verified. Returns the manifest digest.
pub async fn read_complete(target: &Target) -> Digest {
    let (digest, manifest) = publish::load_current(target).await.unwrap();
    for d in release::reachable_from(&digest, &manifest) {
        release::get_object(target, &d, u64::MAX).await.unwrap();
    }
    digest
}
