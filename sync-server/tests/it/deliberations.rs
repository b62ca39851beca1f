//! Deliberations on the real server: a comment in another person's name, a resident
//! scheduling a meeting, a step out of order and a decision with bad votes are refused, the
//! first two `forbidden` naming their rule, with nothing stored; two phones' offline edits of
//! a meeting's minutes both land and merge.

use fieldsync_core::DocId;
use fieldsync_core::model::*;
use fieldsync_core::policy::Role;
use fieldsync_core::time::{Timestamp, now_ms};

use crate::common::*;
use crate::policy::refused;

/// A deliberation raised by a resident of the grid, fetched by the grid's leader.
async fn raised(server: &TestServer) -> (DocId, Phone, Phone) {
    let s = server.running.server();
    let resident = Phone::new("res-1");
    enroll_as(s, &resident, Role::Resident, None, &[GRID]);
    let leader = Phone::new("leader-1");
    enroll_as(s, &leader, Role::GridLeader, None, &[GRID]);
    let id = resident
        .store
        .create(&NewRecord::Deliberation {
            deliberation: NewDeliberation {
                scope: GRID.into(),
                topic: "垃圾分类投放点选址".into(),
                background: "现投放点离7号楼太近".into(),
                options: vec!["移到北门".into(), "保持原地".into()],
            },
        })
        .unwrap();
    acked(server, &resident, id).await;
    fetch(server, &leader, id).await;
    (id, resident, leader)
}

fn read(doc: &automerge::AutoCommit, id: DocId) -> Deliberation {
    match read_record(doc, id).unwrap() {
        Record::Deliberation { deliberation } => deliberation,
        other => panic!("not a deliberation: {other:?}"),
    }
}

/// The server's copy of `id`.
async fn stored(server: &TestServer, id: DocId) -> automerge::AutoCommit {
    let bytes =
        server.running.server().storage().load(vec![id]).await.unwrap()[0].clone().unwrap().bytes;
    automerge::AutoCommit::load(&bytes).unwrap()
}

fn schedule() -> Command {
    Command::ScheduleMeeting {
        at: Timestamp::from_millis(now_ms() + 86_400_000),
        place: "居委会会议室".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_steps_on_a_deliberation_are_refused_and_change_nothing() {
    let server = start().await;
    let s = server.running.server();
    let (id, _resident, leader) = raised(&server).await;

    // A comment in another person's name: the device of res-2 signs it res-3.
    let forger = Phone::new("res-2");
    enroll_as(s, &forger, Role::Resident, None, &[GRID]);
    fetch(&server, &forger, id).await;
    forger.store.set_user("res-3").unwrap();
    forger.store.execute(id, &Command::CommentDeliberation { text: "我代他说".into() }).unwrap();
    refused(&server, &forger, id, "deliberation.comments").await;

    // A resident scheduling a meeting (their phone would refuse it; this one is not enrolled
    // locally, so the server judges it).
    let eager = Phone::new("res-4");
    enroll_as(s, &eager, Role::Resident, None, &[GRID]);
    fetch(&server, &eager, id).await;
    eager.store.execute(id, &schedule()).unwrap();
    refused(&server, &eager, id, "deliberation.meetings").await;

    // Out of order, and bad votes: the domain refuses them before anything is made.
    let mut doc = stored(&server, id).await;
    let stamp = Stamp { by: "leader-1".into(), at: now_ms() };
    let decide = Command::RecordDecision {
        text: "移到北门".into(),
        method: DecisionMethod::Consensus,
        votes: vec![],
    };
    let early = command::apply(&mut doc.fork(), id, &stamp, &decide);
    assert!(matches!(early, Err(fieldsync_core::CoreError::InvalidTransition { .. })), "{early:?}");

    // Met and discussed, then the votes.
    let meeting = leader.store.execute(id, &schedule()).unwrap().item.unwrap();
    let attended =
        Command::RecordMeeting { meeting, attendees: vec!["res-1".into(), "res-2".into()] };
    leader.store.execute(id, &attended).unwrap();
    acked(&server, &leader, id).await;
    let mut doc = stored(&server, id).await;
    let north = read(&doc, id).options[0].id.clone();
    for votes in [
        vec![VoteCount { option: "no-such-option".into(), count: 5 }],
        vec![VoteCount { option: north.clone(), count: -1 }],
    ] {
        let bad = Command::RecordDecision {
            text: "移到北门".into(),
            method: DecisionMethod::Vote,
            votes,
        };
        let got = command::apply(&mut doc.fork(), id, &stamp, &bad);
        assert!(
            matches!(&got, Err(fieldsync_core::CoreError::InvalidInput { field, .. }) if *field == "votes"),
            "{got:?}"
        );
    }
    let good = Command::RecordDecision {
        text: "移到北门".into(),
        method: DecisionMethod::Vote,
        votes: vec![VoteCount { option: north, count: 18 }],
    };
    command::apply(&mut doc, id, &stamp, &good).unwrap();
    assert_eq!(read(&doc, id).status, DeliberationStatus::Decided);
    // Nothing of the refused ones reached the server.
    let kept = read(&stored(&server, id).await, id);
    assert!(kept.comments.is_empty(), "{:?}", kept.comments);
    assert_eq!(kept.meetings.len(), 1);
    assert_eq!(kept.status, DeliberationStatus::Discussed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minutes_edited_offline_on_two_phones_both_land() {
    let server = start().await;
    let (id, resident, leader) = raised(&server).await;
    let meeting = leader.store.execute(id, &schedule()).unwrap().item.unwrap();
    let attended =
        Command::RecordMeeting { meeting: meeting.clone(), attendees: vec!["res-1".into()] };
    leader.store.execute(id, &attended).unwrap();
    let edit = |pos, insert: &str| Command::EditMinutes {
        meeting: meeting.clone(),
        pos,
        delete: 0,
        insert: insert.into(),
    };
    leader.store.execute(id, &edit(0, "到会20户。")).unwrap();
    acked(&server, &leader, id).await;
    fetch(&server, &resident, id).await;
    // Both offline: each edits the minutes, then each syncs.
    leader.store.execute(id, &edit(0, "主持：周。")).unwrap();
    resident.store.execute(id, &edit(6, "赞成移到北门。")).unwrap();
    acked(&server, &leader, id).await;
    acked(&server, &resident, id).await;
    let minutes = read(&stored(&server, id).await, id).meetings[0].minutes.clone();
    assert_eq!(minutes, "主持：周。到会20户。赞成移到北门。");
}
