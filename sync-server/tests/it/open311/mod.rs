//! Open311 GeoReport v2 against the real server on a loopback port: the catalogue (discovery,
//! services) and the requests read and filed, in JSON and XML, checked field by field against
//! the spec's field lists; keys (missing, wrong, revoked: 403); who sees what (only reports in
//! a key's scopes, never a person or a case); bad input answered in the spec's error format.

mod bad_input;
mod catalogue;
mod filing;
mod reading;

use std::collections::BTreeMap;

use fieldsync_core::DocId;
use fieldsync_core::model::{CaseCategory, Command, NewCase, NewRecord, Party};
use fieldsync_core::policy::Role;
use fieldsync_server::open311::keys;

use crate::common::{GRID, Phone, TestServer, acked, enroll_as, fetch, new_report, start};

/// A grid next to the key's, whose reports the key must never show.
pub const OTHER: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";

/// Words that must never appear in an Open311 answer: the reporter's user id, the mediation
/// party's name and contact, the rejection reason a dispatcher wrote, the dispatcher's id.
pub const SECRETS: &[&str] =
    &["res-wangfang", "张三丰", "13912345678", "med-zhao", "disp-zhou", "重复上报"];

/// A server with records: a resident's report in GRID (rejected by a dispatcher, so closed),
/// another in GRID (open), one in OTHER, a mediation case in GRID; and a key for GRID.
pub struct Fixture {
    pub ts: TestServer,
    /// The API key, for GRID.
    pub key: String,
    /// Its id.
    pub key_id: String,
    /// The open report in GRID.
    pub open: DocId,
    /// The rejected report in GRID.
    pub closed: DocId,
    /// The report in OTHER.
    pub elsewhere: DocId,
    /// The mediation case in GRID.
    pub case: DocId,
}

pub async fn fixture() -> Fixture {
    let ts = start().await;
    let server = ts.running.server();
    let resident = Phone::new("res-wangfang");
    enroll_as(server, &resident, Role::Resident, None, &[GRID]);
    let open = resident.report("楼顶违建");
    acked(&ts, &resident, open).await;
    let closed = resident.report("重复的报告");
    acked(&ts, &resident, closed).await;

    let dispatcher = Phone::new("disp-zhou");
    enroll_as(server, &dispatcher, Role::Dispatcher, None, &[GRID]);
    fetch(&ts, &dispatcher, closed).await;
    dispatcher.store.execute(closed, &Command::RejectReport { reason: "重复上报".into() }).unwrap();
    acked(&ts, &dispatcher, closed).await;

    let neighbour = Phone::new("res-li");
    enroll_as(server, &neighbour, Role::Resident, None, &[OTHER]);
    let mut new = new_report("隔壁网格的报告");
    if let NewRecord::Report { report } = &mut new {
        report.scope = OTHER.into();
    }
    let elsewhere = neighbour.store.create(&new).unwrap();
    acked(&ts, &neighbour, elsewhere).await;

    let mediator = Phone::new("med-zhao");
    enroll_as(server, &mediator, Role::Mediator, None, &[GRID]);
    let case = mediator
        .store
        .create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: GRID.into(),
                category: CaseCategory::Neighbour,
                place: "7号楼下".into(),
                parties: vec![Party {
                    name: "张三丰".into(),
                    role: "owner".into(),
                    contact: "13912345678".into(),
                }],
                mediators: vec!["med-zhao".into()],
            },
        })
        .unwrap();
    acked(&ts, &mediator, case).await;

    let issued = issue(&ts, &[GRID]).await;
    Fixture { ts, key: issued.key, key_id: issued.id, open, closed, elsewhere, case }
}

/// Issues a key for `scopes` on the server's own storage, as the admin CLI does.
pub async fn issue(ts: &TestServer, scopes: &[&str]) -> keys::IssuedKey {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let storage = ts.running.server().storage();
    keys::issue(storage.as_ref(), "城市随手拍 test app", &scopes).await.unwrap()
}

/// An answer: status, content type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    Answer { status, content_type, body: resp.text().await.unwrap() }
}

/// GET `/open311/v2/{path}`.
pub async fn get(ts: &TestServer, path: &str) -> Answer {
    answer(ts.http.get(ts.url(&format!("/open311/v2/{path}"))).send().await.unwrap()).await
}

/// The query string of `pairs`, percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// POST `/open311/v2/{path}` with a form-encoded body of `pairs`.
pub async fn post(ts: &TestServer, path: &str, pairs: &[(&str, &str)]) -> Answer {
    post_body(ts, path, "application/x-www-form-urlencoded", query(pairs)).await
}

/// POST `/open311/v2/{path}` with this body and content type.
pub async fn post_body(ts: &TestServer, path: &str, content_type: &str, body: String) -> Answer {
    let resp = ts
        .http
        .post(ts.url(&format!("/open311/v2/{path}")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    answer(resp).await
}

/// The objects of a JSON list answer, each as field → value.
pub fn json_items(body: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|o| o.as_object().unwrap_or_else(|| panic!("not an object: {o}")).clone())
        .collect()
}

/// The `item` elements under the root `root` of an XML answer, each as child element → text.
pub fn xml_items(body: &str, root: &str, item: &str) -> Vec<BTreeMap<String, String>> {
    let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(doc.root_element().tag_name().name(), root, "{body}");
    doc.root_element()
        .children()
        .filter(|n| n.is_element())
        .map(|n| {
            assert_eq!(n.tag_name().name(), item, "{body}");
            n.children()
                .filter(|c| c.is_element())
                .map(|c| (c.tag_name().name().to_string(), c.text().unwrap_or("").to_string()))
                .collect()
        })
        .collect()
}

/// The spec's error list of an answer, in either format: (code, description) each.
pub fn errors(a: &Answer) -> Vec<(u16, String)> {
    if a.content_type.starts_with("application/json") {
        json_items(&a.body)
            .into_iter()
            .map(|e| {
                assert_eq!(e.len(), 2, "an error is code and description: {e:?}");
                (e["code"].as_u64().unwrap() as u16, e["description"].as_str().unwrap().to_string())
            })
            .collect()
    } else {
        assert!(a.content_type.starts_with("text/xml"), "{}", a.content_type);
        xml_items(&a.body, "errors", "error")
            .into_iter()
            .map(|e| {
                assert_eq!(e.len(), 2, "an error is code and description: {e:?}");
                (e["code"].parse().unwrap(), e["description"].clone())
            })
            .collect()
    }
}

/// Asserts `a` is the spec's error answer with `status`, its description holding `says`.
pub fn assert_error(a: &Answer, status: u16, says: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    let list = errors(a);
    assert_eq!(list.len(), 1, "{}", a.body);
    assert_eq!(list[0].0, status, "{}", a.body);
    assert!(list[0].1.contains(says), "{:?} does not say {says:?}", list[0].1);
}

/// Asserts no word of [`SECRETS`] is in `body`.
pub fn assert_no_secrets(body: &str) {
    for s in SECRETS {
        assert!(!body.contains(s), "{s:?} leaked into {body}");
    }
}
