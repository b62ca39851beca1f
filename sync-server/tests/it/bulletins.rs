//! Warning bulletins on the real server: an acknowledgement in another person's name, by
//! someone the bulletin is not addressed to, or by someone who may not read it is refused
//! naming its rule, with nothing stored; a good one lands; and a device enrolled after a
//! bulletin's validity ended is not sent it, by the feed nor when it asks for it by id.

use std::time::Duration;

use fieldsync_core::DocId;
use fieldsync_core::model::*;
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::time::{Timestamp, now_ms};

use crate::common::*;
use crate::policy::{pulled, refused};

const OTHER_GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";

fn bulletin_until(valid_until: i64) -> NewRecord {
    NewRecord::Bulletin {
        bulletin: NewBulletin {
            scope: GRID.into(),
            severity: Severity::Orange,
            audience: vec![Addressee::Patrols],
            title: "暴雨预警".into(),
            text: "河道水位上涨，巡逻队劝离河边游客".into(),
            valid_until: Timestamp::from_millis(valid_until),
            location: None,
            photos: vec![],
        },
    }
}

/// A bulletin to the grid's patrols, issued by a dispatcher of the whole jurisdiction.
async fn issued(server: &TestServer, valid_until: i64) -> DocId {
    let hq = Phone::new("hq-1");
    enroll_as(server.running.server(), &hq, Role::Dispatcher, None, &["jl"]);
    let id = hq.store.create(&bulletin_until(valid_until)).unwrap();
    acked(server, &hq, id).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_acknowledgements_are_refused_and_change_nothing() {
    let server = start().await;
    let s = server.running.server();
    let id = issued(&server, now_ms() + 3_600_000).await;

    // In another person's name: the device of patrol-1 signs it patrol-2.
    let forger = Phone::new("patrol-1");
    enroll_as(s, &forger, Role::Patrol, Some(PatrolKind::Cadre), &[GRID]);
    fetch(&server, &forger, id).await;
    forger.store.set_user("patrol-2").unwrap();
    forger.store.execute(id, &Command::AcknowledgeBulletin).unwrap();
    refused(&server, &forger, id, "bulletin.acknowledgements").await;

    // By a reader it is not addressed to: a grid leader of the grid.
    let leader = Phone::new("leader-1");
    enroll_as(s, &leader, Role::GridLeader, None, &[GRID]);
    fetch(&server, &leader, id).await;
    leader.store.execute(id, &Command::AcknowledgeBulletin).unwrap();
    refused(&server, &leader, id, "bulletin.acknowledge").await;

    // By a patrol of another grid, who may not even read it.
    let stranger = Phone::new("patrol-9");
    enroll_as(s, &stranger, Role::Patrol, Some(PatrolKind::Police), &[OTHER_GRID]);
    fetch(&server, &stranger, id).await;
    stranger.store.execute(id, &Command::AcknowledgeBulletin).unwrap();
    refused(&server, &stranger, id, "read").await;

    // Twice by the same person, the second built on the first.
    let patrol = Phone::new("patrol-3");
    enroll_as(s, &patrol, Role::Patrol, Some(PatrolKind::Volunteer), &[GRID]);
    fetch(&server, &patrol, id).await;
    patrol.store.execute(id, &Command::AcknowledgeBulletin).unwrap();
    acked(&server, &patrol, id).await;
    let stored = s.storage().load(vec![id]).await.unwrap()[0].clone().unwrap();
    let mut doc = automerge::AutoCommit::load(&stored.bytes).unwrap();
    let twice = command::apply(
        &mut doc,
        id,
        &Stamp { by: "patrol-3".into(), at: now_ms() },
        &Command::AcknowledgeBulletin,
    );
    assert!(matches!(twice, Err(fieldsync_core::CoreError::InvalidTransition { .. })), "{twice:?}");

    let record = read_record(&doc, id).unwrap();
    let Record::Bulletin { bulletin } = record else { panic!("a bulletin") };
    let by: Vec<&str> = bulletin.acknowledgements.iter().map(|a| a.by.as_str()).collect();
    assert_eq!(by, ["patrol-3"], "only the good acknowledgement is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_enrolled_after_a_bulletin_expired_is_not_sent_it() {
    let server = start().await;
    let s = server.running.server();
    let id = issued(&server, now_ms() + 1_500).await;
    let early = Phone::new("patrol-early");
    enroll_as(s, &early, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    let late = Phone::new("patrol-late");
    enroll_as(s, &late, Role::Patrol, Some(PatrolKind::Police), &[GRID]);

    assert!(pulled(&server, &early, "").await.contains(&id), "enrolled while it was in force");
    assert!(!pulled(&server, &late, "").await.contains(&id), "enrolled after it expired");
    // Asked for by id, it is what a made-up id is: nothing.
    let mut req = late.request(Some(server.epoch()), "", vec![]);
    req.want = vec![id];
    let resp = server.sync(&req).await.unwrap();
    assert!(resp.docs.iter().all(|d| d.doc != id), "sent when asked for");
    // The rest of what the late device may read still comes.
    let fresh = issued(&server, now_ms() + 3_600_000).await;
    assert!(pulled(&server, &late, "").await.contains(&fresh));
}
