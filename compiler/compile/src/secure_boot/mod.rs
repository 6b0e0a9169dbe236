//! Secure Boot: for every machine that boots with it on, the EFI images it runs, in order,
//! and which verifier decides each (its [`Stage`]); [`verify`] decides them all before
//! anything boots, as that verifier would.
//!
//! The chain: the firmware runs its class's `secure-boot=#true` boot file. If that is a
//! shim (`X-shim.efi`), the shim runs the boot file `X.efi` next (iPXE's release layout).
//! iPXE then either loads the profile's `shim` (through the firmware, so `db` decides) and
//! that shim the kernel, or loads the kernel itself through the firmware (`db` decides).
//! The initrd and the command line are not PE images: Secure Boot does not cover them.

pub mod authenticode;

use std::collections::BTreeMap;
use std::time::SystemTime;

use netboot_bundle::Digest;
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::images::ImageFile;
use crate::loader::Loader;
use crate::model::{BootTarget, Config, ImageLocation, ImageSpec, Machine, Trust};
use authenticode::{Refusal, Signed};

/// Largest certificate file read (a `db` export with every Microsoft CA is a few KiB).
const CERT_LIMIT: u64 = 1 << 20;

/// Who verifies an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// The firmware's `LoadImage`: the certificates in `db`.
    Firmware,
    /// A shim: `db`, its embedded vendor certificate, and the enrolled MOKs.
    Shim,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Self::Firmware => "firmware",
            Self::Shim => "shim",
        }
    }

    /// Where a certificate that would make the image pass goes.
    fn where_to_enrol(self) -> &'static str {
        match self {
            Self::Firmware => "the firmware's db (`secure-boot { db … }`)",
            Self::Shim => {
                "the firmware's db, the shim's vendor certificate or a MOK (`secure-boot { db | vendor-cert | mok … }`)"
            }
        }
    }
}

/// One image a machine runs, and who decides it.
#[derive(Debug, Clone, Copy)]
pub struct Step<'c> {
    pub image: &'c ImageSpec,
    pub stage: Stage,
}

/// The EFI images `machine` runs with Secure Boot on, in order. A chain that cannot be
/// formed (no Secure Boot boot file for its class, a shim without its iPXE) is reported.
pub fn chain<'c>(config: &'c Config, machine: &Machine, diags: &mut Diagnostics) -> Vec<Step<'c>> {
    let Some(profile) = config.profiles.get(&machine.profile) else {
        return Vec::new();
    };
    let mut steps = Vec::new();
    let class = profile.arch.uefi();
    let kernel = &profile.images["kernel"];
    let Some(first) = config.site.secure_boot_file(class) else {
        diags
            .push(Diagnostic::error(
                Code::SecureBootChain,
                &kernel.source,
                kernel.span.clone(),
                format!(
                    "machine `{}` boots with Secure Boot, but the site has no Secure Boot boot file for `{class}`",
                    machine.name
                ),
            ))
            .label(format!("profile `{}`'s kernel cannot be reached", profile.name))
            .help(format!(
                "add to the site: boot-file \"ipxe-shim.efi\" path=… sha256=… firmware=\"{class}\" secure-boot=#true"
            ));
        return steps;
    };
    steps.push(Step {
        image: &first.image,
        stage: Stage::Firmware,
    });
    if let Some(stem) = first.image.role.strip_suffix("-shim.efi") {
        let next = format!("{stem}.efi");
        match config.site.boot_files.iter().find(|f| f.image.role == next) {
            Some(ipxe) => steps.push(Step {
                image: &ipxe.image,
                stage: Stage::Shim,
            }),
            None => {
                diags
                    .push(Diagnostic::error(
                        Code::SecureBootChain,
                        &first.image.source,
                        first.image.span.clone(),
                        format!(
                            "the shim `{}` loads `{next}`, which is not a boot file",
                            first.image.role
                        ),
                    ))
                    .label("a shim runs the file named like itself without `-shim`")
                    .help(format!("add: boot-file \"{next}\" path=… sha256=…"));
            }
        }
    }
    if machine.boot == BootTarget::Local {
        return steps;
    }
    match profile.images.get("shim") {
        Some(shim) => {
            steps.push(Step {
                image: shim,
                stage: Stage::Firmware,
            });
            steps.push(Step {
                image: kernel,
                stage: Stage::Shim,
            });
        }
        None => steps.push(Step {
            image: kernel,
            stage: Stage::Firmware,
        }),
    }
    steps
}

/// The certificates each stage trusts, read from their pinned files (problems reported).
#[derive(Debug, Default)]
pub struct TrustStore {
    firmware: Vec<Certificate>,
    shim: Vec<Certificate>,
}

