//! The desk's photos: `GET /api/v1/photos/{hash}` (with `Range`) and `…/thumbnail`, served as
//! the phones' are (`http::blobs::read`: sandboxed, images only inline) to a signed-in desk
//! that may read a record legitimately holding the photo; anything else is `404`, as for a
//! photo the server does not have.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::extract::Desk;
use crate::http::App;
use crate::http::blobs::read;
use crate::http::error::ServerError;

/// A photo's name as the desk's URLs carry it (64 lower-case hex digits of a SHA-256), or
/// `404` as for any photo this desk may not have: the desk's ids are all answered alike.
fn photo_name(hash: String) -> Result<String, ServerError> {
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if hash.len() == 64 && hash.bytes().all(hex) {
        return Ok(hash);
    }
    Err(ServerError::NotFound(format!(
        "no photo {:?} that you may see",
        hash.chars().take(64).collect::<String>()
    )))
}

/// `GET /api/v1/photos/{hash}`.
pub(crate) async fn photo(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let hash = photo_name(hash)?;
    read::photo(&app, &session.device, &session.profile, hash, &headers).await
}

/// `GET /api/v1/photos/{hash}/thumbnail`.
pub(crate) async fn thumbnail(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    let hash = photo_name(hash)?;
    read::photo_thumbnail(&app, &session.device, &session.profile, hash).await
}
