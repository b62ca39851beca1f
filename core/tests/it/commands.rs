//! Every domain command on a real store, and its refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use fieldsync_core::model::*;
use fieldsync_core::{CoreError, DocId};

fn report(store: &fieldsync_core::Store, id: DocId) -> Report {
    match store.get(id).expect("get") {
        Record::Report { report: r } => r,
        other => panic!("not a report: {other:?}"),
    }
}

#[test]
fn report_workflow_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir, "a", "resident-1");
    let id = s.create(&new_report("屋顶违建")).expect("create");
    let r = report(&s, id);
    assert_eq!(r.status, ReportStatus::Submitted);
    assert_eq!(r.header.created_by, "resident-1");
    assert_eq!(r.description, "屋顶违章搭建，约20平方米");
    assert_eq!(r.timeline.len(), 1);
    assert_eq!(r.timeline[0].action, "submit_report");

    s.set_user("dispatcher-1").expect("user");
    s.execute(id, &Command::AcceptReport { note: String::new() }).expect("accept");
    s.execute(
        id,
        &Command::DispatchReport {
            assignee: "officer-7".into(),
            deadline: fieldsync_core::time::Timestamp::from_millis(1_900_000_000_000),
            note: "today".into(),
        },
    )
    .expect("dispatch");
    s.set_user("officer-7").expect("user");
    s.execute(id, &Command::StartWork { note: String::new() }).expect("start");
    s.execute(id, &Command::ResolveReport { note: "demolished".into() }).expect("resolve");
    s.set_user("resident-1").expect("user");
    s.execute(id, &Command::ConfirmReport { note: "thanks".into() }).expect("confirm");
    s.set_user("dispatcher-1").expect("user");
    s.execute(id, &Command::AwardPoints { points: 50, note: String::new() }).expect("points");
    let c = s.execute(id, &Command::CommentReport { text: "closed".into() }).expect("comment");
    assert!(c.item.is_some());

    let r = report(&s, id);
    assert_eq!(r.status, ReportStatus::Confirmed);
    assert_eq!(r.assignee.as_deref(), Some("officer-7"));
    assert_eq!(r.deadline, Some(fieldsync_core::time::Timestamp::from_millis(1_900_000_000_000)));
    assert_eq!(r.points, 50);
    assert_eq!(r.comments.len(), 1);
    let actions: Vec<&str> = r.timeline.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "submit_report",
            "accept_report",
            "dispatch_report",
            "start_work",
            "resolve_report",
            "confirm_report",
            "award_points"
        ]
    );
    assert_eq!(r.timeline[4].note, "demolished");
    assert_eq!(r.timeline[4].by, "officer-7");
    assert!(r.conflicts.is_empty());
}

#[test]
fn refused_commands_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir, "a", "resident-1");
    let id = s.create(&new_report("noise")).expect("create");
    let before = s.saved_bytes(id).expect("bytes");
    let heads = s.heads(id).expect("heads");

    let refused = [
        Command::ResolveReport { note: "x".into() },
        Command::StartWork { note: String::new() },
        Command::ConfirmReport { note: String::new() },
        Command::AwardPoints { points: 5, note: String::new() },
        Command::ReopenReport { reason: "x".into() },
    ];
    for cmd in &refused {
        match s.execute(id, cmd) {
            Err(CoreError::InvalidTransition { command, .. }) => assert_eq!(command, cmd.name()),
            other => panic!("{} should be refused, got {other:?}", cmd.name()),
        }
    }
    // Bad arguments are refused too, even in a state where the command is valid.
    s.execute(id, &Command::AcceptReport { note: String::new() }).expect("accept");
    let heads_accepted = s.heads(id).expect("heads");
    for cmd in [
        Command::DispatchReport {
            assignee: String::new(),
            deadline: fieldsync_core::time::Timestamp::from_millis(1_900_000_000_000),
            note: String::new(),
        },
        Command::DispatchReport {
            assignee: "a b".into(),
            deadline: fieldsync_core::time::Timestamp::from_millis(1_900_000_000_000),
            note: String::new(),
        },
        Command::DispatchReport {
            assignee: "x".into(),
            deadline: fieldsync_core::time::Timestamp::from_millis(-5),
            note: String::new(),
        },
        // A deadline dated 1970 (a phone whose clock was reset).
        Command::DispatchReport {
            assignee: "x".into(),
            deadline: fieldsync_core::time::Timestamp::from_millis(1),
            note: String::new(),
        },
        Command::RejectReport { reason: "  ".into() },
        Command::CommentReport { text: "x".repeat(10_000) },
        Command::AddPatrolEntry {
            entry: match entry("x") {
                Command::AddPatrolEntry { entry } => entry,
                _ => unreachable!(),
            },
        },
        Command::AddSession { attendees: vec![], notes: String::new() },
    ] {
        assert!(s.execute(id, &cmd).is_err(), "{cmd:?} should fail");
    }
    assert_eq!(s.heads(id).expect("heads"), heads_accepted);
    assert_ne!(heads, heads_accepted);
    assert!(!before.is_empty());
}

