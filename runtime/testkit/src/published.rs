//! Helpers for the tests of publishing (the store library's and the CLI's): hand-made
//! bundles, one-call publishes, and a reader that checks a release is complete.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use netboot_bundle::{
    BundleDir, Digest, MachineEntry, Manifest, Pointer, ProfileEntry, RouteEntry,
};
use netboot_store::publish::{self, PublishOptions, PublishReport, Silent};
use netboot_store::{Location, StoreError, read};

use crate::CountingStore;

/// Writes a bundle like `netbootc build` does: `machines` scripts (their text depends on
/// `variant`), a dispatcher shared by all variants, one profile, `current` last.
pub fn make_bundle(dir: &Path, machines: usize, variant: &str) -> Digest {
    let bundle = BundleDir::new(dir);
    let mut manifest = Manifest::new();
    let add = |m: &mut Manifest, route: &str, bytes: &[u8], ct: &str| {
        let (digest, _) = bundle.store_object(bytes).expect("store");
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
                files: Default::default(),
            },
        );
    }
    let (digest, _) = bundle
        .store_object(&manifest.to_canonical())
        .expect("store manifest");
    bundle
        .write_pointer(&Pointer::new(digest))
        .expect("pointer");
    digest
}

/// A single-threaded runtime for one test's async steps.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A location whose store is wrapped in a [`CountingStore`], keeping its other settings.
pub fn counted(location: &Location) -> (Location, Arc<CountingStore>) {
    let counting = CountingStore::new(location.store.clone());
    let mut wrapped = location.clone();
    wrapped.store = counting.clone();
    (wrapped, counting)
}

/// Plans and executes a publish with the default options.
pub async fn publish(source: &Path, location: &Location) -> Result<PublishReport, StoreError> {
    publish_with(source, location, &PublishOptions::default()).await
}

/// Plans and executes a publish.
pub async fn publish_with(
    source: &Path,
    location: &Location,
    options: &PublishOptions,
) -> Result<PublishReport, StoreError> {
    let plan = publish::plan_publish(source, location).await?;
    publish::execute_publish(&plan, location, options, &Silent).await
}

/// What a server would do: read `current`, the manifest, and every object it names, each
/// verified. Returns the manifest digest.
pub async fn read_complete(location: &Location) -> Digest {
    let (digest, manifest) = read::read_current(location).await.expect("current");
    for d in manifest.referenced().into_keys() {
        read::get_object(location, &d, u64::MAX)
            .await
            .expect("object");
    }
    digest
}

/// One round of a publish, a gc and a rollback racing on `location`. The store serves a
/// release newer than `older`, whose objects are still stored but unreachable from the
/// newest release: the publish of `older` re-uses objects that the gc (keep 1, no grace)
/// wants to delete, and the rollback moves `current` meanwhile. Returns the outcome of each
/// (publish, gc, rollback); whatever they are, `current` must afterwards name a complete
/// release ([`read_complete`]).
pub async fn race(location: &Location, older: &Path) -> [Result<(), StoreError>; 3] {
    use netboot_store::{gc, rollback};
    let publishing = {
        let (location, older) = (location.clone(), older.to_owned());
        tokio::spawn(async move { publish(&older, &location).await.map(|_| ()) })
    };
    let collecting = {
        let location = location.clone();
        tokio::spawn(async move {
            let plan =
                gc::plan_gc(&location, 1, std::time::Duration::ZERO, SystemTime::now()).await?;
            gc::execute_gc(&plan, &location).await.map(|_| ())
        })
    };
    let rolling_back = {
        let location = location.clone();
        tokio::spawn(async move {
            let plan = rollback::plan_rollback(&location, None).await?;
            rollback::execute_rollback(&plan, &location)
                .await
                .map(|_| ())
        })
    };
    let joined = |r: Result<Result<(), StoreError>, tokio::task::JoinError>| {
        r.unwrap_or_else(|e| panic!("a racing task panicked: {e}"))
    };
    [
        joined(publishing.await),
        joined(collecting.await),
        joined(rolling_back.await),
    ]
}
