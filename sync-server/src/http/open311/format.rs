//! The two formats of GeoReport v2, chosen by the path's suffix: XML (which the spec requires;
//! written with quick-xml's serde serializer) and JSON. Errors are written in the spec's
//! format, a list of `{code, description}`, with the status `http/error.rs` gives them.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::bodies::{ErrorOut, Errors};
use crate::http::error::open311_status;
use crate::open311::Open311Error;

/// The format an answer is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// `.xml`: `text/xml`.
    Xml,
    /// `.json`: `application/json`.
    Json,
}

/// The stem of a file name and the format of its suffix (`requests.json` → `requests`, JSON).
/// The file a path names and the format its suffix asks for (`None`: not a file of ours, the
/// spec's 404).
pub(super) fn file(
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Option<(String, Format)> {
    let axum::extract::Path(name) = path.ok()?;
    split(&name).map(|(stem, format)| (stem.to_string(), format))
}

pub(super) fn split(name: &str) -> Option<(&str, Format)> {
    let (stem, suffix) = name.rsplit_once('.')?;
    let format = match suffix {
        "xml" => Format::Xml,
        "json" => Format::Json,
        _ => return None,
    };
    (!stem.is_empty()).then_some((stem, format))
}

/// An answer: `json` as JSON, or `xml` as XML under the element `root`.
pub(super) fn answer<J: Serialize, X: Serialize>(
    format: Format,
    status: StatusCode,
    root: &str,
    json: &J,
    xml: &X,
) -> Response {
    let written = match format {
        Format::Json => serde_json::to_string(json).map_err(|e| e.to_string()),
        Format::Xml => quick_xml::se::to_string_with_root(root, xml)
            .map(|x| format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{x}"))
            .map_err(|e| e.to_string()),
    };
    match written {
        Ok(body) => (status, [(header::CONTENT_TYPE, content_type(format))], body).into_response(),
        Err(e) => {
            tracing::error!("an Open311 answer could not be written: {e}");
            let e = Open311Error::Unavailable("the answer could not be written".into());
            error(format, &e)
        }
    }
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Xml => "text/xml; charset=utf-8",
        Format::Json => "application/json; charset=utf-8",
    }
}

/// The spec's error answer for `e`.
pub(super) fn error(format: Format, e: &Open311Error) -> Response {
    let status = open311_status(e);
    if status.is_server_error() {
        tracing::warn!("open311: {e}");
    }
    let list = [ErrorOut { code: status.as_u16(), description: e.to_string() }];
    let body = match format {
        Format::Json => serde_json::to_string(&list).ok(),
        Format::Xml => quick_xml::se::to_string_with_root("errors", &Errors { error: &list })
            .ok()
            .map(|x| format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{x}")),
    };
    // Writing a code and a string cannot fail; should it, the status alone still answers.
    (status, [(header::CONTENT_TYPE, content_type(format))], body.unwrap_or_default())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_choose_the_format() {
        assert_eq!(split("requests.xml"), Some(("requests", Format::Xml)));
        assert_eq!(split("requests.json"), Some(("requests", Format::Json)));
        assert_eq!(split("a.b.json"), Some(("a.b", Format::Json)));
        assert_eq!(split("requests"), None);
        assert_eq!(split("requests.html"), None);
        assert_eq!(split(".json"), None);
    }
}
