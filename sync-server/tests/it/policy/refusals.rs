//! Pushes the server refuses, storing nothing of them, and reads it filters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// The phones both tests drive, each enrolled on the server: two residents of the grid, a
/// dispatcher of the whole jurisdiction, a police patroller and a mediator of the grid.
struct Cast {
    resident: Phone,
    neighbour: Phone,
    dispatcher: Phone,
    officer: Phone,
    mediator: Phone,
}

impl Cast {
    fn enrolled(s: &fieldsync_server::Server) -> Cast {
        let cast = Cast {
            resident: Phone::new("resident-1"),
            neighbour: Phone::new("resident-2"),
            dispatcher: Phone::new("dispatcher-1"),
            officer: Phone::new("officer-qian"),
            mediator: Phone::new("mediator-1"),
        };
        enroll_as(s, &cast.resident, Role::Resident, None, &[GRID]);
        enroll_as(s, &cast.neighbour, Role::Resident, None, &[GRID]);
        enroll_as(s, &cast.dispatcher, Role::Dispatcher, None, &["jl"]);
        enroll_as(s, &cast.officer, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
        enroll_as(s, &cast.mediator, Role::Mediator, None, &[GRID]);
        cast
    }
}

async fn the_server_refuses_what_a_role_may_not_do_and_stores_nothing_of_it(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let Cast { resident, neighbour, dispatcher, officer, mediator } = Cast::enrolled(s);

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

async fn reads_are_filtered_and_an_unreadable_document_looks_missing(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let Cast { resident, neighbour, dispatcher, officer, mediator } = Cast::enrolled(s);

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
