//! `Open311Error`: why an Open311 request is refused. `http/error.rs` gives each its status;
//! `http/open311/` writes it in the spec's error format.

use crate::storage::StorageError;

/// Why an Open311 request is refused.
#[derive(Debug, thiserror::Error)]
pub enum Open311Error {
    /// The request names no `api_key`.
    #[error("api_key was not provided")]
    MissingKey,
    /// The `api_key` is not one this server issued.
    #[error("api_key is not valid")]
    UnknownKey,
    /// The `api_key` was revoked.
    #[error("api_key {id} was revoked")]
    RevokedKey {
        /// The key's id.
        id: String,
    },
    /// A parameter is missing, malformed or out of range.
    #[error("{name}: {reason}")]
    BadParameter {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No Open311 resource at this path (or not with this method).
    #[error("no such Open311 resource; see discovery.xml")]
    NoSuchResource,
    /// No service has this code.
    #[error("service_code {0:?} is not a service of this server")]
    UnknownService(String),
    /// No service request with this id that the key may see.
    #[error("service_request_id {0:?} is not a request this key may see")]
    UnknownRequest(String),
    /// The report was refused by the checks every write passes (the rule that failed).
    #[error("the request was refused ({code}): {message}")]
    Refused {
        /// The protocol's refusal code.
        code: String,
        /// Why.
        message: String,
    },
    /// The report could not be stored now; the app may try again.
    #[error("the request could not be stored now ({0}); try again")]
    Unavailable(String),
    /// The storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

impl Open311Error {
    /// A bad parameter.
    pub fn bad(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Open311Error::BadParameter { name: name.into(), reason: reason.into() }
    }
}
