//! `init`: a starting site for one LAN. Writes `profiles/site.kdl` (origin, chain mode,
//! the first-stage iPXE builds found in `--ipxe-dir` or given by `--boot-file`), one
//! profile (its kernel and initrd copied in and pinned by sha256, or URLs with the digests
//! given), one machine by MAC, and a `.gitignore`; then says what is left to do. Never
//! overwrites: a directory that already holds a site is refused before anything is written.
//! The templates are the files in `init/`, filled by plain substitution: every value put
//! into them is checked first to be a plain KDL string (no quote or backslash), so nothing
//! a user types changes their shape.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use netboot_bundle::Digest;
use netboot_protocol::{Firmware, Mac, Named};

use crate::cli::{ChainMode, InitArgs};
use crate::error::Error;
use crate::output;

const SITE: &str = include_str!("init/site.kdl");
const PROFILE: &str = include_str!("init/profile.kdl");
const MACHINE: &str = include_str!("init/machine.kdl");
const GITIGNORE: &str = include_str!("init/gitignore");

/// The first-stage builds `--ipxe-dir` is searched for: the names in Debian's `ipxe`
/// package (`/usr/lib/ipxe`) and the arm64 build from source
/// (`make bin-arm64-efi/snp.efi`, copied under this name).
const IPXE_BUILDS: [(&str, Firmware); 3] = [
    ("undionly.kpxe", Firmware::Bios),
    ("snponly.efi", Firmware::UefiX86_64),
    ("snp-arm64.efi", Firmware::UefiArm64),
];

/// The port netboot-proxy's LAN HTTP listener has in the .deb's configuration.
const PROXY_HTTP_PORT: u16 = 8080;

/// One file of the new site: its path under the site directory and its bytes.
struct NewFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