impl TrustStore {
    pub fn load(trust: &Trust, loader: &Loader, diags: &mut Diagnostics) -> Self {
        let mut read = |certs: &[ImageSpec]| -> Vec<Certificate> {
            certs
                .iter()
                .flat_map(|c| read_certificates(c, loader, diags))
                .collect()
        };
        let firmware = read(&trust.db);
        let mut shim = firmware.clone();
        shim.extend(read(&trust.vendor_certs));
        shim.extend(read(&trust.mok));
        Self { firmware, shim }
    }

    pub fn of(&self, stage: Stage) -> &[Certificate] {
        match stage {
            Stage::Firmware => &self.firmware,
            Stage::Shim => &self.shim,
        }
    }
}

fn read_certificates(
    cert: &ImageSpec,
    loader: &Loader,
    diags: &mut Diagnostics,
) -> Vec<Certificate> {
    let ImageLocation::Path { display, relative } = &cert.location else {
        return Vec::new(); // refused when parsed
    };
    let problem = |diags: &mut Diagnostics, code, message: String, label: &str| {
        diags
            .push(Diagnostic::error(
                code,
                &cert.source,
                cert.location_span.clone(),
                message,
            ))
            .label(label);
    };
    let path = loader.full_path(relative);
    let bytes = match std::fs::metadata(&path).and_then(|m| {
        if m.len() > CERT_LIMIT {
            Err(std::io::Error::other("larger than 1 MiB"))
        } else {
            std::fs::read(&path)
        }
    }) {
        Ok(bytes) => bytes,
        Err(e) => {
            problem(
                diags,
                Code::ImageNotFound,
                format!("certificate `{display}`: {e}"),
                "cannot read",
            );
            return Vec::new();
        }
    };
    let actual = Digest::from_hasher(Sha256::new_with_prefix(&bytes));
    if actual != cert.sha256 {
        diags
            .push(Diagnostic::error(
                Code::DigestMismatch,
                &cert.source,
                cert.sha256_span.clone(),
                format!("certificate `{display}` does not match its sha256: found {actual}"),
            ))
            .label("expected this digest")
            .help(format!(
                "if the new file is the one you want, pin it: sha256=\"{}\"",
                actual.hex()
            ));
        return Vec::new();
    }
    authenticode::parse_certificates(&bytes).unwrap_or_else(|e| {
        problem(
            diags,
            Code::BadValue,
            format!("certificate `{display}` does not parse: {e}"),
            "not an X.509 certificate",
        );
        Vec::new()
    })
}

/// One image decided by one stage, and the machines that depend on that decision.
#[derive(Debug)]
struct Decision<'c> {
    step: Step<'c>,
    machines: Vec<&'c str>,
}

/// Where `verify` finds an image's bytes: `build`'s verified files, or (for `check`, which
/// never downloads) local `path=` files only.
#[derive(Debug, Clone, Copy)]
pub enum Bytes<'a> {
    Built(&'a BTreeMap<Digest, ImageFile>),
    LocalOnly(&'a Loader),
}

/// Verifies every EFI image of every Secure Boot machine, once per image and stage.
/// Returns each image's signer (by digest), for `explain`.
pub fn verify(
    config: &Config,
    loader: &Loader,
    bytes: Bytes<'_>,
    now: SystemTime,
    diags: &mut Diagnostics,
) -> BTreeMap<Digest, Signed> {
    let mut decisions: BTreeMap<(Digest, Stage), Decision<'_>> = BTreeMap::new();
    for machine in config.machines.iter().filter(|m| m.secure_boot) {
        for step in chain(config, machine, diags) {
            decisions
                .entry((step.image.sha256, step.stage))
                .or_insert(Decision {
                    step,
                    machines: Vec::new(),
                })
                .machines
                .push(&machine.name);
        }
    }
    if decisions.is_empty() {
        return BTreeMap::new();
    }
    let trust = TrustStore::load(&config.site.trust, loader, diags);
    let outcomes: Vec<(&Decision<'_>, Option<Result<Signed, Refusal>>)> = decisions
        .values()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|decision| (decision, decide(decision.step, &trust, bytes, now)))
        .collect();
    let mut signers = BTreeMap::new();
    for (decision, outcome) in outcomes {
        match outcome {
            Some(Ok(signed)) => {
                if let Some(expired) = &signed.expired {
                    expired_warning(decision, &signed, expired, diags);
                }
                signers.insert(decision.step.image.sha256, signed);
            }
            Some(Err(refusal)) => refused(decision, &refusal, diags),
            None => {}
        }
    }
    signers
}

/// What `step`'s verifier decides; `None` where the bytes are not at hand (a URL image in
/// `check`; unreadable or missing files are reported by the image stage already).
fn decide(
    step: Step<'_>,
    trust: &TrustStore,
    bytes: Bytes<'_>,
    now: SystemTime,
) -> Option<Result<Signed, Refusal>> {
    let image = step.image;
    let path = match (bytes, &image.location) {
        (Bytes::Built(files), _) => files.get(&image.sha256).map(|f| f.path.clone()),
        (Bytes::LocalOnly(loader), ImageLocation::Path { relative, .. }) => {
            Some(loader.full_path(relative))
        }
        (Bytes::LocalOnly(_), ImageLocation::Url(_)) => None,
    };
    let data = std::fs::read(path?).ok()?;
    Some(authenticode::verify(&data, trust.of(step.stage), now))
}

impl Step<'_> {
    /// What the machine's console shows when this step's verifier refuses its image (as
    /// seen on OVMF, iPXE 2.0 and Debian's shim): `first` is the firmware's first stage.
    pub fn refusal_words(&self, first: bool) -> &'static str {
        match (self.stage, first) {
            (Stage::Firmware, true) => "Access Denied",
            (Stage::Firmware, false) => {
                "Could not boot: Error 0x7f04818f (https://ipxe.org/7f04818f)"
            }
            (Stage::Shim, _) => "Verification failed: (0x1A) Security Violation",
        }
    }
}

