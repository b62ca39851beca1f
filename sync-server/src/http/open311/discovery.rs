//! `GET /open311/v2/discovery.{xml,json}`: where the endpoint is, which specification and
//! formats it serves, and how an app gets a key. No key needed.

use axum::http::uri::Authority;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::bodies::{
    DiscoveryJson, DiscoveryXml, EndpointJson, EndpointXml, EndpointsXml, FormatsXml,
};
use super::format::{Format, answer, error};
use super::params::{MAX_QUERY_BYTES, Params};

/// When this server's Open311 endpoint last changed.
const CHANGESET: &str = "2026-12-05T00:00:00+08:00";
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
const CONTACT: &str = "The street's digital command centre (数字化指挥中心)";
const KEY_SERVICE: &str =
    "API keys are issued by the server's administrator: fieldsync-server api-key issue";
const FORMATS: [&str; 2] = ["text/xml", "application/json"];

/// The endpoint's URL as the app reached it: the `Host` it named (when it is a host name and
/// port) and the scheme a proxy in front says (`X-Forwarded-Proto`), else `http`. It only
/// describes the server to the same client that sent the headers.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok())
        .filter(|a| !a.as_str().contains('@'))
        .map_or_else(|| "localhost".to_string(), |a| a.to_string());
    let scheme = match headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}/open311/v2")
}

/// The discovery document.
pub(super) fn handle(format: Format, headers: &HeaderMap, query: &str) -> Response {
    if let Err(e) = Params::parse(query.as_bytes(), MAX_QUERY_BYTES, &["jurisdiction_id"]) {
        return error(format, &e);
    }
    let url = base_url(headers);
    let json = DiscoveryJson {
        changeset: CHANGESET,
        contact: CONTACT,
        key_service: KEY_SERVICE,
        endpoints: vec![EndpointJson {
            specification: SPECIFICATION,
            url: url.clone(),
            changeset: CHANGESET,
            kind: "production",
            formats: FORMATS,
        }],
    };
    let xml = DiscoveryXml {
        changeset: CHANGESET,
        contact: CONTACT,
        key_service: KEY_SERVICE,
        endpoints: EndpointsXml {
            endpoint: vec![EndpointXml {
                specification: SPECIFICATION,
                url,
                changeset: CHANGESET,
                kind: "production",
                formats: FormatsXml { format: FORMATS },
            }],
        },
    };
    answer(format, StatusCode::OK, "discovery", &json, &xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_a_host_or_localhost() {
        let mut h = HeaderMap::new();
        assert_eq!(base_url(&h), "http://localhost/open311/v2");
        h.insert(header::HOST, "desk.example:8080".parse().unwrap());
        assert_eq!(base_url(&h), "http://desk.example:8080/open311/v2");
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(base_url(&h), "https://desk.example:8080/open311/v2");
        h.insert(header::HOST, "a b<script>".parse().unwrap());
        assert_eq!(base_url(&h), "https://localhost/open311/v2");
    }
}
