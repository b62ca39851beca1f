//! How sync messages reach the server: a small trait, with HTTP (reqwest, rustls) as one
//! implementation; the server crate provides an in-process one for tests.

use std::future::Future;
use std::time::Duration;

use crate::protocol::ErrorBody;

/// Why a request did not get a 200 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The request may not have reached the server, or the answer was lost: retry later.
    #[error("network: {0}")]
    Network(String),
    /// The server turned the request away for a while (`429` with a `Retry-After` in
    /// seconds).
    #[error("server answered 429: {message} (retry after {retry_after_secs} s)")]
    RateLimited {
        /// Seconds to wait, from `Retry-After`.
        retry_after_secs: u64,
        /// The error body's `message`.
        message: String,
    },
    /// The server answered with an error status.
    #[error("server answered {status} {code}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The error body's `code`.
        code: String,
        /// The error body's `message`.
        message: String,
    },
}

impl TransportError {
    /// Builds a `Status` error from a status and an error body (JSON), tolerating any body.
    pub fn from_status(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => TransportError::Status { status, code: e.code, message: e.message },
            Err(_) => TransportError::Status {
                status,
                code: "http_error".into(),
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            },
        }
    }

    /// [`TransportError::from_status`], with the answer's `Retry-After` header: a `429` that
    /// says how long to wait in whole seconds is [`TransportError::RateLimited`].
    pub fn from_answer(status: u16, retry_after: Option<&str>, body: &[u8]) -> Self {
        let wait = retry_after.and_then(|v| v.trim().parse::<u64>().ok());
        match (status, wait, Self::from_status(status, body)) {
            (429, Some(retry_after_secs), TransportError::Status { message, .. }) => {
                TransportError::RateLimited { retry_after_secs, message }
            }
            (_, _, e) => e,
        }
    }

    /// Whether trying again later may succeed (network trouble, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Network(_) | TransportError::RateLimited { .. } => true,
            TransportError::Status { status, .. } => *status >= 500 || *status == 429,
        }
    }
}

/// Carries one envelope to the server and brings back the answer's body.
pub trait Transport: Send + Sync {
    /// POSTs `body` (an envelope) to `path` (e.g. `/v1/sync`); returns the body of a 200 answer.
    fn post(
        &self,
        path: &'static str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;

    /// The server's base URL, kept with an enrollment so later syncs know where to go; `None`
    /// for transports that are not addressed by URL (in-process).
    fn server_url(&self) -> Option<String> {
        None
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_bodies() {
        let e = TransportError::from_status(
            409,
            br#"{"code":"epoch_mismatch","message":"epoch \"b\" now"}"#,
        );
        assert_eq!(
            e,
            TransportError::Status {
                status: 409,
                code: "epoch_mismatch".into(),
                message: "epoch \"b\" now".into()
            }
        );
        let body = br#"{"code":"rate_limited","message":"try again in 12 s"}"#;
        assert_eq!(
            TransportError::from_answer(429, Some("12"), body),
            TransportError::RateLimited {
                retry_after_secs: 12,
                message: "try again in 12 s".into()
            }
        );
        assert!(matches!(
            TransportError::from_answer(429, None, body),
            TransportError::Status { status: 429, .. }
        ));
        let e = TransportError::from_status(502, b"<html>bad gateway</html>");
        assert!(
            matches!(e, TransportError::Status { status: 502, ref code, .. } if code == "http_error")
        );
        assert!(e.is_transient());
    }
}
