//! What a UEFI Secure Boot verifier (the firmware's `LoadImage`, or a shim) decides about
//! one EFI image: a PE/COFF file whose Authenticode digest matches one of its embedded
//! signatures, that signature made by a certificate which chains to one of the trusted
//! certificates. The PE layout and digest come from the `authenticode` crate (over
//! `object`'s PE reader); the CMS SignedData, X.509 and RSA from RustCrypto. Images are
//! untrusted input: every error is a [`Refusal`], never a panic (fuzz/ has a target).

use std::time::SystemTime;

use authenticode::{AttributeCertificateIterator, AuthenticodeSignature, PeTrait};
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc5912};
use der::{Decode, Encode, SliceReader};
use object::read::pe::{PeFile32, PeFile64};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2_digest010::{Digest as _, Sha256, Sha384, Sha512};
use x509_cert::Certificate;

/// How long a certificate path may be: firmware paths are two or three certificates.
const MAX_CHAIN: usize = 8;

/// Why a verifier would not run an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a PE/COFF image (or one whose layout the digest cannot be computed over).
    NotPe(String),
    /// A PE image without an Authenticode signature.
    Unsigned,
    /// Signed, but the bytes have changed since: the signed digest is not theirs.
    DigestMismatch { signed: String, actual: String },
    /// A signature that is malformed, uses an algorithm UEFI verifiers do not, or does
    /// not verify under its signer's key.
    BadSignature(String),
    /// A valid signature whose signer chains to none of the trusted certificates.
    Untrusted { signer: String, issuer: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotPe(why) => write!(f, "not a PE/COFF image ({why})"),
            Self::Unsigned => f.write_str("it has no Authenticode signature"),
            Self::DigestMismatch { signed, actual } => write!(
                f,
                "its bytes do not match its signature: signed digest {signed}, the file's {actual}"
            ),
            Self::BadSignature(why) => write!(f, "its signature is invalid ({why})"),
            Self::Untrusted { signer, issuer } => {
                write!(
                    f,
                    "its signer `{signer}` (issued by `{issuer}`) is not trusted"
                )
            }
        }
    }
}

/// An image a verifier with the given trust would run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The signing certificate's subject.
    pub signer: String,
    /// The trusted certificate the signer chains to (its subject).
    pub anchor: String,
    /// When the signing certificate's validity ended, if before `now`. UEFI verifiers
    /// have no trusted clock and ignore it, so it is worth a warning, not a refusal.
    pub expired: Option<String>,
}

/// Decides `image` against `trusted`, as a UEFI verifier would: the image passes if any of
/// its signatures does. The refusal reported is the first signature's (or the digest's).
pub fn verify(image: &[u8], trusted: &[Certificate], now: SystemTime) -> Result<Signed, Refusal> {
    match object::FileKind::parse(image) {
        Ok(object::FileKind::Pe64) => {
            let pe = PeFile64::parse(image).map_err(|e| Refusal::NotPe(e.to_string()))?;
            verify_pe(&pe, trusted, now)
        }
        Ok(object::FileKind::Pe32) => {
            let pe = PeFile32::parse(image).map_err(|e| Refusal::NotPe(e.to_string()))?;
            verify_pe(&pe, trusted, now)
        }
        Ok(other) => Err(Refusal::NotPe(format!("a {other:?} file"))),
        Err(e) => Err(Refusal::NotPe(e.to_string())),
    }
}

