//! Reading a blob: `GET /v1/blobs/{hash}` (with `Range`) and `GET /v1/blobs/{hash}/thumbnail`.
//!
//! A photo is never a web page: the server's own origin will serve the command centre's web
//! board, so every stored file is served with `X-Content-Type-Options: nosniff` and
//! `Content-Security-Policy: default-src 'none'; sandbox` (a browser that renders it anyway
//! runs no script and loads nothing), and only a photo media type (`PHOTO_MEDIA_TYPES`) is
//! served as itself, inline; anything else a stored reference may hold from before is
//! `application/octet-stream` with `Content-Disposition: attachment`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_core::policy::Profile;
use fieldsync_core::protocol::is_photo_media_type;

use super::checked;
use crate::http::App;
use crate::http::auth::Caller;
use crate::http::error::ServerError;
use crate::photos::PhotoError;
use crate::storage::Device;

/// What a stored file may do in a browser: nothing.
const SANDBOX: &str = "default-src 'none'; sandbox";

/// The inclusive byte range a `Range` header asks of a blob of `size` bytes: `bytes=first-`,
/// `bytes=first-last` (a last past the end means the end) or `bytes=-suffix`; one range only.
/// Read by `http-range-header` as RFC 9110 says; a header it refuses, one that asks for
/// nothing of the blob, or several ranges are answered alike.
pub(crate) fn parse_range(value: &str, size: u64) -> Result<(u64, u64), PhotoError> {
    let bad = || {
        PhotoError::RangeNotSatisfiable(format!(
            "Range {:?} is not one of bytes=first-, bytes=first-last, bytes=-count within \
             {size} bytes",
            value.chars().take(100).collect::<String>()
        ))
    };
    let ranges = http_range_header::parse_range_header(value.trim())
        .and_then(|ranges| ranges.validate(size))
        .map_err(|_| bad())?;
    match ranges.as_slice() {
        [one] => Ok((*one.start(), *one.end())),
        _ => Err(bad()),
    }
}

/// The headers every stored file is served with: its `Content-Type` — the media type when it
/// is a photo's, shown inline, else `application/octet-stream` as an attachment — and what
/// keeps a browser from running it.
fn protect(h: &mut HeaderMap, media_type: &str) {
    if is_photo_media_type(media_type) {
        if let Ok(v) = HeaderValue::from_str(media_type) {
            h.insert(header::CONTENT_TYPE, v);
        }
    } else {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SANDBOX));
}

/// `GET /v1/blobs/{hash}`: the bytes (`206` with the part a `Range` asks for).
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    photo(&app, &caller.device, &caller.profile, hash, &headers).await
}

/// `GET /v1/blobs/{hash}/thumbnail`: the JPEG thumbnail made after the upload completed (made
/// now if this request comes first).
pub(crate) async fn thumbnail(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
) -> Result<Response, ServerError> {
    photo_thumbnail(&app, &caller.device, &caller.profile, hash).await
}

/// Photo `hash` as `device` (of a user with `profile`) may read it (a phone: not the photos of a bulletin that expired before it enrolled): the bytes, or the part a
/// `Range` asks for; a photo it may not read is answered as a missing one. The phones' and
/// the desk's photo routes both serve through here.
pub(crate) async fn photo(
    app: &App,
    device: &Device,
    profile: &Profile,
    hash: String,
    headers: &HeaderMap,
) -> Result<Response, ServerError> {
    checked(&hash)?;
    let m = app.photos.readable(&device.id, profile, device.enrolled_phone(), &hash).await?;
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| {
                PhotoError::RangeNotSatisfiable("the Range header is not text".into())
            })?;
            Some(parse_range(v, m.size)?)
        }
    };
    let (first, last) = range.unwrap_or((0, m.size - 1));
    let stream = app.photos.read(hash.clone(), first, last).await?;
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() =
        if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let h = response.headers_mut();
    protect(h, &m.media_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(last + 1 - first));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
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

/// The thumbnail of photo `hash`, as `device` (of a user with `profile`) may read it.
pub(crate) async fn photo_thumbnail(
    app: &App,
    device: &Device,
    profile: &Profile,
    hash: String,
) -> Result<Response, ServerError> {
    checked(&hash)?;
    app.photos.readable(&device.id, profile, device.enrolled_phone(), &hash).await?;
    let mut response = app.photos.thumbnail(hash).await?.into_response();
    protect(response.headers_mut(), "image/jpeg");
    Ok(response)
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
    fn only_photo_types_are_served_as_themselves_inline() {
        let served = |media_type: &str| {
            let mut h = HeaderMap::new();
            protect(&mut h, media_type);
            let get = |name| h.get(name).map(|v: &HeaderValue| v.to_str().unwrap().to_string());
            (get(header::CONTENT_TYPE), get(header::CONTENT_DISPOSITION), h)
        };
        for t in ["image/jpeg", "image/png", "image/heic"] {
            let (ct, cd, _) = served(t);
            assert_eq!((ct.as_deref(), cd), (Some(t), None), "{t}");
        }
        for t in ["text/html", "image/svg+xml", "text/html; charset=x", "jpeg", "image/\u{7f}", ""]
        {
            let (ct, cd, _) = served(t);
            assert_eq!(
                (ct.as_deref(), cd.as_deref()),
                (Some("application/octet-stream"), Some("attachment")),
                "{t:?}"
            );
        }
        let (_, _, h) = served("image/png");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "default-src 'none'; sandbox");
    }
}
