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

async fn the_server_refuses_what_a_role_may_not_do_and_stores_nothing_of_it(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let resident = Phone::new("resident-1");
    let neighbour = Phone::new("resident-2");
    let dispatcher = Phone::new("dispatcher-1");
    let officer = Phone::new("officer-qian");
    let mediator = Phone::new("mediator-1");
    enroll_as(s, &resident, Role::Resident, None, &[GRID]);
    enroll_as(s, &neighbour, Role::Resident, None, &[GRID]);
    enroll_as(s, &dispatcher, Role::Dispatcher, None, &["jl"]);
    enroll_as(s, &officer, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
    enroll_as(s, &mediator, Role::Mediator, None, &[GRID]);

    // A resident reports in their grid, not outside it.
    let id = resident.store.create(&report_in(GRID)).unwrap();
    acked(&server, &resident, id).await;
    let outside = resident.store.create(&report_in(OTHER_GRID)).unwrap();
    refused(&server, &resident, outside, "create.scope").await;

    // A resident may not accept their own report; the command centre may, and dispatches it.
    resident.accept(id, "我自己受理");
    refused(&server, &resident, id, "report").await;
    let resident = {
        // The refused change stays on that phone; a fresh copy of the resident's phone goes on.
        let again = Phone::new("resident-1");
        enroll_as(s, &again, Role::Resident, None, &[GRID]);
        fetch(&server, &again, id).await;
        again
    };
    fetch(&server, &dispatcher, id).await;
    dispatcher.accept(id, "受理");
    let deadline = fieldsync_core::time::now_ms() + 86_400_000;
    let dispatch = Command::DispatchReport {
        assignee: "officer-qian".into(),
        deadline: deadline.into(),
        note: String::new(),
    };
    dispatcher.store.execute(id, &dispatch).unwrap();
    acked(&server, &dispatcher, id).await;

    // The assignee works it and resolves it; the resident confirms; only the command centre
    // awards points.
    fetch(&server, &officer, id).await;
    officer.store.execute(id, &Command::StartWork { note: "到场".into() }).unwrap();
    acked(&server, &officer, id).await;
    // The resident may not resolve their own report either.
    let impatient = Phone::new("resident-1");
    enroll_as(s, &impatient, Role::Resident, None, &[GRID]);
    fetch(&server, &impatient, id).await;
    impatient.store.execute(id, &Command::ResolveReport { note: "我自己拆了".into() }).unwrap();
    refused(&server, &impatient, id, "report.status").await;
    officer.store.execute(id, &Command::ResolveReport { note: "已拆除".into() }).unwrap();
    acked(&server, &officer, id).await;
    fetch(&server, &resident, id).await;
    resident.store.execute(id, &Command::ConfirmReport { note: "谢谢".into() }).unwrap();
    acked(&server, &resident, id).await;
    resident.store.execute(id, &Command::AwardPoints { points: 50, note: String::new() }).unwrap();
    refused(&server, &resident, id, "report.points").await;

    // Another resident cannot even comment: they may not see the report.
    fetch(&server, &neighbour, id).await;
    neighbour.comment(id, "我也看到了");
    refused(&server, &neighbour, id, "read").await;

    // Mediation cases are for mediators: a patrol member may not open one.
    let case = NewRecord::MediationCase {
        mediation_case: NewCase {
            scope: GRID.into(),
            category: CaseCategory::Neighbour,
            place: "7号楼下".into(),
            parties: vec![Party {
                name: "马".into(),
                role: "owner".into(),
                contact: String::new(),
            }],
            mediators: vec!["mediator-1".into()],
        },
    };
    let by_officer = officer.store.create(&case).unwrap();
    refused(&server, &officer, by_officer, "create").await;
    let by_mediator = mediator.store.create(&case).unwrap();
    acked(&server, &mediator, by_mediator).await;
}
on_both!(the_server_refuses_what_a_role_may_not_do_and_stores_nothing_of_it);

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

async fn reads_are_filtered_and_an_unreadable_document_looks_missing(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let resident = Phone::new("resident-1");
    let neighbour = Phone::new("resident-2");
    let dispatcher = Phone::new("dispatcher-1");
    let officer = Phone::new("officer-qian");
    let mediator = Phone::new("mediator-1");
    enroll_as(s, &resident, Role::Resident, None, &[GRID]);
    enroll_as(s, &neighbour, Role::Resident, None, &[GRID]);
    enroll_as(s, &dispatcher, Role::Dispatcher, None, &["jl"]);
    enroll_as(s, &officer, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
    enroll_as(s, &mediator, Role::Mediator, None, &[GRID]);

    // 70 reports (more than a sealed feed segment) and a mediation case.
    let mut reports = std::collections::BTreeSet::new();
    for i in 0..70 {
        let id = resident.store.create(&report_in(GRID)).unwrap();
        resident.comment(id, &format!("#{i}"));
        acked(&server, &resident, id).await;
        reports.insert(id);
    }
    let case = mediator
        .store
        .create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: GRID.into(),
                category: CaseCategory::Neighbour,
                place: "7号楼下".into(),
                parties: vec![Party {
                    name: "马".into(),
                    role: "owner".into(),
                    contact: "139".into(),
                }],
                mediators: vec!["mediator-1".into()],
            },
        })
        .unwrap();
    acked(&server, &mediator, case).await;
    let own = resident.store.create(&report_in(GRID)).unwrap();
    acked(&server, &resident, own).await;
    // A second mediator of the grid (the first one's own changes are not echoed to it).
    let colleague = Phone::new("mediator-2");
    enroll_as(s, &colleague, Role::Mediator, None, &[GRID]);

    let everything: std::collections::BTreeSet<DocId> =
        reports.iter().copied().chain([case, own]).collect();
    let cases = std::collections::BTreeSet::from([case]);
    let without_case: std::collections::BTreeSet<DocId> =
        everything.difference(&cases).copied().collect();
    // Catch-up (cursor "") and feed (cursor "l0"): the same filter.
    for from in ["", "l0"] {
        assert_eq!(pulled(&server, &dispatcher, from).await, everything, "dispatcher, {from:?}");
        assert_eq!(pulled(&server, &officer, from).await, without_case, "patrol, {from:?}");
        assert_eq!(pulled(&server, &colleague, from).await, cases, "mediator, {from:?}");
        assert!(pulled(&server, &neighbour, from).await.is_empty(), "another resident, {from:?}");
    }

    // Asking for a document it may not read whole: the same answer as for a made-up id.
    let ask = |want: DocId| {
        let mut req = neighbour.request(Some(server.epoch()), "l0", vec![]);
        req.want = vec![want];
        req
    };
    let real = server.sync(&ask(case)).await.unwrap();
    let made_up = server.sync(&ask(DocId::random())).await.unwrap();
    assert!(real.docs.is_empty() && made_up.docs.is_empty());
    assert_eq!((real.more, real.remaining), (made_up.more, made_up.remaining));
}
on_both!(reads_are_filtered_and_an_unreadable_document_looks_missing);

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

