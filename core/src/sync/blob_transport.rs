//! How photo bytes reach the server and come back (docs/blobs.md, "Endpoints"): a trait of its
//! own beside [`Transport`](super::Transport), which carries envelopes only, so a transport (or
//! a test's wrapper of one) that has no blob endpoints needs no change. HTTP implements both.

use std::future::Future;
use std::io;

use super::transport::{HttpTransport, TransportError};
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

fn network(e: impl std::fmt::Display) -> TransportError {
    TransportError::Network(e.to_string())
}

impl HttpTransport {
    fn authorised(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn body_of(resp: reqwest::Response) -> Result<Vec<u8>, TransportError> {
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(network)?;
        if status == 200 {
            Ok(bytes.to_vec())
        } else {
            Err(TransportError::from_status(status, &bytes))
        }
    }
}

/// `(first, total)` from a `Content-Range: bytes {first}-{last}/{total}` answer header.
fn answered_range(value: &str) -> Option<(u64, u64)> {
    ContentRange::parse(value).map(|r| (r.first, r.size))
}

impl BlobTransport for HttpTransport {
    async fn blob_status(&self, hash: &str) -> Result<Vec<u8>, TransportError> {
        let url = format!("{}/v1/blobs/{hash}/status", self.base);
        let resp = self.authorised(self.client.get(url)).send().await.map_err(network)?;
        Self::body_of(resp).await
    }

    async fn put_blob(
        &self,
        hash: &str,
        range: ContentRange,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Vec<u8>, TransportError> {
        let url = format!("{}/v1/blobs/{hash}", self.base);
        let req = self
            .client
            .put(url)
            .header("content-range", range.to_string())
            .header("content-type", media_type)
            .body(bytes);
        let resp = self.authorised(req).send().await.map_err(network)?;
        Self::body_of(resp).await
    }

    async fn blob_challenge(&self, hash: &str, size: u64) -> Result<Vec<u8>, TransportError> {
        let url = format!("{}/v1/blobs/{hash}/challenge?size={size}", self.base);
        let resp = self.authorised(self.client.get(url)).send().await.map_err(network)?;
        Self::body_of(resp).await
    }

    async fn blob_proof(&self, hash: &str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let url = format!("{}/v1/blobs/{hash}/proof", self.base);
        let req = self
            .client
            .post(url)
            .header("content-type", "application/cbor")
            .header("content-encoding", "gzip")
            .body(body);
        let resp = self.authorised(req).send().await.map_err(network)?;
        Self::body_of(resp).await
    }

    async fn get_blob(
        &self,
        hash: &str,
        variant: PhotoVariant,
        from: u64,
        sink: &mut dyn BlobSink,
    ) -> Result<(), TransportError> {
        let url = match variant {
            PhotoVariant::Original => format!("{}/v1/blobs/{hash}", self.base),
            PhotoVariant::Thumbnail => format!("{}/v1/blobs/{hash}/thumbnail", self.base),
        };
        let mut req = self.client.get(url);
        if from > 0 {
            req = req.header("range", format!("bytes={from}-"));
        }
        let mut resp = self.authorised(req).send().await.map_err(network)?;
        let status = resp.status().as_u16();
        let length = resp.content_length();
        let head = match status {
            200 => BlobHead { first: 0, total: length },
            206 => {
                let range = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(answered_range)
                    .ok_or_else(|| network("a 206 answer without a valid Content-Range"))?;
                BlobHead { first: range.0, total: Some(range.1) }
            }
            _ => {
                let body = resp.bytes().await.map_err(network)?;
                return Err(TransportError::from_status(status, &body));
            }
        };
        sink.begin(&head).map_err(network)?;
        let mut got = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(network)? {
            got += chunk.len() as u64;
            sink.write(&chunk).map_err(network)?;
        }
        match length {
            Some(n) if n != got => {
                Err(network(format!("the answer ended after {got} of {n} bytes")))
            }
            _ => Ok(()),
        }
    }
}
