//! Overdue escalation (督办) with a clock the test sets: a safety-hazard report (accept within
//! 1 h by the default rules) is escalated once when its limit has passed, to its scope's grid
//! leaders and dispatchers, visibly in the timeline, the index and the event stream; never
//! before the limit, never twice, not after a restart either.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use fieldsync_core::model::{NewRecord, NewReport, ReportCategory};
use fieldsync_core::policy::Role;
use fieldsync_core::time::now_ms;
use fieldsync_server::ServerConfig;
use fieldsync_server::escalation::{Clock, Pass};

use super::events::Events;
use super::*;
use crate::common::{Backend, GRID, Phone, enroll_as, on_both, restart_with, start_on_with};

const HOUR: i64 = 3_600_000;

fn hazard() -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.to_string(),
            category: ReportCategory::SafetyHazard,
            title: "井盖缺失".to_string(),
            description: String::new(),
            location: None,
            photos: vec![],
        },
    }
}

fn manual(clock: &Arc<AtomicI64>) -> impl FnOnce(ServerConfig) -> ServerConfig {
    let clock = Clock::Manual(clock.clone());
    move |c| ServerConfig { escalate_every: None, clock, ..c }
}

fn escalations(view: &Value) -> Vec<String> {
    view["record"]["report"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "escalate")
        .map(|e| {
            assert_eq!(e["by"], "system", "{e}");
            e["note"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn pass(ts: &TestServer) -> Pass {
    ts.running.server().escalate().await.unwrap()
}

async fn an_overdue_report_is_escalated_once_even_across_a_restart(backend: Backend) {
    let clock = Arc::new(AtomicI64::new(now_ms()));
    let ts = start_on_with(backend, manual(&clock)).await;
    let server = ts.running.server();
    let accounts = server.accounts();
    accounts.add_user("lead-1", Role::GridLeader, None, &[GRID.to_string()]).unwrap();
    accounts.add_user("disp-city", Role::Dispatcher, None, &["jl".to_string()]).unwrap();
    let far = "jl/changchun/chaoyang/yongchang/xinhua/grid-08".to_string();
    accounts.add_user("disp-far", Role::Dispatcher, None, &[far]).unwrap();
    accounts.add_user("sup-1", Role::Supervisor, None, &[GRID.to_string()]).unwrap();
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let far_desk = desk(&ts, "disp-far", Role::Dispatcher).await;
    let resident = Phone::new("resident-1");
    enroll_as(server, &resident, Role::Resident, None, &[GRID]);

    let id = resident.report_with(&hazard());
    let doc = id.to_string();
    sync(&ts, &resident).await;
    let row = row_of(&ts, &d, &doc).await;
    let created = row["created_at"].as_i64().unwrap();
    assert_eq!(row["accept_due"].as_i64().unwrap(), created + HOUR, "{row}");
    assert_eq!(row["escalated_accept"], false);
    let mut live = Events::open(&ts, &d, "", None).await;
    let mut far_live = Events::open(&ts, &far_desk, "", None).await;

    // Before the limit: nothing.
    clock.store(created + HOUR - 60_000, Ordering::SeqCst);
    assert_eq!(pass(&ts).await, Pass::default());
    clock.store(created + HOUR, Ordering::SeqCst);
    assert_eq!(pass(&ts).await, Pass::default(), "due at the limit, overdue only after it");

    clock.store(created + HOUR + 1, Ordering::SeqCst);
    assert_eq!(pass(&ts).await, Pass { escalated: 1, ..Pass::default() });
    let (_, view) = get(&ts, &d, &format!("/api/v1/records/{doc}")).await;
    let notes = escalations(&view);
    assert_eq!(notes.len(), 1, "{view}");
    let (limit, told) = notes[0].split_once(": ").unwrap();
    assert_eq!(limit, "accept");
    let mut told: Vec<&str> = told.split(", ").collect();
    told.sort();
    assert!(told.contains(&"lead-1") && told.contains(&"disp-1"), "{told:?}");
    assert!(told.contains(&"disp-city"), "a dispatcher of a wider scope: {told:?}");
    assert!(!told.contains(&"disp-far") && !told.contains(&"sup-1"), "{told:?}");
    assert!(!told.contains(&"resident-1"), "{told:?}");
    assert_eq!(view["row"]["escalated_accept"], true);
    assert_eq!(view["row"]["escalated_resolve"], false);
    let e = live.until(|e| e.data["doc"] == doc).await;
    assert_eq!(e.data["escalated_accept"], true, "{:?}", e.data);
    assert!(
        far_live.next_within(Duration::from_millis(300)).await.is_none(),
        "a desk of another grid sees nothing of it"
    );
    // The resident's phone has the escalation event.
    sync(&ts, &resident).await;
    let last = report_on(&resident, id).timeline.pop().unwrap();
    assert_eq!((last.action.as_str(), last.by.as_str()), ("escalate", "system"));

    // Again: nothing.
    let end = log_end(&ts).await;
    clock.store(created + 2 * HOUR, Ordering::SeqCst);
    assert_eq!(pass(&ts).await, Pass::default());
    assert_eq!(log_end(&ts).await, end);

    // A restart on the same data, then a pass: still once.
    let ts = restart_with(ts, manual(&clock)).await;
    assert_eq!(pass(&ts).await, Pass::default());
    assert_eq!(log_end(&ts).await, end);
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let (_, view) = get(&ts, &d, &format!("/api/v1/records/{doc}")).await;
    assert_eq!(escalations(&view).len(), 1);

    // Past the resolve limit (24 h) the other limit escalates, once.
    clock.store(created + 24 * HOUR + 1, Ordering::SeqCst);
    assert_eq!(pass(&ts).await, Pass { escalated: 1, ..Pass::default() });
    assert_eq!(pass(&ts).await, Pass::default());
    let (_, view) = get(&ts, &d, &format!("/api/v1/records/{doc}")).await;
    let notes = escalations(&view);
    assert_eq!(notes.len(), 2);
    assert!(notes[1].starts_with("resolve: "), "{notes:?}");
    assert_eq!(view["row"]["escalated_resolve"], true);
}
on_both!(an_overdue_report_is_escalated_once_even_across_a_restart);

async fn an_accepted_report_is_not_escalated_on_its_accept_limit(backend: Backend) {
    let clock = Arc::new(AtomicI64::new(now_ms()));
    let ts = start_on_with(backend, manual(&clock)).await;
    let resident = Phone::new("resident-1");
    enroll_as(ts.running.server(), &resident, Role::Resident, None, &[GRID]);
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let id = resident.report_with(&hazard());
    sync(&ts, &resident).await;
    let (status, view) =
        act(&ts, &d, &id.to_string(), serde_json::json!({"action": "accept"})).await;
    assert_eq!(status, 200, "{view}");
    let created = view["row"]["created_at"].as_i64().unwrap();
    clock.store(created + 2 * HOUR, Ordering::SeqCst);
    assert_eq!(pass(&ts).await, Pass::default());
    assert!(escalations(&row_view(&ts, &d, &id.to_string()).await).is_empty());
}
on_both!(an_accepted_report_is_not_escalated_on_its_accept_limit);

async fn row_view(ts: &TestServer, d: &Signed, doc: &str) -> Value {
    let (status, view) = get(ts, d, &format!("/api/v1/records/{doc}")).await;
    assert_eq!(status, 200, "{view}");
    view
}
