//! `pki`: a fleet's certificate authority in one directory, for production (`dev-certs`
//! is the throw-away set for trying the servers). `init` makes the CA; `server` and
//! `client` issue (and with `--renew`, re-issue with a new key) the origin's server
//! certificate and the clients' certificates (the Pi's; the iPXE build's in direct mode,
//! `--rsa`); `revoke` adds a certificate to the CRL; `crl` signs the CRL again before it
//! goes stale. Every certificate issued is recorded in `index.json` (name, role, serial,
//! expiry, revocation), the one place revocation and renewal read: the CA's own
//! certificate is never parsed back, its issuer is rebuilt from the recorded name and its
//! key. Keys are written owner-only and never printed.
//!
//! The CA is RSA because iPXE picks its client key's algorithm by the issuer's key type
//! (so a direct-mode iPXE with an RSA client certificate needs an RSA CA); other leaves are
//! ECDSA P-256, which rustls takes from an RSA CA as readily.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PKCS_RSA_SHA256, PublicKeyData, RevocationReason, RevokedCertParams, SerialNumber,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use netboot_bundle::Digest;

use crate::cli::{PkiCommand, RevokeReason};
use crate::error::Error;
use crate::output;

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
pub const CRL: &str = "crl.pem";
pub const INDEX: &str = "index.json";
const ORGANIZATION: &str = "netbootc pki";
/// The CA outlives every certificate it signs by years: replacing it means new trust on
/// the origin, every Pi and every iPXE build.
const CA_DAYS: i64 = 3650;
/// How long a CRL is fresh: `pki crl` (from cron or a timer) signs it again before then.
const CRL_DAYS: i64 = 30;

/// Every certificate the CA issued: what revocation and renewal read.
#[derive(Debug, Serialize, Deserialize)]
struct Index {
    ca_name: String,
    crl_number: u64,
    issued: Vec<Issued>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Issued {
    name: String,
    role: Role,
    /// Lowercase hex.
    serial: String,
    not_after: String,
    revoked: Option<Revocation>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Role {
    Server,
    Client,
}

#[derive(Debug, Serialize, Deserialize)]
struct Revocation {
    at: String,
    reason: RevokeReason,
}

pub fn run(command: &PkiCommand) -> Result<(), Error> {
    let now = OffsetDateTime::now_utc();
    match command {
        PkiCommand::Init { dir, name } => init(dir, name, now),
        PkiCommand::Server {
            dir,
            name,
            sans,
            days,
            renew,
        } => {
            let mut names = vec![name.clone()];
            names.extend(sans.iter().filter(|san| *san != name).cloned());
            let leaf = Leaf {
                name,
                role: Role::Server,
                sans: names,
                rsa: false,
                days: *days,
            };
            issue(dir, &leaf, *renew, now)
        }
        PkiCommand::Client {
            dir,
            name,
            rsa,
            days,
            renew,
        } => {
            let leaf = Leaf {
                name,
                role: Role::Client,
                sans: Vec::new(),
                rsa: *rsa,
                days: *days,
            };
            issue(dir, &leaf, *renew, now)
        }
        PkiCommand::Revoke { dir, name, reason } => revoke(dir, name, *reason, now),
        PkiCommand::Crl { dir } => {
            let mut index = Index::read(dir)?;
            write_crl(dir, &mut index, now)
        }
    }
}

fn init(dir: &Path, name: &str, now: OffsetDateTime) -> Result<(), Error> {
    if dir.join(INDEX).exists() || dir.join(CA_KEY).exists() {
        return Err(Error::Pki(format!(
            "{} already holds a CA; pki init never replaces one",
            dir.display()
        )));
    }
    fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let key = netboot_devcerts::rsa_key_pair(3072).map_err(pki_error)?;
    let mut params = ca_params(name);
    params.serial_number = Some(serial(&key, now));
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(CA_DAYS);
    let cert = params.self_signed(&key).map_err(pki_error)?;
    write(dir, CA_KEY, key.serialize_pem().as_bytes(), true)?;
    write(dir, CA_CERT, cert.pem().as_bytes(), false)?;
    let mut index = Index {
        ca_name: name.to_owned(),
        crl_number: 0,
        issued: Vec::new(),
    };
    write_crl(dir, &mut index, now)
}

/// The CA's parameters as far as its issuer needs them (name, constraints, usages): the
/// same for `init` and for every later signature, so the issuer and key identifier match.
fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn
}

/// What a server or client certificate is issued for.
struct Leaf<'a> {
    name: &'a str,
    role: Role,
    /// DNS names or IP addresses (servers only).
    sans: Vec<String>,
    /// An RSA 2048 key instead of ECDSA P-256 (iPXE's client key).
    rsa: bool,
    days: i64,
}

