//! The loop of the command centre against the real server: a resident's phone files a report
//! offline and syncs; a signed-in dispatcher's desk sees the row on its event stream, accepts
//! it and dispatches it to a patrol officer with a deadline; the officer's phone has it after
//! its next sync; the desk supervises it (督办), and the officer's phone sees that too.

use fieldsync_core::model::ReportStatus;
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::time::now_ms;
use serde_json::json;

use super::events::Events;
use super::*;
use crate::common::{Backend, GRID, Phone, enroll_as, on_both, start_on};

async fn a_report_goes_from_a_phone_to_the_desk_and_on_to_the_officer(backend: Backend) {
    let ts = start_on(backend).await;
    let server = ts.running.server();
    let resident = Phone::new("resident-1");
    enroll_as(server, &resident, Role::Resident, None, &[GRID]);
    let officer = Phone::new("officer-1");
    enroll_as(server, &officer, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
    sync(&ts, &officer).await;
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let mut live = Events::open(&ts, &d, "", None).await;

    // Offline: the report waits on the phone; then it syncs.
    let id = resident.report("屋顶违章搭建");
    let doc = id.to_string();
    sync(&ts, &resident).await;
    let submitted = live.until(|e| e.data["doc"] == doc).await;
    assert_eq!(submitted.event, "report");
    assert_eq!(submitted.data["status"], "submitted");
    assert_eq!(submitted.data["title"], "屋顶违章搭建");
    assert_eq!(submitted.data["created_by"], "resident-1");
    let (status, page) = get(&ts, &d, "/api/v1/reports?status=submitted").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["doc"], doc.as_str());

    let (status, view) = act(&ts, &d, &doc, json!({"action": "accept", "note": "收到"})).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["row"]["status"], "accepted");
    let deadline = now_ms() + 86_400_000;
    let dispatch = json!({
        "action": "dispatch", "assignee": "officer-1", "deadline": deadline, "note": "今天处理",
    });
    let (status, view) = act(&ts, &d, &doc, dispatch).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["row"]["status"], "dispatched");
    assert_eq!(view["row"]["assignee"], "officer-1");
    assert_eq!(view["record"]["report"]["timeline"].as_array().unwrap().len(), 3, "{view}");
    let dispatched = live.until(|e| e.data["doc"] == doc && e.data["status"] == "dispatched").await;
    assert!(dispatched.id > submitted.id);
    assert_eq!(dispatched.data["deadline"], deadline);

    sync(&ts, &officer).await;
    let r = report_on(&officer, id);
    assert_eq!(r.status, ReportStatus::Dispatched);
    assert_eq!(r.assignee.as_deref(), Some("officer-1"));
    assert_eq!(r.deadline.map(|t| t.as_millis()), Some(deadline));
    let by: Vec<&str> = r.timeline.iter().map(|e| e.by.as_str()).collect();
    assert_eq!(by, ["resident-1", "disp-1", "disp-1"], "the desk wrote as its user");

    let press = json!({"action": "supervise", "note": "请于今日17时前处理完毕"});
    let (status, view) = act(&ts, &d, &doc, press).await;
    assert_eq!(status, 200, "{view}");
    let supervised = live.until(|e| e.data["doc"] == doc && e.data["supervisions"] == 1).await;
    assert!(supervised.id > dispatched.id);
    sync(&ts, &officer).await;
    let last = report_on(&officer, id).timeline.pop().unwrap();
    assert_eq!((last.action.as_str(), last.by.as_str()), ("supervise", "disp-1"));
    assert_eq!(last.note, "请于今日17时前处理完毕");
    assert_eq!(row_of(&ts, &d, &doc).await["supervisions"], 1);
    let stored = server.storage().index_row(id).await.unwrap().unwrap();
    match stored.row {
        fieldsync_server::storage::index::IndexRow::Report(r) => assert_eq!(r.supervisions, 1),
        other => panic!("{other:?}"),
    }

    // The resident's phone sees the same record.
    sync(&ts, &resident).await;
    assert_eq!(report_on(&resident, id).timeline.len(), 4);
}
on_both!(a_report_goes_from_a_phone_to_the_desk_and_on_to_the_officer);
