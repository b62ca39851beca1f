//! Request and answer bodies: reading a body within the size limit, decoding the envelope
//! (gzip, CBOR) into a typed error on failure, and encoding answers. Large bodies are inflated
//! and deflated on a blocking thread, so async workers keep serving.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use fieldsync_core::protocol::{self, DecodeError, VERSION, limits};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::error::ServerError;

/// Bodies up to this size are decoded and encoded in place; larger ones on a blocking thread.
const INLINE_BYTES: usize = 32 * 1024;

/// What the small messages (an enrollment, a visible request) may inflate to: 1,000 document
/// ids are 18 KiB.
const SMALL_INFLATED_BYTES: usize = 64 * 1024;

/// Reads a request body, refusing one over the wire limit of sync and reconcile requests.
pub(crate) async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ServerError> {
    read_body_within(headers, body, limits::BODY_BYTES).await
}

/// Reads a request body of at most `limit` bytes. A body over it is still read (and dropped)
/// up to twice the limit, so that the client gets the `413` answer rather than a connection
/// reset halfway through its upload; one declared (`Content-Length`) or found larger than that
/// is refused at once, unread, and its connection closed. A body whose next bytes do not come within the stall
/// timeout is refused `408 request_timeout`.
pub(crate) async fn read_body_within(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<Bytes, ServerError> {
    let drain = limit.saturating_mul(2);
    let too_large = || ServerError::TooLarge(format!("the body is over {limit} bytes on the wire"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain as u64) {
        return Err(too_large());
    }
    let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(0).min(limit));
    let mut buf = Vec::with_capacity(capacity);
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if is_timeout(&e) {
                ServerError::RequestTimeout(format!("the body stalled: {e}"))
            } else {
                ServerError::MalformedBody(format!("the body could not be read: {e}"))
            }
        })?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= limit {
                buf.extend_from_slice(&data);
            } else if total > drain {
                return Err(too_large());
            }
        }
    }
    if total > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(buf))
}

/// Whether a body error is the body timeout's.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

#[derive(serde::Deserialize)]
struct Probe {
    v: u32,
}

pub(crate) fn decode_now<T: DeserializeOwned>(body: &[u8]) -> Result<T, ServerError> {
    decode_limited(body, limits::INFLATED_BYTES)
}

/// Decodes a small message (an enrollment, a visible request) in place: it may inflate to
/// [`SMALL_INFLATED_BYTES`] at most.
pub(crate) fn decode_small<T: DeserializeOwned>(body: &[u8]) -> Result<T, ServerError> {
    decode_limited(body, SMALL_INFLATED_BYTES)
}

fn decode_limited<T: DeserializeOwned>(body: &[u8], inflated: usize) -> Result<T, ServerError> {
    match protocol::decode_within::<T>(body, inflated) {
        Ok(msg) => Ok(msg),
        Err(DecodeError::TooLarge { limit }) => {
            Err(ServerError::TooLarge(format!("the body inflates past {limit} bytes")))
        }
        Err(DecodeError::Gzip(e)) => Err(ServerError::MalformedBody(format!("not gzip: {e}"))),
        Err(DecodeError::Cbor(e)) => {
            // A message of another version may not have this version's shape: say so.
            if let Ok(Probe { v }) = protocol::decode::<Probe>(body)
                && !(VERSION..=protocol::SYNC_VERSION).contains(&v)
            {
                return Err(ServerError::UnsupportedVersion { v, speaks: "1 (and 2 for sync)" });
            }
            Err(ServerError::MalformedBody(format!("not the expected message: {e}")))
        }
    }
}

/// Decodes an envelope into `T`.
pub(crate) async fn decode<T: DeserializeOwned + Send + 'static>(
    body: Bytes,
) -> Result<T, ServerError> {
    if body.len() <= INLINE_BYTES {
        return decode_now(&body);
    }
    tokio::task::spawn_blocking(move || decode_now(&body))
        .await
        .map_err(|e| ServerError::Internal(format!("decoding task failed: {e}")))?
}