fn verify_pe(
    pe: &dyn PeTrait,
    trusted: &[Certificate],
    now: SystemTime,
) -> Result<Signed, Refusal> {
    let table = AttributeCertificateIterator::new(pe)
        .map_err(|e| Refusal::NotPe(format!("its certificate table: {e}")))?
        .ok_or(Refusal::Unsigned)?;
    let mut first_refusal = None;
    for entry in table {
        let outcome = entry
            .map_err(|e| Refusal::BadSignature(e.to_string()))
            .and_then(|entry| verify_signature(pe, entry.data, trusted, now));
        match outcome {
            Ok(signed) => return Ok(signed),
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    Err(first_refusal.unwrap_or(Refusal::Unsigned))
}

fn verify_signature(
    pe: &dyn PeTrait,
    der_bytes: &[u8],
    trusted: &[Certificate],
    now: SystemTime,
) -> Result<Signed, Refusal> {
    let authenticode = AuthenticodeSignature::from_bytes(der_bytes)
        .map_err(|e| Refusal::BadSignature(e.to_string()))?;
    if authenticode.digest_algorithm().oid != rfc5912::ID_SHA_256 {
        return Err(Refusal::BadSignature(format!(
            "image digest algorithm {} (verifiers here take SHA-256)",
            authenticode.digest_algorithm().oid
        )));
    }
    let mut hasher = Sha256::new();
    authenticode::authenticode_digest(pe, &mut hasher)
        .map_err(|_| Refusal::NotPe("section or header offsets out of range".to_owned()))?;
    let actual = hasher.finalize();
    if actual.as_slice() != authenticode.digest() {
        return Err(Refusal::DigestMismatch {
            signed: hex(authenticode.digest()),
            actual: hex(&actual),
        });
    }
    // authenticode checked the shape; the certificates and signed attributes come from
    // the SignedData itself (its accessors panic on a SignedData without certificates).
    let signed_data = signed_data(der_bytes)?;
    let certificates: Vec<&Certificate> = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Some(cert),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let signer_info = authenticode.signer_info();
    let signer = signer_certificate(signer_info, &certificates)?;
    let content = authenticode
        .encapsulated_content()
        .ok_or_else(|| Refusal::BadSignature("no signed content".to_owned()))?;
    check_signer_info(signer_info, signer, content)?;
    let anchor = chain(signer, &certificates, trusted).ok_or_else(|| Refusal::Untrusted {
        signer: signer.tbs_certificate.subject.to_string(),
        issuer: signer.tbs_certificate.issuer.to_string(),
    })?;
    let not_after = signer.tbs_certificate.validity.not_after;
    Ok(Signed {
        signer: signer.tbs_certificate.subject.to_string(),
        anchor: anchor.tbs_certificate.subject.to_string(),
        expired: (not_after.to_system_time() < now).then(|| not_after.to_string()),
    })
}

fn signed_data(der_bytes: &[u8]) -> Result<SignedData, Refusal> {
    let bad = |e: der::Error| Refusal::BadSignature(e.to_string());
    // The attribute certificate is padded to 8 bytes: trailing zeros are not an error.
    let mut reader = SliceReader::new(der_bytes).map_err(bad)?;
    let info = ContentInfo::decode(&mut reader).map_err(bad)?;
    info.content.decode_as::<SignedData>().map_err(bad)
}

fn signer_certificate<'c>(
    signer_info: &SignerInfo,
    certificates: &[&'c Certificate],
) -> Result<&'c Certificate, Refusal> {
    let SignerIdentifier::IssuerAndSerialNumber(id) = &signer_info.sid else {
        return Err(Refusal::BadSignature(
            "signer named by key identifier, which UEFI verifiers do not take".to_owned(),
        ));
    };
    certificates
        .iter()
        .copied()
        .find(|c| {
            c.tbs_certificate.issuer == id.issuer
                && c.tbs_certificate.serial_number == id.serial_number
        })
        .ok_or_else(|| {
            Refusal::BadSignature(format!(
                "signer certificate (issued by `{}`) not included",
                id.issuer
            ))
        })
}

/// The CMS signature: over the signed attributes (which carry the content's digest), or
/// over the content itself when there are none.
fn check_signer_info(
    signer_info: &SignerInfo,
    signer: &Certificate,
    content: &[u8],
) -> Result<(), Refusal> {
    let hash = signer_info.digest_alg.oid;
    let message = match &signer_info.signed_attrs {
        Some(attrs) => {
            let digest = attrs
                .iter()
                .find(|a| a.oid == rfc5911::ID_MESSAGE_DIGEST)
                .and_then(|a| a.values.iter().next())
                .and_then(|v| v.decode_as::<der::asn1::OctetString>().ok())
                .ok_or_else(|| Refusal::BadSignature("no message digest attribute".to_owned()))?;
            if digest.as_bytes() != digest_of(hash, content)?.as_slice() {
                return Err(Refusal::BadSignature(
                    "the signed attributes do not match the signed content".to_owned(),
                ));
            }
            attrs
                .to_der()
                .map_err(|e| Refusal::BadSignature(e.to_string()))?
        }
        None => content.to_vec(),
    };
    let signature_alg = signer_info.signature_algorithm.oid;
    if signature_alg != rfc5912::RSA_ENCRYPTION && rsa_hash(signature_alg) != Some(hash) {
        return Err(Refusal::BadSignature(format!(
            "signature algorithm {signature_alg} (verifiers here take RSA PKCS#1 v1.5)"
        )));
    }
    rsa_verify(signer, hash, &message, signer_info.signature.as_bytes()).map_err(|why| {
        Refusal::BadSignature(format!("the signer's signature does not verify: {why}"))
    })
}

/// The trusted certificate `signer` chains to: itself, or an issuer on the path through
/// the signature's own certificates, each link's signature checked.
fn chain<'t>(
    signer: &Certificate,
    bag: &[&Certificate],
    trusted: &'t [Certificate],
) -> Option<&'t Certificate> {
    let mut current = signer;
    for _ in 0..MAX_CHAIN {
        if let Some(anchor) = trusted.iter().find(|t| *t == current || issued(t, current)) {
            return Some(anchor);
        }
        let issuer = bag
            .iter()
            .copied()
            .find(|c| *c != current && issued(c, current))?;
        current = issuer;
    }
    None
}

