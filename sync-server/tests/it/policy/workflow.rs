//! The workflow commands and settling a conflict, for every role inside and outside the grid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

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