#[test]
fn wrong_kind_and_unknown_id_are_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir, "a", "police-li");
    let patrol = s.create(&new_patrol()).expect("create");
    match s.execute(patrol, &Command::AcceptReport { note: String::new() }) {
        Err(CoreError::WrongKind { expected: Kind::Report, found: Kind::PatrolLog, .. }) => {}
        other => panic!("expected WrongKind, got {other:?}"),
    }
    let unknown = DocId::random();
    assert!(matches!(s.get(unknown), Err(CoreError::NotFound { id }) if id == unknown));
    assert!(matches!(
        s.execute(unknown, &Command::FinishPatrol { note: String::new() }),
        Err(CoreError::NotFound { .. })
    ));
}

#[test]
fn patrol_entries_and_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir, "a", "police-li");
    let id = s.create(&new_patrol()).expect("create");
    let e1 = s.execute(id, &entry("north gate clear")).expect("entry").item.expect("key");
    s.execute(
        id,
        &Command::AddPatrolEntry {
            entry: NewEntry {
                kind: EntryKind::HazardFound,
                text: "loose rock on the trail".into(),
                location: Some(Location {
                    lat: 43.8,
                    lon: 125.4,
                    accuracy: 5.0,
                    address: String::new(),
                }),
                photos: vec![PhotoRef {
                    hash: "ab".repeat(32),
                    size: 1234,
                    media_type: "image/jpeg".into(),
                }],
                checkpoint: None,
            },
        },
    )
    .expect("hazard");
    s.execute(
        id,
        &Command::AddPhoto {
            photo: PhotoRef { hash: "cd".repeat(32), size: 99, media_type: "image/jpeg".into() },
            entry: Some(e1.clone()),
        },
    )
    .expect("photo");
    // A reference to no bytes, or to more than a photo may hold: typed, nothing written.
    let before = s.heads(id).expect("heads");
    for size in [0, fieldsync_core::limits::BLOB_BYTES as i64 + 1] {
        let photo = PhotoRef { hash: "ef".repeat(32), size, media_type: "image/jpeg".into() };
        assert!(matches!(
            s.execute(id, &Command::AddPhoto { photo, entry: Some(e1.clone()) }),
            Err(CoreError::InvalidInput { field: "photo.size", .. })
        ));
    }
    assert_eq!(s.heads(id).expect("heads"), before);
    s.execute(id, &Command::FinishPatrol { note: "all clear".into() }).expect("finish");
    assert!(matches!(s.execute(id, &entry("late")), Err(CoreError::InvalidTransition { .. })));
    assert!(matches!(
        s.execute(id, &Command::FinishPatrol { note: String::new() }),
        Err(CoreError::InvalidTransition { .. })
    ));
    let Record::PatrolLog { patrol_log: p } = s.get(id).expect("get") else {
        panic!("not a patrol")
    };
    assert_eq!(p.status, PatrolStatus::Finished);
    assert!(p.ended_at.is_some());
    assert_eq!(p.entries.len(), 2);
    assert_eq!(p.entries[0].id, e1);
    assert_eq!(p.entries[0].photos.len(), 1);
    assert_eq!(p.entries[1].kind, EntryKind::HazardFound);
    assert_eq!(p.members.len(), 3);
}

