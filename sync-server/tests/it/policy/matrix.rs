//! The access matrices for creating, reading and changing others' records, written out by
//! hand.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

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
