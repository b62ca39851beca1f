//! Identifiers: document ids in automerge-repo's bs58check form, and short keys for list items.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;

use crate::error::CoreError;

/// The id of one record: 16 random bytes, shown as automerge-repo shows document ids (bs58check),
/// so `automerge:<id>` URLs work.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId([u8; 16]);

// Foreign code sees a document id as its string form.
#[cfg(feature = "uniffi")]
uniffi::custom_type!(DocId, String, {
    lower: |id| id.to_string(),
    try_lift: |s| Ok(s.parse::<DocId>()?),
});

impl DocId {
    /// A new random id.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        DocId(bytes)
    }

    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Builds an id from its raw bytes (as stored in SQLite).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CoreError> {
        let arr: [u8; 16] = bytes.try_into().map_err(|_| CoreError::InvalidId {
            input: format!("{} raw bytes", bytes.len()),
            reason: "a document id is 16 bytes",
        })?;
        Ok(DocId(arr))
    }
}

impl From<[u8; 16]> for DocId {
    fn from(bytes: [u8; 16]) -> Self {
        DocId(bytes)
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({self})")
    }
}

impl FromStr for DocId {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bare = s.strip_prefix("automerge:").unwrap_or(s);
        let shown: String = s.chars().take(64).collect();
        if bare.is_empty() || bare.len() > 40 {
            return Err(CoreError::InvalidId { input: shown, reason: "wrong length" });
        }
        let bytes = bs58::decode(bare)
            .with_check(None)
            .into_vec()
            .map_err(|_| CoreError::InvalidId { input: shown.clone(), reason: "not bs58check" })?;
        let arr: [u8; 16] = bytes
            .try_into()
            .map_err(|_| CoreError::InvalidId { input: shown, reason: "not 16 bytes" })?;
        Ok(DocId(arr))
    }
}

/// The wire (CBOR) carries the 16 bytes; formats for people (JSON: the desk API) the id as
/// it is shown, bs58check.
impl serde::Serialize for DocId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() { s.collect_str(self) } else { s.serialize_bytes(&self.0) }
    }
}

impl<'de> serde::Deserialize<'de> for DocId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let shown = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
            return shown.parse().map_err(serde::de::Error::custom);
        }
        let bytes = serde_bytes_compat::deserialize(d)?;
        DocId::from_slice(&bytes).map_err(serde::de::Error::custom)
    }
}

mod serde_bytes_compat {
    //! Accepts a byte string or a sequence of integers, whichever the format produced.
    use serde::de::{self, Visitor};
    use std::fmt;

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    if out.len() >= 64 {
                        return Err(de::Error::custom("byte string too long"));
                    }
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A short random key for an item of a list that several people append to (an entry, a comment,
/// a session), so that it can be addressed after concurrent appends reorder the list.
pub fn item_key() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    bs58::encode(bytes).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_bs58check() {
        let id = DocId::random();
        let text = id.to_string();
        assert_eq!(text.parse::<DocId>().ok(), Some(id));
        assert_eq!(format!("automerge:{text}").parse::<DocId>().ok(), Some(id));
    }

    #[test]
    fn matches_automerge_repo_encoding() {
        // automerge-repo: bs58check.encode(uuid bytes); a known id from its docs round-trips.
        let id: DocId = "4NMNnkMhL8jXrdJ9jamS58PAVdXu".parse().expect("valid automerge-repo id");
        assert_eq!(id.to_string(), "4NMNnkMhL8jXrdJ9jamS58PAVdXu");
    }

    #[test]
    fn refuses_bad_ids() {
        for bad in ["", "not an id", "4NMNnkMhL8jXrdJ9jamS58PAVdXv", "111111", &"z".repeat(200)] {
            assert!(matches!(bad.parse::<DocId>(), Err(CoreError::InvalidId { .. })), "{bad}");
        }
    }
}
