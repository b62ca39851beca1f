//! `GET /open311/v2/services.{xml,json}` (our report categories as services) and
//! `GET /open311/v2/services/{code}.{xml,json}` (a service's definition: no service has
//! attributes, so the definition lists none). No key needed: the catalogue is public.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;

use super::bodies::{DefinitionJson, DefinitionXml, ServiceOut, ServicesXml};
use super::format::{Format, answer, error};
use super::params::{MAX_QUERY_BYTES, Params};
use crate::open311::{self, Open311Error};

/// Parameters a service request may carry (both are ignored: the catalogue is the same for
/// every key and scope).
const KNOWN: &[&str] = &["jurisdiction_id", "api_key"];

/// The service list.
pub(super) fn list(format: Format, query: &str) -> Response {
    if let Err(e) = Params::parse(query.as_bytes(), MAX_QUERY_BYTES, KNOWN) {
        return error(format, &e);
    }
    let services: Vec<ServiceOut> = open311::services().iter().map(ServiceOut::from).collect();
    answer(format, StatusCode::OK, "services", &services, &ServicesXml { service: &services })
}

/// A service's definition.
pub(super) async fn definition(
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((code, format)) = super::format::file(path) else {
        return error(Format::Xml, &Open311Error::NoSuchResource);
    };
    let query = query.unwrap_or_default();
    if let Err(e) = Params::parse(query.as_bytes(), MAX_QUERY_BYTES, KNOWN) {
        return error(format, &e);
    }
    match open311::service(&code) {
        Ok(s) => answer(
            format,
            StatusCode::OK,
            "service_definition",
            &DefinitionJson { service_code: s.code, attributes: [] },
            &DefinitionXml { service_code: s.code, attributes: "" },
        ),
        Err(e) => error(format, &e),
    }
}
