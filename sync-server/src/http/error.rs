//! The HTTP layer's one error enum, and the one place an error becomes an answer: a status and
//! the JSON [`ErrorBody`] with the codes of `docs/protocol.md`. The domain's errors
//! ([`AccountError`], [`PhotoError`], the feed's and the documents') come in through `From` and
//! get their status here.
//!
//! Refusals of one pushed document are not errors of the request: they travel in `results`
//! (see `ingest::Refusal`).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_core::protocol::ErrorBody;

use crate::accounts::AccountError;
use crate::documents::DocumentsError;
use crate::documents::act::ActError;
use crate::feed::FeedError;
use crate::feed::cursor::InvalidCursor;
use crate::index::IndexError;
use crate::open311::Open311Error;
use crate::photos::PhotoError;
use crate::storage::StorageError;

/// Everything that makes the server refuse a whole request.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Not gzip, not CBOR, or not the expected message.
    #[error("{0}")]
    MalformedBody(String),
    /// `v` is not a version this endpoint speaks (`speaks` says which it does).
    #[error("protocol version {v} is not supported; this endpoint speaks {speaks}")]
    UnsupportedVersion {
        /// The version sent.
        v: u32,
        /// The versions served, said.
        speaks: &'static str,
    },
    /// A field breaks a rule.
    #[error("{0}")]
    InvalidRequest(String),
    /// The cursor cannot be parsed.
    #[error("cursor {0:?} is not one this server wrote")]
    InvalidCursor(String),
    /// The cursor points past the end of the log.
    #[error("cursor {cursor:?} is ahead of the log, which ends at {end}")]
    CursorAhead {
        /// The cursor sent.
        cursor: String,
        /// The last seq of the log.
        end: u64,
    },
    /// The cursor belongs to another epoch.
    #[error("cursor belongs to epoch {client:?}; the server's epoch is {server:?}: reconcile")]
    EpochMismatch {
        /// The epoch the client sent.
        client: String,
        /// The server's epoch.
        server: String,
    },
    /// The request would undo something the client asked to keep (an enrollment code of
    /// another user while the phone holds unsynced work: `other_user`).
    #[error("{message}")]
    Conflict {
        /// The protocol's error code.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// Body, push or `want` over the limits.
    #[error("{0}")]
    TooLarge(String),
    /// No such thing that the caller may see (a record of the desk API: missing and
    /// unreadable are answered alike).
    #[error("{0}")]
    NotFound(String),
    /// A desk's action the record's state or its arguments refuse (core's typed error, or
    /// the server's checks of the change it made).
    #[error("{message}")]
    Refused {
        /// The status: 400 for bad arguments, 403 for the policy, 409 for the state.
        status: StatusCode,
        /// The code: core's error kind or the protocol's refusal code.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// Shutting down or overloaded.
    #[error("{0}")]
    Unavailable(String),
    /// No valid credentials: missing or malformed `Authorization`, unknown token, malformed
    /// enrollment code.
    #[error("{message}")]
    Unauthorized {
        /// The protocol's error code, e.g. `missing_token`.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// Credentials known but not good for this: a revoked device, a used or expired code.
    #[error("{message}")]
    Forbidden {
        /// The protocol's error code, e.g. `device_revoked`.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// The device's token was revoked (`403 device_revoked`); with `wipe`, the administrator
    /// asked the phone to erase its store, which the answer's body says.
    #[error("{message}")]
    DeviceRevoked {
        /// What happened, for people.
        message: String,
        /// Whether the phone is to erase its store and files.
        wipe: bool,
    },
    /// A body of another media type than the endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A request body whose next bytes did not come within the stall timeout.
    #[error("{0}")]
    RequestTimeout(String),
    /// Too many attempts from one address.
    #[error("{message}")]
    RateLimited {
        /// What was limited, and when to try again, for people.
        message: String,
        /// Seconds to wait before trying again (the `Retry-After` header).
        retry_after: u64,
    },
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
    /// The storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A request about a photo refused (`docs/blobs.md`), or the photo store failed.
    #[error("{0}")]
    Photo(#[from] PhotoError),
    /// The server's certificate or key cannot be used (at start; no request gets it).
    #[error("{0}")]
    Tls(#[from] crate::http::serve::tls::TlsError),
}

impl From<AccountError> for ServerError {
    fn from(e: AccountError) -> Self {
        let code = e.code();
        match e {
            AccountError::Invalid(message) | AccountError::ReservedRole(message) => {
                ServerError::InvalidRequest(message)
            }
            AccountError::SessionUnknown
            | AccountError::SessionEnded(_)
            | AccountError::SessionExpired { .. } => {
                ServerError::Unauthorized { code, message: e.to_string() }
            }
            AccountError::MalformedCode(message) => ServerError::Unauthorized { code, message },
            AccountError::OtherUser { .. } => {
                ServerError::Conflict { code, message: e.to_string() }
            }
            AccountError::Storage(e) => ServerError::Storage(e),
            AccountError::Internal(message) => ServerError::Internal(message),
            AccountError::CodeUnknown
            | AccountError::CodeRevoked
            | AccountError::CodeUsed
            | AccountError::CodeExpired
            | AccountError::UserDisabled
            | AccountError::NotADeskRole { .. }
            | AccountError::Forbidden(_) => ServerError::Forbidden { code, message: e.to_string() },
        }
    }
}

impl From<InvalidCursor> for ServerError {
    fn from(e: InvalidCursor) -> Self {
        ServerError::InvalidCursor(e.0)
    }
}

impl From<FeedError> for ServerError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::InvalidCursor(e) => e.into(),
            FeedError::CursorAhead { cursor, end } => ServerError::CursorAhead { cursor, end },
            FeedError::Storage(e) => ServerError::Storage(e),
        }
    }
}

impl From<IndexError> for ServerError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Storage(e) => ServerError::Storage(e),
            IndexError::Task(message) => ServerError::Internal(message),
        }
    }
}

