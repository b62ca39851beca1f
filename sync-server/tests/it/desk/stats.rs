//! Statistics (考核监督) against figures the test computes by hand: a handful of reports filed
//! by a resident's phone and worked at the desk into known states; `GET /api/v1/stats/reports`
//! grouped by category, assignee and not at all equals what the test counts from its own plan
//! and the records' timelines, and the CSV has a header and one line per group.

use std::collections::BTreeMap;

use fieldsync_core::model::{NewRecord, NewReport, ReportCategory};
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::time::now_ms;
use serde_json::json;

use super::*;
use crate::common::{Backend, GRID, Phone, enroll_as, on_both, start_on};

/// What the desk does to one report, in order.
struct Plan {
    category: ReportCategory,
    actions: Vec<Value>,
}

fn new(category: ReportCategory, n: usize) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.into(),
            category,
            title: format!("report {n}"),
            description: String::new(),
            location: None,
            photos: vec![],
        },
    }
}

/// Figures of one group as the server reports them.
#[derive(Debug, Default, PartialEq)]
struct Figures {
    received: u64,
    accepted: u64,
    dispatched: u64,
    resolved: u64,
    confirmed: u64,
    rejected: u64,
    supervisions: u64,
    accept_ms: Vec<i64>,
    resolve_ms: Vec<i64>,
}

/// Nearest rank, as the figures are defined.
fn rank(sorted: &[i64], p: f64) -> Value {
    if sorted.is_empty() {
        return Value::Null;
    }
    let r = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    json!(sorted[r - 1])
}

fn at_of(e: &Value) -> i64 {
    e["at"].as_i64().unwrap_or_else(|| panic!("a time in ms: {e}"))
}

/// Adds what `record` (a record view's `record.report`) shows to `f`.
fn count(f: &mut Figures, report: &Value) {
    let created = report["header"]["created_at"].as_i64().unwrap();
    let timeline = report["timeline"].as_array().unwrap();
    let last = |action: &str| timeline.iter().rev().find(|e| e["action"] == action).map(at_of);
    f.received += 1;
    if let Some(at) = last("accept_report") {
        f.accepted += 1;
        f.accept_ms.push(at - created);
    }
    f.dispatched += u64::from(last("dispatch_report").is_some());
    if let Some(at) = last("resolve_report") {
        f.resolved += 1;
        f.resolve_ms.push(at - created);
    }
    f.confirmed += u64::from(last("confirm_report").is_some());
    f.rejected += u64::from(last("reject_report").is_some());
    f.supervisions += timeline.iter().filter(|e| e["action"] == "supervise").count() as u64;
}

fn check(group: &Value, f: &mut Figures, what: &str) {
    f.accept_ms.sort_unstable();
    f.resolve_ms.sort_unstable();
    let want = json!({
        "key": group["key"],
        "received": f.received, "accepted": f.accepted, "dispatched": f.dispatched,
        "resolved": f.resolved, "confirmed": f.confirmed, "reopened": 0,
        "rejected": f.rejected,
        // Everything was worked at once, far inside every limit.
        "overdue": 0, "overdue_rate": 0.0,
        "accept_median_ms": rank(&f.accept_ms, 0.5), "accept_p90_ms": rank(&f.accept_ms, 0.9),
        "resolve_median_ms": rank(&f.resolve_ms, 0.5),
        "resolve_p90_ms": rank(&f.resolve_ms, 0.9),
        "supervisions": f.supervisions,
    });
    assert_eq!(group, &want, "{what}");
}