pub fn run(args: &InitArgs) -> Result<(), Error> {
    let files = plan(args)?;
    for file in &files {
        let target = args.dir.join(&file.path);
        if target.exists() {
            return Err(Error::Init(format!(
                "{} exists; init writes a new site and never overwrites one",
                target.display()
            )));
        }
    }
    for file in &files {
        let target = args.dir.join(&file.path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        fs::File::create_new(&target)
            .and_then(|mut f| f.write_all(&file.bytes))
            .map_err(Error::io(&target))?;
        output::print(&format!("wrote {}\n", target.display()))?;
    }
    output::print(&left_to_do(args, &files))
}

/// Every file of the new site, in the order they are written.
fn plan(args: &InitArgs) -> Result<Vec<NewFile>, Error> {
    plain("--origin", &args.origin)?;
    plain("--cmdline", &args.cmdline)?;
    name("--machine", &args.machine)?;
    name("--profile", &args.profile)?;
    if !args.origin.starts_with("https://") {
        return Err(Error::Init(
            "--origin must be an https:// URL (netboot-serve only speaks HTTPS)".into(),
        ));
    }
    let mac = Mac::parse(&args.mac)
        .ok_or_else(|| Error::Init(format!("--mac {}: not a MAC address", args.mac)))?;
    let chain = match (args.chain, args.pi) {
        (ChainMode::ViaProxy, Some(pi)) => {
            format!("    chain \"via-proxy\" proxy=\"http://{pi}:{PROXY_HTTP_PORT}\"\n")
        }
        (ChainMode::ViaProxy, None) => {
            return Err(Error::Init(
                "--chain via-proxy needs the Pi's fixed LAN address: --pi <IPV4>".into(),
            ));
        }
        (ChainMode::Direct, None) => "    chain \"direct\"\n".to_owned(),
        (ChainMode::Direct, Some(_)) => {
            return Err(Error::Init(
                "--pi is for --chain via-proxy; in direct mode iPXE reaches the origin itself"
                    .into(),
            ));
        }
    };

    // (firmware class, the name the site serves it under, its bytes): --ipxe-dir's finds,
    // then each --boot-file, one per class.
    let mut builds: Vec<(Firmware, String, Vec<u8>)> = Vec::new();
    // Which build runs on the classes --ipxe-dir serves: scripts check images only where
    // that build has `sha256sum` (the others default to iPXE 2.0).
    let mut ipxe_builds = String::new();
    if let Some(dir) = &args.ipxe_dir {
        for (file_name, firmware) in IPXE_BUILDS {
            if let Ok(bytes) = fs::read(dir.join(file_name)) {
                builds.push((firmware, file_name.to_owned(), bytes));
                ipxe_builds.push_str(&format!(
                    "    ipxe-build \"{}\" firmware=\"{}\"\n",
                    args.ipxe_dir_build,
                    firmware.name()
                ));
            }
        }
        if builds.is_empty() {
            return Err(Error::Init(format!(
                "--ipxe-dir {}: none of {} is there (Debian: apt-get install ipxe, then --ipxe-dir /usr/lib/ipxe)",
                dir.display(),
                IPXE_BUILDS.map(|(name, _)| name).join(", ")
            )));
        }
    }
    for spec in &args.boot_files {
        let (firmware, bytes, file_name) = boot_file(spec)?;
        if builds.iter().any(|(class, _, _)| *class == firmware) {
            return Err(Error::Init(format!(
                "--boot-file {spec}: {} has a build already; one per firmware class",
                firmware.name()
            )));
        }
        builds.push((firmware, file_name, bytes));
    }
    let mut files = Vec::new();
    let mut boot_files = String::new();
    for (firmware, file_name, bytes) in builds {
        let path = format!("bootfiles/{file_name}");
        boot_files.push_str(&format!(
            "    boot-file \"{file_name}\" path=\"{path}\" sha256=\"{}\" firmware=\"{}\"\n",
            Digest::of(&bytes).hex(),
            firmware.name()
        ));
        files.push(NewFile {
            path: Path::new("profiles").join(path),
            bytes,
        });
    }

    let kernel = image(
        &args.profile,
        "kernel",
        &args.kernel,
        args.kernel_sha256.as_deref(),
        &mut files,
    )?;
    let initrd = image(
        &args.profile,
        "initrd",
        &args.initrd,
        args.initrd_sha256.as_deref(),
        &mut files,
    )?;
    let site = SITE
        .replace("{origin}", &args.origin)
        .replace("{chain}", &chain)
        .replace("{boot_files}", &(boot_files + &ipxe_builds));
    let profile = PROFILE
        .replace("{profile}", &args.profile)
        .replace("{arch}", &args.arch)
        .replace("{kernel}", &kernel)
        .replace("{initrd}", &initrd)
        .replace("{cmdline}", &args.cmdline);
    let machine = MACHINE
        .replace("{machine}", &args.machine)
        .replace("{mac}", &mac.to_string())
        .replace("{profile}", &args.profile);
    let mut kdl = vec![
        NewFile {
            path: "profiles/site.kdl".into(),
            bytes: site.into_bytes(),
        },
        NewFile {
            path: format!("profiles/{}.kdl", args.profile).into(),
            bytes: profile.into_bytes(),
        },
        NewFile {
            path: format!("machines/{}.kdl", args.machine).into(),
            bytes: machine.into_bytes(),
        },
        NewFile {
            path: ".gitignore".into(),
            bytes: GITIGNORE.as_bytes().to_vec(),
        },
    ];
    kdl.append(&mut files);
    Ok(kdl)
}

/// A kernel or initrd: a URL pinned by the digest given, or a local file copied into
/// `profiles/images/<profile>/` and pinned by its own digest. Returns the KDL arguments.
fn image(
    profile: &str,
    role: &str,
    source: &str,
    sha256: Option<&str>,
    files: &mut Vec<NewFile>,
) -> Result<String, Error> {
    if source.starts_with("https://") || source.starts_with("http://") {
        plain(&format!("--{role}"), source)?;
        let digest = sha256
            .and_then(|hex| Digest::from_hex(hex).ok())
            .ok_or_else(|| {
                Error::Init(format!(
                    "--{role} {source}: a URL needs its digest, --{role}-sha256 <64 hex> (from the distribution's SHA256SUMS)"
                ))
            })?;
        return Ok(format!("\"{source}\" sha256=\"{}\"", digest.hex()));
    }
    if sha256.is_some() {
        return Err(Error::Init(format!(
            "--{role}-sha256 is for a URL; the digest of a local file is computed"
        )));
    }
    let bytes = fs::read(source).map_err(Error::io(source))?;
    let file_name = served_file_name(source, &format!("--{role} {source}"))?;
    let path = format!("images/{profile}/{file_name}");
    let arguments = format!("path=\"{path}\" sha256=\"{}\"", Digest::of(&bytes).hex());
    files.push(NewFile {
        path: Path::new("profiles").join(path),
        bytes,
    });
    Ok(arguments)
}

/// The last component of `source`, which the site serves under that name: so only
/// letters, digits, `.`, `_` or `-`. `flag` names the option in the error.
fn served_file_name<'a>(source: &'a str, flag: &str) -> Result<&'a str, Error> {
    Path::new(source)
        .file_name()
        .and_then(|name| name.to_str())
        .filter(|name| plain_name(name))
        .ok_or_else(|| {
            Error::Init(format!(
                "{flag}: the file name must be letters, digits, `.`, `_` or `-`"
            ))
        })
}

