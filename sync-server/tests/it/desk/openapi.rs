//! The desk API's answers against its own OpenAPI document, as the server serves it: every
//! JSON answer the desk gets (session, listings, records of each kind, actions, responders,
//! statistics, error bodies of each status) validates against the schema the document gives
//! for that path, method and status, and every route the server takes is in the document.

use fieldsync_core::model::{
    Addressee, CaseCategory, MemberKind, NewBulletin, NewCase, NewDeliberation, NewPatrol,
    NewRecord, Party, Severity, TeamMember,
};
use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_core::time::now_ms;
use reqwest::Method;
use serde_json::json;

use super::schema;
use super::*;
use crate::common::{Backend, GRID, Phone, acked, enroll_as, on_both, start_on};

/// The served document, and a validator per answer.
pub struct Spec {
    doc: Value,
}

impl Spec {
    /// `GET /api/v1/openapi.json` (no session needed).
    pub async fn served(ts: &TestServer) -> Spec {
        let resp = ts.http.get(ts.url("/api/v1/openapi.json")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let doc: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        Spec { doc }
    }

    /// The JSON schema of the answer to `method path` with `status`, its `$ref`s resolved
    /// against the document's components.
    fn schema(&self, path: &str, method: &str, status: u16) -> Value {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not in the document");
        let response = &op["responses"][status.to_string()];
        assert!(response.is_object(), "{method} {path}: status {status} is not in the document");
        let schema = response["content"]["application/json"]["schema"].clone();
        assert!(schema.is_object(), "{method} {path} {status}: no JSON schema");
        json!({ "allOf": [schema], "components": self.doc["components"] })
    }

    /// Asserts that `body`, the answer to `method path` with `status`, is what the document
    /// says.
    pub fn check(&self, path: &str, method: &str, status: u16, body: &Value) {
        let schema = self.schema(path, method, status);
        let errors = schema::errors(&schema, &schema, body);
        assert!(errors.is_empty(), "{method} {path} {status}: {errors:#?}\n{body:#}");
    }
}

/// The answer to `GET url` as `s`, checked against the document's `path`.
async fn got(ts: &TestServer, spec: &Spec, s: &Signed, url: &str, path: &str, want: u16) -> Value {
    let (status, body) = get(ts, s, url).await;
    assert_eq!(status, want, "{url}: {body}");
    spec.check(path, "get", status, &body);
    body
}

async fn every_answer_the_desk_gets_is_what_the_document_says(backend: Backend) {
    let ts = start_on(backend).await;
    let spec = Spec::served(&ts).await;
    let server = ts.running.server();
    let resident = Phone::new("resident-1");
    enroll_as(server, &resident, Role::Resident, None, &[GRID]);
    server
        .accounts()
        .add_user("cop-1", Role::Patrol, Some(PatrolKind::Police), &[GRID.into()])
        .unwrap();
    let report = resident.report("屋顶违章搭建").to_string();
    sync(&ts, &resident).await;
    let maker = Phone::new("maker-1");
    let patrol = maker
        .store
        .create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: GRID.into(),
                area: "north".into(),
                members: vec![TeamMember {
                    user: "cop-1".into(),
                    name: "Li".into(),
                    kind: MemberKind::Police,
                }],
                checkpoints: vec![],
            },
        })
        .unwrap();
    acked(&ts, &maker, patrol).await;
    let case = maker
        .store
        .create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: GRID.into(),
                category: CaseCategory::Neighbour,
                place: "hall".into(),
                parties: vec![Party {
                    name: "王芳".into(), role: "n".into(), contact: "1".into()
                }],
                mediators: vec!["maker-1".into()],
            },
        })
        .unwrap();
    acked(&ts, &maker, case).await;
    let bulletin = maker
        .store
        .create(&NewRecord::Bulletin {
            bulletin: NewBulletin {
                scope: GRID.into(),
                severity: Severity::Red,
                audience: vec![Addressee::Patrols],
                title: "山火预警".into(),
                text: "禁止野外用火".into(),
                valid_until: fieldsync_core::time::Timestamp::from_millis(now_ms() + 3_600_000),
                location: None,
                photos: vec![],
            },
        })
        .unwrap();
    acked(&ts, &maker, bulletin).await;
    let deliberation = resident
        .store
        .create(&NewRecord::Deliberation {
            deliberation: NewDeliberation {
                scope: GRID.into(),
                topic: "楼道堆物清理".into(),
                background: String::new(),
                options: vec!["统一清理".into()],
            },
        })
        .unwrap();
    acked(&ts, &resident, deliberation).await;

    // The session.
    let code = code_for(&ts, "disp-1", Role::Dispatcher);
    let resp = post_session(&ts, json!({ "code": code }).to_string()).await;
    let (status, session) = json_of(resp).await;
    spec.check("/api/v1/session", "post", status, &session);
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let sup = desk(&ts, "sup-1", Role::Supervisor).await;
    got(&ts, &spec, &d, "/api/v1/session", "/api/v1/session", 200).await;

    // Listings, records, responders.
    let page = got(&ts, &spec, &d, "/api/v1/reports?limit=1", "/api/v1/reports", 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    got(&ts, &spec, &d, "/api/v1/patrols", "/api/v1/patrols", 200).await;
    got(&ts, &spec, &d, "/api/v1/cases", "/api/v1/cases", 200).await;
    let bulletins = "/api/v1/bulletins";
    let page = got(&ts, &spec, &d, "/api/v1/bulletins?severity=red", bulletins, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    got(&ts, &spec, &d, "/api/v1/bulletins?severity=purple", bulletins, 400).await;
    let deliberations = "/api/v1/deliberations";
    let page =
        got(&ts, &spec, &d, "/api/v1/deliberations?status=proposed", deliberations, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    got(&ts, &spec, &d, "/api/v1/deliberations?status=argued", deliberations, 400).await;
    got(&ts, &spec, &d, "/api/v1/deliberations?sort=priority", deliberations, 400).await;
    for id in [
        report.clone(),
        patrol.to_string(),
        case.to_string(),
        bulletin.to_string(),
        deliberation.to_string(),
    ] {
        got(&ts, &spec, &d, &format!("/api/v1/records/{id}"), "/api/v1/records/{id}", 200).await;
    }
    got(&ts, &spec, &d, "/api/v1/responders", "/api/v1/responders", 200).await;
    let counts = "/api/v1/reports/counts";
    let c = got(&ts, &spec, &d, "/api/v1/reports/counts?status=submitted", counts, 200).await;
    assert_eq!(
        (c["reports"].as_u64(), c["statuses"][0]["status"].as_str()),
        (Some(1), Some("submitted"))
    );
    got(&ts, &spec, &d, "/api/v1/reports/counts?overdue=maybe", counts, 400).await;
    let grids = got(&ts, &spec, &d, "/api/v1/grids", "/api/v1/grids", 200).await;
    assert_eq!(grids["features"], json!([]), "no outlines without --grid-outlines");

    // Actions: the record afterwards, and each refusal.
    let actions = "/api/v1/records/{id}/actions";
    let deadline = now_ms() + 3_600_000;
    for (who, action, want) in [
        (&d, json!({"action": "accept"}), 200),
        (&d, json!({"action": "dispatch", "assignee": "cop-1", "deadline": deadline}), 200),
        (&d, json!({"action": "accept"}), 409),
        (&sup, json!({"action": "comment", "text": "x"}), 403),
        (&d, json!({"action": "fly"}), 400),
        (&d, json!({"action": "supervise", "note": ""}), 400),
    ] {
        let (status, body) = act(&ts, who, &report, action.clone()).await;
        assert_eq!(status, want, "{action}: {body}");
        spec.check(actions, "post", status, &body);
    }
    let (status, body) = act(&ts, &d, "nope", json!({"action": "accept"})).await;
    assert_eq!(status, 404, "{body}");
    spec.check(actions, "post", status, &body);
    let (status, body) = act_raw(&ts, &d, &report, "{}", None).await;
    assert_eq!(status, 403, "{body}");
    spec.check(actions, "post", status, &body);

    // Statistics, each kind and grouping.
    let stats = "/api/v1/stats/{what}";
    for group in ["all", "scope", "assignee", "category"] {
        for what in ["reports", "cases"] {
            got(&ts, &spec, &d, &format!("/api/v1/stats/{what}?group={group}"), stats, 200).await;
        }
    }
    got(&ts, &spec, &d, "/api/v1/stats/patrols", stats, 200).await;

    // Points: a grid leader's desk awards, reads a resident's statement and the goods, and
    // collects a voucher once; each refusal is an error body of the document.
    let gl = desk(&ts, "gl-1", Role::GridLeader).await;
    let post = |path: &'static str, who: &'static str, body: Value, want: u16| {
        let (ts, spec, s) = (&ts, &spec, if who == "gl" { &gl } else { &d });
        async move {
            let (status, answer) = post_json(ts, s, path, body.clone()).await;
            assert_eq!(status, want, "{path} {body}: {answer}");
            spec.check(path, "post", status, &answer);
            answer
        }
    };
    let awards = "/api/v1/points/awards";
    let award = json!({"account": "resident-1", "amount": 40, "reason": "参加议事协商"});
    let entry = post(awards, "gl", award.clone(), 200).await;
    assert_eq!(
        (entry["kind"].as_str(), entry["balance_after"].as_i64()),
        (Some("awarded"), Some(40))
    );
    post(awards, "gl", json!({"account": "resident-1", "amount": 0, "reason": "x"}), 400).await;
    post(awards, "gl", json!({"account": "nobody", "amount": 1, "reason": "x"}), 404).await;
    post(awards, "d", award, 403).await;
    let account = "/api/v1/points/accounts/{user}";
    let st = got(&ts, &spec, &gl, "/api/v1/points/accounts/resident-1", account, 200).await;
    assert_eq!(st["balance"], 40);
    got(&ts, &spec, &gl, "/api/v1/points/accounts/nobody", account, 404).await;
    let goods = got(&ts, &spec, &gl, "/api/v1/points/goods", "/api/v1/points/goods", 200).await;
    assert_eq!(goods, json!([]));
    let leader = Profile {
        user: "gl-1".into(),
        role: Role::GridLeader,
        patrol: None,
        scopes: vec![GRID.into()],
    };
    let rice = fieldsync_server::points::NewGood {
        community: GRID.into(),
        name: "大米".into(),
        points: 30,
        stock: 1,
    };
    let made = ts.running.server().points().add_good(&leader, rice, now_ms());
    let good = made.await.unwrap();
    let resident_profile = Profile {
        user: "resident-1".into(),
        role: Role::Resident,
        patrol: None,
        scopes: vec![GRID.into()],
    };
    let (redeemed, _, _) = ts
        .running
        .server()
        .points()
        .redeem(&resident_profile, "r-1", &good.id, now_ms())
        .await
        .unwrap();
    got(&ts, &spec, &gl, "/api/v1/points/goods", "/api/v1/points/goods", 200).await;
    let st = got(&ts, &spec, &gl, "/api/v1/points/accounts/resident-1", account, 200).await;
    assert_eq!(
        (st["balance"].as_i64(), st["redemptions"][0]["voucher"].as_str()),
        (Some(10), Some(redeemed.voucher.as_str()))
    );
    let collect = "/api/v1/points/collect";
    post(collect, "gl", json!({"voucher": "nope"}), 400).await;
    post(collect, "gl", json!({"voucher": "AAAA-AAAA-AAAA"}), 404).await;
    let done = post(collect, "gl", json!({"voucher": redeemed.voucher}), 200).await;
    assert_eq!(done["collected_by"], "gl-1");
    post(collect, "gl", json!({"voucher": redeemed.voucher}), 409).await;

    // The business registry, as a dispatcher and a supervisor read it.
    let dispatcher = Profile {
        user: "disp-1".into(),
        role: Role::Dispatcher,
        patrol: None,
        scopes: vec![GRID.into()],
    };
    let guesthouse = fieldsync_server::businesses::NewBusiness {
        scope: GRID.into(),
        name: "湖景民宿".into(),
        kind: "guesthouse".into(),
        address: "湖滨路 8 号".into(),
        location: Some((43.79, 125.46)),
        contact: String::new(),
        operator: None,
    };
    let b = ts.running.server().businesses().add(&dispatcher, guesthouse, now_ms());
    b.await.unwrap();
    let listed = got(&ts, &spec, &d, "/api/v1/businesses", "/api/v1/businesses", 200).await;
    assert_eq!(listed[0]["name"], "湖景民宿");
    got(&ts, &spec, &sup, "/api/v1/businesses", "/api/v1/businesses", 200).await;

    // Error bodies of each status the desk meets.
    got(&ts, &spec, &d, "/api/v1/reports?sort=sideways", "/api/v1/reports", 400).await;
    got(&ts, &spec, &d, "/api/v1/records/nope", "/api/v1/records/{id}", 404).await;
    got(&ts, &spec, &sup, "/api/v1/responders", "/api/v1/responders", 403).await;
    got(&ts, &spec, &d, "/api/v1/stats/reports?group=moon", stats, 400).await;
    got(&ts, &spec, &d, "/api/v1/export/reports.csv?limit=0", "/api/v1/export/{file}", 400).await;
    got(&ts, &spec, &d, "/api/v1/events?after=x", "/api/v1/events", 400).await;
    let (status, body) = call(&ts, Method::GET, None, None).await;
    spec.check("/api/v1/session", "get", status, &body);
    let (status, body) = call(&ts, Method::DELETE, Some(&d.cookie), None).await;
    spec.check("/api/v1/session", "delete", status, &body);
    let resp = post_session(&ts, "{").await;
    let (status, body) = json_of(resp).await;
    spec.check("/api/v1/session", "post", status, &body);
}
on_both!(every_answer_the_desk_gets_is_what_the_document_says);

async fn the_document_names_every_route_and_method_the_server_takes(backend: Backend) {
    let ts = start_on(backend).await;
    let spec = Spec::served(&ts).await;
    let paths = spec.doc["paths"].as_object().unwrap();
    let routes = [
        ("/api/v1/session", &["get", "post", "delete"][..]),
        ("/api/v1/reports", &["get"]),
        ("/api/v1/reports/counts", &["get"]),
        ("/api/v1/grids", &["get"]),
        ("/api/v1/patrols", &["get"]),
        ("/api/v1/cases", &["get"]),
        ("/api/v1/bulletins", &["get"]),
        ("/api/v1/visits", &["get"]),
        ("/api/v1/deliberations", &["get"]),
        ("/api/v1/records/{id}", &["get"]),
        ("/api/v1/records/{id}/actions", &["post"]),
        ("/api/v1/responders", &["get"]),
        ("/api/v1/stats/{what}", &["get"]),
        ("/api/v1/export/{file}", &["get"]),
        ("/api/v1/events", &["get"]),
        ("/api/v1/photos/{hash}", &["get"]),
        ("/api/v1/photos/{hash}/thumbnail", &["get"]),
        ("/api/v1/openapi.json", &["get"]),
        ("/api/v1/businesses", &["get"]),
        ("/api/v1/businesses/overdue", &["get"]),
        ("/api/v1/points/goods", &["get"]),
        ("/api/v1/points/accounts/{user}", &["get"]),
        ("/api/v1/points/awards", &["post"]),
        ("/api/v1/points/collect", &["post"]),
    ];
    for (path, methods) in routes {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} is not in the document"));
        for m in methods {
            assert!(item[*m].is_object(), "{m} {path} is not in the document");
        }
    }
    assert_eq!(paths.len(), routes.len(), "the document names no route the server lacks");
    // Every schema compiles.
    for name in spec.doc["components"]["schemas"].as_object().unwrap().keys() {
        let schema = json!({"$ref": format!("#/components/schemas/{name}"), "components": spec.doc["components"]});
        schema::compile(&schema, &schema);
    }
}
on_both!(the_document_names_every_route_and_method_the_server_takes);
