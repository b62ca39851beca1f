//! How sync messages reach the server: a small trait, with HTTP (reqwest, rustls) as one
//! implementation; the server crate provides an in-process one for tests.

use std::future::Future;

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
        /// The error body's `wipe` (with `device_revoked`: erase the store).
        wipe: bool,
    },
}

impl TransportError {
    /// Builds a `Status` error from a status and an error body (JSON), tolerating any body.
    pub fn from_status(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => {
                TransportError::Status { status, code: e.code, message: e.message, wipe: e.wipe }
            }
            Err(_) => TransportError::Status {
                status,
                code: "http_error".into(),
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
                wipe: false,
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
                message: "epoch \"b\" now".into(),
                wipe: false,
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