/// `CLASS=FILE`: a first-stage build for one firmware class (an arm64 `snp.efi` built from
/// source, say), served under its file name. Returns the class, the bytes and the name.
fn boot_file(spec: &str) -> Result<(Firmware, Vec<u8>, String), Error> {
    let (class, source) = spec.split_once('=').unwrap_or_default();
    let firmware = <Firmware as Named>::parse(class).ok_or_else(|| {
        Error::Init(format!(
            "--boot-file {spec}: CLASS=FILE, CLASS one of {}",
            <Firmware as Named>::NAMES.join(", ")
        ))
    })?;
    let file_name = served_file_name(source, &format!("--boot-file {spec}"))?;
    let bytes = fs::read(source).map_err(Error::io(source))?;
    Ok((firmware, bytes, file_name.to_owned()))
}

/// What the user still has to do, in order, with the commands for this site.
fn left_to_do(args: &InitArgs, files: &[NewFile]) -> String {
    let config = args.dir.display();
    let mut steps = Vec::new();
    let has_boot_files = files
        .iter()
        .any(|f| f.path.starts_with("profiles/bootfiles"));
    if !has_boot_files {
        steps.push(format!(
            "first-stage iPXE for machines whose firmware is not iPXE: copy undionly.kpxe and snponly.efi from Debian's\n     ipxe package into {config}/profiles/bootfiles/ and declare each in site.kdl with its sha256\n     (docs/getting-started.md#3-boot-files-and-the-kernel; `init --ipxe-dir` does this for a new site)"
        ));
    }
    let origin_host = args
        .origin
        .trim_start_matches("https://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    let client = match args.chain {
        ChainMode::ViaProxy => " && netbootc pki client pki pi",
        ChainMode::Direct => " && netbootc pki client pki ipxe --rsa",
    };
    steps.push(format!(
        "certificates (docs/security.md#a-fleet-pki): netbootc pki init pki && netbootc pki server pki {origin_host}{client}"
    ));
    steps.push(format!(
        "check and build: netbootc check --config {config} && netbootc build --config {config}"
    ));
    steps.push(format!(
        "publish where netboot-serve reads (docs/deployment.md): netbootc publish <gs://… | s3://… | dir> --config {config}"
    ));
    match args.pi {
        Some(pi) if args.chain == ChainMode::ViaProxy => steps.push(format!(
            "the Pi: give it the fixed address {pi}, install netboot-proxy's .deb, its client certificate and the CA\n     (runtime/deploy/pi/README.md)"
        )),
        _ => steps.push(
            "direct mode: build iPXE with the CA, a client certificate and `netbootc ipxe-bootstrap` embedded\n     (runtime/deploy/README.md)"
                .to_owned(),
        ),
    }
    steps.push(format!(
        "the router: netbootc dhcp-config --format dnsmasq|isc|kea --config {config}, or netboot-proxy --proxy-dhcp on the Pi"
    ));
    steps.push(format!(
        "the machine {}: turn on network (PXE) boot in its firmware and boot it; netbootc status shows how far it got",
        args.machine
    ));
    let mut text = String::from("\nleft to do (docs/getting-started.md walks through each):\n");
    for (number, step) in steps.iter().enumerate() {
        text.push_str(&format!("  {}. {step}\n", number + 1));
    }
    text
}

/// Refuses values that would need escaping in a KDL string.
fn plain(flag: &str, value: &str) -> Result<(), Error> {
    if value.contains(['"', '\\']) || value.chars().any(char::is_control) {
        return Err(Error::Init(format!(
            "{flag}: quotes, backslashes and control characters are not accepted"
        )));
    }
    Ok(())
}

/// Names become file names and KDL strings: letters, digits, `.`, `_`, `-`, not starting
/// with a dot.
fn name(flag: &str, value: &str) -> Result<(), Error> {
    if plain_name(value) {
        Ok(())
    } else {
        Err(Error::Init(format!(
            "{flag} {value}: a name is letters, digits, `.`, `_` or `-`, not starting with `.`"
        )))
    }
}

fn plain_name(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with('.')
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        for bad in ["", ".", "..", "../x", "a/b", ".hidden", "a b", "a\"b"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
        assert!(plain_name("node-01.lan_a"));
    }
}
