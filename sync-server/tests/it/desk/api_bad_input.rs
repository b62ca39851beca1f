//! Bad input at every desk endpoint past the session: malformed JSON, unknown fields, an
//! unknown action, bad ids, an oversize body, another media type, filters and `q` carrying SQL
//! or FTS syntax (taken literally: no error, nothing leaked), bad cursors, bad sort, limits
//! out of range, unknown parameters, a forged or replayed CSRF token. Each is a typed 4xx
//! with a JSON error body, and nothing changed: the record and the change log's end are as
//! they were.

use fieldsync_core::DocId;
use fieldsync_core::policy::Role;
use reqwest::Method;
use serde_json::json;

use super::*;
use crate::common::{Backend, GRID, Phone, enroll_as, on_both, start_on};

fn assert_error(status: u16, body: &Value, want: (u16, &str), what: &str) {
    assert_eq!((status, err_code(body)), want, "{what}: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
}

async fn bad_actions_are_typed_refusals_that_change_nothing(backend: Backend) {
    let ts = start_on(backend).await;
    let resident = Phone::new("resident-1");
    enroll_as(ts.running.server(), &resident, Role::Resident, None, &[GRID]);
    let id = resident.report("井盖缺失").to_string();
    sync(&ts, &resident).await;
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let other = desk(&ts, "disp-2", Role::Dispatcher).await;
    let before = get(&ts, &d, &format!("/api/v1/records/{id}")).await.1;
    let end = log_end(&ts).await;

    let big = json!({"action": "comment", "text": "长".repeat(20_000)}).to_string();
    let bodies: Vec<(String, (u16, &str))> = vec![
        ("{".into(), (400, "malformed_body")),
        ("".into(), (400, "malformed_body")),
        ("null".into(), (400, "invalid_request")),
        ("[]".into(), (400, "invalid_request")),
        (r#"{"note": "no action"}"#.into(), (400, "invalid_request")),
        (r#"{"action": "fly"}"#.into(), (400, "invalid_request")),
        (
            r#"{"action": "escalate", "limit": "accept", "notify": []}"#.into(),
            (400, "invalid_request"),
        ),
        (r#"{"action": "accept", "admin": true}"#.into(), (400, "invalid_request")),
        (r#"{"action": "dispatch", "deadline": 1}"#.into(), (400, "invalid_request")),
        (
            r#"{"action": "dispatch", "assignee": 7, "deadline": 1}"#.into(),
            (400, "invalid_request"),
        ),
        (r#"{"action": "award_points", "points": "many"}"#.into(), (400, "invalid_request")),
        (r#"{"action": "award_points", "points": 1e400}"#.into(), (400, "malformed_body")),
        (r#"{"action": "reject", "reason": ""}"#.into(), (400, "invalid_input")),
        (
            r#"{"action": "comment", "text": "' OR 1=1; DROP TABLE report_index; --"}"#.into(),
            (0, ""),
        ),
        (big, (413, "too_large")),
    ];
    for (body, want) in bodies {
        let shown: String = body.chars().take(60).collect();
        let (status, e) = act_raw(&ts, &d, &id, body, Some(&d.csrf)).await;
        if want.0 == 0 {
            // SQL in a comment is a comment like any other.
            assert_eq!(status, 200, "{shown}: {e}");
            continue;
        }
        assert_error(status, &e, want, &shown);
    }
    let end = end + 1; // the comment
    let (status, e) = json_of(
        ts.http
            .post(ts.url(&format!("/api/v1/records/{id}/actions")))
            .header("cookie", &d.cookie)
            .header("x-csrf-token", &d.csrf)
            .header("content-type", "text/plain")
            .body(r#"{"action": "accept"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(status, &e, (415, "unsupported_media_type"), "text/plain");

    // Bad ids: not an id, an id of nothing, a path trick.
    let accept = json!({"action": "accept"});
    for bad in ["nope", &DocId::random().to_string(), "..%2F..%2Fetc", &"1".repeat(300)] {
        let (status, e) = act(&ts, &d, bad, accept.clone()).await;
        assert_error(status, &e, (404, "not_found"), bad);
        let (status, e) = get(&ts, &d, &format!("/api/v1/records/{bad}")).await;
        assert_error(status, &e, (404, "not_found"), bad);
    }

    // CSRF: missing, forged, another session's, and replayed after sign-out.
    let body = accept.to_string();
    for (csrf, want) in [
        (None, (403, "csrf_missing")),
        (Some("ab".repeat(32)), (403, "csrf_mismatch")),
        (Some(other.csrf.clone()), (403, "csrf_mismatch")),
    ] {
        let (status, e) = act_raw(&ts, &d, &id, body.clone(), csrf.as_deref()).await;
        assert_error(status, &e, want, &format!("{csrf:?}"));
    }
    let (status, _) = call(&ts, Method::DELETE, Some(&d.cookie), Some(&d.csrf)).await;
    assert_eq!(status, 204);
    let (status, e) = act_raw(&ts, &d, &id, body.clone(), Some(&d.csrf)).await;
    assert_error(status, &e, (401, "session_ended"), "replayed after sign-out");
    let again = desk(&ts, "disp-1", Role::Dispatcher).await;
    let (status, e) = act_raw(&ts, &again, &id, body, Some(&d.csrf)).await;
    assert_error(status, &e, (403, "csrf_mismatch"), "an old token with a new session");

    assert_eq!(log_end(&ts).await, end, "only the one good comment was stored");
    let after = get(&ts, &again, &format!("/api/v1/records/{id}")).await.1;
    let timeline = |v: &Value| v["record"]["report"]["timeline"].clone();
    assert_eq!(timeline(&after), timeline(&before));
    assert_eq!(after["row"]["status"], "submitted");
    assert_eq!(after["record"]["report"]["comments"].as_array().unwrap().len(), 1);
}
on_both!(bad_actions_are_typed_refusals_that_change_nothing);

async fn bad_queries_are_typed_refusals_and_search_text_is_taken_literally(backend: Backend) {
    let ts = start_on(backend).await;
    let resident = Phone::new("resident-1");
    enroll_as(ts.running.server(), &resident, Role::Resident, None, &[GRID]);
    for title in ["屋顶违章搭建", "50% off_sale \"quoted\" NEAR(a b)", "路灯不亮 OR 井盖"]
    {
        let mut new = crate::common::new_report(title);
        if let fieldsync_core::model::NewRecord::Report { report } = &mut new {
            report.description = String::new();
        }
        resident.report_with(&new);
    }
    sync(&ts, &resident).await;
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let end = log_end(&ts).await;

    // Search text and filters with SQL or FTS syntax: found literally, or nothing; never an
    // error, never all rows.
    for (q, hits) in [
        ("' OR 1=1 --", 0),
        ("\" OR \"\"=\"", 0),
        ("*", 0),
        ("NEAR(a b)", 1),
        ("\"quoted\"", 1),
        ("50%", 1),
        ("off_sale", 1),
        ("违章", 1),
        ("OR 井盖", 1),
        ("title:屋顶", 0),
        ("); DELETE FROM report_index; --", 0),
        ("^屋顶", 0),
    ] {
        let url = format!("/api/v1/reports?q={}", urlencode(q));
        let (status, page) = get(&ts, &d, &url).await;
        assert_eq!(status, 200, "{q}: {page}");
        let titles: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles.len(), hits, "{q}: {titles:?}");
        assert!(titles.iter().all(|t| t.contains(q)), "{q}: {titles:?}");
    }
    for (name, value) in [
        ("scope", "' OR '1'='1"),
        ("scope", "%"),
        ("assignee", "x' OR 1=1 --"),
        ("created_by", "%"),
    ] {
        let url = format!("/api/v1/reports?{name}={}", urlencode(value));
        let (status, page) = get(&ts, &d, &url).await;
        assert_eq!(
            (status, page["items"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{url}: {page}"
        );
    }

    // Cursors, sorts, limits, values, unknown parameters.
    let (_, first) = get(&ts, &d, "/api/v1/reports?limit=1").await;
    let next = first["next"].as_str().expect("a next page").to_string();
    let (status, second) = get(&ts, &d, &format!("/api/v1/reports?limit=1&after={next}")).await;
    assert_eq!(status, 200);
    assert_ne!(second["items"][0]["doc"], first["items"][0]["doc"]);
    let refused = [
        format!("/api/v1/reports?after={next}&sort=deadline"),
        "/api/v1/reports?after=garbage".into(),
        "/api/v1/reports?after=%27%20OR%201%3D1".into(),
        format!("/api/v1/reports?after={}", "9".repeat(500)),
        "/api/v1/reports?sort=title".into(),
        "/api/v1/reports?sort=created%3B%20DROP".into(),
        "/api/v1/reports?limit=0".into(),
        "/api/v1/reports?limit=1000".into(),
        "/api/v1/reports?limit=-1".into(),
        "/api/v1/reports?limit=ten".into(),
        "/api/v1/reports?status=lost".into(),
        "/api/v1/reports?category=ufo".into(),
        "/api/v1/reports?overdue=maybe".into(),
        "/api/v1/reports?from=yesterday".into(),
        "/api/v1/reports?order=asc".into(),
        "/api/v1/patrols?sort=deadline".into(),
        "/api/v1/patrols?status=flying".into(),
        "/api/v1/patrols?q=x".into(),
        "/api/v1/cases?sort=priority".into(),
        "/api/v1/cases?category=war".into(),
        "/api/v1/cases?limit=1000".into(),
        "/api/v1/responders?role=patrol".into(),
        "/api/v1/stats/reports?group=moon".into(),
        "/api/v1/stats/reports?format=xml".into(),
        "/api/v1/stats/reports?from=10&to=5".into(),
        "/api/v1/stats/reports?from=0&to=86400000000".into(),
        "/api/v1/stats/reports?by=scope".into(),
        "/api/v1/export/reports.csv?after=x".into(),
        "/api/v1/export/reports.geojson?sort=moon".into(),
        "/api/v1/events?after=-1".into(),
    ];
    for url in &refused {
        let (status, e) = get(&ts, &d, url).await;
        assert_error(status, &e, (400, "invalid_request"), url);
    }
    for url in [
        "/api/v1/stats/people",
        "/api/v1/export/reports.xlsx",
        "/api/v1/export/..%2Fdata.db",
        "/api/v1/photos/nope",
        "/api/v1/photos/nope/thumbnail",
    ] {
        let (status, e) = get(&ts, &d, url).await;
        assert_error(status, &e, (404, "not_found"), url);
    }
    // Every one of them needs a session first.
    for url in refused.iter().map(String::as_str).chain(["/api/v1/reports", "/api/v1/events"]) {
        let (status, e) = json_of(ts.http.get(ts.url(url)).send().await.unwrap()).await;
        assert_error(status, &e, (401, "no_session"), url);
    }
    assert_eq!(log_end(&ts).await, end, "reading changed nothing");
}
on_both!(bad_queries_are_typed_refusals_and_search_text_is_taken_literally);

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
