use crate::Digest;

/// The pointer file at the root of a bundle.
pub const CURRENT: &str = "current";
/// Where objects live, relative to the bundle root.
pub const OBJECTS_DIR: &str = "objects/sha256";

/// `objects/sha256/<hex>`: an object's path relative to the bundle root (and its route).
pub fn object_path(digest: &Digest) -> String {
    format!("{OBJECTS_DIR}/{}", digest.hex())
}

/// The routes a compiled bundle has (SPEC.md §5). Readers treat routes as opaque paths;
/// these are for the compiler that makes them and for the few readers that look for one
/// kind (the proxy prefetches scripts and TFTP files; `diff` compares machine scripts).
pub mod routes {
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

    /// The route of TFTP file `name`.
    pub fn tftp(name: &str) -> String {
        format!("{TFTP}{name}")
    }

    pub fn machine_by_name(name: &str) -> String {
        format!("{MACHINES}by-name/{name}.ipxe")
    }

    /// `mac` as iPXE's `${mac:hexhyp}` prints it.
    pub fn machine_by_mac(mac: &str) -> String {
        format!("{MACHINES}by-mac/{mac}.ipxe")
    }

    pub fn machine_by_uuid(uuid: &str) -> String {
        format!("{MACHINES}by-uuid/{uuid}.ipxe")
    }

    /// A profile's image manifest.
    pub fn image_manifest(profile: &str) -> String {
        format!("images/{profile}.json")
    }

    /// A mirrored image of a profile.
    pub fn image(profile: &str, role: &str) -> String {
        format!("images/{profile}/{role}")
    }

    /// A machine's provisioning file `name`, under the hex digest of the machine's whole
    /// set of files (so the directory is not guessable from a machine's name, and NoCloud
    /// can append `meta-data`, `user-data`, … to one seed URL).
    pub fn provisioning_file(set: &str, name: &str) -> String {
        format!("{FILES}{set}/{name}")
    }
}

/// Checks that `route` is a safe relative URL path: non-empty segments of printable ASCII
/// without `\`, `%`, `..` or `.`, no leading or trailing slash, at most 1024 bytes.
/// Servers use it before looking a request up; the compiler uses it before writing routes.
pub fn check_route(route: &str) -> Result<(), &'static str> {
    if route.is_empty() {
        return Err("empty route");
    }
    if route.len() > 1024 {
        return Err("route longer than 1024 bytes");
    }
    for segment in route.split('/') {
        if segment.is_empty() {
            return Err("empty path segment (leading, trailing or double slash)");
        }
        if segment == "." || segment == ".." {
            return Err("`.` or `..` path segment");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'%')
        {
            return Err("characters outside printable ASCII, `\\` or `%`");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bundle_routes() {
        for ok in [
            "boot.ipxe",
            "machines/by-mac/52-54-00-aa-00-01.ipxe",
            "images/flatcar-stable/kernel",
            "tftp/ipxe.efi",
        ] {
            assert_eq!(check_route(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_traversal_and_junk() {
        let long = "a".repeat(1025);
        for bad in [
            "",
            "/boot.ipxe",
            "a//b",
            "a/",
            "../etc/passwd",
            "a/./b",
            "a\\b",
            "a%2e",
            "a b",
            "a\0b",
            "é",
            &long,
        ] {
            assert!(check_route(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn object_path_uses_bare_hex() {
        let d = Digest::of(b"");
        assert_eq!(
            object_path(&d),
            "objects/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
