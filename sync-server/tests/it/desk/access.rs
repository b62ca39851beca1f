//! The access matrix of the desk roles: a dispatcher, a grid leader, an admin and a supervisor
//! of one grid, with a report, a patrol log and a mediation case in their grid and the same in
//! the next grid. What each sees in listings, one record, the event stream, exports and
//! statistics, and which actions each may take. A record out of scope never appears anywhere:
//! `404` for the record itself, absent from lists, events and exports.

use std::collections::BTreeSet;

use fieldsync_core::DocId;
use fieldsync_core::model::{
    CaseCategory, Location, MemberKind, NewCase, NewPatrol, NewRecord, NewReport, Party,
    ReportCategory, TeamMember,
};
use fieldsync_core::policy::{PatrolKind, Role};
use serde_json::json;

use super::events::Events;
use super::*;
use crate::common::{Backend, GRID, Phone, acked, on_both, start_on};

const OTHER: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";

/// The three records of one scope.
struct Three {
    report: String,
    patrol: String,
    case: String,
}

async fn three_in(ts: &TestServer, phone: &Phone, scope: &str) -> Three {
    let report = NewRecord::Report {
        report: NewReport {
            scope: scope.into(),
            category: ReportCategory::IllegalConstruction,
            title: format!("report in {scope}"),
            description: String::new(),
            location: Some(Location { lat: 43.8, lon: 125.3, accuracy: 5.0, address: "x".into() }),
            photos: vec![],
        },
    };
    let patrol = NewRecord::PatrolLog {
        patrol_log: NewPatrol {
            scope: scope.into(),
            area: format!("area of {scope}"),
            members: vec![TeamMember {
                user: "cop-9".into(),
                name: "Li".into(),
                kind: MemberKind::Police,
            }],
            checkpoints: vec![],
        },
    };
    let case = NewRecord::MediationCase {
        mediation_case: NewCase {
            scope: scope.into(),
            category: CaseCategory::Neighbour,
            place: "hall".into(),
            parties: vec![Party {
                name: "王芳".into(),
                role: "neighbour".into(),
                contact: "13800000000".into(),
            }],
            mediators: vec!["med-9".into()],
        },
    };
    let mut ids: Vec<DocId> = Vec::new();
    for new in [report, patrol, case] {
        let id = phone.store.create(&new).unwrap();
        acked(ts, phone, id).await;
        ids.push(id);
    }
    Three { report: ids[0].to_string(), patrol: ids[1].to_string(), case: ids[2].to_string() }
}

fn docs(page: &Value) -> BTreeSet<String> {
    page["items"].as_array().unwrap().iter().map(|r| r["doc"].as_str().unwrap().into()).collect()
}

