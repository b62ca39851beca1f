//! The HTTP(S) transport a phone syncs and moves photos with: reqwest with rustls and the ring
//! provider. Behind core's feature `client` (on by default), so that the server, which uses
//! core's model, policy and protocol, does not build the phone's HTTP client stack.

use std::time::Duration;

use super::ServerTrust;
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

/// A rustls client configuration (ring) that trusts only the certificates in `pems`, or
/// `InvalidInput` on `certificates_pem` when one cannot be read or none is given.
pub(crate) fn tls_config(pems: &[String]) -> crate::Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let invalid =
        |reason: String| crate::CoreError::InvalidInput { field: "certificates_pem", reason };
    let mut roots = rustls::RootCertStore::empty();
    for (i, pem) in pems.iter().enumerate() {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| invalid(format!("certificate {i}: {e}")))?;
            roots.add(cert).map_err(|e| invalid(format!("certificate {i}: {e}")))?;
            found += 1;
        }
        if found == 0 {
            return Err(invalid(format!("certificate {i} holds no PEM CERTIFICATE block")));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

impl ServerTrust {
    /// `InvalidInput` on `certificates_pem` for certificates that cannot be read, as
    /// [`HttpTransport::with_trust`] would refuse them, without building a client.
    pub fn check(&self) -> crate::Result<()> {
        if !self.certificates_pem.is_empty() {
            tls_config(&self.certificates_pem)?;
        }
        Ok(())
    }
}

/// HTTP(S) transport: reqwest with rustls.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    pub(super) client: reqwest::Client,
    pub(super) base: String,
    pub(super) token: Option<String>,
}

impl HttpTransport {
    /// A transport to the server at `base_url` (e.g. `https://sync.example.org`), verified by
    /// the platform's trust store; plain `http://` only to loopback.
    pub fn new(base_url: &str) -> Result<Self, TransportError> {
        HttpTransport::with_trust(base_url, &ServerTrust::default())
            .map_err(|e| TransportError::Network(e.to_string()))
    }

    /// A transport to the server at `base_url` trusting what `trust` says: `InvalidInput` on
    /// `server_url` for a URL that is not a server's or plain HTTP `trust` does not allow, and
    /// on `certificates_pem` for certificates that cannot be read.
    pub fn with_trust(base_url: &str, trust: &ServerTrust) -> crate::Result<Self> {
        let base = super::server_url(base_url)?;
        super::trust::check_plain_http(&base, trust)?;
        install_tls_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            // The server closes a connection idle for its header timeout (20 s by default): a
            // connection is reused only well within it, not sent a request as it closes.
            .pool_idle_timeout(Duration::from_secs(10));
        if !trust.certificates_pem.is_empty() {
            builder = builder.tls_backend_preconfigured(tls_config(&trust.certificates_pem)?);
        }
        let client = builder.build().map_err(|e| crate::CoreError::InvalidInput {
            field: "server_url",
            reason: format!("no HTTP client for {base}: {e}"),
        })?;
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
        let resp = req.send().await.map_err(network)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.map_err(network)?;
        if status == 200 {
            Ok(bytes.to_vec())
        } else {
            Err(TransportError::from_answer(status, retry_after.as_deref(), &bytes))
        }
    }
}

fn network(e: impl std::error::Error) -> TransportError {
    TransportError::Network(chain(&e))
}

/// The error with its causes (`error sending request: … invalid peer certificate:
/// UnknownIssuer`): reqwest's own message leaves out why, which is what a person needs.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
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
                    .ok_or_else(|| {
                        TransportError::Network("a 206 answer without a valid Content-Range".into())
                    })?;
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
                Err(TransportError::Network(format!("the answer ended after {got} of {n} bytes")))
            }
            _ => Ok(()),
        }
    }
}
