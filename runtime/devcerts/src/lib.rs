//! Development and test certificates for the netboot servers.
//!
//! One generator serves two users: `netbootc dev-certs <dir>` (so a newcomer can run the
//! servers locally in a minute) and the runtime's integration tests (which need the same
//! set plus the certificates that must be refused). Everything is made fresh on each call:
//! an RSA CA (iPXE needs an RSA issuer for its RSA client key), a server certificate
//! (ECDSA P-256) for `localhost`/`127.0.0.1`/`::1`, client certificates with
//! ECDSA and RSA keys (iPXE embeds RSA client keys and speaks TLS 1.2 at most), a third
//! client certificate revoked by a CRL the CA signs, and the refusal cases: an expired
//! client certificate, one whose EKU is server-auth only, and one from a second CA. Beside
//! them, a LAN CA and the Pi's LAN server certificate (RSA: what iPXE's TLS verifies), for
//! netboot-proxy's `--https-listen` and iPXE builds made with `TRUST=` that CA.
//!
//! rcgen (on ring) cannot generate RSA keys, so RSA keys come from the pure-Rust `rsa`
//! crate and are handed to rcgen as PKCS#8.

use std::error::Error as StdError;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256,
    PublicKeyData, RevocationReason, RevokedCertParams, SerialNumber,
};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use time::{Duration, OffsetDateTime};

/// Boxed error, as the CLI wants it.
pub type Error = Box<dyn StdError + Send + Sync>;

/// The file names [`write_dev_certs`] writes, so tests and docs name them one way.
pub mod files {
    /// The CA certificate: `--client-ca` for the servers, `--cacert` for curl.
    pub const CA_CERT: &str = "ca.pem";
    pub const CA_KEY: &str = "ca.key";
    /// Server certificate for `localhost`, `127.0.0.1` and `::1`.
    pub const SERVER_CERT: &str = "server.pem";
    pub const SERVER_KEY: &str = "server.key";
    /// The CRL (signed by the CA) revoking [`CLIENT_REVOKED_CERT`].
    pub const CRL: &str = "crl.pem";
    pub const CLIENT_ECDSA_CERT: &str = "client-ecdsa.pem";
    pub const CLIENT_ECDSA_KEY: &str = "client-ecdsa.key";
    pub const CLIENT_RSA_CERT: &str = "client-rsa.pem";
    pub const CLIENT_RSA_KEY: &str = "client-rsa.key";
    pub const CLIENT_REVOKED_CERT: &str = "client-revoked.pem";
    pub const CLIENT_REVOKED_KEY: &str = "client-revoked.key";
    /// Refusal case: validity ended yesterday.
    pub const CLIENT_EXPIRED_CERT: &str = "client-expired.pem";
    pub const CLIENT_EXPIRED_KEY: &str = "client-expired.key";
    /// Refusal case: extended key usage is server-auth only.
    pub const CLIENT_SERVER_EKU_CERT: &str = "client-server-eku.pem";
    pub const CLIENT_SERVER_EKU_KEY: &str = "client-server-eku.key";
    /// Refusal case: a second, untrusted CA and a client certificate it issued.
    pub const OTHER_CA_CERT: &str = "other-ca.pem";
    pub const CLIENT_OTHER_CA_CERT: &str = "client-other-ca.pem";
    pub const CLIENT_OTHER_CA_KEY: &str = "client-other-ca.key";
    /// The LAN CA: what iPXE builds trust (`TRUST=`) for the Pi's LAN HTTPS.
    pub const LAN_CA_CERT: &str = "lan-ca.pem";
    pub const LAN_CA_KEY: &str = "lan-ca.key";
    /// The Pi's LAN server certificate (`--lan-cert`/`--lan-key`), issued by the LAN CA.
    pub const LAN_SERVER_CERT: &str = "lan-server.pem";
    pub const LAN_SERVER_KEY: &str = "lan-server.key";
}

/// One generated file: its name inside the target directory and its PEM text.
#[derive(Debug, Clone)]
pub struct PemFile {
    pub name: &'static str,
    pub pem: String,
    /// Private keys are written owner-only.
    pub secret: bool,
}

