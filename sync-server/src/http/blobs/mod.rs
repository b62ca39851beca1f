//! The blob endpoints (`docs/blobs.md`): `GET /v1/blobs/{hash}/status` and
//! `PUT /v1/blobs/{hash}` (one range of an upload) here; reading in [`read`], the possession
//! challenge and its proof in [`proof`]. Each reads the request (the hash, the headers, the
//! body), asks the photos domain (`photos::service`) and writes its answer.

mod proof;
pub(crate) mod read;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use fieldsync_core::protocol::{BlobStatus, ContentRange, is_blob_hash, limits};
use http_body_util::BodyExt;

pub(crate) use self::proof::{challenge, proof};
pub(crate) use self::read::{get, thumbnail};
use super::App;
use super::auth::Caller;
use super::envelope;
use super::error::ServerError;
use crate::photos::PhotoError;

/// A body over the chunk limit is still read (and dropped) up to this size, so that the client
/// gets the `413` answer rather than a connection reset halfway through its upload.
const DRAIN_BYTES: usize = 2 * limits::CHUNK_BYTES;

fn checked(hash: &str) -> Result<(), ServerError> {
    if is_blob_hash(hash) {
        Ok(())
    } else {
        Err(ServerError::InvalidRequest(format!(
            "{:?} is not a blob hash (64 lower-case hex digits of a SHA-256)",
            hash.chars().take(80).collect::<String>()
        )))
    }
}

async fn answer(status: BlobStatus) -> Response {
    envelope::answer(status, 0).await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /v1/blobs/{hash}/status`: what the server holds of this device's upload of a blob it
/// references, or of a complete blob it may read.
pub(crate) async fn status(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    checked(&hash)?;
    let status = app
        .photos
        .status(&caller.device.id, &caller.profile, caller.device.enrolled_phone(), &hash)
        .await?;
    Ok(answer(status).await)
}

/// Reads an upload's body: at most [`limits::CHUNK_BYTES`] are kept.
async fn read_chunk(headers: &HeaderMap, mut body: Body) -> Result<Chunked, ServerError> {
    let too_large = || {
        PhotoError::TooLarge(format!(
            "one PUT carries at most {} bytes; send the blob in ranges",
            limits::CHUNK_BYTES
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_BYTES as u64) {
        return Err(too_large().into());
    }
    let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(0).min(limits::CHUNK_BYTES));
    let mut buf = Vec::with_capacity(capacity);
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            // The link dropped: what arrived is still a prefix of the range.
            Err(e) if total <= limits::CHUNK_BYTES => {
                tracing::debug!("blob upload cut after {total} bytes: {e}");
                return Ok(Chunked { bytes: Bytes::from(buf), cut: true });
            }
            Err(e) => {
                return Err(ServerError::MalformedBody(format!("the body could not be read: {e}")));
            }
        };
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= limits::CHUNK_BYTES {
                buf.extend_from_slice(&data);
            } else if total > DRAIN_BYTES {
                return Err(too_large().into());
            }
        }
    }
    if total > limits::CHUNK_BYTES {
        return Err(too_large().into());
    }
    Ok(Chunked { bytes: Bytes::from(buf), cut: false })
}

/// The body of a PUT as it arrived.
struct Chunked {
    bytes: Bytes,
    /// The connection dropped before the body was whole: `bytes` is a prefix of the range.
    cut: bool,
}

/// `PUT /v1/blobs/{hash}`: one range of an upload (`Content-Range: bytes first-last/size`).
/// The answer is the blob's status after it.
pub(crate) async fn put(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    // The body first: every answer then reaches a client still sending.
    let bytes = read_chunk(&headers, body).await;
    checked(&hash)?;
    let range = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(ContentRange::parse)
        .ok_or_else(|| {
            PhotoError::BadRange("send `Content-Range: bytes {first}-{last}/{size}`".into())
        })?;
    if range.size == 0 {
        return Err(PhotoError::BadRange(
            "a blob of 0 bytes: there are no empty photos; nothing was stored".into(),
        )
        .into());
    }
    let Chunked { bytes, cut } = bytes?;
    let status = app.photos.upload(&caller.device.id, hash, range, bytes, cut).await?;
    Ok(answer(status).await)
}
