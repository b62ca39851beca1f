//! The blob endpoints (`docs/blobs.md`): `GET /v1/blobs/{hash}/status`, `PUT /v1/blobs/{hash}`
//! (one range of an upload), `GET /v1/blobs/{hash}` (with `Range`) and
//! `GET /v1/blobs/{hash}/thumbnail`.
//!
//! A device that may not read a blob gets, for its status, bytes and thumbnail, exactly the
//! answer it would get for a blob that does not exist.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_core::protocol::{BlobStatus, ContentRange, VERSION, is_blob_hash, limits};
use http_body_util::BodyExt;

use super::access::Access;
use super::{BlobError, BlobMeta, Chunk};
use crate::app::App;
use crate::auth::Caller;
use crate::envelope;
use crate::error::ServerError;

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
    BlobError::NotFound { hash: hash.to_string() }.into()
}

async fn status_answer(hash: &str, size: u64, received: u64, complete: bool) -> Response {
    let status = BlobStatus { v: VERSION, hash: hash.to_string(), size, received, complete };
    envelope::answer(status, 0).await.unwrap_or_else(IntoResponse::into_response)
}

async fn answer(m: &BlobMeta) -> Response {
    status_answer(&m.hash, m.size, m.received, m.complete).await
}

/// `GET /v1/blobs/{hash}/status`: what the server holds of a blob this device may upload, or
/// of a complete blob it may read.
pub(crate) async fn status(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    checked(&hash)?;
    let access = Access::of(&app, &hash).await?;
    let device = caller.device.id.as_str();
    let found = app.blobs.meta(hash.clone(), device.to_string()).await?;
    if let Some(m) = &found
        && access.own(device, m.size).is_some()
    {
        return Ok(answer(m).await);
    }
    if let Some(m) = &found
        && m.complete
        && access.may_read(&caller.profile, m.size)
    {
        return Ok(answer(m).await);
    }
    match access.any_own(device) {
        // Referenced by this device, not started (or started with another size): from 0.
        Some(r) => Ok(status_answer(&hash, r.size, 0, false).await),
        None => Err(not_found(&hash)),
    }
}

