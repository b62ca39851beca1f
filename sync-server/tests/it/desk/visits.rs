//! Business visits at the desk: the listing and the record view cut to the reader, the
//! businesses overdue a visit under the rules file, the `visit` events of the stream; every
//! answer checked against the OpenAPI document.

use fieldsync_core::model::{CheckOutcome, Command, NewCheck, NewRecord, NewVisit, business_scope};
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_server::storage::Business;
use serde_json::json;

use super::events::Events;
use super::openapi::Spec;
use super::*;
use crate::common::{Backend, GRID, Phone, acked, enroll_as, on_both, start_on};

const OTHER: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";
const DAY_MS: i64 = 86_400_000;

fn business(id: &str, scope: &str, name: &str) -> Business {
    Business {
        id: id.into(),
        scope: scope.into(),
        name: name.into(),
        kind: "restaurant".into(),
        address: String::new(),
        location: None,
        contact: String::new(),
        operator: None,
        created_by: "police-1".into(),
        created_at: 0,
        updated_at: 0,
        closed_at: None,
    }
}

async fn the_desk_lists_visits_and_the_businesses_overdue_one(backend: Backend) {
    let ts = start_on(backend).await;
    let spec = Spec::served(&ts).await;
    let s = ts.running.server();
    for b in [
        business("b-noodle", GRID, "老王面馆"),
        business("b-inn", GRID, "湖景民宿"),
        business("b-far", OTHER, "村口饭店"),
    ] {
        assert!(s.storage().add_business(b).await.unwrap());
    }
    let police = Phone::new("police-1");
    enroll_as(s, &police, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
    let id = police
        .store
        .create(&NewRecord::Visit {
            visit: NewVisit {
                business: "b-noodle".into(),
                scope: business_scope(GRID, "b-noodle"),
                visitors: vec!["police-1".into()],
                checklist: vec!["fire_safety".into(), "food_safety".into()],
                results: vec![NewCheck {
                    item: "food_safety".into(),
                    result: CheckOutcome::Fail,
                    note: "冷柜温度过高".into(),
                }],
            },
        })
        .unwrap();
    let finding = Command::AddFinding { text: "后厨灭火器过期".into(), photos: vec![] };
    police.store.execute(id, &finding).unwrap();
    acked(&ts, &police, id).await;
    let id = id.to_string();

    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let page = get(&ts, &d, "/api/v1/visits?failed=true").await.1;
    spec.check("/api/v1/visits", "get", 200, &page);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(
        (&items[0]["doc"], &items[0]["business"], &items[0]["failed"], &items[0]["findings"]),
        (&json!(id), &json!("b-noodle"), &json!(["food_safety"]), &json!(1))
    );
    let (status, none) = get(&ts, &d, "/api/v1/visits?business=b-inn").await;
    assert_eq!((status, &none["items"]), (200, &json!([])));
    let (status, bad) = get(&ts, &d, "/api/v1/visits?status=lost").await;
    assert_eq!((status, err_code(&bad)), (400, "invalid_request"), "{bad}");
    spec.check("/api/v1/visits", "get", 400, &bad);

    let (status, view) = get(&ts, &d, &format!("/api/v1/records/{id}")).await;
    assert_eq!(status, 200, "{view}");
    spec.check("/api/v1/records/{id}", "get", 200, &view);
    assert_eq!(view["row"]["kind"], "visit");
    assert_eq!(view["record"]["visit"]["findings"][0]["text"], "后厨灭火器过期");
    assert_eq!(view["business"]["name"], "老王面馆", "the business visited, from the registry");

    // Overdue: the inn was never visited; the noodle shop is due again after 30 days.
    let overdue = "/api/v1/businesses/overdue";
    let now = fieldsync_core::time::now_ms();
    let (status, due) = get(&ts, &d, &format!("{overdue}?at={now}")).await;
    assert_eq!(status, 200, "{due}");
    spec.check(overdue, "get", 200, &due);
    let names = |due: &Value| -> Vec<String> {
        due["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["business"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&due), ["b-inn"], "{due}");
    assert_eq!(due["every_days"], 30);
    let (_, later) = get(&ts, &d, &format!("{overdue}?at={}", now + 31 * DAY_MS)).await;
    assert_eq!(names(&later), ["b-inn", "b-noodle"], "never visited first: {later}");
    assert!(later["items"][1]["last_visit"].is_i64());
    let (status, bad) = get(&ts, &d, &format!("{overdue}?at=soon")).await;
    assert_eq!(status, 400, "{bad}");
    spec.check(overdue, "get", 400, &bad);

    // Followed up from the desk: a deadline for the shop, then closed; a result for an item off
    // the checklist and a second closing are refused.
    let actions = "/api/v1/records/{id}/actions";
    let deadline = now + 7 * DAY_MS;
    for (body, want) in [
        (
            json!({"action": "set_visit_follow_up", "follow_up": "更换冷柜", "deadline": deadline}),
            200,
        ),
        (json!({"action": "record_check", "item": "casino_licence", "result": "pass"}), 400),
        (json!({"action": "record_check", "item": "food_safety", "result": "maybe"}), 400),
        (json!({"action": "close_visit"}), 200),
        (json!({"action": "close_visit"}), 409),
    ] {
        let (status, answer) = act(&ts, &d, &id, body.clone()).await;
        assert_eq!(status, want, "{body}: {answer}");
        spec.check(actions, "post", status, &answer);
    }
    let (_, view) = get(&ts, &d, &format!("/api/v1/records/{id}")).await;
    assert_eq!(
        (&view["row"]["status"], &view["row"]["follow_up"]),
        (&json!("closed"), &json!("更换冷柜"))
    );

    let mut live = Events::open(&ts, &d, "?after=0", None).await;
    let e = live.until(|e| e.data["doc"] == id.as_str()).await;
    assert_eq!(e.event, "visit");

    // The noodle shop's operator has no desk: the event stream, listings and exports are not
    // theirs to open.
    let accounts = s.accounts();
    let own = business_scope(GRID, "b-noodle");
    accounts.add_user("op-wang", Role::BusinessOperator, None, &[own]).unwrap();
    let admin = Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
    let code = accounts.issue_code("op-wang", &admin, Duration::from_secs(60)).unwrap().code;
    let (status, e) = json_of(post_session(&ts, json!({ "code": code }).to_string()).await).await;
    assert_eq!((status, err_code(&e)), (403, "not_a_desk_role"), "{e}");

    // A dispatcher of another grid: no visit, and only their own grid's business is due.
    s.accounts().add_user("disp-9", Role::Dispatcher, None, &[OTHER.to_string()]).unwrap();
    let elsewhere = desk(&ts, "disp-9", Role::Dispatcher).await;
    let (_, page) = get(&ts, &elsewhere, "/api/v1/visits").await;
    assert_eq!(page["items"], json!([]), "{page}");
    let (status, body) = get(&ts, &elsewhere, &format!("/api/v1/records/{id}")).await;
    assert_eq!((status, err_code(&body)), (404, "not_found"), "{body}");
    let (_, due) = get(&ts, &elsewhere, overdue).await;
    assert_eq!(names(&due), ["b-far"]);
}
on_both!(the_desk_lists_visits_and_the_businesses_overdue_one);
