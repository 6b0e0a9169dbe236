use crate::Digest;

/// The pointer file at the root of a bundle.
pub const CURRENT: &str = "current";
/// Where objects live, relative to the bundle root.
pub const OBJECTS_DIR: &str = "objects/sha256";

/// `objects/sha256/<hex>`: an object's path relative to the bundle root (and its route).
pub fn object_path(digest: &Digest) -> String {
    format!("{OBJECTS_DIR}/{}", digest.hex())
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
