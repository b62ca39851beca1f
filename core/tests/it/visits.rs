//! A business visit on two phones: one records it, the other receives it; both record
//! results and findings offline, and after exchanging bytes both hold every result and finding,
//! the same on each; the search finds a finding on either; a refused result changes nothing.

use fieldsync_core::CoreError;
use fieldsync_core::model::*;
use fieldsync_core::store::{PageRequest, VisitFilter};

use crate::common::{GRID, store};

fn visit() -> NewRecord {
    NewRecord::Visit {
        visit: NewVisit {
            business: "b-noodle".into(),
            scope: business_scope(GRID, "b-noodle"),
            visitors: vec!["police-li".into(), "cadre-wang".into()],
            checklist: vec!["fire_safety".into(), "food_safety".into(), "hazards".into()],
            results: vec![],
        },
    }
}

fn check(item: &str, result: CheckOutcome, note: &str) -> Command {
    Command::RecordCheck { item: item.into(), result, note: note.into() }
}

#[test]
fn two_phones_record_one_visit_offline_and_merge_everything() {
    let dir = tempfile::tempdir().unwrap();
    let li = store(&dir, "li", "police-li");
    let wang = store(&dir, "wang", "cadre-wang");
    let id = li.create(&visit()).unwrap();
    wang.merge_remote(id, &li.saved_bytes(id).unwrap()).unwrap();

    // Offline, each on their own phone.
    li.execute(id, &check("fire_safety", CheckOutcome::Fail, "灭火器过期")).unwrap();
    li.execute(id, &Command::AddFinding { text: "后门通道堵塞".into(), photos: vec![] }).unwrap();
    wang.execute(id, &check("food_safety", CheckOutcome::Pass, "")).unwrap();
    wang.execute(id, &Command::AddFinding { text: "冷柜温度正常".into(), photos: vec![] }).unwrap();
    let before = wang.heads(id).unwrap();
    let off = wang.execute(id, &check("casino_licence", CheckOutcome::Pass, ""));
    assert!(matches!(off, Err(CoreError::InvalidInput { field: "checklist", .. })), "{off:?}");
    assert_eq!(wang.heads(id).unwrap(), before, "a refused result changes nothing");

    // They meet: bytes both ways.
    wang.merge_remote(id, &li.saved_bytes(id).unwrap()).unwrap();
    li.merge_remote(id, &wang.saved_bytes(id).unwrap()).unwrap();
    let (Record::Visit { visit: a }, Record::Visit { visit: b }) =
        (li.get(id).unwrap(), wang.get(id).unwrap())
    else {
        panic!("visits")
    };
    assert_eq!(a, b, "the same visit on both phones");
    assert_eq!(a.results.len(), 2);
    assert_eq!(a.findings.len(), 2);
    assert_eq!(a.failed(), ["fire_safety"]);
    for s in [&li, &wang] {
        let row = &s.query_visits(&VisitFilter::default(), &PageRequest::first(10)).unwrap().items;
        assert_eq!((row[0].id, row[0].failed, row[0].findings), (id, 1, 2));
        let hits = s.search("冷柜", Some(Kind::Visit), 10).unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id]);
    }
}