impl From<DocumentsError> for ServerError {
    fn from(e: DocumentsError) -> Self {
        match e {
            DocumentsError::Storage(e) => ServerError::Storage(e),
            DocumentsError::Task(message) => ServerError::Internal(message),
        }
    }
}

impl From<ActError> for ServerError {
    fn from(e: ActError) -> Self {
        use fieldsync_core::CoreError;
        let refused = |status, code, message| ServerError::Refused { status, code, message };
        match e {
            ActError::NotFound(id) => {
                ServerError::NotFound(format!("no record {id} that you may read"))
            }
            ActError::Command(e @ CoreError::InvalidInput { .. }) => {
                refused(StatusCode::BAD_REQUEST, "invalid_input", e.to_string())
            }
            ActError::Command(e @ CoreError::Forbidden { .. }) => {
                refused(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            ActError::Command(
                e @ (CoreError::InvalidTransition { .. } | CoreError::NoSuchConflict { .. }),
            ) => refused(StatusCode::CONFLICT, "invalid_transition", e.to_string()),
            ActError::Command(e @ CoreError::WrongKind { .. }) => {
                refused(StatusCode::BAD_REQUEST, "wrong_kind", e.to_string())
            }
            ActError::Command(e) => ServerError::Internal(e.to_string()),
            ActError::Refused { code, message, retry } => {
                let (status, code) = match code.as_str() {
                    "forbidden" => (StatusCode::FORBIDDEN, "forbidden"),
                    "stale_rights" => (StatusCode::CONFLICT, "stale_rights"),
                    "invalid_document" => (StatusCode::BAD_REQUEST, "invalid_document"),
                    "too_large" => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
                    _ if retry => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
                    _ => (StatusCode::CONFLICT, "refused"),
                };
                refused(status, code, message)
            }
            ActError::Documents(e) => e.into(),
        }
    }
}

/// The status of a refusal about a photo (its code is the refusal's own).
fn photo_status(e: &PhotoError) -> StatusCode {
    match e {
        PhotoError::NotFound { .. } | PhotoError::NoThumbnail { .. } => StatusCode::NOT_FOUND,
        PhotoError::NotReferenced { .. } => StatusCode::CONFLICT,
        PhotoError::QuotaExceeded { .. } => StatusCode::FORBIDDEN,
        PhotoError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        PhotoError::HashMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        PhotoError::BadRange(_) | PhotoError::BadProof(_) | PhotoError::CutBeforeAnyByte => {
            StatusCode::BAD_REQUEST
        }
        PhotoError::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
        PhotoError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        PhotoError::Storage(StorageError::Closed | StorageError::Unavailable(_)) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        PhotoError::Storage(_) | PhotoError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ServerError {
    /// The HTTP status and the protocol's error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ServerError::MalformedBody(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            ServerError::UnsupportedVersion { .. } => {
                (StatusCode::BAD_REQUEST, "unsupported_version")
            }
            ServerError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ServerError::InvalidCursor(_) => (StatusCode::BAD_REQUEST, "invalid_cursor"),
            ServerError::CursorAhead { .. } => (StatusCode::BAD_REQUEST, "cursor_ahead"),
            ServerError::EpochMismatch { .. } => (StatusCode::CONFLICT, "epoch_mismatch"),
            ServerError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ServerError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ServerError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ServerError::Refused { status, code, .. } => (*status, code),
            ServerError::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ServerError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ServerError::DeviceRevoked { .. } => (StatusCode::FORBIDDEN, "device_revoked"),
            ServerError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ServerError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ServerError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ServerError::Storage(StorageError::InvalidQuery(_)) => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            ServerError::Unavailable(_)
            | ServerError::Storage(StorageError::Closed | StorageError::Unavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ServerError::Internal(_) | ServerError::Storage(_) | ServerError::Tls(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            ServerError::Photo(e) => (photo_status(e), e.code()),
        }
    }
}

/// A JSON error answer.
pub(crate) fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    close_if_unread(body_response(
        status,
        &ErrorBody { code: code.to_string(), message, wipe: false },
    ))
}

/// The JSON answer of `body`.
fn body_response(status: StatusCode, body: &ErrorBody) -> Response {
    let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"code\":\"internal\"}".to_vec());
    (status, [(header::CONTENT_TYPE, "application/json")], json).into_response()
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(code, "request failed: {self}");
        } else {
            tracing::debug!(code, "request refused: {self}");
        }
        let retry_after = match &self {
            ServerError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let wipe = matches!(self, ServerError::DeviceRevoked { wipe: true, .. });
        let body = ErrorBody { code: code.to_string(), message: self.to_string(), wipe };
        let mut response = body_response(status, &body);
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        close_if_unread(response)
    }
}

