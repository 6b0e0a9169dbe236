//! MAC addresses: the one parser, and the spellings each side of a boundary uses.

use std::fmt;

/// A 48-bit MAC address. It is spelt `52-54-00-1a-00-99` in routes and the manifest (as
/// iPXE's `${mac:hexhyp}` prints it; [`hexhyp`](Self::hexhyp)) and `52:54:00:1a:00:99` in
/// the status document and KDL stanzas ([`Display`](fmt::Display)).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac([u8; 6]);

impl Mac {
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// `52:54:00:AA:00:01`, `52-54-00-aa-00-01` or `525400aa0001`: six pairs of hex digits,
    /// either all joined or each after the first behind a `:` or `-`.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let separated = match bytes.len() {
            12 => false,
            17 => true,
            _ => return None,
        };
        let stride = if separated { 3 } else { 2 };
        let mut octets = [0u8; 6];
        for (i, octet) in octets.iter_mut().enumerate() {
            let at = i * stride;
            if separated && i > 0 && !matches!(bytes[at - 1], b':' | b'-') {
                return None;
            }
            let pair = text.get(at..at + 2)?;
            if !pair.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None; // from_str_radix would take a leading `+`
            }
            *octet = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(octets))
    }

    /// The six octets.
    pub const fn bytes(&self) -> [u8; 6] {
        self.0
    }

    /// `52-54-00-1a-00-99`, as iPXE's `${mac:hexhyp}` prints it.
    pub fn hexhyp(&self) -> String {
        self.spelt('-')
    }

    fn spelt(&self, separator: char) -> String {
        let mut out = String::with_capacity(17);
        for (i, octet) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(separator);
            }
            out.push_str(&format!("{octet:02x}"));
        }
        out
    }
}

/// `52:54:00:1a:00:99`.
impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spelt(':'))
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

/// As the status document spells it: `52:54:00:1a:00:99`.
impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&text),
                &"a MAC address such as 52:54:00:1a:00:99",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_spelling_gives_the_same_address() {
        let mac = Mac([0x52, 0x54, 0x00, 0xaa, 0x00, 0x01]);
        for text in [
            "52:54:00:AA:00:01",
            "52-54-00-aa-00-01",
            "525400aa0001",
            "52:54-00:aa-00:01",
        ] {
            assert_eq!(Mac::parse(text), Some(mac), "{text}");
        }
        assert_eq!(mac.hexhyp(), "52-54-00-aa-00-01");
        assert_eq!(mac.to_string(), "52:54:00:aa:00:01");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "52:54:00:aa:00",
            "52:54:00:aa:00:01:02",
            "52:54:00:aa:00:0g",
            "5254:00aa:0001::",
            // Separators anywhere but between pairs (netbootc's old parser took this one).
            "5254:00:aa:00:01:",
            "52:54:00:aa:0001",
            "52::54:00:aa:00:01x",
            "52.54.00.aa.00.01",
            "525400aa000",
            "525400aa00011",
            "+2:54:00:aa:00:01",
            "52:54:00:aa:00:é",
            " 52:54:00:aa:00:01",
        ] {
            assert_eq!(Mac::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn serde_reads_any_spelling_and_writes_colons() {
        let mac: Result<Mac, _> = serde_json::from_str("\"52-54-00-1A-00-99\"");
        assert_eq!(
            mac.ok()
                .and_then(|m| serde_json::to_string(&m).ok())
                .as_deref(),
            Some("\"52:54:00:1a:00:99\"")
        );
        assert!(serde_json::from_str::<Mac>("\"52-54-00-1a-00\"").is_err());
    }
}
