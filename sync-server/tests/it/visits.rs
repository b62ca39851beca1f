//! Business visits (走访) against a real server: a police officer records a visit to a business
//! of the registry with a checklist and a finding, which lands; a visit to a business of
//! another scope, to no business, or with a checklist item the rules file does not list is
//! refused with nothing stored; and the business's operator, whose one scope is their
//! business's own, reads the visits to it and the bulletins addressed to businesses around it,
//! acknowledges those in their own name, and reads nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fieldsync_core::DocId;
use fieldsync_core::model::*;
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::protocol::{
    BusinessList, BusinessRequest, BusinessResponse, BusinessesRequest, PushOutcome, VERSION,
};
use fieldsync_core::time::{Timestamp, now_ms};

use crate::common::*;
use crate::policy::{pulled, refused as refused_forbidden};

const AREA: &str = "jl/changchun/jingyue/scenic-area";
const OTHER: &str = "jl/changchun/jingyue/village-3";

/// Registers a guesthouse in `scope` through `keeper`'s phone; its id.
async fn register(ts: &TestServer, keeper: &Phone, scope: &str, name: &str) -> String {
    let req = BusinessRequest {
        v: VERSION,
        scope: Some(scope.into()),
        name: Some(name.into()),
        kind: Some("guesthouse".into()),
        address: Some(String::new()),
        contact: Some(String::new()),
        ..Default::default()
    };
    let made: BusinessResponse = call(ts, keeper, "/v1/businesses/add", req).await.unwrap();
    made.business.id
}

fn visit(business: &str, scope: &str, by: &str, checklist: &[&str]) -> NewRecord {
    NewRecord::Visit {
        visit: NewVisit {
            business: business.into(),
            scope: business_scope(scope, business),
            visitors: vec![by.into()],
            checklist: checklist.iter().map(|s| s.to_string()).collect(),
            results: vec![NewCheck {
                item: "fire_safety".into(),
                result: CheckOutcome::Fail,
                note: "灭火器过期".into(),
            }],
        },
    }
}

const CHECKLIST: [&str; 4] = ["fire_safety", "guest_registration", "food_safety", "hazards"];

