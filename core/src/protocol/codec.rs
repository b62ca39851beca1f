//! The envelope: a message is CBOR (the encoding automerge-repo uses), then gzip.

use std::io::Read;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::limits;

/// Why an envelope could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is larger than the limit, compressed or inflated.
    #[error("body too large: over {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// The body is not valid gzip.
    #[error("not gzip: {0}")]
    Gzip(String),
    /// The inflated body is not the expected CBOR message.
    #[error("not a valid message: {0}")]
    Cbor(String),
}

/// Encodes a message: CBOR, then gzip.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut cbor = Vec::new();
    // Writing into a Vec cannot fail, and our messages have no maps with non-string keys.
    if let Err(e) = ciborium::into_writer(msg, &mut cbor) {
        tracing::error!("CBOR encoding failed: {e}");
    }
    let mut gz = GzEncoder::new(Vec::with_capacity(cbor.len() / 2 + 64), Compression::fast());
    let _ = std::io::Write::write_all(&mut gz, &cbor);
    gz.finish().unwrap_or_default()
}

/// Decodes a message, refusing bodies over the limits before inflating or parsing them.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    if body.len() > limits::BODY_BYTES {
        return Err(DecodeError::TooLarge { limit: limits::BODY_BYTES });
    }
    let mut inflated = Vec::new();
    GzDecoder::new(body)
        .take(limits::INFLATED_BYTES as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| DecodeError::Gzip(e.to_string()))?;
    if inflated.len() > limits::INFLATED_BYTES {
        return Err(DecodeError::TooLarge { limit: limits::INFLATED_BYTES });
    }
    ciborium::from_reader(inflated.as_slice()).map_err(|e| DecodeError::Cbor(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::DocId;
    use crate::protocol::{PushDoc, SyncRequest, SyncResponse, VERSION};

    fn request() -> SyncRequest {
        SyncRequest {
            v: VERSION,
            epoch: Some("e1".into()),
            cursor: "l.42".into(),
            actor: vec![1; 16],
            push: vec![PushDoc { doc: DocId::random(), changes: vec![1, 2, 3], heads: vec![] }],
            want: vec![DocId::random()],
            page_bytes: 65536,
        }
    }

    #[test]
    fn round_trips() {
        let req = request();
        let back: SyncRequest = decode(&encode(&req)).expect("decodes");
        assert_eq!(back, req);
    }

    #[test]
    fn empty_exchange_is_small() {
        let req = SyncRequest { push: vec![], want: vec![], ..request() };
        let resp = SyncResponse {
            v: VERSION,
            epoch: "0123456789abcdef".into(),
            results: vec![],
            docs: vec![],
            cursor: "l.123456".into(),
            more: false,
            remaining: 0,
        };
        let total = encode(&req).len() + encode(&resp).len();
        assert!(total < 300, "{total} bytes");
    }

    #[test]
    fn refuses_garbage_truncation_and_bombs() {
        let body = encode(&request());
        assert!(matches!(decode::<SyncRequest>(b"plain text"), Err(DecodeError::Gzip(_))));
        assert!(decode::<SyncRequest>(&body[..body.len() - 4]).is_err());
        // Valid gzip, wrong message.
        assert!(matches!(decode::<SyncRequest>(&encode(&"hello")), Err(DecodeError::Cbor(_))));
        // A gzip bomb: 64 MiB of zeros compresses to ~64 KiB.
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            std::io::Write::write_all(&mut gz, &zeros).expect("write");
        }
        let bomb = gz.finish().expect("finish");
        assert!(bomb.len() < limits::BODY_BYTES);
        assert!(matches!(decode::<SyncRequest>(&bomb), Err(DecodeError::TooLarge { .. })));
    }
}