fn set(items: &[&String]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn each_desk_role_sees_and_does_what_its_scope_and_role_allow(backend: Backend) {
    let ts = start_on(backend).await;
    // The tests' default device: a dispatcher of the whole jurisdiction, who may create all.
    let maker = Phone::new("maker-1");
    let mine = three_in(&ts, &maker, GRID).await;
    let theirs = three_in(&ts, &maker, OTHER).await;
    ts.running
        .server()
        .accounts()
        .add_user("cop-1", Role::Patrol, Some(PatrolKind::Police), &[GRID.to_string()])
        .unwrap();

    let roles = [
        ("disp-1", Role::Dispatcher, true),
        ("lead-1", Role::GridLeader, false),
        ("adm-1", Role::Admin, false),
        ("sup-1", Role::Supervisor, true),
    ];
    let mut desks = Vec::new();
    for (user, role, _) in roles {
        desks.push(desk(&ts, user, role).await);
    }
    // The last change, which every stream below reads up to.
    let (status, v) =
        act(&ts, &desks[0], &mine.report, json!({"action": "comment", "text": "看到了"})).await;
    assert_eq!(status, 200, "{v}");

    for ((user, _, reads_cases), s) in roles.iter().zip(&desks) {
        let mut readable = vec![&mine.report, &mine.patrol];
        if *reads_cases {
            readable.push(&mine.case);
        }
        let (_, reports) = get(&ts, s, "/api/v1/reports").await;
        assert_eq!(docs(&reports), set(&[&mine.report]), "{user}: {reports}");
        let (_, patrols) = get(&ts, s, "/api/v1/patrols").await;
        assert_eq!(docs(&patrols), set(&[&mine.patrol]), "{user}: {patrols}");
        let (status, cases) = get(&ts, s, "/api/v1/cases").await;
        assert_eq!(status, 200, "{user}: {cases}");
        let want: Vec<&String> = if *reads_cases { vec![&mine.case] } else { vec![] };
        assert_eq!(docs(&cases), set(&want), "{user}: {cases}");
        // Even asking for the other grid by name gives nothing.
        let (_, asked) = get(&ts, s, &format!("/api/v1/reports?scope={OTHER}")).await;
        assert_eq!(docs(&asked), set(&[]), "{user}: {asked}");

        for doc in
            [&mine.report, &mine.patrol, &mine.case, &theirs.report, &theirs.patrol, &theirs.case]
        {
            let (status, body) = get(&ts, s, &format!("/api/v1/records/{doc}")).await;
            if readable.contains(&doc) {
                assert_eq!(status, 200, "{user} {doc}: {body}");
                assert_eq!(body["row"]["doc"], doc.as_str());
            } else {
                assert_eq!((status, err_code(&body)), (404, "not_found"), "{user} {doc}: {body}");
            }
        }

        let mut live = Events::open(&ts, s, "?after=0", None).await;
        let seen = live.all_until(&mine.report, |r| r["comments"] == 1).await;
        let seen: BTreeSet<String> =
            seen.iter().map(|e| e.data["doc"].as_str().unwrap().to_string()).collect();
        assert_eq!(seen, set(&readable), "{user}: events");

        let (status, kind, csv) = get_text(&ts, s, "/api/v1/export/reports.csv").await;
        assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"), "{user}: {csv}");
        assert_eq!(csv.lines().count(), 2, "{user}: {csv}");
        assert!(csv.contains(&mine.report) && !csv.contains(&theirs.report), "{user}: {csv}");
        let (status, kind, geo) = get_text(&ts, s, "/api/v1/export/reports.geojson").await;
        assert_eq!((status, kind.as_str()), (200, "application/geo+json"), "{user}");
        let geo: Value = serde_json::from_str(&geo).unwrap();
        let ids: Vec<&str> = geo["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [mine.report.as_str()], "{user}: {geo}");

        let (status, stats) = get(&ts, s, "/api/v1/stats/reports?group=scope").await;
        assert_eq!(status, 200, "{user}: {stats}");
        assert_eq!(stats, json!([stats[0].clone()]), "{user}: one group");
        assert_eq!((&stats[0]["key"], &stats[0]["received"]), (&json!(GRID), &json!(1)), "{user}");
        let (status, patrols) = get(&ts, s, "/api/v1/stats/patrols").await;
        assert_eq!(status, 200, "{user}: {patrols}");
        assert_eq!(patrols.as_array().unwrap().len(), 1, "{user}: {patrols}");
        assert_eq!(patrols[0]["area"], format!("area of {GRID}"), "{user}");
        let (status, cases) = get(&ts, s, "/api/v1/stats/cases?group=scope").await;
        if *reads_cases {
            assert_eq!(status, 200, "{user}: {cases}");
            assert_eq!(cases.as_array().unwrap().len(), 1, "{user}: {cases}");
            assert_eq!((&cases[0]["key"], &cases[0]["opened"]), (&json!(GRID), &json!(1)));
        } else {
            assert_eq!((status, err_code(&cases)), (403, "forbidden"), "{user}: {cases}");
        }

        // Nothing out of scope may be acted on, and it is not told apart from nothing.
        for doc in [&theirs.report, &theirs.case] {
            let (status, e) = act(&ts, s, doc, json!({"action": "supervise", "note": "快"})).await;
            assert_eq!((status, err_code(&e)), (404, "not_found"), "{user} {doc}: {e}");
        }
    }
    let [disp, lead, adm, sup] = &desks[..] else { unreachable!() };

    // The supervisor: supervision only.
    let end = log_end(&ts).await;
    for action in [
        json!({"action": "accept"}),
        json!({"action": "comment", "text": "x"}),
        json!({"action": "reject", "reason": "x"}),
        json!({"action": "dispatch", "assignee": "cop-1", "deadline": 1_900_000_000_000i64}),
    ] {
        let (status, e) = act(&ts, sup, &mine.report, action.clone()).await;
        assert_eq!((status, err_code(&e)), (403, "forbidden"), "{action}: {e}");
    }
    let (status, e) = act(&ts, sup, &mine.case, json!({"action": "close_case"})).await;
    assert_eq!((status, err_code(&e)), (403, "forbidden"), "{e}");
    assert_eq!(log_end(&ts).await, end, "nothing refused was stored");
    let (status, v) =
        act(&ts, sup, &mine.report, json!({"action": "supervise", "note": "抓紧"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["row"]["supervisions"], 1);

    // Grid leaders and admins may not touch cases, which they cannot read.
    for s in [lead, adm] {
        let (status, e) = act(&ts, s, &mine.case, json!({"action": "close_case"})).await;
        assert_eq!((status, err_code(&e)), (404, "not_found"), "{e}");
    }
    // The grid leader and the dispatcher supervise too; the admin does not.
    let (status, v) =
        act(&ts, lead, &mine.report, json!({"action": "supervise", "note": "1"})).await;
    assert_eq!((status, &v["row"]["supervisions"]), (200, &json!(2)), "{v}");
    let (status, e) =
        act(&ts, adm, &mine.report, json!({"action": "supervise", "note": "1"})).await;
    assert_eq!((status, err_code(&e)), (403, "forbidden"), "{e}");
    let (status, v) = act(&ts, disp, &mine.report, json!({"action": "accept"})).await;
    assert_eq!((status, &v["row"]["status"]), (200, &json!("accepted")), "{v}");

    // Responders: for those who dispatch, in their scope.
    let (status, people) = get(&ts, disp, "/api/v1/responders").await;
    assert_eq!(status, 200, "{people}");
    let users: Vec<&str> =
        people.as_array().unwrap().iter().map(|p| p["user"].as_str().unwrap()).collect();
    assert!(users.contains(&"cop-1") && users.contains(&"lead-1"), "{users:?}");
    let (status, e) = get(&ts, disp, &format!("/api/v1/responders?scope={OTHER}")).await;
    assert_eq!((status, err_code(&e)), (403, "forbidden"), "{e}");
    for s in [adm, sup] {
        let (status, e) = get(&ts, s, "/api/v1/responders").await;
        assert_eq!((status, err_code(&e)), (403, "forbidden"), "{e}");
    }
}
on_both!(each_desk_role_sees_and_does_what_its_scope_and_role_allow);
