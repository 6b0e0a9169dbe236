//! Which objects a machine script boots: its `kernel` and `initrd` lines.
//!
//! The compiler's scripts say `kernel <url> initrd=initrd …` and
//! `initrd --name initrd <url>`, with URLs ending in a route of the bundle (on the proxy
//! they are `http://<proxy>/objects/sha256/<hex>`). The proxy reads the script it served
//! for those URLs, so it can tell the kernel's download from the initrd's and knows when
//! every image of a boot has been fetched. A URL on another server (an image that is not
//! mirrored) names nothing here: the proxy never sees that download.

use netboot_bundle::Digest;

/// Scripts are small; past this the proxy does not look (the status still records the
/// script, just not its images).
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;

/// The images a script boots, as objects of the release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptImages {
    pub kernel: Option<Digest>,
    pub initrds: Vec<Digest>,
}

impl ScriptImages {
    pub fn all(&self) -> impl Iterator<Item = &Digest> {
        self.kernel.iter().chain(&self.initrds)
    }
}

/// Reads `script` for its `kernel` and `initrd` URLs; `resolve` turns a route of the
/// release into its object (`None` if the release has no such route).
pub fn images(script: &[u8], resolve: impl Fn(&str) -> Option<Digest>) -> ScriptImages {
    let mut found = ScriptImages::default();
    let text = String::from_utf8_lossy(script);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let command = words.next();
        if command != Some("kernel") && command != Some("initrd") {
            continue;
        }
        // The image is the first word that is not an option (`--name initrd`, `--autofree`):
        // iPXE's image commands take an argument after `--name` and `--timeout` only.
        let mut url = None;
        while let Some(word) = words.next() {
            if word.starts_with('-') {
                if matches!(word, "--name" | "-n" | "--timeout" | "-t") {
                    words.next();
                }
                continue;
            }
            url = Some(word);
            break;
        }
        let Some(object) = url.and_then(|url| object_of_url(url, &resolve)) else {
            continue;
        };
        if command == Some("kernel") {
            found.kernel.get_or_insert(object);
        } else if !found.initrds.contains(&object) {
            found.initrds.push(object);
        }
    }
    found
}

/// The object a URL names: the longest tail of its path that is a route of the release
/// (the site's base URL may carry a prefix of its own).
fn object_of_url(url: &str, resolve: &impl Fn(&str) -> Option<Digest>) -> Option<Digest> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.split_once('/')?.1;
    let path = path.split(['?', '#']).next()?;
    let mut tail = path;
    loop {
        if let Some(object) = resolve(tail) {
            return Some(object);
        }
        tail = tail.split_once('/')?.1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_and_initrd_are_read_from_the_compilers_lines() {
        let (kernel, initrd, other) = (Digest::of(b"k"), Digest::of(b"i"), Digest::of(b"m"));
        let script = format!(
            "#!ipxe\nimgfree\nkernel http://10.0.0.2:8080/objects/sha256/{} initrd=initrd modloop=http://10.0.0.2:8080/objects/sha256/{} || goto failed\n\
             initrd --autofree --name initrd http://10.0.0.2:8080/prefix/images/flatcar/initrd || goto failed\nboot\n",
            kernel.hex(),
            other.hex()
        );
        let resolve = |route: &str| match route {
            r if r == format!("objects/sha256/{}", kernel.hex()) => Some(kernel),
            r if r == format!("objects/sha256/{}", other.hex()) => Some(other),
            "images/flatcar/initrd" => Some(initrd),
            _ => None,
        };
        let found = images(script.as_bytes(), resolve);
        assert_eq!(found.kernel, Some(kernel));
        assert_eq!(found.initrds, vec![initrd]);
        assert_eq!(found.all().count(), 2);
    }

    #[test]
    fn scripts_without_images_or_with_foreign_urls_name_nothing() {
        let local = b"#!ipxe\nsanboot --no-describe --drive 0x80 || goto failed\n";
        assert_eq!(images(local, |_| None), ScriptImages::default());
        let foreign = b"kernel https://example.com/vmlinuz\ninitrd --name initrd\n";
        assert_eq!(images(foreign, |_| None), ScriptImages::default());
    }
}