/// Generates the whole set in memory. The server certificate is valid for `localhost`,
/// `127.0.0.1`, `::1` and every name or IP address in `extra_names` (a LAN address the
/// origin listens on, say); the LAN server certificate for those loopback names and
/// `lan_names` (the Pi's LAN address).
pub fn generate(extra_names: &[String], lan_names: &[String]) -> Result<Vec<PemFile>, Error> {
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::new();
    let mut emit = |name: &'static str, pem: String, secret: bool| {
        out.push(PemFile { name, pem, secret });
    };

    let (ca_params, ca_key) = new_ca("netboot dev CA", now)?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    emit(files::CA_CERT, ca_cert.pem(), false);
    emit(files::CA_KEY, ca_key.serialize_pem(), true);
    let ca = Issuer::new(ca_params, ca_key);

    // Server: ECDSA P-256, valid for every loopback name a local client might use.
    let server_key = KeyPair::generate()?;
    let server = server_params(&server_key, 1, extra_names, now)?;
    emit(
        files::SERVER_CERT,
        server.signed_by(&server_key, &ca)?.pem(),
        false,
    );
    emit(files::SERVER_KEY, server_key.serialize_pem(), true);

    let client = |cn: &str, key: &KeyPair, serial: u8| -> Result<CertificateParams, Error> {
        let mut params = leaf_params(cn, key, serial, now)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        Ok(params)
    };

    let ecdsa_key = KeyPair::generate()?;
    let ecdsa = client("client-ecdsa", &ecdsa_key, 2)?;
    emit(
        files::CLIENT_ECDSA_CERT,
        ecdsa.signed_by(&ecdsa_key, &ca)?.pem(),
        false,
    );
    emit(files::CLIENT_ECDSA_KEY, ecdsa_key.serialize_pem(), true);

    let rsa_key = rsa_key_pair(2048)?;
    let rsa = client("client-rsa", &rsa_key, 3)?;
    emit(
        files::CLIENT_RSA_CERT,
        rsa.signed_by(&rsa_key, &ca)?.pem(),
        false,
    );
    emit(files::CLIENT_RSA_KEY, rsa_key.serialize_pem(), true);

    let revoked_key = KeyPair::generate()?;
    let revoked = client("client-revoked", &revoked_key, 4)?;
    let revoked_serial = revoked
        .serial_number
        .clone()
        .ok_or("revoked certificate has no serial")?;
    emit(
        files::CLIENT_REVOKED_CERT,
        revoked.signed_by(&revoked_key, &ca)?.pem(),
        false,
    );
    emit(files::CLIENT_REVOKED_KEY, revoked_key.serialize_pem(), true);
    let crl = CertificateRevocationListParams {
        this_update: now - Duration::minutes(5),
        next_update: now + Duration::days(365),
        crl_number: SerialNumber::from_slice(&[1]),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: revoked_serial,
            revocation_time: now - Duration::minutes(5),
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    };
    emit(files::CRL, crl.signed_by(&ca)?.pem()?, false);

    let expired_key = KeyPair::generate()?;
    let mut expired = client("client-expired", &expired_key, 5)?;
    expired.not_before = now - Duration::days(30);
    expired.not_after = now - Duration::days(1);
    emit(
        files::CLIENT_EXPIRED_CERT,
        expired.signed_by(&expired_key, &ca)?.pem(),
        false,
    );
    emit(files::CLIENT_EXPIRED_KEY, expired_key.serialize_pem(), true);

    let server_eku_key = KeyPair::generate()?;
    let mut server_eku = client("client-server-eku", &server_eku_key, 6)?;
    server_eku.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    emit(
        files::CLIENT_SERVER_EKU_CERT,
        server_eku.signed_by(&server_eku_key, &ca)?.pem(),
        false,
    );
    emit(
        files::CLIENT_SERVER_EKU_KEY,
        server_eku_key.serialize_pem(),
        true,
    );

    let (other_params, other_key) = new_ca("netboot other CA", now)?;
    emit(
        files::OTHER_CA_CERT,
        other_params.self_signed(&other_key)?.pem(),
        false,
    );
    let other = Issuer::new(other_params, other_key);
    let stranger_key = KeyPair::generate()?;
    // Same subject as a trusted client: only the issuer differs.
    let stranger = client("client-ecdsa", &stranger_key, 7)?;
    emit(
        files::CLIENT_OTHER_CA_CERT,
        stranger.signed_by(&stranger_key, &other)?.pem(),
        false,
    );
    emit(
        files::CLIENT_OTHER_CA_KEY,
        stranger_key.serialize_pem(),
        true,
    );

    let (lan_ca_params, lan_ca_key) = new_ca("netboot LAN CA", now)?;
    emit(
        files::LAN_CA_CERT,
        lan_ca_params.self_signed(&lan_ca_key)?.pem(),
        false,
    );
    emit(files::LAN_CA_KEY, lan_ca_key.serialize_pem(), true);
    let lan_ca = Issuer::new(lan_ca_params, lan_ca_key);
    let lan_server_key = rsa_key_pair(2048)?;
    let lan_server = server_params(&lan_server_key, 8, lan_names, now)?;
    emit(
        files::LAN_SERVER_CERT,
        lan_server.signed_by(&lan_server_key, &lan_ca)?.pem(),
        false,
    );
    emit(files::LAN_SERVER_KEY, lan_server_key.serialize_pem(), true);

    Ok(out)
}