/// A body refused as too large was not read to its end, so the connection cannot carry another
/// request: the answer says so (`Connection: close`). Without it a client that reused the
/// connection raced the server's closing it, and its next request failed unsent.
fn close_if_unread(mut response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response
            .headers_mut()
            .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    }
    response
}

/// The status of an Open311 refusal: the spec's 400 (a bad parameter), 403 (a missing, unknown
/// or revoked `api_key`) and 404 (no such service, request or resource); ours for the rest.
/// `http/open311/` writes it in the spec's error format.
pub(crate) fn open311_status(e: &Open311Error) -> StatusCode {
    match e {
        Open311Error::BadParameter { .. } | Open311Error::Refused { .. } => StatusCode::BAD_REQUEST,
        Open311Error::MissingKey | Open311Error::UnknownKey | Open311Error::RevokedKey { .. } => {
            StatusCode::FORBIDDEN
        }
        Open311Error::NoSuchResource
        | Open311Error::UnknownService(_)
        | Open311Error::UnknownRequest(_) => StatusCode::NOT_FOUND,
        Open311Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Open311Error::Storage(StorageError::Closed | StorageError::Unavailable(_)) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Open311Error::Storage(StorageError::InvalidQuery(_)) => StatusCode::BAD_REQUEST,
        Open311Error::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body refused as too large was left unread: the answer closes its connection, and
    /// only that answer does.
    #[test]
    fn only_a_too_large_answer_closes_its_connection() {
        let big = ServerError::TooLarge("over".into()).into_response();
        assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(big.headers()[header::CONNECTION], "close");
        let also = error_response(StatusCode::PAYLOAD_TOO_LARGE, "too_large", String::new());
        assert_eq!(also.headers()[header::CONNECTION], "close");
        let bad = ServerError::MalformedBody("{".into()).into_response();
        assert!(bad.headers().get(header::CONNECTION).is_none());
    }

    #[tokio::test]
    async fn answers_json_with_the_protocol_code() {
        let resp =
            ServerError::EpochMismatch { client: "a".into(), server: "b".into() }.into_response();
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        let e: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(e.code, "epoch_mismatch");
        assert!(e.message.contains("reconcile"));
        assert_eq!(ServerError::Storage(StorageError::Closed).status_and_code().1, "unavailable");
    }

    #[test]
    fn blob_refusals_have_the_codes_of_the_blob_protocol() {
        let code = |e: PhotoError| {
            let (status, code) = ServerError::from(e).status_and_code();
            (status.as_u16(), code)
        };
        let hash = || "ab".repeat(32);
        assert_eq!(code(PhotoError::NotFound { hash: hash() }), (404, "not_found"));
        assert_eq!(
            code(PhotoError::NotReferenced { hash: hash(), size: 1 }),
            (409, "not_referenced")
        );
        assert_eq!(
            code(PhotoError::QuotaExceeded { used: 1, size: 2, quota: 2 }),
            (403, "quota_exceeded")
        );
        assert_eq!(code(PhotoError::TooLarge(String::new())), (413, "too_large"));
        assert_eq!(
            code(PhotoError::HashMismatch { hash: hash(), actual: hash(), size: 1 }),
            (422, "hash_mismatch")
        );
        assert_eq!(code(PhotoError::BadRange(String::new())), (400, "invalid_range"));
        assert_eq!(code(PhotoError::RangeNotSatisfiable(String::new())), (416, "invalid_range"));
        assert_eq!(code(PhotoError::NoThumbnail { hash: hash() }), (404, "no_thumbnail"));
    }
}
