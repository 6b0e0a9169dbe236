use serde::{Deserialize, Serialize};

use crate::{Digest, FormatError};

/// The format tag of release records.
pub const RECORD_FORMAT: &str = "netboot-release/1";

/// A release record: one entry of a store's history, stored as an ordinary object
/// (immutable, content-addressed) and named by `current`'s `release` field. Each names the
/// record of the release it replaced, so the history is a hash chain walked from
/// `current`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub format: String,
    /// The manifest this release serves.
    pub manifest: Digest,
    /// The record of the release this one replaced; absent for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
    /// `publish`, `rollback` or `adopted` (a pointer found without a record).
    pub action: String,
    /// RFC 3339, UTC; absent for adopted releases (their time is unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// Who wrote it (`$NETBOOTC_PUBLISHER`, else `$USER@$HOSTNAME`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_by: Option<String>,
    /// The tool and version that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

impl Record {
    /// Records are a few hundred bytes.
    pub const MAX_BYTES: u64 = 64 * 1024;

    /// The record stored for a pointer that had none: nothing is known but its manifest.
    pub fn adopted(manifest: Digest) -> Self {
        Self {
            format: RECORD_FORMAT.to_owned(),
            manifest,
            previous: None,
            action: "adopted".to_owned(),
            published_at: None,
            published_by: None,
            tool: None,
        }
    }

    /// Parses and checks a record (size and format tag).
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let record: Self = crate::parse_document(bytes, Self::MAX_BYTES)?;
        crate::check_format(&record.format, RECORD_FORMAT)?;
        Ok(record)
    }

    pub fn to_canonical(&self) -> Vec<u8> {
        crate::canonical::to_vec(self).expect("a record always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_canonical_and_optional_fields_vanish() {
        let r = Record::adopted(Digest::of(b"m"));
        let bytes = r.to_canonical();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"action\":\"adopted\",\"format\":\"netboot-release/1\""));
        assert!(!text.contains("previous"));
        assert_eq!(Record::parse(&bytes), Ok(r));
        let manifest_like = text.replace(RECORD_FORMAT, crate::FORMAT);
        assert!(matches!(
            Record::parse(manifest_like.as_bytes()),
            Err(FormatError::UnknownFormat { .. })
        ));
    }
}
