use automerge::ActorId;

use super::*;
use crate::error::CoreError;
use crate::model::command::{apply, create};
use crate::model::{NewRecord, read_record, validate};
use DeliberationStatus as S;

const AT: i64 = 1_700_000_000_000;

fn stamp(by: &str) -> Stamp {
    Stamp { by: by.into(), at: AT }
}

fn raised() -> (DocId, AutoCommit) {
    let new = NewRecord::Deliberation {
        deliberation: NewDeliberation {
            scope: "jl/cc/street-1/grid-7".into(),
            topic: "加装电梯".into(),
            background: "3号楼老人多，上下楼难".into(),
            options: vec!["加装".into(), "不加装".into()],
        },
    };
    create(&new, &stamp("res-1"), ActorId::random()).expect("raise")
}

fn read(doc: &AutoCommit, id: DocId) -> Deliberation {
    match read_record(doc, id).expect("read") {
        Record::Deliberation { deliberation } => deliberation,
        other => panic!("not a deliberation: {other:?}"),
    }
}

fn run(doc: &mut AutoCommit, id: DocId, by: &str, cmd: Command) -> Option<String> {
    apply(doc, id, &stamp(by), &cmd).expect("applies").item
}

fn schedule() -> Command {
    Command::ScheduleMeeting {
        at: Timestamp::from_millis(AT + 86_400_000), place: "活动室".into()
    }
}

/// A deliberation with one meeting held: (id, doc, meeting key).
fn discussed() -> (DocId, AutoCommit, String) {
    let (id, mut doc) = raised();
    let m = run(&mut doc, id, "gl-1", schedule()).expect("meeting key");
    let record = Command::RecordMeeting { meeting: m.clone(), attendees: vec!["res-1".into()] };
    run(&mut doc, id, "gl-1", record);
    (id, doc, m)
}

#[test]
fn a_deliberation_goes_its_whole_course() {
    let (id, mut doc, meeting) = discussed();
    let d = read(&doc, id);
    assert_eq!(d.status, S::Discussed);
    assert_eq!(d.options.len(), 2);
    assert!(d.meeting(&meeting).is_some_and(|m| m.held) && d.attended_by("res-1"));
    assert_eq!(KindSpec::participants(&d), vec!["res-1".to_string()]);
    let votes = vec![
        VoteCount { option: d.options[0].id.clone(), count: 31 },
        VoteCount { option: d.options[1].id.clone(), count: 4 },
    ];
    let decide = Command::RecordDecision {
        text: "加装，费用按楼层分摊".into(),
        method: DecisionMethod::Vote,
        votes: votes.clone(),
    };
    run(&mut doc, id, "gl-1", decide);
    run(&mut doc, id, "gl-1", Command::AddFollowUpAction { text: "联系施工方".into() });
    run(&mut doc, id, "gl-1", Command::MarkImplemented { note: "已完工".into() });
    let d = read(&doc, id);
    assert_eq!(d.status, S::Implemented);
    assert_eq!(d.decision.as_ref().map(|x| &x.votes), Some(&votes));
    assert_eq!(d.actions.len(), 1);
    let actions: Vec<&str> = d.timeline.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "raise_deliberation",
            "schedule_meeting",
            "record_meeting",
            "record_decision",
            "mark_implemented"
        ]
    );
    assert_eq!(crate::model::layout_faults(&doc, Kind::Deliberation), Vec::<String>::new());
    assert!(validate::validate(&Record::Deliberation { deliberation: d }).is_ok());
}

#[test]
fn steps_out_of_order_are_refused_and_change_nothing() {
    let (id, mut doc) = raised();
    let before = doc.save_nocompress();
    let decide = Command::RecordDecision {
        text: "x".into(),
        method: DecisionMethod::Consensus,
        votes: vec![],
    };
    for cmd in [
        decide,
        Command::MarkImplemented { note: String::new() },
        Command::AddFollowUpAction { text: "x".into() },
        Command::RecordMeeting { meeting: "m".into(), attendees: vec![] },
    ] {
        let mut fork = doc.fork();
        let got = apply(&mut fork, id, &stamp("gl-1"), &cmd);
        assert!(matches!(got, Err(CoreError::InvalidTransition { .. })), "{cmd:?}: {got:?}");
    }
    assert_eq!(doc.save_nocompress(), before);
    // Dropped is final; implemented may not be dropped.
    let mut dropped = doc.fork();
    run(&mut dropped, id, "gl-1", Command::DropDeliberation { reason: "重复".into() });
    let again = apply(&mut dropped, id, &stamp("gl-1"), &schedule());
    assert!(matches!(again, Err(CoreError::InvalidTransition { .. })), "{again:?}");
    let comment = Command::CommentDeliberation { text: "还讨论吗".into() };
    let late = apply(&mut dropped, id, &stamp("res-1"), &comment);
    assert!(matches!(late, Err(CoreError::InvalidTransition { .. })), "{late:?}");
}