/// Reads a request body within the limit, waits for a turn to handle it, then decodes it: the
/// common start of every document request (inflating happens only once admitted, so memory in
/// flight stays bounded). The permit is held until it is dropped.
pub(crate) async fn admitted<'a, T: DeserializeOwned + Send + 'static>(
    app: &'a crate::http::App,
    headers: &HeaderMap,
    body: Body,
) -> Result<(tokio::sync::SemaphorePermit<'a>, T), ServerError> {
    let body = read_body(headers, body).await?;
    let turn = app.admit().await?;
    Ok((turn, decode(body).await?))
}

/// Like [`admitted`], for a small message of at most `limit` bytes on the wire.
pub(crate) async fn admitted_small<'a, T: DeserializeOwned + Send + 'static>(
    app: &'a crate::http::App,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(tokio::sync::SemaphorePermit<'a>, T), ServerError> {
    let body = read_body_within(headers, body, limit).await?;
    let turn = app.admit().await?;
    Ok((turn, decode_small(&body)?))
}

/// An actor id is 1 to 32 bytes.
pub(crate) fn check_actor(actor: &[u8]) -> Result<(), ServerError> {
    if actor.is_empty() || actor.len() > 32 {
        return Err(ServerError::InvalidRequest(format!(
            "the actor is {} bytes; it must be 1 to 32",
            actor.len()
        )));
    }
    Ok(())
}

/// Checks the protocol version of a decoded message.
pub(crate) fn check_version(v: u32) -> Result<(), ServerError> {
    if v == VERSION { Ok(()) } else { Err(ServerError::UnsupportedVersion { v, speaks: "1" }) }
}

/// Refuses a sync request of a version this server does not serve: version 1 (unsigned
/// pushes) and [`protocol::SYNC_VERSION`] (signed) are served, each answered in its own.
pub(crate) fn check_sync_version(v: u32) -> Result<(), ServerError> {
    if (VERSION..=protocol::SYNC_VERSION).contains(&v) {
        Ok(())
    } else {
        Err(ServerError::UnsupportedVersion { v, speaks: SPEAKS_SYNC })
    }
}

/// The versions `POST /v1/sync` serves, as an error says them.
const SPEAKS_SYNC: &str = "1 and 2";

/// Encodes a sync answer whose feed data is `parts` (after `head.docs`), splicing cached
/// segments as they are.
pub(crate) async fn answer_sync(
    head: protocol::SyncResponse,
    parts: Vec<crate::feed::Part>,
    approx_bytes: usize,
) -> Result<Response, ServerError> {
    let signed = head.v >= protocol::SYNC_VERSION;
    let encode = move || {
        let parts: Vec<protocol::DocsPart<'_>> = parts
            .iter()
            .map(|p| match p {
                crate::feed::Part::Fresh(docs) => protocol::DocsPart::Fresh(docs),
                crate::feed::Part::Segment(s) => protocol::DocsPart::Member(s.member(signed)),
            })
            .collect();
        protocol::encode_sync_response(&head, &parts)
    };
    let body = if approx_bytes <= INLINE_BYTES {
        encode()
    } else {
        tokio::task::spawn_blocking(encode)
            .await
            .map_err(|e| ServerError::Internal(format!("encoding task failed: {e}")))?
    };
    Ok(([(header::CONTENT_TYPE, "application/cbor"), (header::CONTENT_ENCODING, "gzip")], body)
        .into_response())
}

/// Encodes an answer as an envelope, with its headers.
pub(crate) async fn answer<T: Serialize + Send + 'static>(
    msg: T,
    approx_bytes: usize,
) -> Result<Response, ServerError> {
    let body = if approx_bytes <= INLINE_BYTES {
        protocol::encode(&msg)
    } else {
        tokio::task::spawn_blocking(move || protocol::encode(&msg))
            .await
            .map_err(|e| ServerError::Internal(format!("encoding task failed: {e}")))?
    };
    Ok(([(header::CONTENT_TYPE, "application/cbor"), (header::CONTENT_ENCODING, "gzip")], body)
        .into_response())
}