/// One image of a machine's chain and what its verifier decides, for `explain`.
#[derive(Debug)]
pub struct StepDecision<'c> {
    pub step: Step<'c>,
    pub outcome: Option<Result<Signed, Refusal>>,
}

/// `machine`'s chain, each image decided from local files (as `check` does). A chain
/// that cannot be formed is `check`'s to report: here it is just shorter.
pub fn decide_machine<'c>(
    config: &'c Config,
    machine: &Machine,
    loader: &Loader,
    now: SystemTime,
) -> Vec<StepDecision<'c>> {
    let mut reported_elsewhere = Diagnostics::default();
    let steps = chain(config, machine, &mut reported_elsewhere);
    let trust = TrustStore::load(&config.site.trust, loader, &mut reported_elsewhere);
    steps
        .into_iter()
        .map(|step| StepDecision {
            step,
            outcome: decide(step, &trust, Bytes::LocalOnly(loader), now),
        })
        .collect()
}

/// "machine `a`" or "machines `a` and 3 more".
fn machines_phrase(machines: &[&str]) -> String {
    match machines {
        [one] => format!("machine `{one}`"),
        [first, rest @ ..] => format!("machines `{first}` and {} more", rest.len()),
        [] => "no machine".to_owned(),
    }
}

fn refused(decision: &Decision<'_>, refusal: &Refusal, diags: &mut Diagnostics) {
    let Step { image, stage } = decision.step;
    let help = match refusal {
        Refusal::Untrusted { issuer, .. } => format!(
            "it needs `{issuer}` (or a certificate it chains to) in {}",
            stage.where_to_enrol()
        ),
        Refusal::Unsigned | Refusal::DigestMismatch { .. } | Refusal::BadSignature(_) => format!(
            "sign it (sbsign --key KEY --cert CERT) with a key whose certificate is in {}",
            stage.where_to_enrol()
        ),
        Refusal::NotPe(_) => {
            "Secure Boot runs only PE/COFF EFI images: use the EFI build".to_owned()
        }
    };
    diags
        .push(Diagnostic::error(
            Code::SecureBootRefused,
            &image.source,
            image.location_span.clone(),
            format!(
                "{}: with Secure Boot on, the {} stage would refuse `{}`: {refusal}",
                machines_phrase(&decision.machines),
                stage.name(),
                image.role
            ),
        ))
        .label(format!("refused by the {}", stage.name()))
        .help(help);
}

fn expired_warning(
    decision: &Decision<'_>,
    signed: &Signed,
    expired: &str,
    diags: &mut Diagnostics,
) {
    let Step { image, stage } = decision.step;
    diags
        .push(Diagnostic::error(
            Code::SecureBootExpired,
            &image.source,
            image.location_span.clone(),
            format!(
                "{}: `{}` is signed by `{}`, whose certificate has expired",
                machines_phrase(&decision.machines),
                image.role,
                signed.signer
            ),
        ))
        .warning()
        .label(format!("the {} stage ignores it; expired {expired}", stage.name()))
        .help("UEFI verifiers have no trusted clock; a revocation (dbx, SBAT) will not wait for one: re-sign with a current certificate");
}
