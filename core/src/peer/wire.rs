//! The peer link's envelope and messages (`docs/peer.md`): a frame is a magic, a version, a
//! length and a CBOR message, so a peer of another version or a truncated or padded frame is
//! told apart from a message that does not parse, each with an error of its own.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::credential::{Credential, SignedRevocations};
use super::proof::Nonce;
use crate::authorship::{ChangeSig, Signature};

/// The bytes every frame starts with.
pub const MAGIC: [u8; 4] = *b"FSPR";
/// The envelope version this build speaks: 3, whose hellos carry a nonce that each side answers
/// with a proof of its device key (version 2 had no proof; version 1 no change signatures).
pub const VERSION: u8 = 3;
/// Bytes before the message: magic, version, length (u32, big-endian).
pub const HEADER_BYTES: usize = 9;
/// The largest message a frame may carry.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the header, or than the length it gives.
    #[error("truncated frame: {got} bytes, {needed} needed")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes the header says the frame has.
        needed: usize,
    },
    /// Bytes after the message the header announces.
    #[error("{extra} bytes after the message")]
    Trailing {
        /// How many.
        extra: usize,
    },
    /// The frame does not start with [`MAGIC`].
    #[error("not a fieldsync peer frame")]
    NotAFrame,
    /// A version this build does not speak.
    #[error("peer envelope version {found}; this build speaks {VERSION}")]
    Version {
        /// The version the frame carries.
        found: u8,
    },
    /// The header announces a message over [`MAX_MESSAGE_BYTES`].
    #[error("message of {len} bytes; at most {MAX_MESSAGE_BYTES}")]
    TooLarge {
        /// The announced length.
        len: usize,
    },
    /// The message is not one of [`Message`]'s.
    #[error("not a peer message: {0}")]
    Cbor(String),
}

/// One message of a peer session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// Who this peer is: its credential, and the revocation list as of its last sync.
    Hello(Hello),
    /// The proof that this side holds the device key its credential names.
    Proof(Proof),
    /// The peer's credential is refused: nothing is shared.
    Refuse(Refusal),
    /// The documents this side may share with the other, and the credentials of the authors
    /// it may relay changes of.
    Offer(Offer),
    /// One round of document messages.
    Round(Vec<Item>),
    /// Nothing to send this round.
    Done,
}

/// The first message each side sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// This device's credential, signed by the server.
    pub credential: Credential,
    /// The revocation list this device holds, if it has one.
    pub revocations: Option<SignedRevocations>,
    /// A fresh random nonce: the challenge the other side's proof answers.
    pub nonce: Nonce,
}

/// The second message each side sends: its device key's signature of the session's
/// transcript (`super::proof::transcript`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proof {
    /// ed25519, by the key in this side's credential.
    pub sig: Signature,
}

/// Why a credential was refused, on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// The reason, as [`super::CredentialRefusal::code`] spells it.
    pub code: String,
    /// For people and logs.
    pub message: String,
}

/// A side's offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// The documents the other side may read, each with this side's heads.
    pub docs: Vec<Offered>,
    /// Credentials of the authors whose changes this side holds (its own included).
    pub credentials: Vec<Credential>,
}

/// A document offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offered {
    /// The document id (16 bytes).
    pub id: ByteBuf,
    /// Its heads (32 bytes each).
    pub heads: Vec<ByteBuf>,
}

/// One document's part of a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// An Automerge sync message (`automerge::sync::Message::encode`).
    Sync {
        /// The document id.
        doc: ByteBuf,
        /// The encoded sync message.
        msg: ByteBuf,
        /// Signatures of changes the other side may lack, by their authors' device keys.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sigs: Vec<ChangeSig>,
    },
    /// A document the other side did not offer: its saved bytes, loadable as one.
    Whole {
        /// The document id.
        doc: ByteBuf,
        /// Snapshot and chunks.
        bytes: ByteBuf,
        /// Signatures of its changes, by their authors' device keys.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sigs: Vec<ChangeSig>,
    },
    /// The changes received for this document were refused: neither side sends more of it.
    Refused {
        /// The document id.
        doc: ByteBuf,
        /// The rule that failed.
        rule: String,
        /// What was not allowed.
        message: String,
    },
}

/// Encodes `msg` into one frame.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&[0; 4]);
    // Writing into a Vec cannot fail, and the messages have no maps with non-string keys.
    if let Err(e) = ciborium::into_writer(msg, &mut out) {
        tracing::error!("CBOR encoding failed: {e}");
    }
    let len = u32::try_from(out.len() - HEADER_BYTES).unwrap_or(u32::MAX);
    out[5..HEADER_BYTES].copy_from_slice(&len.to_be_bytes());
    out
}

