//! The subject of a certificate as `CN=…,O=…`, for access logs.
//!
//! webpki has already verified the certificate by the time this runs; this only walks
//! the DER far enough to find `tbsCertificate.subject` and prints the attributes a person
//! reads (CN, O, OU, C, L, ST, serialNumber), in certificate order. Anything unexpected
//! gives `None` rather than a guess.

use rustls_pki_types::CertificateDer;

/// One DER TLV: tag, contents, and the bytes after it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0;

/// `CN=client-1,O=Example`, or `None` if the certificate cannot be walked.
pub fn peer_subject(cert: &CertificateDer<'_>) -> Option<String> {
    let (tag, certificate, _) = tlv(cert.as_ref())?;
    (tag == SEQUENCE).then_some(())?;
    let (tag, tbs, _) = tlv(certificate)?;
    (tag == SEQUENCE).then_some(())?;
    let mut rest = tbs;
    let (tag, _, after) = tlv(rest)?;
    if tag == VERSION {
        rest = after;
    }
    // serialNumber, signature, issuer, validity, then subject.
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (tag, subject, _) = tlv(rest)?;
    (tag == SEQUENCE).then_some(())?;
    let mut parts = Vec::new();
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (tag, set, next) = tlv(rdns)?;
        (tag == SET).then_some(())?;
        rdns = next;
        let mut attrs = set;
        while !attrs.is_empty() {
            let (tag, attr, next) = tlv(attrs)?;
            (tag == SEQUENCE).then_some(())?;
            attrs = next;
            let (tag, oid, value) = tlv(attr)?;
            (tag == OID).then_some(())?;
            let (_, value, _) = tlv(value)?;
            let Some(name) = attribute_name(oid) else {
                continue;
            };
            let value = String::from_utf8_lossy(value);
            let escaped: String = value
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            parts.push(format!("{name}={escaped}"));
        }
    }
    Some(parts.join(","))
}

fn attribute_name(oid: &[u8]) -> Option<&'static str> {
    // 2.5.4.x is encoded 55 04 x.
    match oid {
        [0x55, 0x04, 0x03] => Some("CN"),
        [0x55, 0x04, 0x05] => Some("serialNumber"),
        [0x55, 0x04, 0x06] => Some("C"),
        [0x55, 0x04, 0x07] => Some("L"),
        [0x55, 0x04, 0x08] => Some("ST"),
        [0x55, 0x04, 0x0a] => Some("O"),
        [0x55, 0x04, 0x0b] => Some("OU"),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A client chooses its subject: control characters (a newline would forge a log line,
    /// an escape sequence would paint the operator's terminal) become `?`. Quotes stay; the
    /// access log writes the whole value quoted and escaped.
    #[test]
    fn control_characters_in_the_subject_are_replaced() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "evil\nINFO access: forged\r\u{1b}[31m",
        );
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "O\"rg");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            peer_subject(cert.der()).as_deref(),
            Some("CN=evil?INFO access: forged??[31m,O=O\"rg")
        );
    }

    #[test]
    fn garbage_gives_none() {
        for bytes in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x02\x01\x00",
        ] {
            assert_eq!(peer_subject(&CertificateDer::from(bytes.to_vec())), None);
        }
    }
}