/// A server certificate's parameters: for `localhost`, `127.0.0.1`, `::1` and `names`.
fn server_params(
    key: &KeyPair,
    serial: u8,
    names: &[String],
    now: OffsetDateTime,
) -> Result<CertificateParams, Error> {
    let mut params = leaf_params("localhost", key, serial, now)?;
    let mut all = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for name in names {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    params.subject_alt_names = CertificateParams::new(all)?.subject_alt_names;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

/// Writes the set into `dir` (created if missing) and returns the paths written, in a fixed
/// order. Existing files of the same names are replaced; keys are written mode 0600.
/// `extra_names` and `lan_names` as for [`generate`].
pub fn write_dev_certs(
    dir: &Path,
    extra_names: &[String],
    lan_names: &[String],
) -> Result<Vec<PathBuf>, Error> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for file in generate(extra_names, lan_names)? {
        let path = dir.join(file.name);
        write_file(&path, file.pem.as_bytes(), file.secret)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn write_file(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)
}

fn new_ca(cn: &str, now: OffsetDateTime) -> Result<(CertificateParams, KeyPair), Error> {
    // RSA: iPXE picks the client key's algorithm by the *issuer's* key type, so the RSA
    // client certificate it embeds must come from an RSA CA (and rustls takes ECDSA leaves
    // from an RSA CA as readily).
    let key = rsa_key_pair(2048)?;
    let mut params = CertificateParams::new(Vec::new())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "netbootc dev-certs");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(serial_for(&key, 0));
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(3650);
    Ok((params, key))
}

fn leaf_params(
    cn: &str,
    key: &KeyPair,
    serial: u8,
    now: OffsetDateTime,
) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::new(Vec::new())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "netbootc dev-certs");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(serial_for(key, serial));
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(825);
    Ok(params)
}

/// A positive serial, unique per key: a tag byte then the tail of the public key.
fn serial_for(key: &KeyPair, tag: u8) -> SerialNumber {
    let public = key.der_bytes();
    let tail = &public[public.len().saturating_sub(15)..];
    let mut bytes = vec![0x10 | (tag & 0x0f)];
    bytes.extend_from_slice(tail);
    SerialNumber::from_slice(&bytes)
}

/// A fresh RSA key of `bits` for rcgen (which cannot generate RSA keys on ring); also
/// `netbootc pki`'s, for its CA and iPXE's client keys.
pub fn rsa_key_pair(bits: usize) -> Result<KeyPair, Error> {
    let mut rng = rsa::rand_core::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, bits)?;
    let pem = key.to_pkcs8_pem(LineEnding::LF)?;
    Ok(KeyPair::from_pkcs8_pem_and_sign_algo(
        &pem,
        &PKCS_RSA_SHA256,
    )?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file_and_keys_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let written = write_dev_certs(tmp.path(), &[], &[]).unwrap();
        assert_eq!(written.len(), 22);
        for path in &written {
            let text = fs::read_to_string(path).unwrap();
            assert!(text.starts_with("-----BEGIN "), "{}", path.display());
            #[cfg(unix)]
            if path.extension().is_some_and(|e| e == "key") {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(path).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "{} is readable by others", path.display());
            }
        }
        let rsa = fs::read_to_string(tmp.path().join(files::CLIENT_RSA_KEY)).unwrap();
        let rsa = KeyPair::from_pem_and_sign_algo(&rsa, &PKCS_RSA_SHA256).unwrap();
        assert!(rsa.is_compatible(&PKCS_RSA_SHA256));
        // openssl confirms each client chain; done in the servers' tests with real peers.
        let lan = fs::read_to_string(tmp.path().join(files::LAN_SERVER_KEY)).unwrap();
        let lan = KeyPair::from_pem_and_sign_algo(&lan, &PKCS_RSA_SHA256).unwrap();
        assert!(
            lan.is_compatible(&PKCS_RSA_SHA256),
            "iPXE's TLS verifies RSA"
        );
    }
}
