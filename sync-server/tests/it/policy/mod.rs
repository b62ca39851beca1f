//! The access policy enforced by the real server on loopback, for devices enrolled with real
//! roles and scopes: each push either lands or is rejected `forbidden`, naming the rule, with
//! nothing of it stored; and who reads a photo. The phones here are not enrolled locally, so
//! they do not refuse anything themselves: what is tested is the server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use fieldsync_core::DocId;
use fieldsync_core::model::*;
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::protocol::PushOutcome;

mod matrix;
mod operator;
mod photos;
mod refusals;
mod rights;
mod workflow;

const OTHER_GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";

/// Asserts a rejection naming `rule`, and that the server's copy and log did not move.
pub(crate) async fn refused(server: &TestServer, phone: &Phone, id: DocId, rule: &str) {
    let storage = server.running.server().storage();
    let log_before = storage.log_end().await.unwrap();
    let before = storage.load(vec![id]).await.unwrap();
    let outcome = push(server, phone, id).await;
    match &outcome {
        PushOutcome::Rejected { code, message } => {
            assert_eq!(code, "forbidden", "{message}");
            assert!(message.contains(rule), "rule {rule:?} not named in {message:?}");
        }
        other => panic!("expected a rejection ({rule}), got {other:?}"),
    }
    assert_eq!(storage.log_end().await.unwrap(), log_before, "nothing logged");
    let after = storage.load(vec![id]).await.unwrap();
    assert_eq!(
        after[0].as_ref().map(|d| d.bytes.clone()),
        before[0].as_ref().map(|d| d.bytes.clone()),
        "nothing stored"
    );
}

/// Pushes `phone`'s changes to `id`: acknowledged when `allowed`, else rejected `forbidden`
/// with the server's copy unchanged.
async fn expect_push(server: &TestServer, phone: &Phone, id: DocId, allowed: bool, what: &str) {
    if allowed {
        let outcome = push(server, phone, id).await;
        assert!(matches!(outcome, PushOutcome::Acked { .. }), "{what}: {outcome:?}");
        return;
    }
    let storage = server.running.server().storage();
    let before = storage.load(vec![id]).await.unwrap()[0].clone();
    let outcome = push(server, phone, id).await;
    assert!(
        matches!(&outcome, PushOutcome::Rejected { code, .. } if code == "forbidden"),
        "{what}: {outcome:?}"
    );
    assert_eq!(storage.load(vec![id]).await.unwrap()[0], before, "nothing stored: {what}");
}

fn report_in(scope: &str) -> NewRecord {
    match new_report("楼顶违建") {
        NewRecord::Report { report: mut r } => {
            r.scope = scope.into();
            NewRecord::Report { report: r }
        }
        other => other,
    }
}

/// Every document `phone` pulls from an empty cursor to the end: the catch-up, then the log
/// after `from` (a log cursor, to read the feed and its sealed segments).
pub(crate) async fn pulled(
    server: &TestServer,
    phone: &Phone,
    from: &str,
) -> std::collections::BTreeSet<DocId> {
    let mut cursor = from.to_string();
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let mut req = phone.request(Some(server.epoch()), &cursor, vec![]);
        req.page_bytes = 16 * 1024;
        let resp = server.sync(&req).await.unwrap();
        seen.extend(resp.docs.iter().map(|d| d.doc));
        cursor = resp.cursor;
        if !resp.more {
            return seen;
        }
    }
}

/// The business of the registry each test scope holds (see [`with_businesses`]).
fn business_in(scope: &str) -> String {
    format!("biz-{}", scope.rsplit('/').next().unwrap_or(scope))
}

/// Registers a business in the test grid and in the one beside it, for visits to name.
async fn with_businesses(server: &TestServer) {
    let storage = server.running.server().storage();
    for scope in [GRID, OTHER_GRID] {
        let business = fieldsync_server::storage::Business {
            id: business_in(scope),
            scope: scope.into(),
            name: "湖景民宿".into(),
            kind: "guesthouse".into(),
            address: String::new(),
            location: None,
            contact: String::new(),
            operator: None,
            created_by: "hq-1".into(),
            created_at: 0,
            updated_at: 0,
            closed_at: None,
        };
        assert!(storage.add_business(business).await.unwrap());
    }
}