fn issue(dir: &Path, leaf: &Leaf<'_>, renew: bool, now: OffsetDateTime) -> Result<(), Error> {
    let Leaf {
        name,
        role,
        rsa,
        days,
        ..
    } = *leaf;
    file_name(name)?;
    let mut index = Index::read(dir)?;
    let ca = issuer(dir, &index)?;
    let exists = dir.join(format!("{name}.pem")).exists();
    if exists && !renew {
        return Err(Error::Pki(format!(
            "{name} was issued already; --renew issues it again with a new key"
        )));
    }
    if !exists && renew {
        return Err(Error::Pki(format!(
            "{name} was never issued; nothing to renew"
        )));
    }
    let key = if rsa {
        netboot_devcerts::rsa_key_pair(2048).map_err(pki_error)?
    } else {
        KeyPair::generate().map_err(pki_error)?
    };
    let mut params = CertificateParams::new(leaf.sans.clone()).map_err(pki_error)?;
    params.distinguished_name = distinguished_name(name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if rsa {
        // TLS 1.2 RSA key exchange (iPXE's) encrypts with the certificate's key.
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = vec![match role {
        Role::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Role::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::Sha256;
    let serial = serial(&key, now);
    params.serial_number = Some(serial.clone());
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
    let cert = params.signed_by(&key, &ca).map_err(pki_error)?;
    write(
        dir,
        &format!("{name}.key"),
        key.serialize_pem().as_bytes(),
        true,
    )?;
    write(dir, &format!("{name}.pem"), cert.pem().as_bytes(), false)?;
    index.issued.push(Issued {
        name: name.to_owned(),
        role,
        serial: hex(serial.as_ref()),
        not_after: rfc3339(params.not_after),
        revoked: None,
    });
    index.write(dir)?;
    output::print(&format!(
        "issued {name} (serial {}, valid until {})\n",
        hex(serial.as_ref()),
        rfc3339(params.not_after)
    ))
}

fn revoke(dir: &Path, name: &str, reason: RevokeReason, now: OffsetDateTime) -> Result<(), Error> {
    let mut index = Index::read(dir)?;
    let mut revoked = 0;
    for issued in index
        .issued
        .iter_mut()
        .filter(|i| i.name == name && i.revoked.is_none())
    {
        issued.revoked = Some(Revocation {
            at: rfc3339(now),
            reason,
        });
        revoked += 1;
    }
    if revoked == 0 {
        return Err(Error::Pki(format!(
            "no certificate named {name} that is not revoked already"
        )));
    }
    output::print(&format!("revoked {revoked} certificate(s) named {name}\n"))?;
    write_crl(dir, &mut index, now)
}

/// Signs the CRL again (every revoked certificate that has not expired yet) with the next
/// CRL number, and writes the index.
fn write_crl(dir: &Path, index: &mut Index, now: OffsetDateTime) -> Result<(), Error> {
    let ca = issuer(dir, index)?;
    index.crl_number += 1;
    let mut revoked_certs = Vec::new();
    for issued in &index.issued {
        let Some(revocation) = &issued.revoked else {
            continue;
        };
        // An expired certificate is refused anyway: the CRL stays as short as the live set.
        if parse_rfc3339(&issued.not_after)? <= now {
            continue;
        }
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&unhex(&issued.serial)?),
            revocation_time: parse_rfc3339(&revocation.at)?,
            reason_code: Some(match revocation.reason {
                RevokeReason::KeyCompromise => RevocationReason::KeyCompromise,
                RevokeReason::Superseded => RevocationReason::Superseded,
                RevokeReason::CessationOfOperation => RevocationReason::CessationOfOperation,
            }),
            invalidity_date: None,
        });
    }
    let crl = CertificateRevocationListParams {
        this_update: now - Duration::minutes(5),
        next_update: now + Duration::days(CRL_DAYS),
        crl_number: SerialNumber::from_slice(&index.crl_number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let pem = crl
        .signed_by(&ca)
        .and_then(|crl| crl.pem())
        .map_err(pki_error)?;
    write(dir, CRL, pem.as_bytes(), false)?;
    index.write(dir)?;
    output::print(&format!(
        "signed {} (number {}, fresh until {})\n",
        dir.join(CRL).display(),
        index.crl_number,
        rfc3339(crl.next_update)
    ))
}

fn issuer(dir: &Path, index: &Index) -> Result<Issuer<'static, KeyPair>, Error> {
    let path = dir.join(CA_KEY);
    let pem = fs::read_to_string(&path).map_err(Error::io(&path))?;
    let key = KeyPair::from_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256)
        .map_err(|e| Error::Pki(format!("{}: {e}", path.display())))?;
    Ok(Issuer::new(ca_params(&index.ca_name), key))
}

impl Index {
    fn read(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(INDEX);
        let text = fs::read_to_string(&path).map_err(|e| {
            Error::Pki(format!(
                "{}: {e} (make the CA first: netbootc pki init {})",
                path.display(),
                dir.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Pki(format!("{}: {e}", path.display())))
    }

    fn write(&self, dir: &Path) -> Result<(), Error> {
        let mut json = serde_json::to_string_pretty(self).map_err(pki_error)?;
        json.push('\n');
        write(dir, INDEX, json.as_bytes(), false)
    }
}

/// Replaces `dir/name` through a temporary file and a rename, so a failure never leaves
/// half a key or index; keys are created owner-only (0600).
fn write(dir: &Path, name: &str, bytes: &[u8], secret: bool) -> Result<(), Error> {
    let path = dir.join(name);
    let temporary: PathBuf = dir.join(format!(".{name}.new"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    options
        .open(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&temporary, &path))
        .map_err(Error::io(&path))?;
    output::print(&format!("wrote {}\n", path.display()))
}

/// A positive 128-bit serial, unique per key and moment.
fn serial(key: &KeyPair, now: OffsetDateTime) -> SerialNumber {
    let mut input = key.der_bytes().to_vec();
    input.extend_from_slice(&now.unix_timestamp_nanos().to_be_bytes());
    let digest = Digest::of(&input);
    let mut bytes = digest.as_bytes()[..16].to_vec();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x10;
    SerialNumber::from_slice(&bytes)
}

/// Certificates are files named after what they are for.
fn file_name(name: &str) -> Result<(), Error> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if plain && !matches!(name, "ca" | "crl" | "index") {
        Ok(())
    } else {
        Err(Error::Pki(format!(
            "{name}: a certificate's name is letters, digits, `.`, `_` or `-` (a host name), not ca, crl or index"
        )))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, Error> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| Error::Pki(format!("{INDEX}: serial {text} is not hex")))
        })
        .collect()
}

fn rfc3339(at: OffsetDateTime) -> String {
    humantime::format_rfc3339_seconds(SystemTime::from(at)).to_string()
}

fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, Error> {
    humantime::parse_rfc3339(text)
        .map(OffsetDateTime::from)
        .map_err(|e| Error::Pki(format!("{INDEX}: {text}: {e}")))
}

fn pki_error(e: impl std::fmt::Display) -> Error {
    Error::Pki(e.to_string())
}
