//! What each Open311 answer holds, field by field as GeoReport v2 names them. JSON answers are
//! lists of objects; XML answers wrap the same objects in the spec's elements (`<services>`
//! holds `<service>`s), which is what the `…Xml` wrappers are for.

use serde::Serialize;

use crate::open311::{Service, ServiceRequest, time};

/// One error of the spec's error list.
#[derive(Debug, Serialize)]
pub(super) struct ErrorOut {
    /// The HTTP status.
    pub(super) code: u16,
    /// What is wrong.
    pub(super) description: String,
}

/// `<errors>`.
#[derive(Debug, Serialize)]
pub(super) struct Errors<'a> {
    pub(super) error: &'a [ErrorOut],
}

/// A service of the service list.
#[derive(Debug, Serialize)]
pub(super) struct ServiceOut {
    service_code: &'static str,
    service_name: &'static str,
    description: &'static str,
    metadata: bool,
    #[serde(rename = "type")]
    kind: &'static str,
    keywords: &'static str,
    group: &'static str,
}

impl From<&Service> for ServiceOut {
    fn from(s: &Service) -> Self {
        ServiceOut {
            service_code: s.code,
            service_name: s.name,
            description: s.description,
            // No service asks for attributes beyond the spec's fields.
            metadata: false,
            kind: "realtime",
            keywords: s.keywords,
            group: s.group,
        }
    }
}

/// `<services>`.
#[derive(Debug, Serialize)]
pub(super) struct ServicesXml<'a> {
    pub(super) service: &'a [ServiceOut],
}

/// A service definition: the service's code and its attributes (none).
#[derive(Debug, Serialize)]
pub(super) struct DefinitionJson {
    pub(super) service_code: &'static str,
    pub(super) attributes: [(); 0],
}

/// `<service_definition>`: `<attributes/>` empty.
#[derive(Debug, Serialize)]
pub(super) struct DefinitionXml {
    pub(super) service_code: &'static str,
    pub(super) attributes: &'static str,
}

/// A service request as GET answers it.
#[derive(Debug, Serialize)]
pub(super) struct RequestOut {
    service_request_id: String,
    status: &'static str,
    status_notes: &'static str,
    service_name: &'static str,
    service_code: &'static str,
    description: String,
    agency_responsible: String,
    requested_datetime: String,
    updated_datetime: String,
    expected_datetime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    long: Option<f64>,
}

impl From<&ServiceRequest> for RequestOut {
    fn from(r: &ServiceRequest) -> Self {
        RequestOut {
            service_request_id: r.id.to_string(),
            status: r.state.as_str(),
            status_notes: r.status_notes,
            service_name: r.service.name,
            service_code: r.service.code,
            description: r.description.clone(),
            agency_responsible: r.agency_responsible.clone(),
            requested_datetime: time::format(r.requested),
            updated_datetime: time::format(r.updated),
            expected_datetime: time::format(r.expected),
            address: r.address.clone(),
            lat: r.lat,
            long: r.lon,
        }
    }
}

/// `<service_requests>` of `<request>`s, as GET and POST answer them.
#[derive(Debug, Serialize)]
pub(super) struct RequestsXml<'a, T> {
    pub(super) request: &'a [T],
}

/// The answer to a POST: the new request's id and a notice of what happens next.
#[derive(Debug, Serialize)]
pub(super) struct FiledOut {
    pub(super) service_request_id: String,
    pub(super) service_notice: String,
}

/// The discovery document, as JSON.
#[derive(Debug, Serialize)]
pub(super) struct DiscoveryJson {
    pub(super) changeset: &'static str,
    pub(super) contact: &'static str,
    pub(super) key_service: &'static str,
    pub(super) endpoints: Vec<EndpointJson>,
}

/// An endpoint of the discovery document, as JSON.
#[derive(Debug, Serialize)]
pub(super) struct EndpointJson {
    pub(super) specification: &'static str,
    pub(super) url: String,
    pub(super) changeset: &'static str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) formats: [&'static str; 2],
}

/// `<discovery>`.
#[derive(Debug, Serialize)]
pub(super) struct DiscoveryXml {
    pub(super) changeset: &'static str,
    pub(super) contact: &'static str,
    pub(super) key_service: &'static str,
    pub(super) endpoints: EndpointsXml,
}

/// `<endpoints>`.
#[derive(Debug, Serialize)]
pub(super) struct EndpointsXml {
    pub(super) endpoint: Vec<EndpointXml>,
}

/// `<endpoint>`.
#[derive(Debug, Serialize)]
pub(super) struct EndpointXml {
    pub(super) specification: &'static str,
    pub(super) url: String,
    pub(super) changeset: &'static str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) formats: FormatsXml,
}

/// `<formats>`.
#[derive(Debug, Serialize)]
pub(super) struct FormatsXml {
    pub(super) format: [&'static str; 2],
}
