use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// A sha256 digest, written `sha256:<64 lowercase hex>` in manifests and as the bare hex in
/// object paths and ETags.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

const PREFIX: &str = "sha256:";

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The digest of everything `reader` yields, read in 256 KiB pieces.
    pub fn of_reader(reader: &mut impl std::io::Read) -> std::io::Result<Self> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(Self::from_hasher(hasher));
            }
            hasher.update(&buf[..n]);
        }
    }

    /// Wraps a finished hasher's output.
    pub fn from_hasher(hasher: Sha256) -> Self {
        Self(hasher.finalize().into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        }
        out
    }

    /// Parses exactly 64 hex digits (either case; the canonical form is lowercase).
    pub fn from_hex(hex: &str) -> Result<Self, DigestParseError> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err(DigestParseError::Length(bytes.len()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let high = hex_value(pair[0]).ok_or(DigestParseError::NotHex)?;
            let low = hex_value(pair[1]).ok_or(DigestParseError::NotHex)?;
            out[i] = (high << 4) | low;
        }
        Ok(Self(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Why a digest string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestParseError {
    MissingPrefix,
    Length(usize),
    NotHex,
}

impl fmt::Display for DigestParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingPrefix => write!(f, "expected `sha256:` followed by 64 hex digits"),
            Self::Length(n) => write!(f, "expected 64 hex digits, found {n} characters"),
            Self::NotHex => write!(f, "expected only hex digits (0-9, a-f)"),
        }
    }
}

impl std::error::Error for DigestParseError {}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    /// Parses the `sha256:<hex>` form.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s
            .strip_prefix(PREFIX)
            .ok_or(DigestParseError::MissingPrefix)?;
        Self::from_hex(hex)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_round_trips() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            "ba78".parse::<Digest>(),
            Err(DigestParseError::MissingPrefix)
        );
        assert_eq!(
            "sha256:ab".parse::<Digest>(),
            Err(DigestParseError::Length(2))
        );
        let bad = format!("sha256:{}", "g".repeat(64));
        assert_eq!(bad.parse::<Digest>(), Err(DigestParseError::NotHex));
        // Multi-byte characters must not be mistaken for hex digits or split mid-char.
        let wide = format!("sha256:{}", "é".repeat(32));
        assert_eq!(wide.parse::<Digest>(), Err(DigestParseError::NotHex));
    }

    #[test]
    fn uppercase_hex_parses_to_the_same_digest() {
        let d = Digest::of(b"x");
        assert_eq!(Digest::from_hex(&d.hex().to_uppercase()), Ok(d));
    }
}