/// Decodes one frame: every byte must belong to it.
pub fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
    if frame.len() < HEADER_BYTES {
        if !MAGIC.starts_with(&frame[..frame.len().min(4)]) {
            return Err(DecodeError::NotAFrame);
        }
        return Err(DecodeError::Truncated { got: frame.len(), needed: HEADER_BYTES });
    }
    if frame[..4] != MAGIC {
        return Err(DecodeError::NotAFrame);
    }
    if frame[4] != VERSION {
        return Err(DecodeError::Version { found: frame[4] });
    }
    let len = message_len(frame)?;
    let needed = HEADER_BYTES + len;
    match frame.len() {
        n if n < needed => Err(DecodeError::Truncated { got: n, needed }),
        n if n > needed => Err(DecodeError::Trailing { extra: n - needed }),
        _ => ciborium::from_reader(&frame[HEADER_BYTES..])
            .map_err(|e| DecodeError::Cbor(e.to_string())),
    }
}

/// The message length a frame's header announces (a header of [`HEADER_BYTES`] is given).
pub fn message_len(header: &[u8]) -> Result<usize, DecodeError> {
    let bytes: [u8; 4] = header
        .get(5..HEADER_BYTES)
        .and_then(|b| b.try_into().ok())
        .ok_or(DecodeError::Truncated { got: header.len(), needed: HEADER_BYTES })?;
    let len = u32::from_be_bytes(bytes) as usize;
    if len > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge { len });
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn round() -> Message {
        Message::Round(vec![
            Item::Sync {
                doc: ByteBuf::from(vec![1; 16]),
                msg: ByteBuf::from(vec![2; 40]),
                sigs: vec![ChangeSig {
                    hash: crate::protocol::Hash([4; 32]),
                    sig: Signature([5; 64]),
                }],
            },
            Item::Refused {
                doc: ByteBuf::from(vec![3; 16]),
                rule: "read".into(),
                message: "no".into(),
            },
        ])
    }

    #[test]
    fn frames_round_trip() {
        let proof = Message::Proof(Proof { sig: Signature([9; 64]) });
        for msg in [Message::Done, round(), proof] {
            assert_eq!(decode(&encode(&msg)), Ok(msg));
        }
    }

    #[test]
    fn bad_frames_get_typed_errors() {
        let frame = encode(&round());
        assert_eq!(
            decode(&frame[..frame.len() - 1]),
            Err(DecodeError::Truncated { got: frame.len() - 1, needed: frame.len() })
        );
        let mut padded = frame.clone();
        padded.push(0);
        assert_eq!(decode(&padded), Err(DecodeError::Trailing { extra: 1 }));
        let mut v1 = frame.clone();
        v1[4] = 1;
        assert_eq!(decode(&v1), Err(DecodeError::Version { found: 1 }));
        assert_eq!(decode(b"GET / HTTP/1.1"), Err(DecodeError::NotAFrame));
        let mut huge = frame.clone();
        huge[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(decode(&huge), Err(DecodeError::TooLarge { .. })));
        let mut garbage = frame[..HEADER_BYTES].to_vec();
        garbage[5..9].copy_from_slice(&3u32.to_be_bytes());
        garbage.extend_from_slice(&[0xff, 0x00, 0x13]);
        assert!(matches!(decode(&garbage), Err(DecodeError::Cbor(_))));
    }

    /// A round whose one signature is `len` bytes, encoded as a peer of another shape might.
    fn round_with_signature_of(len: usize) -> Vec<u8> {
        #[derive(Serialize)]
        struct Sig {
            hash: ByteBuf,
            sig: ByteBuf,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum LooseItem {
            Whole { doc: ByteBuf, bytes: ByteBuf, sigs: Vec<Sig> },
        }
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Loose {
            Round(Vec<LooseItem>),
        }
        let sig = Sig { hash: ByteBuf::from(vec![1; 32]), sig: ByteBuf::from(vec![2; len]) };
        let item = LooseItem::Whole {
            doc: ByteBuf::from(vec![3; 16]),
            bytes: ByteBuf::new(),
            sigs: vec![sig],
        };
        let mut body = Vec::new();
        ciborium::into_writer(&Loose::Round(vec![item]), &mut body).unwrap();
        let mut frame = MAGIC.to_vec();
        frame.push(VERSION);
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&body);
        frame
    }

    #[test]
    fn signatures_of_another_length_are_typed_errors() {
        assert!(matches!(decode(&round_with_signature_of(64)), Ok(Message::Round(_))));
        for len in [0, 1, 32, 63, 65, 1024, 70_000] {
            assert!(
                matches!(decode(&round_with_signature_of(len)), Err(DecodeError::Cbor(_))),
                "{len} bytes"
            );
        }
    }

    proptest! {
        #[test]
        fn hostile_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn hostile_messages_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut frame = MAGIC.to_vec();
            frame.push(VERSION);
            frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
            frame.extend_from_slice(&body);
            let _ = decode(&frame);
        }
    }
}