/// Whether `issuer` signed `cert`.
fn issued(issuer: &Certificate, cert: &Certificate) -> bool {
    if issuer.tbs_certificate.subject != cert.tbs_certificate.issuer {
        return false;
    }
    let Some(hash) = rsa_hash(cert.signature_algorithm.oid) else {
        return false;
    };
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    let Some(signature) = cert.signature.as_bytes() else {
        return false;
    };
    rsa_verify(issuer, hash, &tbs, signature).is_ok()
}

/// The hash of an RSA PKCS#1 v1.5 signature algorithm.
fn rsa_hash(algorithm: ObjectIdentifier) -> Option<ObjectIdentifier> {
    match algorithm {
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION => Some(rfc5912::ID_SHA_256),
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION => Some(rfc5912::ID_SHA_384),
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION => Some(rfc5912::ID_SHA_512),
        _ => None,
    }
}

fn digest_of(hash: ObjectIdentifier, message: &[u8]) -> Result<Vec<u8>, Refusal> {
    Ok(match hash {
        rfc5912::ID_SHA_256 => Sha256::digest(message).to_vec(),
        rfc5912::ID_SHA_384 => Sha384::digest(message).to_vec(),
        rfc5912::ID_SHA_512 => Sha512::digest(message).to_vec(),
        other => return Err(Refusal::BadSignature(format!("digest algorithm {other}"))),
    })
}

fn rsa_verify(
    key_owner: &Certificate,
    hash: ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let spki = key_owner
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    let key =
        RsaPublicKey::from_public_key_der(&spki).map_err(|e| format!("not an RSA key: {e}"))?;
    let scheme = match hash {
        rfc5912::ID_SHA_256 => Pkcs1v15Sign::new::<Sha256>(),
        rfc5912::ID_SHA_384 => Pkcs1v15Sign::new::<Sha384>(),
        rfc5912::ID_SHA_512 => Pkcs1v15Sign::new::<Sha512>(),
        other => return Err(format!("digest algorithm {other}")),
    };
    let hashed = digest_of(hash, message).map_err(|r| r.to_string())?;
    key.verify(scheme, &hashed, signature)
        .map_err(|e| e.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads certificates from PEM (one or more `CERTIFICATE` blocks) or a single DER.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    // x509-cert 0.2's `load_pem_chain` computes `len - 1` of what is left after trailing
    // line breaks: an empty file or one of line breaks only overflows (found by fuzzing).
    if bytes.trim_ascii().is_empty() {
        return Err("the file is empty: no certificate".to_owned());
    }
    if bytes.starts_with(b"-----BEGIN") || bytes.iter().take(64).all(u8::is_ascii) {
        let certs = Certificate::load_pem_chain(bytes).map_err(|e| format!("PEM: {e}"))?;
        if certs.is_empty() {
            return Err("no CERTIFICATE in the PEM file".to_owned());
        }
        return Ok(certs);
    }
    Certificate::from_der(bytes)
        .map(|c| vec![c])
        .map_err(|e| format!("DER: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's first finding: these panicked (overflow) inside x509-cert.
    #[test]
    fn empty_or_blank_certificate_files_are_errors_not_panics() {
        for bytes in [&b""[..], b"\n", b"\r\n\r\n", b" \t\n"] {
            assert_eq!(
                parse_certificates(bytes).map(|c| c.len()),
                Err("the file is empty: no certificate".to_owned()),
                "{bytes:?}"
            );
        }
    }
}