/// The access matrix for creating and reading, as the issue states it, written out by hand
/// (not computed by the policy under test): every role × kind × inside / outside the user's
/// grid, each cell checked against the real server.
async fn create_and_read_matrix(backend: Backend) {
    // Who may create each kind inside their scope (outside it: nobody).
    let may_create = |role: Role, kind: Kind| match kind {
        Kind::Report => !matches!(role, Role::Mediator),
        Kind::PatrolLog => matches!(role, Role::Patrol | Role::Dispatcher),
        Kind::MediationCase => matches!(role, Role::Mediator | Role::Dispatcher),
        // Police (the patrol members here are police), grid leaders and dispatchers.
        Kind::Bulletin => matches!(role, Role::Patrol | Role::GridLeader | Role::Dispatcher),
        // Those who keep the business registry: police, grid leaders, dispatchers, admins.
        Kind::Visit => {
            matches!(role, Role::Patrol | Role::GridLeader | Role::Dispatcher | Role::Admin)
        }
        // A topic is raised by a resident or a grid leader.
        Kind::Deliberation => matches!(role, Role::Resident | Role::GridLeader),
    };
    // Who may read a record of each kind made by someone else who does not name them, inside
    // their scope (outside it: nobody).
    let may_read = |role: Role, kind: Kind| match kind {
        Kind::Report | Kind::PatrolLog => {
            matches!(role, Role::GridLeader | Role::Patrol | Role::Dispatcher | Role::Admin)
        }
        Kind::MediationCase => matches!(role, Role::Mediator | Role::Dispatcher),
        // The staff of the scope, and the patrols and residents it is addressed to.
        Kind::Bulletin => !matches!(role, Role::Mediator),
        // The registry's readers: its keepers and every patrol member (not residents or
        // mediators; a business's operator: see the visits tests).
        Kind::Visit => {
            matches!(role, Role::GridLeader | Role::Patrol | Role::Dispatcher | Role::Admin)
        }
        // The residents and grid leaders of the grid, its dispatchers and admins.
        Kind::Deliberation => !matches!(role, Role::Patrol | Role::Mediator),
    };

    let server = start_on(backend).await;
    with_businesses(&server).await;
    let s = server.running.server();
    let authors = Authors::enrolled(s);
    let mut made = Vec::new();
    for kind in KINDS {
        for scope in [GRID, OTHER_GRID] {
            let (author, user) = authors.of(kind);
            let id = author.store.create(&record_of(kind, scope, user)).unwrap();
            acked(&server, author, id).await;
            made.push((id, kind, scope == GRID));
        }
    }

    let mut cells = 0;
    for (role, name) in ROLES {
        let phone = Phone::new(&format!("{name}-1"));
        let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
        enroll_as(s, &phone, role, patrol, &[GRID]);
        for kind in KINDS {
            for (scope, inside) in [(GRID, true), (OTHER_GRID, false)] {
                let id = phone.store.create(&record_of(kind, scope, &format!("{name}-1"))).unwrap();
                let outcome = push(&server, &phone, id).await;
                let landed = matches!(outcome, PushOutcome::Acked { .. });
                assert_eq!(
                    landed,
                    inside && may_create(role, kind),
                    "{name} creates {kind} inside={inside}: {outcome:?}"
                );
                if !landed {
                    assert!(
                        matches!(&outcome, PushOutcome::Rejected { code, .. } if code == "forbidden"),
                        "{outcome:?}"
                    );
                    let stored = s.storage().load(vec![id]).await.unwrap();
                    assert!(stored[0].is_none(), "nothing of a refused creation is stored");
                }
                cells += 1;
            }
        }
        let visible = pulled(&server, &phone, "").await;
        for (id, kind, inside) in &made {
            assert_eq!(
                visible.contains(id),
                *inside && may_read(role, *kind),
                "{name} reads {kind} inside={inside}"
            );
            cells += 1;
        }
    }
    assert_eq!(cells, 144);
}
on_both!(create_and_read_matrix);

