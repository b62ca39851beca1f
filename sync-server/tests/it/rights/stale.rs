//! A change right when its author made it offline, and not when it arrives, is refused
//! `stale_rights` and listed for dispatchers; what is merely concurrent stays accepted.

use fieldsync_core::model::{
    Command, EntryKind, MemberKind, NewEntry, NewPatrol, NewRecord, Record, ReportStatus,
    TeamMember,
};
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::protocol::PushOutcome;

use super::*;

async fn a_responder_taken_off_a_report_is_refused_stale_and_listed(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let (resident, disp, other_disp) =
        (Phone::new("resident-1"), Phone::new("disp-1"), Phone::new("disp-9"));
    let (qian, sun) = (Phone::new("officer-qian"), Phone::new("officer-sun"));
    enroll_as(s, &resident, Role::Resident, None, &[GRID]);
    enroll_as(s, &disp, Role::Dispatcher, None, &["jl/changchun/chaoyang"]);
    enroll_as(s, &other_disp, Role::Dispatcher, None, &["jl/baishan"]);
    for officer in [&qian, &sun] {
        enroll_as(s, officer, Role::Patrol, Some(PatrolKind::Police), &[ELSEWHERE]);
    }
    let id = resident.store.create(&report_in(GRID)).unwrap();
    acked(&server, &resident, id).await;
    fetch(&server, &disp, id).await;
    disp.accept(id, "受理");
    disp.store.execute(id, &dispatch("officer-qian")).unwrap();
    acked(&server, &disp, id).await;
    fetch(&server, &qian, id).await;

    // Offline, Qian starts work and comments; meanwhile the centre gives the report to Sun.
    qian.store.execute(id, &Command::StartWork { note: "在路上".into() }).unwrap();
    qian.comment(id, "十分钟到");
    disp.store.execute(id, &dispatch("officer-sun")).unwrap();
    acked(&server, &disp, id).await;

    let message = refused_as(&server, &qian, id, "stale_rights", "read").await;
    assert!(message.contains("officer-qian"), "{message}");
    // The report stays as the centre left it: dispatched to Sun, nobody working on it.
    let (bytes, _) = stored(&server, id).await;
    fetch(&server, &sun, id).await;
    let Record::Report { report: r } = sun.store.get(id).unwrap() else { panic!("a report") };
    assert!(bytes.is_some());
    assert_eq!((r.status, r.assignee.as_deref()), (ReportStatus::Dispatched, Some("officer-sun")));
    assert!(r.comments.is_empty());

    // The dispatchers of the scope see it; another scope's do not; a responder may not list.
    let seen = listed(&server, &disp).await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let entry = &seen[0];
    assert_eq!(
        (entry.doc, entry.user.as_str(), entry.code.as_str()),
        (id, "officer-qian", "stale_rights")
    );
    assert_eq!((entry.kind.as_str(), entry.scope.as_str(), entry.times), ("report", GRID, 1));
    assert!(listed(&server, &other_disp).await.unwrap().is_empty());
    assert_eq!(listed(&server, &sun).await, Err(403));
    // The same refusal again is one entry, counted twice.
    refused_as(&server, &qian, id, "stale_rights", "read").await;
    let seen = listed(&server, &disp).await.unwrap();
    assert_eq!((seen.len(), seen[0].times), (1, 2));

    // A patrol of the report's own grid still reads it: his rights to comment hold, but
    // starting work on a report given to someone else does not.
    let neighbour = Phone::new("officer-zhao");
    enroll_as(s, &neighbour, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
    fetch(&server, &neighbour, id).await;
    neighbour.comment(id, "我在附近");
    acked(&server, &neighbour, id).await;
}
on_both!(a_responder_taken_off_a_report_is_refused_stale_and_listed);

async fn a_stale_resolution_padded_to_win_leaves_a_confirmed_report_confirmed(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let (resident, disp, qian) =
        (Phone::new("resident-1"), Phone::new("disp-1"), Phone::new("officer-qian"));
    enroll_as(s, &resident, Role::Resident, None, &[GRID]);
    enroll_as(s, &disp, Role::Dispatcher, None, &["jl"]);
    enroll_as(s, &qian, Role::Patrol, Some(PatrolKind::Police), &[ELSEWHERE]);
    let id = resident.store.create(&report_in(GRID)).unwrap();
    acked(&server, &resident, id).await;
    fetch(&server, &disp, id).await;
    disp.accept(id, "受理");
    disp.store.execute(id, &dispatch("officer-qian")).unwrap();
    acked(&server, &disp, id).await;
    fetch(&server, &qian, id).await;
    qian.store.execute(id, &Command::StartWork { note: String::new() }).unwrap();
    acked(&server, &qian, id).await;

    // Offline, Qian writes many comments (operations that make his later values win a merge)
    // and then resolves; meanwhile the centre resolved it and the resident confirmed.
    for i in 0..40 {
        qian.comment(id, &format!("记录 {i}"));
    }
    qian.store.execute(id, &Command::ResolveReport { note: "已拆除".into() }).unwrap();
    fetch(&server, &disp, id).await;
    disp.store.execute(id, &Command::ResolveReport { note: "已拆除".into() }).unwrap();
    acked(&server, &disp, id).await;
    fetch(&server, &resident, id).await;
    resident.store.execute(id, &Command::ConfirmReport { note: "谢谢".into() }).unwrap();
    acked(&server, &resident, id).await;
    // Qian's copy merged with the server's: his value wins the register there.
    let mut merged = qian.store.load(id).unwrap();
    let mut server_doc =
        automerge::AutoCommit::load(&stored(&server, id).await.0.unwrap()).unwrap();
    merged.merge(&mut server_doc).unwrap();
    let Record::Report { report: r } = fieldsync_core::model::read_record(&merged, id).unwrap()
    else {
        panic!("a report")
    };
    assert_eq!(r.status, ReportStatus::Resolved, "the padded value would win the merge");

    let message = refused_as(&server, &qian, id, "stale_rights", "report.status").await;
    assert!(message.contains("confirmed"), "{message}");
    let watcher = Phone::new("disp-2");
    enroll_as(s, &watcher, Role::Dispatcher, None, &["jl"]);
    fetch(&server, &watcher, id).await;
    let Record::Report { report: r } = watcher.store.get(id).unwrap() else { panic!("a report") };
    assert_eq!(r.status, ReportStatus::Confirmed);
    assert!(r.conflicts.iter().all(|c| c.field != "status"), "{:?}", r.conflicts);
}
on_both!(a_stale_resolution_padded_to_win_leaves_a_confirmed_report_confirmed);

async fn honest_work_merely_concurrent_with_a_change_of_state_stays(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let (li, wang) = (Phone::new("patrol-li"), Phone::new("patrol-wang"));
    for p in [&li, &wang] {
        enroll_as(s, p, Role::Patrol, Some(PatrolKind::Volunteer), &[ELSEWHERE]);
    }
    let members = ["patrol-li", "patrol-wang"]
        .iter()
        .map(|u| TeamMember {
            user: (*u).into(),
            name: (*u).into(),
            kind: MemberKind::VillagerVolunteer,
        })
        .collect();
    let patrol = li
        .store
        .create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: ELSEWHERE.into(),
                area: "北坡".into(),
                members,
                checkpoints: vec![],
            },
        })
        .unwrap();
    acked(&server, &li, patrol).await;
    fetch(&server, &wang, patrol).await;
    // Wang records a hazard and finishes; Li finished the patrol first.
    let entry = NewEntry {
        kind: EntryKind::HazardFound,
        text: "落石".into(),
        location: None,
        photos: vec![],
        checkpoint: None,
    };
    wang.store.execute(patrol, &Command::AddPatrolEntry { entry: entry.clone() }).unwrap();
    wang.store.execute(patrol, &Command::FinishPatrol { note: String::new() }).unwrap();
    li.store.execute(patrol, &Command::FinishPatrol { note: "收队".into() }).unwrap();
    acked(&server, &li, patrol).await;
    acked(&server, &wang, patrol).await;
    // An entry made after its author saw the patrol finished is not an entry of it.
    fetch(&server, &li, patrol).await;
    let Record::PatrolLog { patrol_log: log } = li.store.get(patrol).unwrap() else {
        panic!("a patrol")
    };
    assert_eq!(log.entries.len(), 1);
    let late = li.store.execute(patrol, &Command::AddPatrolEntry { entry });
    assert!(late.is_err(), "the phone refuses it too: {late:?}");

    // A resident's comment written before the report was confirmed by the centre stays.
    let (resident, disp) = (Phone::new("resident-1"), Phone::new("disp-1"));
    enroll_as(s, &resident, Role::Resident, None, &[GRID]);
    enroll_as(s, &disp, Role::Dispatcher, None, &["jl"]);
    let id = resident.store.create(&report_in(GRID)).unwrap();
    acked(&server, &resident, id).await;
    fetch(&server, &disp, id).await;
    resident.comment(id, "还在施工");
    disp.accept(id, "受理");
    disp.store.execute(id, &Command::RejectReport { reason: "已批建".into() }).unwrap();
    acked(&server, &disp, id).await;
    acked(&server, &resident, id).await;

    // Two dispatchers give the same report to different responders: both acknowledged, a
    // conflict to settle.
    let other = Phone::new("disp-2");
    enroll_as(s, &other, Role::Dispatcher, None, &["jl"]);
    let id = resident.store.create(&report_in(GRID)).unwrap();
    acked(&server, &resident, id).await;
    fetch(&server, &disp, id).await;
    disp.accept(id, "受理");
    acked(&server, &disp, id).await;
    fetch(&server, &other, id).await;
    disp.store.execute(id, &dispatch("officer-a")).unwrap();
    other.store.execute(id, &dispatch("officer-b")).unwrap();
    acked(&server, &disp, id).await;
    acked(&server, &other, id).await;
    fetch(&server, &other, id).await;
    let Record::Report { report: r } = other.store.get(id).unwrap() else { panic!("a report") };
    assert!(r.conflicts.iter().any(|c| c.field == "assignee"), "{:?}", r.conflicts);
}
on_both!(honest_work_merely_concurrent_with_a_change_of_state_stays);

