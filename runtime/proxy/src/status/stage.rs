//! One request of a boot, as the proxy saw it.

use std::borrow::Cow;

use netboot_bundle::Digest;
use netboot_protocol::status::{StageKind, StageStatus};
use netboot_protocol::{Transport, routes};

use crate::clock::{Timestamp, rfc3339};

/// The most of a route a stage keeps. The release's routes are shorter; longer ones are
/// names nobody has (a TFTP client may ask for 500 bytes of anything), kept as a prefix
/// ending in `…` so a flood of them cannot make the status large.
pub const MAX_ROUTE_BYTES: usize = 128;

/// `route` as a stage keeps it: whole up to [`MAX_ROUTE_BYTES`], else its prefix (cut at a
/// character boundary) and `…`, within the same bound.
pub fn kept_route(route: &str) -> Cow<'_, str> {
    if route.len() <= MAX_ROUTE_BYTES {
        return Cow::Borrowed(route);
    }
    const ELLIPSIS: &str = "…";
    let mut end = MAX_ROUTE_BYTES - ELLIPSIS.len();
    while !route.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{ELLIPSIS}", &route[..end]))
}

/// The kind of a route, before looking at images; `None` for routes no boot is made of
/// (`current`, image manifests, anything unknown).
pub fn kind_of_route(route: &str) -> Option<StageKind> {
    // A Raspberry Pi's tree: its kernel and initramfs by name (no script names them);
    // config.txt, firmware, device trees, overlays and cmdline.txt are its boot files.
    if let Some((_, path)) = routes::pi_tree_file(route) {
        return Some(match path {
            routes::PI_KERNEL => StageKind::Kernel,
            routes::PI_INITRAMFS => StageKind::Initrd,
            _ => StageKind::BootFile,
        });
    }
    if route == routes::DISPATCHER || route == routes::tftp(routes::DISPATCHER) {
        Some(StageKind::Dispatcher)
    } else if route.starts_with(routes::TFTP) {
        Some(StageKind::BootFile)
    } else if routes::is_machine_script(route) {
        Some(StageKind::Script)
    } else if route.starts_with(netboot_bundle::OBJECTS_DIR) || routes::is_image(route) {
        Some(StageKind::Image)
    } else if route.starts_with(routes::FILES) {
        Some(StageKind::File)
    } else if route.starts_with(routes::REFUSED) {
        Some(StageKind::Refused)
    } else {
        None
    }
}

/// A stage: the last request of a boot for one route.
#[derive(Debug, Clone)]
pub struct Stage {
    pub kind: StageKind,
    /// At most [`MAX_ROUTE_BYTES`] ([`kept_route`]).
    pub route: String,
    pub transport: Transport,
    /// The object served (none for a 404).
    pub object: Option<Digest>,
    /// The HTTP status; for TFTP its equivalent (200 served, 404 not in the release, 502
    /// not cached and the origin unreachable, 503 the cache disk failed).
    pub status: u16,
    /// The release served when the request came.
    pub release: Option<Digest>,
    pub started: Timestamp,
    /// When the transfer ended; `None` while it runs.
    pub ended: Option<Timestamp>,
    pub bytes: u64,
    /// Every byte of the whole object went out (a 200 whose body reached its end).
    pub complete: bool,
}

impl Stage {
    /// The stage ended badly: an error status (but a 404 for a script, which is how the
    /// dispatcher looks a machine up), or a transfer cut short.
    pub fn failed(&self) -> bool {
        let lookup_miss = self.kind == StageKind::Script && self.status == 404;
        self.ended.is_some() && !self.complete && !lookup_miss
    }

    /// The bytes this stage holds, as counted against the status's bounds.
    pub fn weight(&self) -> usize {
        size_of::<Self>() + self.route.capacity()
    }

    pub fn to_status(&self) -> StageStatus {
        StageStatus {
            stage: self.kind,
            route: self.route.clone(),
            transport: self.transport,
            object: self.object.map(|d| d.to_string()),
            status: self.status,
            release: self.release.map(|d| d.to_string()),
            started: rfc3339(self.started.wall),
            ended: self.ended.map(|t| rfc3339(t.wall)),
            bytes: self.bytes,
            complete: self.complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_routes_are_kept_as_a_bounded_prefix() {
        assert_eq!(kept_route("tftp/ipxe.efi"), "tftp/ipxe.efi");
        let exact = "a".repeat(MAX_ROUTE_BYTES);
        assert_eq!(kept_route(&exact), exact);
        for long in [
            format!("tftp/{}", "x".repeat(490)),
            format!("tftp/{}", "é".repeat(245)),
            format!("tftp/{}", "😀".repeat(130)),
        ] {
            let kept = kept_route(&long);
            assert!(kept.len() <= MAX_ROUTE_BYTES, "{} bytes", kept.len());
            assert!(kept.ends_with('…') && long.starts_with(kept.trim_end_matches('…')));
        }
    }

    #[test]
    fn routes_are_classified_by_what_they_are_to_a_boot() {
        for (route, kind) in [
            ("tftp/ipxe.efi", Some(StageKind::BootFile)),
            ("tftp/boot.ipxe", Some(StageKind::Dispatcher)),
            ("boot.ipxe", Some(StageKind::Dispatcher)),
            (
                "machines/by-mac/52-54-00-00-00-01.ipxe",
                Some(StageKind::Script),
            ),
            ("machines/unknown.ipxe", Some(StageKind::Script)),
            ("objects/sha256/00", Some(StageKind::Image)),
            ("images/flatcar/kernel", Some(StageKind::Image)),
            ("images/flatcar.json", None),
            ("files/abc/ignition", Some(StageKind::File)),
            ("current", None),
            ("tftp/3a8b1c01/config.txt", Some(StageKind::BootFile)),
            ("tftp/3a8b1c01/overlays/x.dtbo", Some(StageKind::BootFile)),
            ("tftp/3a8b1c01/kernel8.img", Some(StageKind::Kernel)),
            ("tftp/3a8b1c01/initramfs8", Some(StageKind::Initrd)),
            ("tftp/snponly/kernel8.img", Some(StageKind::BootFile)),
        ] {
            assert_eq!(kind_of_route(route), kind, "{route}");
        }
    }
}
