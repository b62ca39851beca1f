//! JSON bodies of the desk API: a request's body read within its limit and decoded strictly
//! (only `application/json`, no unknown fields: each fault a typed 4xx), and JSON answers that
//! no cache keeps.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::envelope;
use crate::http::error::ServerError;

/// Whether the request says its body is JSON (`application/json`, with or without
/// parameters). Requiring it also keeps other sites' plain forms out: a browser sends JSON
/// across sites only after a CORS preflight, which this server never grants.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads a JSON body of at most `limit` bytes and decodes it into `T` (whose fields say
/// whether unknown ones are refused).
pub(crate) async fn read<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, ServerError> {
    if !is_json(headers) {
        return Err(ServerError::UnsupportedMediaType(
            "send the body as JSON, with `Content-Type: application/json`".into(),
        ));
    }
    let bytes = envelope::read_body_within(headers, body, limit).await?;
    serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ServerError::InvalidRequest(format!("{e}")),
        _ => ServerError::MalformedBody(format!("the body is not JSON: {e}")),
    })
}

/// A JSON answer with `status`, never cached (desk answers carry the CSRF token and records).
pub(crate) fn answer<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, ServerError> {
    let json = serde_json::to_vec(value)
        .map_err(|e| ServerError::Internal(format!("an answer did not serialize: {e}")))?;
    Ok((
        status,
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
        json,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Probe {
        #[allow(dead_code)]
        code: String,
    }

    async fn read_probe(content_type: &str, body: &'static str) -> Result<Probe, ServerError> {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        read(&h, Body::from(body), 64).await
    }

    #[tokio::test]
    async fn each_fault_of_a_body_has_its_code() {
        let code = |r: Result<Probe, ServerError>| r.unwrap_err().status_and_code().1;
        assert!(read_probe("application/json; charset=utf-8", r#"{"code":"x"}"#).await.is_ok());
        assert_eq!(
            code(read_probe("text/plain", r#"{"code":"x"}"#).await),
            "unsupported_media_type"
        );
        assert_eq!(code(read_probe("application/json", "{").await), "malformed_body");
        assert_eq!(code(read_probe("application/json", r#"{"code":1}"#).await), "invalid_request");
        let extra = r#"{"code":"x","admin":true}"#;
        assert_eq!(code(read_probe("application/json", extra).await), "invalid_request");
        let big = r#"{"code":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
        assert_eq!(code(read_probe("application/json", big).await), "too_large");
    }
}