#[test]
fn mediation_case_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir, "a", "med-chen");
    let id = s.create(&new_case()).expect("create");
    let session = s
        .execute(
            id,
            &Command::AddSession {
                attendees: vec!["张三".into(), "李四".into()],
                notes: "双方到场".into(),
            },
        )
        .expect("session")
        .item
        .expect("key");
    s.execute(
        id,
        &Command::EditNotes {
            session: session.clone(),
            pos: 4,
            delete: 0,
            insert: "，情绪平稳".into(),
        },
    )
    .expect("edit");
    assert!(matches!(
        s.execute(id, &Command::EditNotes { session, pos: 100, delete: 0, insert: "x".into() }),
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        s.execute(
            id,
            &Command::EditNotes { session: "nope".into(), pos: 0, delete: 0, insert: "x".into() }
        ),
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        s.execute(id, &Command::CloseCase { note: String::new() }),
        Err(CoreError::InvalidTransition { .. })
    ));
    s.execute(id, &Command::RecordAgreement { text: "退还船票100元".into() }).expect("agree");
    s.execute(id, &Command::AddFollowUp { note: "回访满意".into() }).expect("follow up");
    s.execute(id, &Command::CloseCase { note: String::new() }).expect("close");
    let Record::MediationCase { mediation_case: c } = s.get(id).expect("get") else {
        panic!("not a case")
    };
    assert_eq!(c.status, CaseStatus::Closed);
    assert_eq!(c.sessions[0].notes, "双方到场，情绪平稳");
    assert_eq!(c.agreement, "退还船票100元");
    assert_eq!(c.follow_ups.len(), 1);
    let actions: Vec<&str> = c.timeline.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["open_case", "add_session", "record_agreement", "close_case"]);
}

#[test]
fn concurrent_status_conflict_is_visible_and_settleable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = store(&dir, "a", "dispatcher-1");
    let b = store(&dir, "b", "dispatcher-2");
    let id = a.create(&new_report("hazard")).expect("create");
    b.merge_remote(id, &a.saved_bytes(id).expect("bytes")).expect("merge");
    // Offline, one accepts, the other rejects.
    a.execute(id, &Command::AcceptReport { note: String::new() }).expect("accept");
    b.execute(id, &Command::RejectReport { reason: "duplicate".into() }).expect("reject");
    a.merge_remote(id, &b.saved_bytes(id).expect("bytes")).expect("merge b into a");
    b.merge_remote(id, &a.saved_bytes(id).expect("bytes")).expect("merge a into b");
    let ra = report(&a, id);
    let rb = report(&b, id);
    assert_eq!(ra.status, rb.status, "both devices show the same winner");
    let conflict =
        ra.conflicts.iter().find(|c| c.field == "status").expect("status conflict shown");
    let mut values = conflict.values.clone();
    values.sort();
    assert_eq!(values, ["accepted", "rejected"]);
    assert_eq!(ra.timeline.len(), 3, "both timeline events survive");
    // The projection knows too.
    let page = a
        .query_reports(
            &fieldsync_core::store::ReportFilter { conflicted_only: true, ..Default::default() },
            &fieldsync_core::store::PageRequest::first(10),
        )
        .expect("query");
    assert_eq!(page.items.len(), 1);

    // A person settles it; afterwards there is one value everywhere.
    a.execute(id, &Command::SettleConflict { field: "status".into(), value: "accepted".into() })
        .expect("settle");
    b.merge_remote(id, &a.saved_bytes(id).expect("bytes")).expect("merge");
    let rb = report(&b, id);
    assert_eq!(rb.status, ReportStatus::Accepted);
    assert!(rb.conflicts.is_empty());
    assert!(matches!(
        a.execute(
            id,
            &Command::SettleConflict { field: "status".into(), value: "accepted".into() }
        ),
        Err(CoreError::NoSuchConflict { .. })
    ));
}

