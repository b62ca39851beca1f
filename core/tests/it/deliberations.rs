//! Deliberations on phones: a resident raises one, a grid leader schedules and records a
//! meeting, two phones edit its minutes offline and both edits survive the merge, the decision
//! is recorded; the lists and search find it. A resident scheduling a meeting, a decision with
//! votes for an unknown option or a negative count, and a step out of order are typed errors
//! that change nothing.

use fieldsync_core::CoreError;
use fieldsync_core::model::*;
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::store::{DeliberationFilter, PageRequest};
use fieldsync_core::time::{Timestamp, now_ms};

use crate::common::{GRID, store};

fn enrolled(dir: &tempfile::TempDir, user: &str, role: Role) -> fieldsync_core::Store {
    let s = store(dir, user, user);
    s.set_profile(&Profile { user: user.into(), role, patrol: None, scopes: vec![GRID.into()] })
        .unwrap();
    s
}

fn read(s: &fieldsync_core::Store, id: fieldsync_core::DocId) -> Deliberation {
    match s.get(id).unwrap() {
        Record::Deliberation { deliberation } => deliberation,
        other => panic!("not a deliberation: {other:?}"),
    }
}

/// Runs `cmd` on `s` and checks it is refused as `expected` says, with nothing changed.
fn refused(
    s: &fieldsync_core::Store,
    id: fieldsync_core::DocId,
    cmd: Command,
    expected: impl Fn(&CoreError) -> bool,
) {
    let before = (s.heads(id).unwrap(), s.get(id).unwrap());
    let got = s.execute(id, &cmd);
    assert!(got.as_ref().err().is_some_and(&expected), "{cmd:?}: {got:?}");
    assert_eq!((s.heads(id).unwrap(), s.get(id).unwrap()), before, "{cmd:?} changed nothing");
}

#[test]
fn a_deliberation_is_raised_met_on_co_minuted_offline_and_decided() {
    let dir = tempfile::tempdir().unwrap();
    let resident = enrolled(&dir, "res-liu", Role::Resident);
    let leader = enrolled(&dir, "leader-zhou", Role::GridLeader);
    let new = NewRecord::Deliberation {
        deliberation: NewDeliberation {
            scope: GRID.into(),
            topic: "7号楼加装电梯".into(),
            background: "楼里老人多，上下楼难；费用如何分摊".into(),
            options: vec!["按楼层分摊".into(), "平均分摊".into()],
        },
    };
    let id = resident.create(&new).unwrap();
    resident.execute(id, &Command::CommentDeliberation { text: "一楼也出钱吗".into() }).unwrap();
    leader.merge_remote(id, &resident.saved_bytes(id).unwrap()).unwrap();

    // A resident does not schedule meetings; the order of steps holds for everybody.
    let when = Timestamp::from_millis(now_ms() + 86_400_000);
    let schedule = Command::ScheduleMeeting { at: when, place: "社区活动室".into() };
    refused(
        &resident,
        id,
        schedule.clone(),
        |e| matches!(e, CoreError::Forbidden { rule, .. } if *rule == "deliberation.meetings"),
    );
    let consensus = Command::RecordDecision {
        text: "按楼层分摊".into(),
        method: DecisionMethod::Consensus,
        votes: vec![],
    };
    refused(&leader, id, consensus, |e| matches!(e, CoreError::InvalidTransition { .. }));

    let meeting = leader.execute(id, &schedule).unwrap().item.expect("the meeting's key");
    let attended =
        Command::RecordMeeting { meeting: meeting.clone(), attendees: vec!["res-liu".into()] };
    leader.execute(id, &attended).unwrap();
    resident.merge_remote(id, &leader.saved_bytes(id).unwrap()).unwrap();

    // Offline, both edit the minutes: the leader at the start, the resident (who attended)
    // at the end. Both edits survive, interleaved, on both phones.
    let edit = |pos, insert: &str| Command::EditMinutes {
        meeting: meeting.clone(),
        pos,
        delete: 0,
        insert: insert.into(),
    };
    leader.execute(id, &edit(0, "到会28户。")).unwrap();
    resident.merge_remote(id, &leader.saved_bytes(id).unwrap()).unwrap();
    leader.execute(id, &edit(0, "主持：周。")).unwrap();
    resident.execute(id, &edit(6, "多数赞成按楼层分摊。")).unwrap();
    leader.merge_remote(id, &resident.saved_bytes(id).unwrap()).unwrap();
    resident.merge_remote(id, &leader.saved_bytes(id).unwrap()).unwrap();
    let minutes = read(&leader, id).meetings[0].minutes.clone();
    assert_eq!(minutes, "主持：周。到会28户。多数赞成按楼层分摊。");
    assert_eq!(read(&resident, id).meetings[0].minutes, minutes);

    // Bad votes: typed errors, nothing changed.
    let d = read(&leader, id);
    let (by_floor, even) = (d.options[0].id.clone(), d.options[1].id.clone());
    let vote = |votes: Vec<VoteCount>| Command::RecordDecision {
        text: "按楼层分摊".into(),
        method: DecisionMethod::Vote,
        votes,
    };
    let count = |option: &str, count| VoteCount { option: option.into(), count };
    for bad in [vec![count("no-such-option", 3)], vec![count(&by_floor, -2)]] {
        refused(
            &leader,
            id,
            vote(bad),
            |e| matches!(e, CoreError::InvalidInput { field, .. } if *field == "votes"),
        );
    }
    leader.execute(id, &vote(vec![count(&by_floor, 21), count(&even, 7)])).unwrap();
    let decided = read(&leader, id);
    assert_eq!(decided.status, DeliberationStatus::Decided);
    assert_eq!(decided.decision.map(|d| d.votes.len()), Some(2));

    // Listed by status and by attendee; searched by its minutes.
    let first = PageRequest::first(50);
    let by_status = DeliberationFilter {
        statuses: vec![DeliberationStatus::Decided],
        ..DeliberationFilter::default()
    };
    let rows = leader.query_deliberations(&by_status, &first).unwrap().items;
    assert_eq!(
        rows.iter().map(|r| (r.id, r.comments, r.meetings)).collect::<Vec<_>>(),
        [(id, 1, 1)]
    );
    assert_eq!(rows[0].next_meeting_at, None, "its one meeting was held");
    let attended_by =
        DeliberationFilter { attended_by: Some("res-liu".into()), ..DeliberationFilter::default() };
    assert_eq!(resident.query_deliberations(&attended_by, &first).unwrap().items.len(), 1);
    let nobody =
        DeliberationFilter { attended_by: Some("res-wu".into()), ..DeliberationFilter::default() };
    assert!(leader.query_deliberations(&nobody, &first).unwrap().items.is_empty());
    let hits = leader.search("楼层分摊", Some(Kind::Deliberation), 10).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id]);
}