/// Reads an upload's body: at most [`limits::CHUNK_BYTES`] are kept.
async fn read_chunk(headers: &HeaderMap, mut body: Body) -> Result<Chunked, ServerError> {
    let too_large = || {
        BlobError::TooLarge(format!(
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
            BlobError::BadRange("send `Content-Range: bytes {first}-{last}/{size}`".into())
        })?;
    if range.size == 0 {
        return Err(BlobError::BadRange(
            "a blob of 0 bytes: there are no empty photos; nothing was stored".into(),
        )
        .into());
    }
    let Chunked { bytes, cut } = bytes?;
    if range.len() > limits::CHUNK_BYTES as u64 {
        return Err(BlobError::TooLarge(format!(
            "the range holds {} bytes; one PUT carries at most {}",
            range.len(),
            limits::CHUNK_BYTES
        ))
        .into());
    }
    if range.size > app.max_blob_bytes {
        return Err(BlobError::TooLarge(format!(
            "blob {hash} is {} bytes; this server takes at most {} per blob",
            range.size, app.max_blob_bytes
        ))
        .into());
    }
    let access = Access::of(&app, &hash).await?;
    let device = caller.device.id.clone();
    let Some(own) = access.own(&device, range.size) else {
        return Err(BlobError::NotReferenced { hash, size: range.size }.into());
    };
    let media_type = own.media_type.clone();
    let found = app.blobs.meta(hash.clone(), device.clone()).await?;
    if let Some(m) = found.as_ref().filter(|m| m.complete) {
        // Stored already (another device uploaded it): nothing to send, nothing stored twice.
        return Ok(answer(m).await);
    }
    // This device's own upload (of another size, it starts again from 0).
    let received = found.as_ref().filter(|m| m.size == range.size).map_or(0, |m| m.received);
    let unsatisfiable = |why: String| -> ServerError {
        BlobError::RangeNotSatisfiable(format!("{why}; received {received}")).into()
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

/// The complete blob `hash` if `caller` may read it; otherwise the answer for a missing blob.
async fn readable(app: &App, caller: &Caller, hash: &str) -> Result<BlobMeta, ServerError> {
    checked(hash)?;
    let access = Access::of(app, hash).await?;
    match app.blobs.meta(hash.to_string(), caller.device.id.clone()).await? {
        Some(m) if m.complete && access.may_read(&caller.profile, m.size) => Ok(m),
        _ => Err(not_found(hash)),
    }
}

/// The inclusive byte range a `Range` header asks of a blob of `size` bytes: `bytes=first-`,
/// `bytes=first-last` (a last past the end means the end) or `bytes=-suffix`; one range only.
pub(crate) fn parse_range(value: &str, size: u64) -> Result<(u64, u64), BlobError> {
    let bad = || {
        BlobError::RangeNotSatisfiable(format!(
            "Range {:?} is not one of bytes=first-, bytes=first-last, bytes=-count within \
             {size} bytes",
            value.chars().take(100).collect::<String>()
        ))
    };
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (first, last) = spec.split_once('-').ok_or_else(bad)?;
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (first, last) = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => {
            let count = num(last).ok_or_else(bad)?;
            if count == 0 {
                return Err(bad());
            }
            (size.saturating_sub(count), size.saturating_sub(1))
        }
        (false, true) => (num(first).ok_or_else(bad)?, size.saturating_sub(1)),
        (false, false) => {
            (num(first).ok_or_else(bad)?, num(last).ok_or_else(bad)?.min(size.saturating_sub(1)))
        }
        (true, true) => return Err(bad()),
    };
    if first >= size || last < first {
        return Err(bad());
    }
    Ok((first, last))
}

/// The media type to serve: the reference's, when it is a plain `type/subtype`.
fn content_type(media_type: &str) -> HeaderValue {
    let plain = media_type.split_once('/').is_some_and(|(t, s)| {
        let token = |x: &str| {
            !x.is_empty()
                && x.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
        };
        token(t) && token(s)
    });
    plain
        .then(|| HeaderValue::from_str(media_type).ok())
        .flatten()
        .unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// `GET /v1/blobs/{hash}`: the bytes (`206` with the part a `Range` asks for).
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let m = readable(&app, &caller, &hash).await?;
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| {
                BlobError::RangeNotSatisfiable("the Range header is not text".into())
            })?;
            Some(parse_range(v, m.size)?)
        }
    };
    let (first, last) = range.unwrap_or((0, m.size - 1));
    let stream = app.blobs.read(hash.clone(), first, last).await?;
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() =
        if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type(&m.media_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(last + 1 - first));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        h.insert(header::ETAG, etag);
    }
    if range.is_some()
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{}", m.size))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(response)
}

/// `GET /v1/blobs/{hash}/thumbnail`: the JPEG thumbnail made after the upload completed (made
/// now if this request comes first).
pub(crate) async fn thumbnail(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    readable(&app, &caller, &hash).await?;
    match app.blobs.thumbnail(hash.clone()).await? {
        Some(jpeg) => Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
                (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            ],
            jpeg,
        )
            .into_response()),
        None => Err(BlobError::NoThumbnail { hash }.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_http_says() {
        assert_eq!(parse_range("bytes=0-", 10).unwrap(), (0, 9));
        assert_eq!(parse_range("bytes=4-", 10).unwrap(), (4, 9));
        assert_eq!(parse_range("bytes=2-5", 10).unwrap(), (2, 5));
        assert_eq!(parse_range("bytes=2-500", 10).unwrap(), (2, 9));
        assert_eq!(parse_range("bytes=-3", 10).unwrap(), (7, 9));
        assert_eq!(parse_range("bytes=-30", 10).unwrap(), (0, 9));
        for bad in
            ["bytes=10-", "bytes=5-2", "bytes=-0", "bytes=-", "bytes=1-2,4-5", "items=0-1", "0-1"]
        {
            assert!(parse_range(bad, 10).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Any `Range` value against any size: a typed refusal or a range inside the blob,
        /// never a panic.
        #[test]
        fn any_range_header_is_refused_or_inside_the_blob(value in "(bytes=)?[-0-9, ]{0,45}", size: u64) {
            if let Ok((first, last)) = parse_range(&value, size) {
                proptest::prop_assert!(first <= last && last < size, "{value:?} of {size}: {first}-{last}");
            }
        }
    }

    #[test]
    fn only_plain_media_types_are_served_as_given() {
        assert_eq!(content_type("image/jpeg"), "image/jpeg");
        assert_eq!(content_type("text/html; charset=x"), "application/octet-stream");
        assert_eq!(content_type("jpeg"), "application/octet-stream");
        assert_eq!(content_type("image/\u{7f}"), "application/octet-stream");
    }
}