/// Concurrent workflow steps that no single person could have taken one after the other are
/// shown as a conflict on both phones, never merged away, and a person settles them: work
/// started by the first assignee while the report was given to another, a resolution while it
/// was dispatched anew, and two people accepting it.
#[test]
fn workflow_disagreements_show_as_conflicts_on_both_phones() {
    let dispatch = |to: &str| Command::DispatchReport {
        assignee: to.into(),
        deadline: fieldsync_core::time::Timestamp::from_millis(1_900_000_000_000),
        note: String::new(),
    };
    let note = || String::new();
    // (steps before the phones part, the first phone's steps, the second phone's step)
    type Step = (&'static str, Command);
    let cases: Vec<(Vec<Step>, Vec<Step>, Step)> = vec![
        (
            vec![("lead", Command::AcceptReport { note: note() }), ("lead", dispatch("officer-a"))],
            vec![("officer-a", Command::StartWork { note: note() })],
            ("lead", dispatch("officer-b")),
        ),
        (
            vec![("lead", Command::AcceptReport { note: note() }), ("lead", dispatch("officer-a"))],
            vec![
                ("officer-a", Command::StartWork { note: note() }),
                ("officer-a", Command::ResolveReport { note: "已处理".into() }),
            ],
            ("lead", dispatch("officer-b")),
        ),
        (
            vec![],
            vec![("lead", Command::AcceptReport { note: note() })],
            ("disp", Command::AcceptReport { note: note() }),
        ),
    ];
    for (i, (before, first, second)) in cases.into_iter().enumerate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = store(&dir, "a", "resident-1");
        let b = store(&dir, "b", "resident-1");
        let id = a.create(&new_report("井盖缺失")).expect("create");
        for (user, cmd) in &before {
            a.set_user(user).expect("user");
            a.execute(id, cmd).expect("step before");
        }
        b.merge_remote(id, &a.saved_bytes(id).expect("bytes")).expect("merge");
        for (user, cmd) in &first {
            a.set_user(user).expect("user");
            a.execute(id, cmd).expect("first phone's step");
        }
        b.set_user(second.0).expect("user");
        b.execute(id, &second.1).expect("second phone's step");
        a.merge_remote(id, &b.saved_bytes(id).expect("bytes")).expect("merge b into a");
        b.merge_remote(id, &a.saved_bytes(id).expect("bytes")).expect("merge a into b");
        let (ra, rb) = (report(&a, id), report(&b, id));
        assert_eq!(ra, rb, "case {i}: both phones show the same record");
        let conflict = ra
            .conflicts
            .iter()
            .find(|c| c.field == "status")
            .unwrap_or_else(|| panic!("case {i}: no status conflict in {:?}", ra.conflicts));
        // A person settles it, on either phone; then it is gone from both.
        let chosen = conflict.values[0].clone();
        b.set_user("lead").expect("user");
        b.execute(id, &Command::SettleConflict { field: "status".into(), value: chosen.clone() })
            .expect("settle");
        a.merge_remote(id, &b.saved_bytes(id).expect("bytes")).expect("merge");
        let ra = report(&a, id);
        assert_eq!(ra.status.as_str(), chosen, "case {i}");
        assert!(ra.conflicts.iter().all(|c| c.field != "status"), "case {i}: {:?}", ra.conflicts);
    }
}

/// What a form on the phone relies on: each bad value is a typed InvalidInput naming its
/// field, on an enrolled phone too (its rights are checked after the input), and nothing is
/// stored.
#[test]
fn bad_values_are_typed_and_name_their_field() {
    use fieldsync_core::policy::{Profile, Role};
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir, "a", "disp-1");
    s.set_profile(&Profile {
        user: "disp-1".into(),
        role: Role::Dispatcher,
        patrol: None,
        scopes: vec!["jl".into()],
    })
    .expect("profile");
    let field_of = |r: fieldsync_core::Result<DocId>| match r {
        Err(CoreError::InvalidInput { field, .. }) => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    let in_scope = |scope: &str, title: &str| {
        let NewRecord::Report { report: mut r } = new_report(title) else { unreachable!() };
        r.scope = scope.into();
        NewRecord::Report { report: r }
    };
    assert_eq!(field_of(s.create(&in_scope("", "违章"))), "scope");
    assert_eq!(field_of(s.create(&in_scope("jl/../other", "违章"))), "scope");
    assert_eq!(field_of(s.create(&in_scope("jl/grid-1", "\u{200B}\u{200C}\u{FEFF}"))), "title");
    assert!(s.doc_ids().expect("ids").is_empty());

    let id = s.create(&in_scope("jl/grid-1", "井盖缺失")).expect("create");
    s.execute(id, &Command::AcceptReport { note: String::new() }).expect("accept");
    let heads = s.heads(id).expect("heads");
    let now = fieldsync_core::time::now_ms();
    for deadline in [now - 60_000, i64::MAX, 0] {
        let dispatch = Command::DispatchReport {
            assignee: "officer-1".into(),
            deadline: deadline.into(),
            note: String::new(),
        };
        match s.execute(id, &dispatch) {
            Err(CoreError::InvalidInput { field: "deadline", .. }) => {}
            other => panic!("deadline {deadline}: {other:?}"),
        }
    }
    assert_eq!(s.heads(id).expect("heads"), heads, "nothing stored");
}