/// A new record of `kind` in `scope` (a visit: to the business of `scope`), written by `user`.
fn record_of(kind: Kind, scope: &str, user: &str) -> NewRecord {
    match kind {
        Kind::Visit => NewRecord::Visit {
            visit: NewVisit {
                business: business_in(scope),
                scope: business_scope(scope, &business_in(scope)),
                visitors: vec![user.into()],
                checklist: vec!["fire_safety".into(), "hazards".into()],
                results: vec![],
            },
        },
        Kind::Report => report_in(scope),
        Kind::PatrolLog => NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: scope.into(),
                area: "north loop".into(),
                members: vec![TeamMember {
                    user: user.into(),
                    name: user.into(),
                    kind: MemberKind::Police,
                }],
                checkpoints: vec![],
            },
        },
        Kind::MediationCase => NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: scope.into(),
                category: CaseCategory::Neighbour,
                place: "7号楼下".into(),
                parties: vec![Party {
                    name: "马".into(),
                    role: "owner".into(),
                    contact: String::new(),
                }],
                mediators: vec![user.into()],
            },
        },
        Kind::Bulletin => NewRecord::Bulletin {
            bulletin: NewBulletin {
                scope: scope.into(),
                severity: Severity::Yellow,
                audience: vec![Addressee::Patrols, Addressee::Residents],
                title: "大风预警".into(),
                text: "明日大风，停止高空作业".into(),
                valid_until: fieldsync_core::time::Timestamp::from_millis(
                    fieldsync_core::time::now_ms() + 86_400_000,
                ),
                location: None,
                photos: vec![],
            },
        },
        Kind::Deliberation => NewRecord::Deliberation {
            deliberation: NewDeliberation {
                scope: scope.into(),
                topic: "小区停车位划线".into(),
                background: "晚上车位不够".into(),
                options: vec!["划线".into(), "不划线".into()],
            },
        },
    }
}

/// Who writes the records of the matrices: the command centre (`hq-1`, a dispatcher of the
/// whole jurisdiction), and for deliberations, which residents and grid leaders raise, a grid
/// leader of the whole jurisdiction (`gl-hq`), who also takes every step of theirs.
struct Authors {
    hq: Phone,
    leader: Phone,
}

impl Authors {
    fn enrolled(s: &fieldsync_server::Server) -> Authors {
        let hq = Phone::new("hq-1");
        enroll_as(s, &hq, Role::Dispatcher, None, &["jl"]);
        let leader = Phone::new("gl-hq");
        enroll_as(s, &leader, Role::GridLeader, None, &["jl"]);
        Authors { hq, leader }
    }

    /// The author of records of `kind`, and their user id.
    fn of(&self, kind: Kind) -> (&Phone, &'static str) {
        match kind {
            Kind::Deliberation => (&self.leader, "gl-hq"),
            _ => (&self.hq, "hq-1"),
        }
    }
}

const ROLES: [(Role, &str); 6] = [
    (Role::Resident, "resident"),
    (Role::GridLeader, "grid_leader"),
    (Role::Patrol, "patrol"),
    (Role::Mediator, "mediator"),
    (Role::Dispatcher, "dispatcher"),
    (Role::Admin, "admin"),
];
const KINDS: [Kind; 6] = [
    Kind::Report,
    Kind::PatrolLog,
    Kind::MediationCase,
    Kind::Bulletin,
    Kind::Visit,
    Kind::Deliberation,
];

fn schedule() -> Command {
    Command::ScheduleMeeting {
        at: fieldsync_core::time::Timestamp::from_millis(
            fieldsync_core::time::now_ms() + 86_400_000,
        ),
        place: "社区活动室".into(),
    }
}

/// Recording the first meeting; the meeting is filled in per record ([`with_meeting`]).
fn record_meeting() -> Command {
    Command::RecordMeeting { meeting: String::new(), attendees: vec!["someone-else".into()] }
}

/// An edit of the first meeting's minutes; the meeting is filled in per record.
fn edit_minutes() -> Command {
    Command::EditMinutes {
        meeting: String::new(), pos: 0, delete: 0, insert: "【纪要】".into()
    }
}

fn decide() -> Command {
    Command::RecordDecision {
        text: "划线".into(),
        method: DecisionMethod::Consensus,
        votes: vec![],
    }
}

/// `command` naming the first meeting of `record` when it names a meeting.
fn with_meeting(command: &Command, record: &Record) -> Command {
    let Record::Deliberation { deliberation: d } = record else { return command.clone() };
    let first = || d.meetings.first().map(|m| m.id.clone()).unwrap_or_default();
    match command {
        Command::RecordMeeting { attendees, .. } => {
            Command::RecordMeeting { meeting: first(), attendees: attendees.clone() }
        }
        Command::EditMinutes { pos, delete, insert, .. } => Command::EditMinutes {
            meeting: first(),
            pos: *pos,
            delete: *delete,
            insert: insert.clone(),
        },
        other => other.clone(),
    }
}

fn entry() -> Command {
    Command::AddPatrolEntry {
        entry: NewEntry {
            kind: EntryKind::Observation,
            text: "护栏松动".into(),
            location: None,
            photos: vec![],
            checkpoint: None,
        },
    }
}

/// A photo on the first entry of a patrol log; the entry is filled in per record.
fn entry_photo() -> Command {
    match photo() {
        Command::AddPhoto { photo, .. } => Command::AddPhoto { photo, entry: Some(String::new()) },
        other => other,
    }
}

fn photo() -> Command {
    Command::AddPhoto {
        photo: PhotoRef { hash: "ab".repeat(32), size: 52_000, media_type: "image/jpeg".into() },
        entry: None,
    }
}

/// An edit of the first session's notes; the session is filled in per record.
fn edit_notes() -> Command {
    Command::EditNotes { session: String::new(), pos: 0, delete: 0, insert: "【补记】".into() }
}
