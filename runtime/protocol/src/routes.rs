//! The routes a compiled bundle has (SPEC.md §5), built and parsed back here only. Readers
//! treat routes as opaque paths; these are for the compiler that makes them and for the
//! few readers that look for one kind (the proxy prefetches scripts and TFTP files and
//! tells a by-MAC script's MAC; `diff` compares machine scripts; `status` matches them).

use crate::Mac;

/// The dispatcher.
pub const DISPATCHER: &str = "boot.ipxe";
/// What unregistered machines get.
pub const UNKNOWN_MACHINE: &str = "machines/unknown.ipxe";
/// Every machine script lives under this.
pub const MACHINES: &str = "machines/";
/// TFTP file `X` is route `tftp/X`.
pub const TFTP: &str = "tftp/";
/// Machines' provisioning files (Ignition, Talos, cloud-init) live under this.
pub const FILES: &str = "files/";
/// Not in any bundle: what a machine script asks for when it refuses an image, so the
/// proxy's boot status records why the machine did not boot (servers answer 404).
pub const REFUSED: &str = "refused/";
/// Mirrored images and their manifests live under this.
const IMAGES: &str = "images/";
const IMAGE_MANIFEST_SUFFIX: &str = ".json";
/// Machine scripts by MAC: `machines/by-mac/<hexhyp>.ipxe`.
const BY_MAC: &str = "machines/by-mac/";
const SCRIPT_SUFFIX: &str = ".ipxe";

/// The route of TFTP file `name`.
pub fn tftp(name: &str) -> String {
    format!("{TFTP}{name}")
}

/// The TFTP name of route `tftp/<name>`; `None` for other routes.
pub fn tftp_name(route: &str) -> Option<&str> {
    route.strip_prefix(TFTP)
}

/// A Raspberry Pi boot tree's kernel, as its `config.txt` names it.
pub const PI_KERNEL: &str = "kernel8.img";
/// A Raspberry Pi boot tree's initramfs, as its `config.txt` names it.
pub const PI_INITRAMFS: &str = "initramfs8";
/// The file a Pi bootloader fetches first.
pub const PI_CONFIG: &str = "config.txt";

/// The route of file `path` of a Raspberry Pi's boot tree: TFTP file `<serial>/<path>`.
pub fn pi_tree(serial: &str, path: &str) -> String {
    format!("{TFTP}{serial}/{path}")
}

/// The serial and path of a route a Pi bootloader asks for (`tftp/<8 hex>/<path>`, found
/// or not); `None` for other routes.
pub fn pi_tree_file(route: &str) -> Option<(&str, &str)> {
    let (serial, path) = route.strip_prefix(TFTP)?.split_once('/')?;
    (serial.len() == 8 && serial.bytes().all(|b| b.is_ascii_hexdigit())).then_some((serial, path))
}

pub fn machine_by_name(name: &str) -> String {
    format!("{MACHINES}by-name/{name}{SCRIPT_SUFFIX}")
}

/// The script route of `mac`, named as iPXE's `${mac:hexhyp}` prints it.
pub fn machine_by_mac(mac: &Mac) -> String {
    format!("{BY_MAC}{}{SCRIPT_SUFFIX}", mac.hexhyp())
}

/// Whether `route` is a by-MAC script route (well-formed or not): a 404 for one is an
/// unknown machine asking.
pub fn is_machine_by_mac(route: &str) -> bool {
    route.starts_with(BY_MAC)
}

/// The MAC a by-MAC script route names (`machines/by-mac/52-54-00-1A-00-99.ipxe`; hex in
/// either case, as iPXE only ever asks in `hexhyp` form); `None` for other routes and
/// anything that is not a MAC address there.
pub fn mac_of_machine_by_mac(route: &str) -> Option<Mac> {
    let hexhyp = route.strip_prefix(BY_MAC)?.strip_suffix(SCRIPT_SUFFIX)?;
    Mac::parse(hexhyp).filter(|mac| mac.hexhyp().eq_ignore_ascii_case(hexhyp))
}

/// Whether `route` is a machine script: one of a machine's, or [`UNKNOWN_MACHINE`].
pub fn is_machine_script(route: &str) -> bool {
    route.starts_with(MACHINES) && route.ends_with(SCRIPT_SUFFIX)
}

pub fn machine_by_uuid(uuid: &str) -> String {
    format!("{MACHINES}by-uuid/{uuid}{SCRIPT_SUFFIX}")
}

/// A profile's image manifest.
pub fn image_manifest(profile: &str) -> String {
    format!("{IMAGES}{profile}{IMAGE_MANIFEST_SUFFIX}")
}

/// A mirrored image of a profile.
pub fn image(profile: &str, role: &str) -> String {
    format!("{IMAGES}{profile}/{role}")
}

/// Whether `route` is a mirrored image ([`image`]), not an image manifest.
pub fn is_image(route: &str) -> bool {
    route.starts_with(IMAGES) && !route.ends_with(IMAGE_MANIFEST_SUFFIX)
}

/// A machine's provisioning file `name`, under the hex digest of the machine's whole
/// set of files (so the directory is not guessable from a machine's name, and NoCloud
/// can append `meta-data`, `user-data`, … to one seed URL).
pub fn provisioning_file(set: &str, name: &str) -> String {
    format!("{FILES}{set}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_mac_routes_are_built_and_parsed_back_in_one_place() {
        let mac = Mac::parse("52:54:00:1a:00:99");
        let route = mac.as_ref().map(machine_by_mac);
        assert_eq!(
            route.as_deref(),
            Some("machines/by-mac/52-54-00-1a-00-99.ipxe")
        );
        assert_eq!(route.as_deref().and_then(mac_of_machine_by_mac), mac);
        assert_eq!(
            mac_of_machine_by_mac("machines/by-mac/52-54-00-1A-00-99.ipxe"),
            mac
        );
        for route in [
            "machines/by-mac/52-54-00-1a-00.ipxe",
            "machines/by-mac/52-54-00-1a-00-zz.ipxe",
            "machines/by-mac/5254-00-1a-00-99-.ipxe",
            "machines/by-mac/52:54:00:1a:00:99.ipxe",
            "machines/by-mac/5254001a0099.ipxe",
            "machines/by-name/52-54-00-1a-00-99.ipxe",
            "machines/by-mac/52-54-00-1a-00-99.ipxe.ipxe",
        ] {
            assert_eq!(mac_of_machine_by_mac(route), None, "{route}");
        }
    }

    #[test]
    fn kinds_of_route_are_told_from_what_builds_them() {
        assert!(is_image(&image("flatcar", "kernel")));
        assert!(!is_image(&image_manifest("flatcar")));
        assert!(is_machine_script(&machine_by_name("web-1")));
        assert!(is_machine_script(UNKNOWN_MACHINE));
        assert!(!is_machine_script("machines/by-name/web-1.json"));
    }

    #[test]
    fn tftp_routes_round_trip() {
        assert_eq!(tftp("ipxe.efi"), "tftp/ipxe.efi");
        assert_eq!(tftp_name(&tftp("ipxe.efi")), Some("ipxe.efi"));
        assert_eq!(tftp_name("boot.ipxe"), None);
    }
}