/// Asserts `phone`'s push of `id` is rejected with `code` and nothing of it stored.
async fn rejected(ts: &TestServer, phone: &Phone, id: DocId, code: &str) {
    let storage = ts.running.server().storage();
    let log = storage.log_end().await.unwrap();
    let outcome = push(ts, phone, id).await;
    assert!(
        matches!(&outcome, PushOutcome::Rejected { code: c, .. } if c == code),
        "expected {code}: {outcome:?}"
    );
    assert!(storage.load(vec![id]).await.unwrap()[0].is_none(), "nothing stored");
    assert_eq!(storage.log_end().await.unwrap(), log, "nothing logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_lands_and_bad_visits_are_refused_with_nothing_stored() {
    let ts = start().await;
    let s = ts.running.server();
    let police = Phone::new("police-li");
    enroll_as(s, &police, Role::Patrol, Some(PatrolKind::Police), &[AREA]);
    let outsider = Phone::new("police-wu");
    enroll_as(s, &outsider, Role::Patrol, Some(PatrolKind::Police), &[OTHER]);
    let b1 = register(&ts, &police, AREA, "湖景民宿").await;
    let b9 = register(&ts, &outsider, OTHER, "村口饭店").await;

    // The registry's answer carries the rules of visits (the defaults here).
    let list: BusinessList =
        call(&ts, &police, "/v1/businesses/list", BusinessesRequest { v: VERSION }).await.unwrap();
    let rules = list.visits.expect("visit rules");
    assert_eq!(
        (rules.every_days, rules.checklist.as_slice()),
        (30, CHECKLIST.map(String::from).as_slice())
    );

    let id = police.store.create(&visit(&b1, AREA, "police-li", &CHECKLIST)).unwrap();
    let finding = Command::AddFinding { text: "消防通道堵塞".into(), photos: vec![] };
    police.store.execute(id, &finding).unwrap();
    acked(&ts, &police, id).await;

    // A business of another scope: the visit lies outside the officer's scopes.
    let beside = police.store.create(&visit(&b9, OTHER, "police-li", &CHECKLIST)).unwrap();
    refused_forbidden(&ts, &police, beside, "create.scope").await;
    // No such business (its scope is the officer's, its business is nobody's).
    let ghost = police.store.create(&visit("nobody", AREA, "police-li", &CHECKLIST)).unwrap();
    rejected(&ts, &police, ghost, "unknown_business").await;
    // A real business, claimed in a scope that is not its own.
    let moved = police.store.create(&visit(&b9, AREA, "police-li", &CHECKLIST)).unwrap();
    rejected(&ts, &police, moved, "unknown_business").await;
    // A checklist item the rules file does not list.
    let casino = police
        .store
        .create(&visit(&b1, AREA, "police-li", &["fire_safety", "casino_licence"]))
        .unwrap();
    rejected(&ts, &police, casino, "invalid_document").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_reads_their_visits_and_the_bulletins_to_businesses_and_nothing_else() {
    let ts = start().await;
    let s = ts.running.server();
    let police = Phone::new("police-li");
    enroll_as(s, &police, Role::Patrol, Some(PatrolKind::Police), &[AREA]);
    let b1 = register(&ts, &police, AREA, "湖景民宿").await;
    let b2 = register(&ts, &police, AREA, "码头游船").await;

    // An operator's one scope is their business's own; anything else is refused.
    let accounts = s.accounts();
    for bad in [
        vec![AREA.to_string()],
        vec![business_scope(AREA, "nobody")],
        vec![business_scope(OTHER, &b1)],
    ] {
        assert!(
            accounts.add_user("op-bad", Role::BusinessOperator, None, &bad).is_err(),
            "{bad:?}"
        );
    }
    let operator = Phone::new("op-gao");
    enroll_as(s, &operator, Role::BusinessOperator, None, &[&business_scope(AREA, &b1)]);

    let mine = police.store.create(&visit(&b1, AREA, "police-li", &CHECKLIST)).unwrap();
    acked(&ts, &police, mine).await;
    let theirs = police.store.create(&visit(&b2, AREA, "police-li", &CHECKLIST)).unwrap();
    acked(&ts, &police, theirs).await;
    let bulletin = |audience: Vec<Addressee>, scope: &str| NewRecord::Bulletin {
        bulletin: NewBulletin {
            scope: scope.into(),
            severity: Severity::Orange,
            audience,
            title: "汛期预警".into(),
            text: "沿湖商户做好防汛准备".into(),
            valid_until: Timestamp::from_millis(now_ms() + 86_400_000),
            location: None,
            photos: vec![],
        },
    };
    let to_businesses = police.store.create(&bulletin(vec![Addressee::Businesses], AREA)).unwrap();
    acked(&ts, &police, to_businesses).await;
    let to_patrols = police.store.create(&bulletin(vec![Addressee::Patrols], AREA)).unwrap();
    acked(&ts, &police, to_patrols).await;
    let report = police.store.create(&report_in_area()).unwrap();
    acked(&ts, &police, report).await;

    // What the operator's phone is sent: their visit and the bulletin to businesses, no more.
    let seen = pulled(&ts, &operator, "").await;
    let expected: std::collections::BTreeSet<DocId> = [mine, to_businesses].into();
    assert_eq!(seen, expected);

    // They acknowledge the bulletin in their own name; the server takes it.
    fetch(&ts, &operator, to_businesses).await;
    operator.store.execute(to_businesses, &Command::AcknowledgeBulletin).unwrap();
    acked(&ts, &operator, to_businesses).await;
    // One not addressed to them (another business's operator, a bulletin to patrols): refused
    // as a record they may not read, nothing stored.
    let other = Phone::new("op-other");
    enroll_as(s, &other, Role::BusinessOperator, None, &[&business_scope(AREA, &b2)]);
    fetch(&ts, &other, to_patrols).await;
    other.store.execute(to_patrols, &Command::AcknowledgeBulletin).unwrap();
    refused_forbidden(&ts, &other, to_patrols, "read").await;
    // One addressed to them, acknowledged in someone else's name from their device.
    fetch(&ts, &other, to_businesses).await;
    other.store.set_user("op-third").unwrap();
    other.store.execute(to_businesses, &Command::AcknowledgeBulletin).unwrap();
    refused_forbidden(&ts, &other, to_businesses, "bulletin.acknowledgements").await;
    // Nor do they change a visit, even their own business's.
    fetch(&ts, &operator, mine).await;
    operator
        .store
        .execute(mine, &Command::AddFinding { text: "已整改".into(), photos: vec![] })
        .unwrap();
    refused_forbidden(&ts, &operator, mine, "visit.edit").await;
    // And the registry is not theirs to read.
    let r = call::<_, BusinessList>(
        &ts,
        &operator,
        "/v1/businesses/list",
        BusinessesRequest { v: VERSION },
    );
    refused(r.await, 403, "forbidden");
}

fn report_in_area() -> NewRecord {
    match new_report("码头栏杆松动") {
        NewRecord::Report { report: mut r } => {
            r.scope = AREA.into();
            NewRecord::Report { report: r }
        }
        other => other,
    }
}

/// The reconcile path (after an epoch change) checks a new visit against the registry as a
/// push does: a visit to no business is refused `unknown_business` and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_to_no_business_is_refused_by_reconcile_too() {
    use automerge::sync::{State, SyncDoc};
    use fieldsync_core::protocol::{self, ReconcileRequest, ReconcileResponse, SyncMessage};

    let ts = start().await;
    let police = Phone::new("police-li");
    enroll_as(ts.running.server(), &police, Role::Patrol, Some(PatrolKind::Police), &[AREA]);
    let ghost = police.store.create(&visit("nobody", AREA, "police-li", &CHECKLIST)).unwrap();
    let mut doc = police.store.load(ghost).unwrap();
    let mut state = State::new();
    let mut codes: Vec<String> = Vec::new();
    for _ in 0..5 {
        let Some(msg) = doc.sync().generate_sync_message(&mut state) else { break };
        let req = ReconcileRequest {
            v: VERSION,
            actor: police.actor(),
            docs: vec![SyncMessage { doc: ghost, message: msg.encode() }],
            have: None,
        };
        let (status, body) =
            ts.post_as(&police.actor(), "/v1/reconcile", protocol::encode(&req)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let resp: ReconcileResponse = protocol::decode(&body).unwrap();
        codes
            .extend(resp.results.iter().filter_map(|r| outcome_code(&r.outcome)).map(String::from));
        match resp.docs.first() {
            Some(d) if !d.message.is_empty() => {
                let m = automerge::sync::Message::decode(&d.message).unwrap();
                doc.sync().receive_sync_message(&mut state, m).unwrap();
            }
            _ => {}
        }
        if !codes.is_empty() {
            break;
        }
    }
    assert_eq!(codes, ["unknown_business"]);
    assert!(ts.running.server().storage().load(vec![ghost]).await.unwrap()[0].is_none());
}
