//! The blob endpoints (`docs/blobs.md`): `GET /v1/blobs/{hash}/status` and
//! `PUT /v1/blobs/{hash}` (one range of an upload) here; reading in [`read`], the possession
//! challenge and its proof in [`proof`].
//!
//! A device that may not read a blob gets, for its status, bytes and thumbnail, exactly the
//! answer it would get for a blob that does not exist; a device that does not hold it learns,
//! from its status, its uploads and its proofs, nothing of whether another device uploaded it.

mod proof;
mod read;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use fieldsync_core::protocol::{
    BlobStatus, ContentRange, VERSION, is_blob_hash, is_photo_media_type, limits,
};
use http_body_util::BodyExt;

pub(crate) use self::proof::{challenge, proof};
pub(crate) use self::read::{get, thumbnail};
use crate::http::App;
use crate::http::auth::Caller;
use crate::http::envelope;
use crate::http::error::ServerError;
use crate::photos::access::Access;
use crate::photos::{Chunk, PhotoError, PhotoMeta};

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

fn not_found(hash: &str) -> ServerError {
    PhotoError::NotFound { hash: hash.to_string() }.into()
}

async fn status_answer(hash: &str, size: u64, received: u64, complete: bool) -> Response {
    let status = BlobStatus { v: VERSION, hash: hash.to_string(), size, received, complete };
    envelope::answer(status, 0).await.unwrap_or_else(IntoResponse::into_response)
}

async fn answer(m: &PhotoMeta) -> Response {
    status_answer(&m.hash, m.size, m.received, m.complete).await
}

/// What the status endpoint answers `caller` about blob `hash`.
///
/// A device that references the blob itself is told of its own upload: complete once it holds
/// the blob (it uploaded it, or proved it holds it), else what its upload holds (`received` 0,
/// at the size of its reference, before it starts) — even when it may read the blob through
/// another device's record, since its own record grants the blob to its readers only once it
/// holds it. Any other device is told the blob is complete when it may read it, else
/// `404 not_found`. Nothing a device is told of a blob it neither holds nor may read depends on
/// another device's upload.
async fn status_of(app: &App, caller: &Caller, hash: &str) -> Result<Response, ServerError> {
    let device = caller.device.id.as_str();
    let state = app.blobs.state(hash.to_string(), device.to_string()).await?;
    let access = Access::of(app, hash, state.holders).await?;
    if let Some(own) = access.any_own(device) {
        if let Some(b) = &state.blob
            && access.holds(device)
            && access.own(device, b.size).is_some()
        {
            return Ok(answer(b).await);
        }
        if let Some(u) = &state.upload
            && access.own(device, u.size).is_some()
        {
            return Ok(answer(u).await);
        }
        // Not started (or started with another size): from 0.
        return Ok(status_answer(hash, own.size, 0, false).await);
    }
    match &state.blob {
        Some(b) if access.may_read(&caller.profile, b.size) => Ok(answer(b).await),
        _ => Err(not_found(hash)),
    }
}

/// `GET /v1/blobs/{hash}/status`: what the server holds of this device's upload of a blob it
/// references, or of a complete blob it may read.
pub(crate) async fn status(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    checked(&hash)?;
    status_of(&app, &caller, &hash).await
}

/// The refusal of a reference whose media type is not a photo's.
fn unsupported(hash: &str, media_type: &str) -> ServerError {
    PhotoError::UnsupportedMediaType {
        hash: hash.to_string(),
        media_type: media_type.chars().take(100).collect(),
    }
    .into()
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
    if range.len() > limits::CHUNK_BYTES as u64 {
        return Err(PhotoError::TooLarge(format!(
            "the range holds {} bytes; one PUT carries at most {}",
            range.len(),
            limits::CHUNK_BYTES
        ))
        .into());
    }
    if range.size > app.max_blob_bytes {
        return Err(PhotoError::TooLarge(format!(
            "blob {hash} is {} bytes; this server takes at most {} per blob",
            range.size, app.max_blob_bytes
        ))
        .into());
    }
    let device = caller.device.id.clone();
    let state = app.blobs.state(hash.clone(), device.clone()).await?;
    let access = Access::of(&app, &hash, state.holders.clone()).await?;
    let Some(own) = access.own(&device, range.size) else {
        return Err(PhotoError::NotReferenced { hash, size: range.size }.into());
    };
    if !is_photo_media_type(&own.media_type) {
        return Err(unsupported(&hash, &own.media_type));
    }
    let media_type = own.media_type.clone();
    if let Some(b) = state.blob.as_ref().filter(|b| b.size == range.size)
        && state.holds(&device)
    {
        // This device holds it already: nothing to send, nothing stored twice. (A device that
        // does not hold it uploads it, or proves it holds it, whoever else uploaded it.)
        return Ok(answer(b).await);
    }
    // This device's own upload (of another size, it starts again from 0).
    let received = state.upload.as_ref().filter(|m| m.size == range.size).map_or(0, |m| m.received);
    let unsatisfiable = |why: String| -> ServerError {
        PhotoError::RangeNotSatisfiable(format!("{why}; received {received}")).into()
    };
    if range.is_empty() || range.last >= range.size {
        return Err(unsatisfiable(format!("{range} does not fit a blob of {} bytes", range.size)));
    }
    // A body cut on the way (nobody hears this answer) keeps what arrived: the client asks the
    // status before it goes on, and a 2G link that drops every few seconds does not lose whole
    // chunks. Any other short or long body is refused.
    if cut && bytes.is_empty() {
        return Err(ServerError::MalformedBody("the upload was cut before any byte".into()));
    }
    if !(cut && (bytes.len() as u64) < range.len()) && bytes.len() as u64 != range.len() {
        return Err(unsatisfiable(format!(
            "{range} announces {} bytes but the body holds {}",
            range.len(),
            bytes.len()
        )));
    }
    let chunk = Chunk {
        hash,
        size: range.size,
        media_type,
        device,
        quota: app.blob_quota_bytes,
        first: range.first,
        bytes,
    };
    // In a task of its own: a client that goes away (its link cut right after the last byte)
    // drops this handler, and must not cancel the write of bytes that arrived.
    let store = app.clone();
    let m = tokio::spawn(async move { store.blobs.write(chunk).await })
        .await
        .map_err(|e| ServerError::Internal(format!("blob write task failed: {e}")))??;
    Ok(answer(&m).await)
}
