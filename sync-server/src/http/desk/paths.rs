//! The desk API's paths that its layers check (the session, the prefix the CSRF layer guards).

/// The path of the session: `POST` signs in, `GET` says who, `DELETE` signs out.
pub(crate) const SESSION_PATH: &str = "/api/v1/session";

/// What every desk API path starts with (the CSRF layer guards these).
pub(crate) const API_PREFIX: &str = "/api/";
