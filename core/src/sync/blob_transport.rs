//! How photo bytes reach the server and come back (docs/blobs.md, "Endpoints"): a trait of its
//! own beside [`Transport`](super::Transport), which carries envelopes only, so a transport (or
//! a test's wrapper of one) that has no blob endpoints needs no change. HTTP implements both.

use std::future::Future;
use std::io;

use super::transport::TransportError;
use crate::protocol::ContentRange;
use crate::store::PhotoVariant;

/// What a blob answer says before its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHead {
    /// Offset in the blob of the answer's first byte: the start of the range asked for, or 0
    /// when the server sent the whole blob.
    pub first: u64,
    /// The size of the whole blob (or thumbnail), when the answer says it.
    pub total: Option<u64>,
}

/// Takes the bytes of a blob answer as they arrive.
pub trait BlobSink: Send {
    /// The answer starts; its bytes follow.
    fn begin(&mut self, head: &BlobHead) -> io::Result<()>;
    /// The next bytes. An error stops the transfer (the transport reports a network error).
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
}

/// Carries photo bytes to and from the server.
pub trait BlobTransport: Send + Sync {
    /// `GET /v1/blobs/{hash}/status`: the body of the 200 answer (an envelope holding a
    /// `BlobStatus`).
    fn blob_status(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;

    /// `PUT /v1/blobs/{hash}` of `bytes` at `range`: the body of the 200 answer (an envelope
    /// holding the `BlobStatus` after the range).
    fn put_blob(
        &self,
        hash: &str,
        range: ContentRange,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;

    /// `GET /v1/blobs/{hash}/challenge?size={size}`: the body of the 200 answer (an envelope
    /// holding a `BlobChallenge`).
    fn blob_challenge(
        &self,
        hash: &str,
        size: u64,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;

    /// `POST /v1/blobs/{hash}/proof` of `body` (an envelope holding a `BlobProof`): the body of
    /// the 200 answer (an envelope holding the `BlobStatus` after it).
    fn blob_proof(
        &self,
        hash: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;

    /// `GET /v1/blobs/{hash}` (or its `/thumbnail`) from byte `from` on (`Range: bytes={from}-`
    /// when `from > 0`), the bytes handed to `sink` as they arrive. `Ok` once the answer's body
    /// ended where its length said.
    fn get_blob(
        &self,
        hash: &str,
        variant: PhotoVariant,
        from: u64,
        sink: &mut dyn BlobSink,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
}
