use serde::{Deserialize, Serialize};

use crate::{Digest, FORMAT, FormatError};

/// The content of `current`: the one mutable file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    pub format: String,
    pub manifest: Digest,
    /// The release record (an object, written by `netbootc publish` and `rollback`) that
    /// names this manifest and the record of the release it replaced. Absent in bundles
    /// written by `netbootc build`; servers only need `manifest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<Digest>,
}

impl Pointer {
    /// A pointer is a few hundred bytes; anything bigger is not one.
    pub const MAX_BYTES: u64 = 64 * 1024;

    pub fn new(manifest: Digest) -> Self {
        Self {
            format: FORMAT.to_owned(),
            manifest,
            release: None,
        }
    }

    /// A pointer that also names its release record.
    pub fn with_release(manifest: Digest, release: Digest) -> Self {
        Self {
            release: Some(release),
            ..Self::new(manifest)
        }
    }

    /// Parses and checks the bytes of a `current` (size and format tag).
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let pointer: Self = crate::parse_document(bytes, Self::MAX_BYTES)?;
        crate::check_format(&pointer.format, FORMAT)?;
        Ok(pointer)
    }

    pub fn to_canonical(&self) -> Vec<u8> {
        crate::canonical::to_vec(self).expect("a pointer always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes_and_refuses_the_rest() {
        let p = Pointer::with_release(Digest::of(b"m"), Digest::of(b"r"));
        assert_eq!(Pointer::parse(&p.to_canonical()), Ok(p));
        let other = br#"{"format":"other/9","manifest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#;
        assert!(matches!(
            Pointer::parse(other),
            Err(FormatError::UnknownFormat { .. })
        ));
        let huge = vec![b' '; Pointer::MAX_BYTES as usize + 1];
        assert_eq!(
            Pointer::parse(&huge),
            Err(FormatError::TooLarge {
                limit: Pointer::MAX_BYTES
            })
        );
    }
}