async fn report_figures_equal_those_counted_by_hand(backend: Backend) {
    let ts = start_on(backend).await;
    let server = ts.running.server();
    let resident = Phone::new("resident-1");
    enroll_as(server, &resident, Role::Resident, None, &[GRID]);
    for cop in ["cop-1", "cop-2"] {
        let accounts = server.accounts();
        accounts.add_user(cop, Role::Patrol, Some(PatrolKind::Police), &[GRID.into()]).unwrap();
    }
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let from = now_ms() - 1_000;

    let deadline = now_ms() + 86_400_000;
    let dispatch = |to: &str| json!({"action": "dispatch", "assignee": to, "deadline": deadline});
    let accept = || json!({"action": "accept"});
    let press = || json!({"action": "supervise", "note": "快"});
    use ReportCategory as C;
    let plans = [
        Plan { category: C::IllegalConstruction, actions: vec![] },
        Plan {
            category: C::IllegalConstruction,
            actions: vec![
                accept(),
                dispatch("cop-1"),
                json!({"action": "start_work"}),
                json!({"action": "resolve", "note": "拆除"}),
                json!({"action": "confirm"}),
            ],
        },
        Plan {
            category: C::SafetyHazard,
            actions: vec![json!({"action": "reject", "reason": "重复"})],
        },
        Plan {
            category: C::SafetyHazard,
            actions: vec![accept(), dispatch("cop-1"), press(), press()],
        },
        Plan { category: C::Sanitation, actions: vec![accept(), dispatch("cop-2")] },
        Plan {
            category: C::Sanitation,
            actions: vec![
                accept(),
                dispatch("cop-2"),
                json!({"action": "start_work"}),
                json!({"action": "resolve"}),
            ],
        },
    ];
    let mut ids = Vec::new();
    for (n, plan) in plans.iter().enumerate() {
        ids.push(resident.report_with(&new(plan.category, n)).to_string());
    }
    sync(&ts, &resident).await;
    for (plan, id) in plans.iter().zip(&ids) {
        for action in &plan.actions {
            let (status, v) = act(&ts, &d, id, action.clone()).await;
            assert_eq!(status, 200, "{action}: {v}");
        }
    }
    let to = now_ms() + 1_000;

    // By hand, from the records.
    let mut all = Figures::default();
    let mut by_category: BTreeMap<String, Figures> = BTreeMap::new();
    let mut by_assignee: BTreeMap<Option<String>, Figures> = BTreeMap::new();
    for id in &ids {
        let (_, view) = get(&ts, &d, &format!("/api/v1/records/{id}")).await;
        let report = &view["record"]["report"];
        count(&mut all, report);
        count(by_category.entry(report["category"].as_str().unwrap().into()).or_default(), report);
        let assignee = report["assignee"].as_str().map(str::to_string);
        count(by_assignee.entry(assignee).or_default(), report);
    }
    assert_eq!((all.received, all.accepted, all.dispatched), (6, 4, 4));
    assert_eq!((all.resolved, all.confirmed, all.rejected, all.supervisions), (2, 1, 1, 2));

    let range = format!("from={from}&to={to}");
    let (status, got) = get(&ts, &d, &format!("/api/v1/stats/reports?{range}")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got.as_array().unwrap().len(), 1, "{got}");
    check(&got[0], &mut all, "all");
    assert_eq!(got[0]["key"], Value::Null);

    let (status, got) =
        get(&ts, &d, &format!("/api/v1/stats/reports?group=category&{range}")).await;
    assert_eq!(status, 200, "{got}");
    let keys: Vec<&str> =
        got.as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(keys, by_category.keys().map(String::as_str).collect::<Vec<_>>());
    for g in got.as_array().unwrap() {
        let key = g["key"].as_str().unwrap();
        check(g, by_category.get_mut(key).unwrap(), key);
    }

    let (status, got) =
        get(&ts, &d, &format!("/api/v1/stats/reports?group=assignee&{range}")).await;
    assert_eq!(status, 200, "{got}");
    let keys: Vec<Option<String>> =
        got.as_array().unwrap().iter().map(|g| g["key"].as_str().map(str::to_string)).collect();
    assert_eq!(keys, by_assignee.keys().cloned().collect::<Vec<_>>());
    for g in got.as_array().unwrap() {
        let key = g["key"].as_str().map(str::to_string);
        check(g, by_assignee.get_mut(&key).unwrap(), &format!("{key:?}"));
    }

    // A range that holds none of them: no groups.
    let (status, got) =
        get(&ts, &d, &format!("/api/v1/stats/reports?from={}&to={from}", from - 86_400_000)).await;
    assert_eq!((status, got), (200, json!([])));

    // CSV: the header, then one line per group, the same figures.
    let (status, kind, csv) =
        get_text(&ts, &d, &format!("/api/v1/stats/reports?group=category&format=csv&{range}"))
            .await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"), "{csv}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "key,received,accepted,dispatched,resolved,confirmed,reopened,rejected,overdue,\
         overdue_rate,accept_median_ms,accept_p90_ms,resolve_median_ms,resolve_p90_ms,supervisions"
    );
    assert_eq!(lines.len(), 1 + by_category.len(), "{csv}");
    for (line, (key, f)) in lines[1..].iter().zip(&by_category) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], key);
        assert_eq!(
            cells[1..8],
            [f.received, f.accepted, f.dispatched, f.resolved, f.confirmed, 0, f.rejected]
                .map(|n| n.to_string())
        );
        assert_eq!(cells[14], f.supervisions.to_string());
    }
}
on_both!(report_figures_equal_those_counted_by_hand);
