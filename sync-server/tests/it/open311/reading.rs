//! Reading requests: the listing and one request, in JSON and XML, field by field; the
//! status mapping; the spec's filters; only reports in the key's scopes, and nothing of a
//! person or a mediation case anywhere.

use std::collections::BTreeMap;

use super::{
    Fixture, assert_error, assert_no_secrets, fixture, get, issue, json_items, query, xml_items,
};
use crate::common::GRID;

/// The spec's fields of a service request (GET Service Requests).
const REQUEST_FIELDS: &[&str] = &[
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

/// The fields this server always gives (the others it has no value for, or keeps private).
const ALWAYS: &[&str] = &[
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
];

async fn list(f: &Fixture, format: &str, extra: &[(&str, &str)]) -> super::Answer {
    let mut pairs = vec![("api_key", f.key.as_str())];
    pairs.extend_from_slice(extra);
    get(&f.ts, &format!("requests.{format}?{}", query(&pairs))).await
}

/// The JSON listing's requests, by id, each field as text.
async fn listed_json(
    f: &Fixture,
    extra: &[(&str, &str)],
) -> BTreeMap<String, BTreeMap<String, String>> {
    let a = list(f, "json", extra).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_no_secrets(&a.body);
    json_items(&a.body)
        .into_iter()
        .map(|r| {
            let fields: BTreeMap<String, String> = r
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect();
            (fields["service_request_id"].clone(), fields)
        })
        .collect()
}

fn assert_spec_fields(r: &BTreeMap<String, String>) {
    for f in r.keys() {
        assert!(REQUEST_FIELDS.contains(&f.as_str()), "{f} is not a field of the spec");
    }
    for f in ALWAYS {
        assert!(r.contains_key(*f), "{f} missing from {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_list_the_public_fields_of_reports_in_the_keys_scope() {
    let f = fixture().await;
    let json = listed_json(&f, &[]).await;
    let ids: Vec<&String> = json.keys().collect();
    let mut want = [f.open.to_string(), f.closed.to_string()];
    want.sort();
    assert_eq!(ids, want.iter().collect::<Vec<_>>(), "the two reports of GRID, nothing else");

    let open = &json[&f.open.to_string()];
    assert_spec_fields(open);
    assert_eq!(open["status"], "open");
    assert_eq!(open["service_code"], "illegal_construction");
    assert_eq!(open["service_name"], "违法建设 / Illegal construction");
    assert_eq!(open["description"], "屋顶违章搭建，约20平方米");
    assert_eq!(open["agency_responsible"], GRID);
    assert_eq!(open["address"], "新华小区7号楼");
    assert_eq!(open["lat"], "43.88");
    assert_eq!(open["long"], "125.32");
    assert!(open["status_notes"].starts_with("submitted"));
    for t in ["requested_datetime", "updated_datetime", "expected_datetime"] {
        let v = &open[t];
        assert!(v.len() == 25 && v.ends_with("+08:00") && v.as_bytes()[10] == b'T', "{t}: {v}");
    }
    assert!(open["expected_datetime"] > open["requested_datetime"], "the resolve limit is later");

    let closed = &json[&f.closed.to_string()];
    assert_spec_fields(closed);
    assert_eq!(closed["status"], "closed");
    assert!(closed["status_notes"].starts_with("rejected"), "{}", closed["status_notes"]);
    assert!(closed["updated_datetime"] >= closed["requested_datetime"]);

    let xml = list(&f, "xml", &[]).await;
    assert_eq!(xml.status, 200, "{}", xml.body);
    assert!(xml.content_type.starts_with("text/xml"));
    assert_no_secrets(&xml.body);
    let items = xml_items(&xml.body, "service_requests", "request");
    assert_eq!(items.len(), 2);
    for x in &items {
        assert_spec_fields(x);
        assert_eq!(x, &json[&x["service_request_id"]], "XML says what JSON says");
    }
    f.ts.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_by_status_service_id_and_date() {
    let f = fixture().await;
    let (open, closed) = (f.open.to_string(), f.closed.to_string());
    let ids = |m: BTreeMap<String, BTreeMap<String, String>>| m.into_keys().collect::<Vec<_>>();
    let one = |id: &String| vec![id.clone()];
    assert_eq!(ids(listed_json(&f, &[("status", "open")]).await), one(&open));
    assert_eq!(ids(listed_json(&f, &[("status", "closed")]).await), one(&closed));
    assert_eq!(ids(listed_json(&f, &[("status", "open,closed")]).await).len(), 2);
    assert!(listed_json(&f, &[("service_code", "noise")]).await.is_empty());
    assert_eq!(listed_json(&f, &[("service_code", "noise,illegal_construction")]).await.len(), 2);
    assert_eq!(ids(listed_json(&f, &[("service_request_id", &closed)]).await), one(&closed));
    let elsewhere = f.elsewhere.to_string();
    let both = format!("{open},{elsewhere}");
    assert_eq!(
        ids(listed_json(&f, &[("service_request_id", &both)]).await),
        one(&open),
        "an id outside the key's scopes is left out as if it did not exist"
    );
    let case = f.case.to_string();
    assert!(listed_json(&f, &[("service_request_id", &case)]).await.is_empty(), "not a report");
    assert_eq!(
        listed_json(&f, &[("start_date", "2020-01-01")]).await.len(),
        0,
        "90 days from then"
    );
    assert_eq!(listed_json(&f, &[("end_date", "2020-01-01T00:00:00Z")]).await.len(), 0);
    let today = fieldsync_server::open311::time::format(fieldsync_core::time::now_ms() - 60_000);
    assert_eq!(listed_json(&f, &[("start_date", &today)]).await.len(), 2);
    let later = fieldsync_server::open311::time::format(fieldsync_core::time::now_ms() + 60_000);
    assert_eq!(listed_json(&f, &[("start_date", &today), ("end_date", &later)]).await.len(), 2);
    assert_eq!(listed_json(&f, &[("jurisdiction_id", GRID)]).await.len(), 2);
    f.ts.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_in_scope_is_answered_and_others_are_404() {
    let f = fixture().await;
    for format in ["json", "xml"] {
        let path = format!("requests/{}.{format}?{}", f.open, query(&[("api_key", &f.key)]));
        let a = get(&f.ts, &path).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_no_secrets(&a.body);
        let id = if format == "json" {
            json_items(&a.body)[0]["service_request_id"].as_str().unwrap().to_string()
        } else {
            xml_items(&a.body, "service_requests", "request")[0]["service_request_id"].clone()
        };
        assert_eq!(id, f.open.to_string());
        for other in [f.elsewhere, f.case, fieldsync_core::DocId::random()] {
            let path = format!("requests/{other}.{format}?{}", query(&[("api_key", &f.key)]));
            assert_error(&get(&f.ts, &path).await, 404, "not a request this key may see");
        }
    }
    f.ts.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_for_a_wider_scope_sees_both_grids_and_never_the_case() {
    let f = fixture().await;
    let wide = issue(&f.ts, &["jl/changchun/chaoyang/yongchang/xinhua"]).await;
    let a = get(&f.ts, &format!("requests.json?{}", query(&[("api_key", &wide.key)]))).await;
    assert_eq!(a.status, 200);
    assert_no_secrets(&a.body);
    let mut ids: Vec<String> = json_items(&a.body)
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut want = vec![f.open.to_string(), f.closed.to_string(), f.elsewhere.to_string()];
    want.sort();
    assert_eq!(ids, want);
    let narrowed = query(&[("api_key", &wide.key), ("jurisdiction_id", super::OTHER)]);
    let a = get(&f.ts, &format!("requests.json?{narrowed}")).await;
    assert_eq!(json_items(&a.body).len(), 1, "jurisdiction_id narrows to one grid");
    f.ts.running.shutdown().await.unwrap();
}
