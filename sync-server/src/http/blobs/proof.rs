//! Proving a photo is here without sending it (`docs/blobs.md`, "Proving a photo is here"):
//! `GET /v1/blobs/{hash}/challenge` and `POST /v1/blobs/{hash}/proof` (`Photos::challenge`,
//! `Photos::prove`).
//!
//! A challenge is answered to any device that references the blob itself, whether or not the
//! server holds the blob; a proof's answer is the device's status, word for word the same when
//! the blob is not on the server as when the digest is wrong. So neither tells a device that
//! does not hold the bytes whether anyone uploaded them; a device that holds them saves the
//! upload.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use fieldsync_core::protocol::{BlobProof, limits};

use super::checked;
use crate::http::App;
use crate::http::auth::Caller;
use crate::http::envelope;
use crate::http::error::ServerError;

/// The `size` a challenge is asked for (`?size={bytes}`), if the query gives one.
fn size_param(query: Option<&str>) -> Result<Option<u64>, ServerError> {
    let Some(query) = query.filter(|q| !q.is_empty()) else { return Ok(None) };
    let bad = || {
        ServerError::InvalidRequest(format!(
            "the query {:?} is not size={{bytes}}",
            query.chars().take(80).collect::<String>()
        ))
    };
    let value = query.strip_prefix("size=").ok_or_else(bad)?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    value.parse().map(Some).map_err(|_| bad())
}

/// `GET /v1/blobs/{hash}/challenge[?size={bytes}]`: a challenge for the blob at the size of a
/// reference of the device's own (the one given, else its smallest), whether or not the server
/// holds the blob.
pub(crate) async fn challenge(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ServerError> {
    checked(&hash)?;
    let wanted = size_param(query.as_deref())?;
    let challenge = app.photos.challenge(&caller.device.id, hash, wanted).await?;
    envelope::answer(challenge, 0).await
}

/// `POST /v1/blobs/{hash}/proof` with a [`BlobProof`]: when the digest matches the complete
/// blob's bytes, the device holds the blob and the answer is its status, complete; otherwise
/// the answer is the status the device would get from `GET /v1/blobs/{hash}/status`. A nonce
/// that is forged, another device's, for another blob or expired is `400 invalid_request`,
/// whatever the blob.
pub(crate) async fn proof(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        ServerError::TooLarge(format!(
            "a proof's body has at most {} bytes",
            limits::PROOF_BODY_BYTES
        ))
    };
    if declared.is_some_and(|n| n > limits::PROOF_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let body = envelope::read_body_within(&headers, body, limits::PROOF_BODY_BYTES).await.map_err(
        |e| match e {
            ServerError::TooLarge(_) => too_large(),
            other => other,
        },
    )?;
    checked(&hash)?;
    let proof: BlobProof = envelope::decode_small(&body)?;
    envelope::check_version(proof.v)?;
    let status = app
        .photos
        .prove(
            &caller.device.id,
            &caller.profile,
            caller.device.enrolled_phone(),
            &hash,
            proof.nonce,
            proof.digest,
        )
        .await?;
    envelope::answer(status, 0).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_of_a_challenge_is_a_number_or_nothing() {
        assert_eq!(size_param(None).unwrap(), None);
        assert_eq!(size_param(Some("")).unwrap(), None);
        assert_eq!(size_param(Some("size=123")).unwrap(), Some(123));
        for bad in ["size=", "size=-1", "size=1e3", "size=99999999999999999999", "s=1", "size=1&x"]
        {
            assert!(
                matches!(size_param(Some(bad)), Err(ServerError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
    }
}
