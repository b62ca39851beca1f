//! The wire protocol between phones and the sync server: message types, limits and the envelope
//! codec (CBOR, gzip). Both sides use these types, so they cannot drift apart; `docs/protocol.md`
//! describes the same thing for a third party.

mod blobs;
mod businesses;
mod codec;
mod messages;
mod points;
mod possession;

pub use blobs::{
    BlobStatus, ContentRange, PHOTO_MEDIA_TYPES, codes as blob_codes, is_blob_hash,
    is_photo_media_type,
};
pub use businesses::{
    BusinessList, BusinessMsg, BusinessRequest, BusinessResponse, BusinessesRequest, VisitRulesMsg,
};
pub use codec::{
    DecodeError, DocsPart, decode, decode_within, encode, encode_docs_member, encode_sync_response,
};
pub use messages::*;
pub use points::{
    AwardRequest, AwardResponse, CollectRequest, CollectResponse, GoodMsg, GoodRequest,
    GoodResponse, GoodsList, GoodsRequest, PointsEntryMsg, PointsStatement, RedeemRequest,
    RedeemResponse, RedemptionMsg, StatementRequest,
};
pub use possession::{BlobChallenge, BlobProof, possession_digest};

/// The protocol version this build speaks; requests with another `v` get `unsupported_version`.
pub const VERSION: u32 = 1;

/// The version of the sync messages (`POST /v1/sync`) this build speaks: 2 carries the
/// signatures of pushed changes (`PushDoc::signed`), so that changes relayed by peers are
/// taken as their authors'. A server serves versions 1 and 2 and answers in the request's; a
/// phone that meets a server of version 1 (`unsupported_version`) syncs as version 1, without
/// signatures (docs/protocol.md, "Versions").
pub const SYNC_VERSION: u32 = 2;

/// Limits both sides enforce. A request or answer over them is refused, not truncated.
pub mod limits {
    /// Largest request or response body on the wire (compressed), in bytes.
    pub const BODY_BYTES: usize = 8 * 1024 * 1024;
    /// Largest body once decompressed, in bytes (a gzip bomb stops here).
    pub const INFLATED_BYTES: usize = 32 * 1024 * 1024;
    /// Change signatures in one sync request (`PushDoc::signed`, all documents together).
    pub const SIGNATURES: usize = 50_000;
    /// Authors besides the pushing device whose changes one sync request may relay.
    pub const RELAYED_AUTHORS: usize = 64;
    /// Documents pushed in one request.
    pub const PUSH_DOCS: usize = 1_000;
    /// Change bytes pushed in one request, all documents together.
    pub const PUSH_BYTES: usize = 4 * 1024 * 1024;
    /// Documents asked for whole (`want`) in one request.
    pub const WANT_DOCS: usize = 1_000;
    /// Largest page of pulled data a client may ask for.
    pub const PAGE_BYTES_MAX: u32 = 4 * 1024 * 1024;
    /// Smallest page a client may ask for (smaller requests are raised to this).
    pub const PAGE_BYTES_MIN: u32 = 16 * 1024;
    /// Page size when a client does not say.
    pub const PAGE_BYTES_DEFAULT: u32 = 1024 * 1024;
    /// Heads listed for one document.
    pub const HEADS: usize = 64;
    /// Length of a cursor or an epoch string.
    pub const TOKEN_CHARS: usize = 128;
    /// Documents in one reconcile request.
    pub const RECONCILE_DOCS: usize = 500;
    /// Refusals listed in one answer of `GET /v1/refusals`.
    pub const REFUSALS_PAGE: usize = 500;
    /// Bytes of one blob upload (`PUT /v1/blobs/{hash}`).
    pub const CHUNK_BYTES: usize = 1024 * 1024;
    /// Ranges in one possession challenge (`GET /v1/blobs/{hash}/challenge`).
    pub const CHALLENGE_RANGES: usize = 64;
    /// Bytes all the ranges of one possession challenge hold together.
    pub const CHALLENGE_BYTES: u64 = 1024 * 1024;
    /// Bytes of a possession challenge's nonce.
    pub const NONCE_BYTES: usize = 256;
    /// Bytes of a `POST /v1/blobs/{hash}/proof` body on the wire.
    pub const PROOF_BODY_BYTES: usize = 4 * 1024;
}
