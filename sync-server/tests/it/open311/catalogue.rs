//! The public catalogue: the discovery document, the service list and a service's definition,
//! in JSON and XML, field by field as GeoReport v2 lists them. No key is needed.

use super::{assert_error, get, json_items, xml_items};
use crate::common::start;

/// The spec's fields of a service.
const SERVICE_FIELDS: &[&str] =
    &["service_code", "service_name", "description", "metadata", "type", "keywords", "group"];

/// Our categories, in order.
const CODES: &[&str] = &[
    "illegal_construction",
    "sanitation",
    "safety_hazard",
    "noise",
    "road_facility_damage",
    "dispute",
    "other",
];

/// The child element `name` of `n`.
fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    n.children().find(|c| c.has_tag_name(name)).unwrap_or_else(|| panic!("no <{name}>"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_names_the_endpoint_and_its_formats() {
    let ts = start().await;
    let json = get(&ts, "discovery.json").await;
    assert_eq!(json.status, 200);
    assert!(json.content_type.starts_with("application/json"), "{}", json.content_type);
    let d: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    let fields: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, ["changeset", "contact", "endpoints", "key_service"]);
    let endpoints = d["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    let e = &endpoints[0];
    assert_eq!(e["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(e["url"], format!("{}/open311/v2", ts.running.url()));
    assert_eq!(e["type"], "production");
    assert_eq!(e["formats"], serde_json::json!(["text/xml", "application/json"]));
    assert!(e["changeset"].as_str().unwrap().starts_with("20"));

    let xml = get(&ts, "discovery.xml").await;
    assert_eq!(xml.status, 200);
    assert!(xml.content_type.starts_with("text/xml"), "{}", xml.content_type);
    let doc = roxmltree::Document::parse(&xml.body).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "discovery");
    assert_eq!(child(root, "changeset").text(), d["changeset"].as_str());
    assert_eq!(child(root, "key_service").text(), d["key_service"].as_str());
    let endpoint = child(child(root, "endpoints"), "endpoint");
    assert_eq!(child(endpoint, "url").text(), e["url"].as_str());
    assert_eq!(child(endpoint, "specification").text(), e["specification"].as_str());
    let formats: Vec<&str> = child(endpoint, "formats")
        .children()
        .filter(|c| c.has_tag_name("format"))
        .filter_map(|c| c.text())
        .collect();
    assert_eq!(formats, ["text/xml", "application/json"]);
    ts.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_our_categories_in_both_formats() {
    let ts = start().await;
    let json = get(&ts, "services.json").await;
    assert_eq!(json.status, 200);
    let services = json_items(&json.body);
    let codes: Vec<&str> = services.iter().map(|s| s["service_code"].as_str().unwrap()).collect();
    assert_eq!(codes, CODES);
    for s in &services {
        let mut fields: Vec<&str> = s.keys().map(String::as_str).collect();
        fields.sort_unstable();
        let mut spec = SERVICE_FIELDS.to_vec();
        spec.sort_unstable();
        assert_eq!(fields, spec, "every field of the spec, and no other");
        assert_eq!(s["metadata"], false);
        assert_eq!(s["type"], "realtime");
        assert!(s["service_name"].as_str().unwrap().contains(" / "), "Chinese / English");
        assert!(!s["description"].as_str().unwrap().is_empty());
        assert!(!s["group"].as_str().unwrap().is_empty());
    }
    let illegal = &services[0];
    assert_eq!(illegal["service_name"], "违法建设 / Illegal construction");

    let xml = get(&ts, "services.xml").await;
    assert_eq!(xml.status, 200);
    let items = xml_items(&xml.body, "services", "service");
    assert_eq!(items.len(), services.len());
    for (x, j) in items.iter().zip(&services) {
        let fields: Vec<&str> = x.keys().map(String::as_str).collect();
        let mut spec = SERVICE_FIELDS.to_vec();
        spec.sort_unstable();
        assert_eq!(fields, spec);
        for f in SERVICE_FIELDS {
            let want = match &j[*f] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(x[*f], want, "{f} is the same in XML and JSON");
        }
    }
    ts.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_definition_has_no_attributes_and_unknown_ones_are_404() {
    let ts = start().await;
    let json = get(&ts, "services/noise.json").await;
    assert_eq!(json.status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json.body).unwrap(),
        serde_json::json!({"service_code": "noise", "attributes": []})
    );
    let xml = get(&ts, "services/noise.xml").await;
    assert_eq!(xml.status, 200);
    let doc = roxmltree::Document::parse(&xml.body).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_definition");
    let code = root.children().find(|c| c.has_tag_name("service_code")).unwrap();
    assert_eq!(code.text(), Some("noise"));
    let attributes = root.children().find(|c| c.has_tag_name("attributes")).unwrap();
    assert_eq!(attributes.children().filter(|c| c.is_element()).count(), 0);

    for format in ["json", "xml"] {
        let a = get(&ts, &format!("services/roof_garden.{format}")).await;
        assert_error(&a, 404, "roof_garden");
    }
    ts.running.shutdown().await.unwrap();
}