/// Changes to records made by someone else, as the issue states who may make them, written out
/// by hand: every role × a command of each kind (an append and a workflow step) × inside /
/// outside the user's grid. Each cell works on a fresh record the device got hold of directly
/// (not through the feed), so what is tested is the server's check of the change.
async fn change_matrix(backend: Backend) {
    let readers_of_reports_and_patrols = |role: Role| {
        matches!(role, Role::GridLeader | Role::Patrol | Role::Dispatcher | Role::Admin)
    };
    let may = |role: Role, command: &str| match command {
        // Anyone who may read a report comments on it; the command centre accepts it.
        "comment_report" => readers_of_reports_and_patrols(role),
        "accept_report" => matches!(role, Role::GridLeader | Role::Dispatcher),
        // Patrol members and dispatchers of the area write to its patrol logs.
        "add_patrol_entry" | "finish_patrol" => matches!(role, Role::Patrol | Role::Dispatcher),
        // Mediators and dispatchers of the scope hold sessions.
        "add_session" => matches!(role, Role::Mediator | Role::Dispatcher),
        // Those a bulletin is addressed to (here patrols and residents) acknowledge it.
        "acknowledge_bulletin" => matches!(role, Role::Patrol | Role::Resident),
        // The registry's keepers record a visit's checklist (the patrol members are police).
        "record_check" => {
            matches!(role, Role::Patrol | Role::GridLeader | Role::Dispatcher | Role::Admin)
        }
        // The residents, grid leaders and dispatchers who read a deliberation discuss it (an
        // admin reads it only).
        "comment_deliberation" => {
            matches!(role, Role::Resident | Role::GridLeader | Role::Dispatcher)
        }
        other => panic!("no expectation for {other}"),
    };
    let commands: [(Kind, Command); 8] = [
        (Kind::Report, Command::CommentReport { text: "看到了".into() }),
        (Kind::Report, Command::AcceptReport { note: String::new() }),
        (
            Kind::PatrolLog,
            Command::AddPatrolEntry {
                entry: NewEntry {
                    kind: EntryKind::Observation,
                    text: "桥下有积水".into(),
                    location: None,
                    photos: vec![],
                    checkpoint: None,
                },
            },
        ),
        (Kind::PatrolLog, Command::FinishPatrol { note: String::new() }),
        (
            Kind::MediationCase,
            Command::AddSession { attendees: vec!["马".into()], notes: "第一次调解".into() },
        ),
        (Kind::Bulletin, Command::AcknowledgeBulletin),
        (
            Kind::Visit,
            Command::RecordCheck {
                item: "hazards".into(),
                result: CheckOutcome::Fail,
                note: "护栏松动".into(),
            },
        ),
        (Kind::Deliberation, Command::CommentDeliberation { text: "支持划线".into() }),
    ];

    let server = start_on(backend).await;
    with_businesses(&server).await;
    let s = server.running.server();
    let authors = Authors::enrolled(s);
    let mut cells = 0;
    for (role, name) in ROLES {
        let phone = Phone::new(&format!("{name}-1"));
        let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
        enroll_as(s, &phone, role, patrol, &[GRID]);
        for (kind, command) in &commands {
            for (scope, inside) in [(GRID, true), (OTHER_GRID, false)] {
                let (author, user) = authors.of(*kind);
                let id = author.store.create(&record_of(*kind, scope, user)).unwrap();
                acked(&server, author, id).await;
                fetch(&server, &phone, id).await;
                phone.store.execute(id, command).unwrap();
                let what = format!("{name} {} on {kind} inside={inside}", command.name());
                expect_push(&server, &phone, id, inside && may(role, command.name()), &what).await;
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 96);
}
on_both!(change_matrix);

/// The workflow commands, each from the state it applies to (reached by the command centre,
/// which may take every step), for every role × inside / outside the grid. The tested user is
/// neither the record's creator nor its assignee: what they may do comes from their role alone.
async fn workflow_matrix(backend: Backend) {
    use Role::*;
    let text = || String::new();
    let accept = Command::AcceptReport { note: text() };
    let dispatch = Command::DispatchReport {
        assignee: "someone-else".into(),
        deadline: fieldsync_core::time::Timestamp::from_millis(
            fieldsync_core::time::now_ms() + 86_400_000,
        ),
        note: text(),
    };
    let start_work = Command::StartWork { note: text() };
    let resolve = Command::ResolveReport { note: text() };
    let confirm = Command::ConfirmReport { note: text() };
    let reject = Command::RejectReport { reason: "重复".into() };
    let session = Command::AddSession { attendees: vec!["马".into()], notes: "第一次".into() };
    let agree = Command::RecordAgreement { text: "退一半".into() };
    let centre: &[Role] = &[GridLeader, Dispatcher];
    let dispatcher: &[Role] = &[Dispatcher];
    let case_writers: &[Role] = &[Mediator, Dispatcher];
    // (kind, steps the command centre takes first, the command, who may run it in their grid)
    let table: Vec<(Kind, Vec<Command>, Command, &[Role])> = vec![
        (Kind::Report, vec![], reject.clone(), centre),
        (Kind::Report, vec![accept.clone()], dispatch.clone(), centre),
        (Kind::Report, vec![accept.clone(), dispatch.clone()], start_work.clone(), dispatcher),
        (
            Kind::Report,
            vec![accept.clone(), dispatch.clone(), start_work.clone()],
            resolve.clone(),
            dispatcher,
        ),
        (
            Kind::Report,
            vec![accept.clone(), dispatch.clone(), start_work.clone(), resolve.clone()],
            confirm.clone(),
            dispatcher,
        ),
        (Kind::Report, vec![reject], Command::ReopenReport { reason: "补充".into() }, centre),
        (
            Kind::Report,
            vec![
                accept.clone(),
                dispatch.clone(),
                start_work.clone(),
                resolve.clone(),
                confirm.clone(),
            ],
            Command::ReopenReport { reason: "回访发现未整改".into() },
            centre,
        ),
        (
            Kind::Report,
            vec![accept, dispatch, start_work, resolve, confirm],
            Command::AwardPoints { points: 20, note: text() },
            dispatcher,
        ),
        (Kind::MediationCase, vec![session.clone()], agree.clone(), case_writers),
        (
            Kind::MediationCase,
            vec![session.clone()],
            Command::RecordFailure { reason: "不同意".into() },
            case_writers,
        ),
        (
            Kind::MediationCase,
            vec![session.clone()],
            Command::EscalateCase { to: "人民法院".into(), reason: "不同意".into() },
            case_writers,
        ),
        (
            Kind::MediationCase,
            vec![session.clone(), agree.clone()],
            Command::CloseCase { note: text() },
            case_writers,
        ),
        (
            Kind::MediationCase,
            vec![session.clone(), agree],
            Command::AddFollowUp { note: "已履行".into() },
            case_writers,
        ),
        (Kind::Report, vec![], photo(), centre),
        (Kind::MediationCase, vec![session.clone()], photo(), case_writers),
        // Editing a session's notes: the command names the session, found after the steps.
        (Kind::MediationCase, vec![session], edit_notes(), case_writers),
        // A photo on a patrol entry: the command names the entry, found after the steps.
        (Kind::PatrolLog, vec![entry()], entry_photo(), &[Patrol, Dispatcher]),
        // A bulletin: its issuer (not the tested user) or a dispatcher of its scope withdraws
        // it or adds a photo; nobody else changes it.
        (Kind::Bulletin, vec![], Command::WithdrawBulletin { reason: "解除".into() }, dispatcher),
        (Kind::Bulletin, vec![], photo(), dispatcher),
        // A deliberation (raised by a grid leader of the whole jurisdiction, who takes the
        // steps before): the grid leaders and dispatchers of its scope schedule, record,
        // decide, implement and drop; the meeting's minutes are theirs too (the tested user
        // did not attend). A meeting is named after the steps.
        (Kind::Deliberation, vec![], schedule(), centre),
        (Kind::Deliberation, vec![schedule()], record_meeting(), centre),
        (Kind::Deliberation, vec![schedule(), record_meeting()], decide(), centre),
        (
            Kind::Deliberation,
            vec![schedule(), record_meeting(), decide()],
            Command::MarkImplemented { note: text() },
            centre,
        ),
        (Kind::Deliberation, vec![], Command::DropDeliberation { reason: "已解决".into() }, centre),
        (Kind::Deliberation, vec![schedule(), record_meeting()], edit_minutes(), centre),
    ];

    let server = start_on(backend).await;
    let s = server.running.server();
    let authors = Authors::enrolled(s);
    let mut cells = 0;
    for (role, name) in ROLES {
        let phone = Phone::new(&format!("{name}-1"));
        let patrol = (role == Patrol).then_some(PatrolKind::Police);
        enroll_as(s, &phone, role, patrol, &[GRID]);
        for (kind, steps, command, allowed) in &table {
            for (scope, inside) in [(GRID, true), (OTHER_GRID, false)] {
                let (author, user) = authors.of(*kind);
                let id = author.store.create(&record_of(*kind, scope, user)).unwrap();
                for step in steps {
                    let step = with_meeting(step, &author.store.get(id).unwrap());
                    author.store.execute(id, &step).unwrap();
                }
                acked(&server, author, id).await;
                fetch(&server, &phone, id).await;
                let command = match (command, phone.store.get(id).unwrap()) {
                    (
                        Command::EditNotes { pos, delete, insert, .. },
                        Record::MediationCase { mediation_case: c },
                    ) => Command::EditNotes {
                        session: c.sessions[0].id.clone(),
                        pos: *pos,
                        delete: *delete,
                        insert: insert.clone(),
                    },
                    (
                        Command::AddPhoto { photo, entry: Some(_) },
                        Record::PatrolLog { patrol_log: l },
                    ) => Command::AddPhoto {
                        photo: photo.clone(),
                        entry: Some(l.entries[0].id.clone()),
                    },
                    (other, record) => with_meeting(other, &record),
                };
                phone.store.execute(id, &command).unwrap();
                let what = format!("{name} {} on {kind} inside={inside}", command.name());
                expect_push(&server, &phone, id, inside && allowed.contains(&role), &what).await;
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 6 * 25 * 2);
}
on_both!(workflow_matrix);

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

/// Settling a conflict: two dispatchers dispatched the same report concurrently to different
/// people; choosing the other assignee is a dispatch, which only the command centre of the grid
/// may make. Every role × inside / outside the grid.
async fn settling_a_conflict_matrix(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let first = Phone::new("hq-1");
    let second = Phone::new("hq-2");
    enroll_as(s, &first, Role::Dispatcher, None, &["jl"]);
    enroll_as(s, &second, Role::Dispatcher, None, &["jl"]);
    let dispatch_to = |who: &str| Command::DispatchReport {
        assignee: who.into(),
        deadline: fieldsync_core::time::Timestamp::from_millis(
            fieldsync_core::time::now_ms() + 86_400_000,
        ),
        note: String::new(),
    };
    let mut cells = 0;
    for (role, name) in ROLES {
        let phone = Phone::new(&format!("{name}-1"));
        let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
        enroll_as(s, &phone, role, patrol, &[GRID]);
        for (scope, inside) in [(GRID, true), (OTHER_GRID, false)] {
            let id = first.store.create(&report_in(scope)).unwrap();
            first.accept(id, "受理");
            acked(&server, &first, id).await;
            fetch(&server, &second, id).await;
            first.store.execute(id, &dispatch_to("officer-a")).unwrap();
            second.store.execute(id, &dispatch_to("officer-b")).unwrap();
            acked(&server, &first, id).await;
            acked(&server, &second, id).await;

            fetch(&server, &phone, id).await;
            let Record::Report { report: r } = phone.store.get(id).unwrap() else {
                panic!("a report")
            };
            let c = r.conflicts.iter().find(|c| c.field == "assignee").expect("a conflict");
            let other = c.values.iter().find(|v| **v != c.winner).expect("two values").clone();
            phone
                .store
                .execute(id, &Command::SettleConflict { field: "assignee".into(), value: other })
                .unwrap();
            let outcome = push(&server, &phone, id).await;
            let may = inside && matches!(role, Role::GridLeader | Role::Dispatcher);
            let what = format!("{name} settles inside={inside}: {outcome:?}");
            if may {
                assert!(matches!(outcome, PushOutcome::Acked { .. }), "{what}");
            } else {
                assert!(
                    matches!(&outcome, PushOutcome::Rejected { code, .. } if code == "forbidden"),
                    "{what}"
                );
            }
            cells += 1;
        }
    }
    assert_eq!(cells, 12);
}
on_both!(settling_a_conflict_matrix);

/// The cursor a phone holds once it has read the whole feed: tagged with the rights it was
/// issued under.
async fn caught_up(server: &TestServer, phone: &Phone) -> String {
    let mut cursor = String::new();
    loop {
        let resp =
            server.sync(&phone.request(Some(server.epoch()), &cursor, vec![])).await.unwrap();
        cursor = resp.cursor;
        if !resp.more {
            return cursor;
        }
    }
}

/// Rights changed after the change was made: a change each role may make inside its grid, made
/// offline, then the user's scope moved to another grid before the device synced. Pushed with
/// the cursor of its old rights it is `stale_rights` (honest offline work, listed); the same
/// change once the device has heard of the new rights is `forbidden`. Nothing is stored either
/// way. Every role × every command it may make, written out by hand.
async fn rights_changed_after_the_change_was_made_matrix(backend: Backend) {
    let entry = NewEntry {
        kind: EntryKind::Observation,
        text: "桥下有积水".into(),
        location: None,
        photos: vec![],
        checkpoint: None,
    };
    let comment = (Kind::Report, Command::CommentReport { text: "看到了".into() });
    let accept = (Kind::Report, Command::AcceptReport { note: String::new() });
    let add_entry = (Kind::PatrolLog, Command::AddPatrolEntry { entry });
    let finish = (Kind::PatrolLog, Command::FinishPatrol { note: String::new() });
    let session = (
        Kind::MediationCase,
        Command::AddSession { attendees: vec!["马".into()], notes: "第一次调解".into() },
    );
    let discuss = (Kind::Deliberation, Command::CommentDeliberation { text: "赞成".into() });
    let meet = (Kind::Deliberation, schedule());
    // What each role may do to a record of its grid made by someone else (the change matrix).
    type Cells<'a> = Vec<(Role, &'a str, Vec<(Kind, Command)>)>;
    let cells: Cells<'_> = vec![
        (Role::Resident, "resident", vec![discuss]),
        (Role::GridLeader, "grid_leader", vec![comment.clone(), accept.clone(), meet]),
        (Role::Patrol, "patrol", vec![comment.clone(), add_entry.clone(), finish.clone()]),
        (Role::Mediator, "mediator", vec![session.clone()]),
        (Role::Dispatcher, "dispatcher", vec![comment.clone(), accept, add_entry, finish, session]),
        (Role::Admin, "admin", vec![comment]),
    ];
    let server = start_on(backend).await;
    let s = server.running.server();
    let authors = Authors::enrolled(s);
    let mut checked = 0;
    for (role, name, commands) in cells {
        for (i, (kind, command)) in commands.iter().enumerate() {
            let user = format!("{name}-moved-{i}");
            let phone = Phone::new(&user);
            let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
            enroll_as(s, &phone, role, patrol, &[GRID]);
            let (author, by) = authors.of(*kind);
            let id = author.store.create(&record_of(*kind, GRID, by)).unwrap();
            acked(&server, author, id).await;
            let cursor = caught_up(&server, &phone).await;
            fetch(&server, &phone, id).await;
            phone.store.execute(id, command).unwrap();
            s.accounts().set_scopes(&user, &[OTHER_GRID.into()]).unwrap();
            let what = format!("{name} {} on {kind}", command.name());
            let before = server.running.server().storage().load(vec![id]).await.unwrap();
            let mut cursor = cursor;
            for expected in ["stale_rights", "forbidden"] {
                let push = phone.push_after(id, &author.heads(id));
                let req = phone.request(Some(server.epoch()), &cursor, vec![push]);
                let resp = server.sync(&req).await.unwrap();
                assert!(
                    matches!(&resp.results[0].outcome, PushOutcome::Rejected { code, .. } if code == expected),
                    "{what}: expected {expected}, got {:?}",
                    resp.results[0].outcome
                );
                let after = server.running.server().storage().load(vec![id]).await.unwrap();
                assert_eq!(after, before, "{what}: nothing stored");
                cursor = resp.cursor;
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 28);
}
on_both!(rights_changed_after_the_change_was_made_matrix);

/// The bytes of a photo, lower-case hex SHA-256 and all (`n` bytes that differ with `seed`).
fn photo_bytes(n: usize, seed: u8) -> (Vec<u8>, PhotoRef) {
    use sha2::Digest;
    let bytes: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed)).collect();
    let hash = hex::encode(sha2::Sha256::digest(&bytes));
    let photo = PhotoRef { hash, size: n as i64, media_type: "image/jpeg".into() };
    (bytes, photo)
}

/// `GET` of a photo's bytes by `phone`'s device: whether it got them.
async fn reads_photo(server: &TestServer, phone: &Phone, photo: &PhotoRef, bytes: &[u8]) -> bool {
    let token = server.token_for(&phone.actor());
    let url = server.url(&format!("/v1/blobs/{}", photo.hash));
    let resp = server.http.get(url).bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    match status {
        200 => {
            assert_eq!(&body[..], bytes, "the photo's bytes");
            true
        }
        404 => {
            assert_eq!(error_body(&body).code, "not_found");
            false
        }
        other => panic!("GET photo: {other} {}", String::from_utf8_lossy(&body)),
    }
}

/// `phone`'s device uploads `bytes` whole.
async fn upload(server: &TestServer, phone: &Phone, photo: &PhotoRef, bytes: &[u8]) {
    let token = server.token_for(&phone.actor());
    let resp = server
        .http
        .put(server.url(&format!("/v1/blobs/{}", photo.hash)))
        .bearer_auth(token)
        .header("content-range", format!("bytes 0-{}/{}", bytes.len() - 1, bytes.len()))
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// `phone`'s device asks a possession challenge for `photo` and answers it from `bytes`;
/// returns the status it is answered.
async fn prove(
    server: &TestServer,
    phone: &Phone,
    photo: &PhotoRef,
    bytes: &[u8],
) -> fieldsync_core::protocol::BlobStatus {
    use fieldsync_core::protocol::{self, BlobChallenge, BlobProof};
    let token = server.token_for(&phone.actor());
    let url = server.url(&format!("/v1/blobs/{}/challenge", photo.hash));
    let resp = server.http.get(url).bearer_auth(&token).send().await.unwrap();
    let c: BlobChallenge = protocol::decode(&resp.bytes().await.unwrap()).unwrap();
    let mut source = std::io::Cursor::new(bytes);
    let digest = protocol::possession_digest(&c.nonce, &c.ranges, &mut source).unwrap();
    let proof = BlobProof { v: protocol::VERSION, nonce: c.nonce, digest: digest.to_vec() };
    let (status, body) = server
        .post_with(
            Some(&token),
            &format!("/v1/blobs/{}/proof", photo.hash),
            protocol::encode(&proof),
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    protocol::decode(&body).unwrap()
}

/// Who reads a photo, written out by hand: every role × a photo of a mediation case and of a
/// report (inside the user's grid) × the photo of the case **named by a record of one's own**
/// (the attack: a hash and a size are not the bytes) × the same after proving one holds
/// the bytes. A photo is read through a record whose author's device holds it, by whoever may
/// read that record; naming it in one's own record grants nothing until one proves it.
async fn photo_read_matrix(backend: Backend) {
    let may_read = |role: Role, kind: Kind| match kind {
        Kind::Report | Kind::PatrolLog => {
            matches!(role, Role::GridLeader | Role::Patrol | Role::Dispatcher | Role::Admin)
        }
        Kind::MediationCase => matches!(role, Role::Mediator | Role::Dispatcher),
        Kind::Bulletin => !matches!(role, Role::Mediator),
        Kind::Visit => {
            matches!(role, Role::GridLeader | Role::Patrol | Role::Dispatcher | Role::Admin)
        }
        Kind::Deliberation => !matches!(role, Role::Patrol | Role::Mediator),
    };
    let server = start_on(backend).await;
    let s = server.running.server();
    let hq = Phone::new("hq-1");
    enroll_as(s, &hq, Role::Dispatcher, None, &["jl"]);
    let mut cells = 0;
    for ((role, name), seed) in ROLES.into_iter().zip(1u8..) {
        // Photos of their own for each role: a role that proves it holds one below grants it,
        // rightly, to the readers of its record, who would then read it in the next cells.
        let (case_bytes, case_photo) = photo_bytes(90_000, 2 * seed + 1);
        let (report_bytes, report_photo) = photo_bytes(20_000, 2 * seed + 2);
        for (kind, photo, bytes) in [
            (Kind::MediationCase, &case_photo, &case_bytes),
            (Kind::Report, &report_photo, &report_bytes),
        ] {
            let id = hq.store.create(&record_of(kind, GRID, "hq-1")).unwrap();
            hq.store.execute(id, &Command::AddPhoto { photo: photo.clone(), entry: None }).unwrap();
            acked(&server, &hq, id).await;
            upload(&server, &hq, photo, bytes).await;
        }
        let phone = Phone::new(&format!("{name}-1"));
        let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
        enroll_as(s, &phone, role, patrol, &[GRID]);
        let case_read = reads_photo(&server, &phone, &case_photo, &case_bytes).await;
        assert_eq!(case_read, may_read(role, Kind::MediationCase), "{name}: a case's photo");
        let report_read = reads_photo(&server, &phone, &report_photo, &report_bytes).await;
        assert_eq!(report_read, may_read(role, Kind::Report), "{name}: a report's photo");

        // The case's photo named by a record of one's own (a kind this role may create).
        let own = if role == Role::Mediator { Kind::MediationCase } else { Kind::Report };
        let id = phone.store.create(&record_of(own, GRID, &format!("{name}-1"))).unwrap();
        let add = Command::AddPhoto { photo: case_photo.clone(), entry: None };
        phone.store.execute(id, &add).unwrap();
        acked(&server, &phone, id).await;
        let named = reads_photo(&server, &phone, &case_photo, &case_bytes).await;
        assert_eq!(named, case_read, "{name}: naming the photo reads nothing new");

        // Proving it holds the bytes: its own record grants them.
        assert!(prove(&server, &phone, &case_photo, &case_bytes).await.complete, "{name}");
        assert!(reads_photo(&server, &phone, &case_photo, &case_bytes).await, "{name}: proven");
        cells += 4;
    }
    assert_eq!(cells, 24);
}
on_both!(photo_read_matrix);

/// The business operator's row of the matrices, written out by hand: an operator of the
/// business of the test grid (their one scope is that business's own) reads the visits to it and
/// the bulletins addressed to businesses whose scope covers it, and nothing else of any kind;
/// creates nothing; acknowledges what is addressed to them and changes nothing else.
async fn business_operator_matrix(backend: Backend) {
    let server = start_on(backend).await;
    with_businesses(&server).await;
    let s = server.running.server();
    let author = Phone::new("hq-1");
    enroll_as(s, &author, Role::Dispatcher, None, &["jl"]);
    // Deliberations are raised by residents and grid leaders, not by dispatchers.
    let leader = Phone::new("leader-9");
    enroll_as(s, &leader, Role::GridLeader, None, &["jl"]);
    let own = business_scope(GRID, &business_in(GRID));
    let operator = Phone::new("operator-1");
    enroll_as(s, &operator, Role::BusinessOperator, None, &[own.as_str()]);

    let to_businesses = |scope: &str| NewRecord::Bulletin {
        bulletin: NewBulletin {
            audience: vec![Addressee::Businesses],
            ..match record_of(Kind::Bulletin, scope, "hq-1") {
                NewRecord::Bulletin { bulletin } => bulletin,
                _ => unreachable!("a bulletin"),
            }
        },
    };
    // (record, read by the operator): every kind inside and outside the grid, and bulletins to
    // businesses at the grid, beside it and above it.
    let mut cases: Vec<(NewRecord, bool, &str)> = Vec::new();
    for kind in KINDS {
        for (scope, inside) in [(GRID, true), (OTHER_GRID, false)] {
            let read = inside && kind == Kind::Visit;
            let by = if kind == Kind::Deliberation { "leader-9" } else { "hq-1" };
            cases.push((record_of(kind, scope, by), read, "a record of the grid or beside"));
        }
    }
    cases.push((to_businesses(GRID), true, "to businesses of the grid"));
    cases.push((to_businesses(OTHER_GRID), false, "to businesses of the grid beside"));
    cases.push((to_businesses("jl"), true, "to businesses of the whole city"));
    let mut made = Vec::new();
    for (new, read, what) in cases {
        let by = if new.kind() == Kind::Deliberation { &leader } else { &author };
        let id = by.store.create(&new).unwrap();
        acked(&server, by, id).await;
        made.push((id, new.kind(), read, what));
    }
    let visible = pulled(&server, &operator, "").await;
    for (id, kind, read, what) in &made {
        assert_eq!(visible.contains(id), *read, "operator reads {kind} ({what})");
    }
    assert_eq!(visible.len(), 3);

    // Creates nothing: no kind in the grid (a visit of the grid's business lies in their own
    // scope), and not even a report in their own scope.
    let mut attempts: Vec<NewRecord> =
        KINDS.iter().map(|k| record_of(*k, GRID, "operator-1")).collect();
    attempts.push(report_in(&own));
    for new in attempts {
        let kind = new.kind();
        let id = operator.store.create(&new).unwrap();
        let outcome = push(&server, &operator, id).await;
        assert!(
            matches!(&outcome, PushOutcome::Rejected { code, .. } if code == "forbidden"),
            "operator creates {kind}: {outcome:?}"
        );
        assert!(s.storage().load(vec![id]).await.unwrap()[0].is_none(), "nothing stored");
    }

    // Acknowledges the bulletin to their businesses; records nothing on the visit.
    let first = |what: &str, kind: Kind| {
        made.iter().find(|m| m.3 == what && m.1 == kind).map(|m| m.0).expect("made")
    };
    let ack = first("to businesses of the grid", Kind::Bulletin);
    let visit = first("a record of the grid or beside", Kind::Visit);
    fetch(&server, &operator, ack).await;
    operator.store.execute(ack, &Command::AcknowledgeBulletin).unwrap();
    expect_push(&server, &operator, ack, true, "operator acknowledges").await;
    fetch(&server, &operator, visit).await;
    let check = Command::RecordCheck {
        item: "hazards".into(),
        result: CheckOutcome::Pass,
        note: String::new(),
    };
    operator.store.execute(visit, &check).unwrap();
    expect_push(&server, &operator, visit, false, "operator records a check").await;
}
on_both!(business_operator_matrix);
