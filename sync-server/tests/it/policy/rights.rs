//! Rights changed between making a change offline and pushing it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

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
