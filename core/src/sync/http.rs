//! The HTTP(S) transport a phone syncs and moves photos with: reqwest with rustls and the ring
//! provider. Behind core's feature `client` (on by default), so that the server, which uses
//! core's model, policy and protocol, does not build the phone's HTTP client stack.

use std::time::Duration;

use super::blob_transport::{BlobHead, BlobSink, BlobTransport};
use super::transport::{Transport, TransportError};
use crate::protocol::ContentRange;
use crate::store::PhotoVariant;

/// Makes rustls with ring the process's TLS provider, unless one was installed first (by the
/// app). reqwest is built with rustls and no provider of its own (aws-lc would add ~1.5 MB to the
/// phone library), so every reqwest client of the process needs this before it is built: the
/// phone's transport calls it, and so must tools and tests that build clients of their own.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// HTTP(S) transport: reqwest with rustls.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    pub(super) client: reqwest::Client,
    pub(super) base: String,
    pub(super) token: Option<String>,
}

impl HttpTransport {
    /// A transport to the server at `base_url` (e.g. `https://sync.example.org`).
    pub fn new(base_url: &str) -> Result<Self, TransportError> {
        let base = super::server_url(base_url).map_err(|e| {
            TransportError::Network(format!("{base_url:?} is not a server URL: {e}"))
        })?;
        install_tls_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            // The server closes a connection idle for its header timeout (20 s by default): a
            // connection is reused only well within it, not sent a request as it closes.
            .pool_idle_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TransportError::Network(e.to_string()))?;
        Ok(HttpTransport { client, base, token: None })
    }

    /// A transport to `base_url` carrying the token `store` was enrolled with; an error if the
    /// store was never enrolled (see `sync::enroll`).
    pub fn enrolled(base_url: &str, store: &crate::Store) -> crate::Result<Self> {
        let enrollment = store.enrollment()?.ok_or_else(|| crate::CoreError::InvalidInput {
            field: "store",
            reason: "this device is not enrolled: enroll it with a code first".into(),
        })?;
        let transport = HttpTransport::new(base_url)
            .map_err(|e| crate::CoreError::Network { attempts: 0, message: e.to_string() })?;
        Ok(transport.with_token(enrollment.token))
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }
}

impl Transport for HttpTransport {
    fn server_url(&self) -> Option<String> {
        Some(self.base.clone())
    }

    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/cbor")
            .header("content-encoding", "gzip")
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| TransportError::Network(e.to_string()))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.map_err(|e| TransportError::Network(e.to_string()))?;
        if status == 200 {
            Ok(bytes.to_vec())
        } else {
            Err(TransportError::from_answer(status, retry_after.as_deref(), &bytes))
        }
    }
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