#[test]
fn bad_votes_are_refused_with_the_field_named() {
    let (id, mut doc, meeting) = discussed();
    let d = read(&doc, id);
    let yes = d.options[0].id.clone();
    let vote = |votes: Vec<VoteCount>| Command::RecordDecision {
        text: "决定".into(),
        method: DecisionMethod::Vote,
        votes,
    };
    let count = |option: &str, count| VoteCount { option: option.into(), count };
    for cmd in [
        vote(vec![count("no-such-option", 3)]),
        vote(vec![count(&yes, -1)]),
        vote(vec![count(&yes, 2), count(&yes, 3)]),
        vote(vec![]),
        Command::RecordDecision {
            text: "决定".into(),
            method: DecisionMethod::Consensus,
            votes: vec![count(&yes, 1)],
        },
    ] {
        let got = apply(&mut doc.fork(), id, &stamp("gl-1"), &cmd);
        assert!(
            matches!(&got, Err(CoreError::InvalidInput { field: "votes", .. })),
            "{cmd:?}: {got:?}"
        );
    }
    let twice = Command::RecordMeeting { meeting, attendees: vec!["res-2".into()] };
    let got = apply(&mut doc.fork(), id, &stamp("gl-1"), &twice);
    assert!(matches!(got, Err(CoreError::InvalidTransition { .. })), "{got:?}");
    let unknown =
        Command::EditMinutes { meeting: "nope".into(), pos: 0, delete: 0, insert: "x".into() };
    let got = apply(&mut doc.fork(), id, &stamp("gl-1"), &unknown);
    assert!(matches!(got, Err(CoreError::InvalidInput { field: "meeting", .. })), "{got:?}");
}

#[test]
fn comments_made_on_two_phones_offline_both_stay() {
    let (id, mut doc) = raised();
    let mut a = doc.fork().with_actor(ActorId::from([1u8; 16]));
    let mut b = doc.fork().with_actor(ActorId::from([2u8; 16]));
    run(&mut a, id, "res-1", Command::CommentDeliberation { text: "赞成".into() });
    run(&mut b, id, "res-2", Command::CommentDeliberation { text: "反对".into() });
    run(&mut b, id, "res-2", Command::ProposeOption { text: "先调查".into() });
    a.merge(&mut b).expect("merge");
    let d = read(&a, id);
    let mut said: Vec<(&str, &str)> =
        d.comments.iter().map(|c| (c.by.as_str(), c.text.as_str())).collect();
    said.sort_unstable();
    assert_eq!(said, [("res-1", "赞成"), ("res-2", "反对")]);
    assert_eq!(d.options.len(), 3);
}

#[test]
fn minutes_edited_on_two_phones_offline_keep_both_edits() {
    let (id, mut doc, meeting) = discussed();
    let edit = |pos, insert: &str| Command::EditMinutes {
        meeting: meeting.clone(),
        pos,
        delete: 0,
        insert: insert.into(),
    };
    run(&mut doc, id, "gl-1", edit(0, "到会35人。"));
    let mut a = doc.fork().with_actor(ActorId::from([1u8; 16]));
    let mut b = doc.fork().with_actor(ActorId::from([2u8; 16]));
    run(&mut a, id, "gl-1", edit(0, "主持：周。"));
    run(&mut b, id, "res-1", edit(6, "多数赞成。"));
    a.merge(&mut b).expect("merge");
    let minutes = read(&a, id).meetings[0].minutes.clone();
    assert_eq!(minutes, "主持：周。到会35人。多数赞成。");
    b.merge(&mut a).expect("merge");
    assert_eq!(read(&b, id).meetings[0].minutes, minutes);
}
