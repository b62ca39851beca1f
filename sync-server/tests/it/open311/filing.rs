//! Filing requests: a key is required (missing, wrong, revoked: 403), a service and a location
//! too (400); a filed request is a real report in the index, authored by the key's identity,
//! listed by GET, and the contact fields an app sends are kept nowhere.

use fieldsync_core::DocId;
use fieldsync_server::open311::keys;
use fieldsync_server::storage::index::IndexRow;

use super::{assert_error, errors, fixture, get, json_items, post, query, xml_items};
use crate::common::GRID;

/// The spec's fields of a POST's answer.
const FILED_FIELDS: &[&str] = &["service_request_id", "token", "service_notice", "account_id"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filed_request_is_a_report_in_the_index_and_the_listing() {
    let f = fixture().await;
    let form = [
        ("api_key", f.key.as_str()),
        ("service_code", "safety_hazard"),
        ("lat", "43.881"),
        ("long", "125.321"),
        ("address_string", "新华小区3号楼东侧"),
        ("description", "井盖缺失，夜间危险\n在3号楼东侧人行道上"),
        ("email", "zhangsan@example.com"),
        ("first_name", "San"),
        ("last_name", "Zhang"),
        ("phone", "13800000000"),
        ("device_id", "phone-1"),
    ];
    let a = post(&f.ts, "requests.json", &form).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let filed = json_items(&a.body);
    assert_eq!(filed.len(), 1);
    for k in filed[0].keys() {
        assert!(FILED_FIELDS.contains(&k.as_str()), "{k} is not a field of the spec");
    }
    let id: DocId = filed[0]["service_request_id"].as_str().unwrap().parse().unwrap();
    assert!(filed[0]["service_notice"].as_str().unwrap().contains("+08:00"));

    let row = f.ts.running.server().storage().index_row(id).await.unwrap().expect("indexed");
    let IndexRow::Report(r) = row.row else { panic!("not a report: {:?}", row.row) };
    assert_eq!(r.scope, GRID, "filed into the key's scope");
    assert_eq!(r.created_by, format!("open311:{}", f.key_id));
    assert_eq!(r.category.as_str(), "safety_hazard");
    assert_eq!(r.title, "井盖缺失，夜间危险");
    assert_eq!(r.address.as_deref(), Some("新华小区3号楼东侧"));
    assert_eq!((r.lat, r.lon), (Some(43.881), Some(125.321)));
    let stored = f.ts.running.server().storage().load(vec![id]).await.unwrap();
    let bytes = &stored[0].as_ref().expect("stored").bytes;
    for contact in ["zhangsan@example.com", "13800000000", "Zhang", "phone-1"] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(contact), "{contact} was stored");
        assert!(!format!("{r:?}").contains(contact), "{contact} was indexed");
    }

    let path = format!("requests/{id}.xml?{}", query(&[("api_key", &f.key)]));
    let one = get(&f.ts, &path).await;
    assert_eq!(one.status, 200, "{}", one.body);
    let x = &xml_items(&one.body, "service_requests", "request")[0];
    assert_eq!(x["status"], "open");
    assert_eq!(x["service_code"], "safety_hazard");
    assert_eq!(x["description"], "井盖缺失，夜间危险\n在3号楼东侧人行道上");
    assert!(!one.body.contains(&f.key_id), "the key's identity is not shown");
    let listed = get(&f.ts, &format!("requests.json?{}", query(&[("api_key", &f.key)]))).await;
    assert_eq!(json_items(&listed.body).len(), 3, "the fixture's two and this one");

    // In XML too, with only an address: it is kept in the description.
    let form = [
        ("api_key", f.key.as_str()),
        ("service_code", "noise"),
        ("address_string", "新华小区广场"),
    ];
    let a = post(&f.ts, "requests.xml", &form).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let x = &xml_items(&a.body, "service_requests", "request")[0];
    let id: DocId = x["service_request_id"].parse().unwrap();
    let row = f.ts.running.server().storage().index_row(id).await.unwrap().unwrap();
    let IndexRow::Report(r) = row.row else { panic!("not a report") };
    assert_eq!(r.description, "地址 Address: 新华小区广场");
    assert_eq!(r.lat, None);
    f.ts.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_wrong_and_revoked_keys_are_403_and_file_nothing() {
    let f = fixture().await;
    let base = [("service_code", "noise"), ("lat", "43.88"), ("long", "125.32")];
    let before = f.ts.running.server().storage().index_len().await.unwrap();
    for format in ["json", "xml"] {
        let path = format!("requests.{format}");
        assert_error(&post(&f.ts, &path, &base).await, 403, "api_key was not provided");
        let mut wrong = vec![("api_key", "0".repeat(64))];
        wrong.extend(base.iter().map(|(k, v)| (*k, v.to_string())));
        let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_error(&post(&f.ts, &path, &wrong).await, 403, "api_key is not valid");
        let mut garbage = wrong.clone();
        garbage[0].1 = "'; DROP TABLE api_keys; --";
        assert_error(&post(&f.ts, &path, &garbage).await, 403, "api_key is not valid");
        let listing = get(&f.ts, &path).await;
        assert_error(&listing, 403, "api_key was not provided");
        let wrong_get = get(&f.ts, &format!("{path}?{}", query(&[("api_key", "abc")]))).await;
        assert_error(&wrong_get, 403, "api_key is not valid");
    }

    let storage = f.ts.running.server().storage();
    keys::revoke(storage.as_ref(), &f.key_id).await.unwrap();
    let mut with_key = vec![("api_key", f.key.as_str())];
    with_key.extend_from_slice(&base);
    let a = post(&f.ts, "requests.json", &with_key).await;
    assert_error(&a, 403, "revoked");
    let a = get(&f.ts, &format!("requests.xml?{}", query(&[("api_key", &f.key)]))).await;
    assert_error(&a, 403, "revoked");
    let a =
        get(&f.ts, &format!("requests/{}.json?{}", f.open, query(&[("api_key", &f.key)]))).await;
    assert_error(&a, 403, "revoked");
    assert_eq!(storage.index_len().await.unwrap(), before, "nothing was filed");
    f.ts.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_and_a_location_inside_the_keys_scope_are_required() {
    let f = fixture().await;
    let key = f.key.as_str();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("lat", "43.88"), ("long", "125.32")], "service_code: is required"),
        (&[("service_code", "roof"), ("lat", "43.88"), ("long", "125.32")], "not a service"),
        (&[("service_code", "noise")], "a location is required"),
        (&[("service_code", "noise"), ("address_string", "  ")], "a location is required"),
        (&[("service_code", "noise"), ("lat", "43.88")], "lat and long are given together"),
        (&[("service_code", "noise"), ("lat", "95"), ("long", "125")], "lat:"),
        (&[("service_code", "noise"), ("lat", "43"), ("long", "NaN")], "long:"),
        (
            &[
                ("service_code", "noise"),
                ("lat", "43"),
                ("long", "125"),
                ("jurisdiction_id", super::OTHER),
            ],
            "outside this key's scopes",
        ),
        (
            &[("service_code", "noise"), ("lat", "43"), ("long", "125"), ("attribute[size]", "3")],
            "no service of this server has attributes",
        ),
    ];
    let before = f.ts.running.server().storage().index_len().await.unwrap();
    for (form, says) in cases {
        let mut pairs = vec![("api_key", key)];
        pairs.extend_from_slice(form);
        for format in ["json", "xml"] {
            let a = post(&f.ts, &format!("requests.{format}"), &pairs).await;
            assert_error(&a, 400, says);
        }
    }
    let long = "长".repeat(4001);
    let pairs = [
        ("api_key", key),
        ("service_code", "noise"),
        ("lat", "43"),
        ("long", "125"),
        ("description", &long),
    ];
    let a = post(&f.ts, "requests.json", &pairs).await;
    assert_error(&a, 400, "description");
    assert_eq!(f.ts.running.server().storage().index_len().await.unwrap(), before);
    assert!(errors(&a).iter().all(|(code, _)| *code == 400));
    f.ts.running.shutdown().await.unwrap();
}
