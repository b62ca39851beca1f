//! The board's files (`sync-server/web/`), compiled into the binary with rust-embed: served
//! under `/board/` with their media type and an `ETag` of their SHA-256, revalidated on each
//! load (`no-cache`) so that a new server's page is never mixed with an old one's modules.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::http::error::error_response;

/// The files under `sync-server/web/`.
#[derive(RustEmbed)]
#[folder = "web/"]
pub(crate) struct Web;

/// The media type of a file the board serves, by its extension (only these are served).
fn media_type(file: &str) -> Option<&'static str> {
    let ext = file.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => return None,
    })
}

/// A file's `ETag`: its SHA-256, quoted.
pub(crate) fn etag(file: &rust_embed::EmbeddedFile) -> String {
    format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]))
}

/// `GET /board/{*file}`.
pub(crate) async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let found = media_type(&file).and_then(|kind| Some((kind, Web::get(&file)?)));
    let Some((kind, embedded)) = found else {
        return error_response(StatusCode::NOT_FOUND, "not_found", "no such board file".into());
    };
    let tag = etag(&embedded);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let tag = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache =
        [(header::ETAG, tag), (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(kind))], cache, embedded.data)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size in bytes of the page's own JavaScript and CSS.
    fn code_bytes() -> usize {
        Web::iter()
            .filter(|f| f.ends_with(".js") || f.ends_with(".css"))
            .filter_map(|f| Web::get(&f).map(|e| e.data.len()))
            .sum()
    }

    #[test]
    fn every_file_has_a_media_type_and_the_code_stays_small() {
        for f in Web::iter() {
            assert!(media_type(&f).is_some(), "{f} would not be served");
        }
        assert!(Web::get("app.js").is_some() && Web::get("i18n/zh-CN.json").is_some());
        assert_eq!(media_type("x.html"), None, "the shell is rendered, not a file");
        let kb = code_bytes() / 1024;
        assert!(kb <= 150, "the board's JavaScript and CSS are {kb} KB; at most 150");
    }
}