async fn a_device_that_had_not_heard_of_its_scope_change_is_refused_stale(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let (resident, lead, disp) =
        (Phone::new("resident-1"), Phone::new("lead-zhou"), Phone::new("disp-1"));
    enroll_as(s, &resident, Role::Resident, None, &[GRID]);
    enroll_as(s, &lead, Role::GridLeader, None, &[GRID]);
    enroll_as(s, &disp, Role::Dispatcher, None, &["jl"]);
    let id = resident.store.create(&report_in(GRID)).unwrap();
    acked(&server, &resident, id).await;
    // The leader's phone syncs (its cursor now carries its rights), then accepts offline.
    let mut cursor = String::new();
    loop {
        let resp = server.sync(&lead.request(Some(server.epoch()), &cursor, vec![])).await.unwrap();
        for d in &resp.docs {
            lead.store.merge_remote(d.doc, &d.bytes).unwrap();
        }
        cursor = resp.cursor;
        if !resp.more {
            break;
        }
    }
    lead.accept(id, "受理");
    s.accounts().set_scopes("lead-zhou", &["jl/changchun/chaoyang/other-grid".into()]).unwrap();

    let push = lead.push_after(id, &resident.heads(id));
    let resp = server.sync(&lead.request(Some(server.epoch()), &cursor, vec![push])).await.unwrap();
    assert!(resp.rescoped);
    match &resp.results[0].outcome {
        PushOutcome::Rejected { code, message } => assert_eq!(code, "stale_rights", "{message}"),
        other => panic!("expected stale_rights, got {other:?}"),
    }
    let seen = listed(&server, &disp).await.unwrap();
    assert_eq!(seen.iter().map(|e| e.user.as_str()).collect::<Vec<_>>(), vec!["lead-zhou"]);
    // The same change from a device that knew its rights is forbidden, and not listed.
    let push = lead.push_after(id, &resident.heads(id));
    let resp =
        server.sync(&lead.request(Some(server.epoch()), &resp.cursor, vec![push])).await.unwrap();
    assert!(
        matches!(&resp.results[0].outcome, PushOutcome::Rejected { code, .. } if code == "forbidden"),
        "{:?}",
        resp.results[0].outcome
    );
    assert_eq!(listed(&server, &disp).await.unwrap().len(), 1);
}
on_both!(a_device_that_had_not_heard_of_its_scope_change_is_refused_stale);
