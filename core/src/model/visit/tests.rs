use automerge::ActorId;

use super::*;
use crate::model::command::{apply, create};
use crate::model::{NewRecord, read_record, validate};

const AT: i64 = 1_700_000_000_000;
const AREA: &str = "jl/cc/scenic-1";

fn new_visit() -> NewVisit {
    NewVisit {
        business: "b1".into(),
        scope: business_scope(AREA, "b1"),
        visitors: vec!["police-1".into(), "vol-1".into()],
        checklist: vec!["fire_safety".into(), "guest_registration".into(), "hazards".into()],
        results: vec![NewCheck {
            item: "guest_registration".into(),
            result: CheckOutcome::Pass,
            note: String::new(),
        }],
    }
}

fn stamp(by: &str, at: i64) -> Stamp {
    Stamp { by: by.into(), at }
}

fn recorded() -> (DocId, AutoCommit) {
    let new = NewRecord::Visit { visit: new_visit() };
    create(&new, &stamp("police-1", AT), ActorId::random()).expect("record")
}

fn read(doc: &AutoCommit, id: DocId) -> Visit {
    match read_record(doc, id).expect("read") {
        Record::Visit { visit } => visit,
        other => panic!("not a visit: {other:?}"),
    }
}

fn photo() -> PhotoRef {
    PhotoRef { hash: "ab".repeat(32), size: 1000, media_type: "image/jpeg".into() }
}

#[test]
fn a_business_owns_a_scope_below_its_own() {
    assert_eq!(business_scope(AREA, "b1"), "jl/cc/scenic-1/business:b1");
    assert_eq!(business_of_scope("jl/cc/scenic-1/business:b1"), Some("b1"));
    assert_eq!(business_of_scope("jl/cc/scenic-1"), None);
    assert_eq!(business_of_scope("jl/business:"), None);
}

#[test]
fn a_recorded_visit_keeps_its_layout_and_limits() {
    let (id, doc) = recorded();
    let v = read(&doc, id);
    assert_eq!(v.header.kind, Kind::Visit);
    assert_eq!(v.header.scope, "jl/cc/scenic-1/business:b1");
    assert_eq!(v.status, VisitStatus::Open);
    assert_eq!(v.result_of("guest_registration").map(|r| r.result), Some(CheckOutcome::Pass));
    assert_eq!(v.timeline[0].action, "record_visit");
    assert_eq!(crate::model::layout_faults(&doc, Kind::Visit), Vec::<String>::new());
    assert!(validate::validate(&Record::Visit { visit: v }).is_ok());
}

#[test]
fn bad_visits_are_refused_with_the_field_named() {
    let cases: Vec<(NewVisit, &str)> = vec![
        (NewVisit { visitors: vec![], ..new_visit() }, "visitors"),
        (NewVisit { checklist: vec![], ..new_visit() }, "checklist"),
        (
            NewVisit { checklist: vec!["hazards".into(), "hazards".into()], ..new_visit() },
            "checklist",
        ),
        (
            NewVisit {
                results: vec![NewCheck {
                    item: "casino_licence".into(),
                    result: CheckOutcome::Fail,
                    note: String::new(),
                }],
                ..new_visit()
            },
            "checklist",
        ),
        (NewVisit { scope: AREA.into(), ..new_visit() }, "scope"),
        (NewVisit { scope: business_scope(AREA, "b2"), ..new_visit() }, "scope"),
    ];
    for (new, field) in cases {
        let got = create(&NewRecord::Visit { visit: new }, &stamp("p", AT), ActorId::random());
        assert!(
            matches!(&got, Err(CoreError::InvalidInput { field: f, .. }) if *f == field),
            "{field}: {:?}",
            got.map(|(id, _)| id)
        );
    }
}

#[test]
fn two_phones_record_offline_and_both_results_and_findings_merge() {
    let (id, mut doc) = recorded();
    let mut a = doc.fork().with_actor(ActorId::from([1u8; 16]));
    let mut b = doc.fork().with_actor(ActorId::from([2u8; 16]));
    let fail = Command::RecordCheck {
        item: "fire_safety".into(),
        result: CheckOutcome::Fail,
        note: "灭火器过期".into(),
    };
    apply(&mut a, id, &stamp("police-1", AT + 10), &fail).expect("check");
    let finding = Command::AddFinding { text: "消防通道堵塞".into(), photos: vec![photo()] };
    let key = apply(&mut b, id, &stamp("vol-1", AT + 20), &finding).expect("finding").item;
    let pass = Command::RecordCheck {
        item: "fire_safety".into(),
        result: CheckOutcome::Pass,
        note: "当场更换".into(),
    };
    apply(&mut b, id, &stamp("vol-1", AT + 30), &pass).expect("check");
    a.merge(&mut b).expect("merge");
    let v = read(&a, id);
    assert_eq!(v.results.len(), 3, "every result survives");
    assert_eq!(v.result_of("fire_safety").map(|r| r.result), Some(CheckOutcome::Pass));
    assert_eq!(v.findings.len(), 1);
    assert_eq!(Some(v.findings[0].id.clone()), key);
    assert_eq!(v.photos().len(), 1);
    assert!(v.failed().is_empty());
}

#[test]
fn an_item_off_the_checklist_or_a_closed_visit_is_refused_and_changes_nothing() {
    let (id, mut doc) = recorded();
    let off = Command::RecordCheck {
        item: "casino_licence".into(),
        result: CheckOutcome::Pass,
        note: String::new(),
    };
    let before = read(&doc, id);
    let got = apply(&mut doc.fork(), id, &stamp("police-1", AT + 1), &off);
    assert!(matches!(got, Err(CoreError::InvalidInput { field: "checklist", .. })), "{got:?}");
    let follow = Command::SetVisitFollowUp {
        action: "更换灭火器".into(),
        deadline: Timestamp::from_millis(AT + 7 * 86_400_000),
    };
    apply(&mut doc, id, &stamp("police-1", AT + 2), &follow).expect("follow-up");
    apply(&mut doc, id, &stamp("police-1", AT + 3), &Command::CloseVisit { note: "".into() })
        .expect("close");
    let closed = read(&doc, id);
    assert_eq!(closed.follow_up, "更换灭火器");
    assert_eq!(closed.status, VisitStatus::Closed);
    assert_eq!(closed.results, before.results);
    let finding = Command::AddFinding { text: "x".into(), photos: vec![] };
    let got = apply(&mut doc.fork(), id, &stamp("police-1", AT + 4), &finding);
    assert!(matches!(got, Err(CoreError::InvalidTransition { .. })), "{got:?}");
    let wrong = apply(&mut doc.fork(), id, &stamp("x", AT), &Command::AcknowledgeBulletin);
    assert!(matches!(wrong, Err(CoreError::WrongKind { .. })), "{wrong:?}");
}
