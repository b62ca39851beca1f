//! Deliberation (议事协商): residents and their grid leaders discuss and decide a matter of
//! common concern. A resident or a grid leader raises a topic with its background; people
//! comment and propose options; the grid leaders or dispatchers of its scope schedule meetings,
//! record who attended, and anyone among them or the attendees keeps the minutes (Automerge Text,
//! so two phones' offline edits interleave); then the decision (vote counts per option, or
//! consensus), follow-up actions, and its implementation.
//!
//! States: `proposed → scheduled → discussed → decided → implemented`, a discussed one may be
//! scheduled again for another meeting, and any but an implemented one may be `dropped`. The
//! commands here refuse a step out of this order (`InvalidTransition`) and bad arguments
//! (`InvalidInput`); who may take which step is the policy's (`policy/deliberation.rs`).

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use autosurgeon::Hydrate;

use super::case::TextField;
use super::command::{Command, append_signed};
use super::common::{
    FieldConflict, Header, PhotoRef, Stamp, TimelineEvent, hydrate_text, hydrate_ts,
};
use super::doc::{self, HEADER, STATUS, TIMELINE};
use super::macros::string_enum;
use super::registry::{Kind, KindSpec, Record, common_spec};
use super::report::Comment;
use super::shape::{EVENTS, HEADER_MAP, Node};
use super::validate::Violations;
use crate::error::{CoreError, Result};
use crate::id::{DocId, item_key};
use crate::limits;
use crate::time::Timestamp;

string_enum! {
    /// Where a deliberation is in its course.
    DeliberationStatus as "status" {
        /// Raised; no meeting yet.
        Proposed => "proposed",
        /// A meeting is scheduled and not yet held.
        Scheduled => "scheduled",
        /// A meeting was held (its attendance recorded).
        Discussed => "discussed",
        /// The decision is recorded.
        Decided => "decided",
        /// What was decided is done.
        Implemented => "implemented",
        /// Given up before it was implemented.
        Dropped => "dropped",
    }
}

string_enum! {
    /// How a decision was reached.
    DecisionMethod as "method" {
        /// Everyone agreed; no votes were counted.
        Consensus => "consensus",
        /// Votes were counted per option.
        Vote => "vote",
    }
}

/// An option put to the deliberation.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DeliberationOption {
    /// Stable key (what votes name).
    pub id: String,
    /// Who proposed it (user id).
    pub by: String,
    /// What it proposes.
    pub text: String,
}

/// A meeting of the deliberation.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Meeting {
    /// Stable key.
    pub id: String,
    /// When it is (or was) held.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
    /// Where.
    pub place: String,
    /// Who scheduled it (user id).
    pub by: String,
    /// Whether it was held: its attendance is recorded.
    pub held: bool,
    /// User ids of those who attended (merged when two phones record some offline).
    pub attendees: Vec<String>,
    /// Minutes (Automerge Text: concurrent edits from two phones interleave).
    #[autosurgeon(hydrate = "hydrate_text")]
    pub minutes: String,
}

/// The votes one option received.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VoteCount {
    /// The option's key.
    pub option: String,
    /// How many votes (0 or more).
    pub count: i64,
}

/// The decision taken.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Decision {
    /// What was decided.
    pub text: String,
    /// By vote or by consensus.
    pub method: DecisionMethod,
    /// The votes per option (empty for a consensus).
    pub votes: Vec<VoteCount>,
    /// Who recorded it (user id).
    pub by: String,
    /// When.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
}

/// A follow-up action after the decision.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FollowUpAction {
    /// Stable key.
    pub id: String,
    /// When it was added.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
    /// Who added it (user id).
    pub by: String,
    /// What is to be done.
    pub text: String,
}

/// A deliberation as read from its document.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Deliberation {
    /// Id, scope, who raised it, when.
    pub header: Header,
    /// The matter to discuss.
    pub topic: String,
    /// Its background.
    pub background: String,
    /// Where it is in its course.
    pub status: DeliberationStatus,
    /// The discussion, in merged order.
    pub comments: Vec<Comment>,
    /// The options put to it.
    pub options: Vec<DeliberationOption>,
    /// Its meetings, in merged order.
    pub meetings: Vec<Meeting>,
    /// The decision, once taken.
    pub decision: Option<Decision>,
    /// Follow-up actions.
    pub actions: Vec<FollowUpAction>,
    /// History of state changes.
    pub timeline: Vec<TimelineEvent>,
    /// Single-valued fields that devices set concurrently to different values.
    #[autosurgeon(hydrate = "super::common::computed_conflicts")]
    pub conflicts: Vec<FieldConflict>,
}

impl Deliberation {
    /// The meeting with key `id`.
    pub fn meeting(&self, id: &str) -> Option<&Meeting> {
        self.meetings.iter().find(|m| m.id == id)
    }

    /// Whether `user` attended one of its meetings.
    pub fn attended_by(&self, user: &str) -> bool {
        self.meetings.iter().any(|m| m.attendees.iter().any(|a| a == user))
    }
}

/// What a resident or a grid leader gives to raise a deliberation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewDeliberation {
    /// The grid or community it concerns.
    pub scope: String,
    /// The matter to discuss.
    pub topic: String,
    /// Its background (may be empty).
    #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
    pub background: String,
    /// Options to put to it from the start (may be empty).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub options: Vec<String>,
}

/// A meeting's minutes, as edits name them in errors.
const MINUTES: TextField =
    TextField { name: "minutes", range: "minutes range", edit: "minutes edit" };

/// Registers of a deliberation whose concurrent values are shown and can be settled.
pub(crate) const REGISTERS: &[&str] = &[STATUS];

use DeliberationStatus as S;

/// The states before implementation: the ones a deliberation may be dropped from.
const OPEN: &[DeliberationStatus] = &[S::Proposed, S::Scheduled, S::Discussed, S::Decided];

/// Appends `{id, by, text}` to the options list.
fn append_option(
    doc: &mut AutoCommit,
    list: &automerge::ObjId,
    by: &str,
    text: &str,
) -> Result<String> {
    limits::text("option", text, limits::NOTE_CHARS)?;
    limits::room_in_list("options", doc.length(list), limits::SHORT_LIST_ITEMS)?;
    let key = item_key();
    doc::append_map(
        doc,
        list,
        vec![("id", key.as_str().into()), ("by", by.into()), ("text", text.into())],
    )?;
    Ok(key)
}

/// Writes the fields of a new deliberation below its header.
pub(crate) fn create(doc: &mut AutoCommit, new: &NewDeliberation, stamp: &Stamp) -> Result<()> {
    limits::text("topic", &new.topic, limits::TITLE_CHARS)?;
    limits::optional_text("background", &new.background, limits::DESCRIPTION_CHARS)?;
    limits::list_len("options", new.options.len(), limits::SHORT_LIST_ITEMS)?;
    for o in &new.options {
        limits::text("option", o, limits::NOTE_CHARS)?;
    }
    doc.put(ROOT, "topic", new.topic.as_str())?;
    doc.put(ROOT, "background", new.background.as_str())?;
    doc.put(ROOT, STATUS, S::Proposed)?;
    doc.put_object(ROOT, "comments", ObjType::List)?;
    let options = doc.put_object(ROOT, "options", ObjType::List)?;
    for o in &new.options {
        append_option(doc, &options, &stamp.by, o)?;
    }
    doc.put_object(ROOT, "meetings", ObjType::List)?;
    doc.put(ROOT, "decision", ScalarValue::Null)?;
    doc.put_object(ROOT, "actions", ObjType::List)?;
    doc.put_object(ROOT, TIMELINE, ObjType::List)?;
    Ok(())
}

fn require(id: DocId, cmd: &Command, status: S, allowed: &[S]) -> Result<()> {
    super::command::require(id, cmd, "the deliberation", status, allowed)
}

/// The keys of the options stored in the document.
fn option_keys(doc: &AutoCommit, id: DocId) -> Result<Vec<String>> {
    let list = doc::root_list(doc, "options", id)?;
    let mut keys = Vec::new();
    for i in 0..doc.length(&list) {
        if let Some((automerge::Value::Object(ObjType::Map), item)) = doc.get(&list, i)?
            && let Some(k) = doc::get_str(doc, &item, "id")?
        {
            keys.push(k);
        }
    }
    Ok(keys)
}

/// The faults of a decision's votes against the options `known`: a vote needs counts, each
/// for a known option, once, not negative; a consensus counts none.
fn votes_fault(method: DecisionMethod, votes: &[VoteCount], known: &[String]) -> Option<CoreError> {
    match method {
        DecisionMethod::Consensus if !votes.is_empty() => {
            return Some(CoreError::invalid("votes", "a consensus counts no votes"));
        }
        DecisionMethod::Vote if votes.is_empty() => {
            return Some(CoreError::invalid("votes", "a vote counts the votes of its options"));
        }
        _ => {}
    }
    for (i, v) in votes.iter().enumerate() {
        if !known.contains(&v.option) {
            let shown: String = v.option.chars().take(40).collect();
            return Some(CoreError::invalid("votes", format!("no option {shown:?} was put")));
        }
        if v.count < 0 {
            return Some(CoreError::invalid(
                "votes",
                format!("{} votes for {:?}: a count is 0 or more", v.count, v.option),
            ));
        }
        if v.count > i64::from(u32::MAX) {
            return Some(CoreError::invalid("votes", format!("{} votes is too many", v.count)));
        }
        if votes[..i].iter().any(|w| w.option == v.option) {
            return Some(CoreError::invalid("votes", format!("{:?} is counted twice", v.option)));
        }
    }
    None
}

/// The meeting with key `meeting` of the document, or `InvalidInput`.
fn meeting_obj(doc: &AutoCommit, id: DocId, meeting: &str) -> Result<automerge::ObjId> {
    let list = doc::root_list(doc, "meetings", id)?;
    doc::find_item(doc, &list, meeting)?
        .ok_or_else(|| CoreError::invalid("meeting", format!("no meeting {meeting:?} in {id}")))
}

/// Applies a deliberation command to the document; the caller commits.
pub(crate) fn apply(
    doc: &mut AutoCommit,
    id: DocId,
    stamp: &Stamp,
    cmd: &Command,
) -> Result<Option<String>> {
    let status: S = doc::status(doc, id)?;
    match cmd {
        Command::CommentDeliberation { text } => {
            require(id, cmd, status, OPEN)?;
            limits::text("comment", text, limits::NOTE_CHARS)?;
            let list = ("comments", limits::LIST_ITEMS);
            Ok(Some(append_signed(doc, id, stamp, list, ("text", text))?))
        }
        Command::ProposeOption { text } => {
            require(id, cmd, status, &[S::Proposed, S::Scheduled, S::Discussed])?;
            let list = doc::root_list(doc, "options", id)?;
            Ok(Some(append_option(doc, &list, &stamp.by, text)?))
        }
        Command::ScheduleMeeting { at, place } => {
            require(id, cmd, status, &[S::Proposed, S::Scheduled, S::Discussed])?;
            limits::time("at", at.as_millis())?;
            limits::text("place", place, limits::NAME_CHARS)?;
            let list = doc::root_list(doc, "meetings", id)?;
            limits::room_in_list("meetings", doc.length(&list), limits::SHORT_LIST_ITEMS)?;
            let key = item_key();
            let item = doc::append_map(
                doc,
                &list,
                vec![
                    ("id", key.as_str().into()),
                    ("at", ScalarValue::Timestamp(at.as_millis())),
                    ("place", place.as_str().into()),
                    ("by", stamp.by.as_str().into()),
                    ("held", false.into()),
                ],
            )?;
            doc.put_object(&item, "attendees", ObjType::List)?;
            doc::put_text(doc, &item, "minutes", "")?;
            if status != S::Scheduled {
                doc.put(ROOT, STATUS, S::Scheduled)?;
                doc::append_timeline(doc, id, stamp, cmd.name(), place)?;
            }
            Ok(Some(key))
        }
        Command::RecordMeeting { meeting, attendees } => {
            require(id, cmd, status, &[S::Scheduled, S::Discussed])?;
            limits::list_len("attendees", attendees.len(), limits::SHORT_LIST_ITEMS)?;
            for (i, a) in attendees.iter().enumerate() {
                limits::user_id("attendee", a)?;
                if attendees[..i].contains(a) {
                    return Err(CoreError::invalid("attendees", format!("{a} appears twice")));
                }
            }
            let item = meeting_obj(doc, id, meeting)?;
            if doc.get(&item, "held")?.and_then(|(v, _)| v.as_bool()) == Some(true) {
                return Err(CoreError::InvalidTransition {
                    id,
                    command: cmd.name(),
                    reason: format!("meeting {meeting} was recorded already"),
                });
            }
            doc.put(&item, "held", true)?;
            let list = doc::object(doc, &item, "attendees", ObjType::List, id)?;
            for a in attendees {
                let len = doc.length(&list);
                doc.insert(&list, len, a.as_str())?;
            }
            if status == S::Scheduled {
                doc.put(ROOT, STATUS, S::Discussed)?;
                doc::append_timeline(doc, id, stamp, cmd.name(), "")?;
            }
            Ok(None)
        }
        Command::EditMinutes { meeting, pos, delete, insert } => {
            require(id, cmd, status, &[S::Scheduled, S::Discussed, S::Decided])?;
            let item = meeting_obj(doc, id, meeting)?;
            let text = doc::object(doc, &item, "minutes", ObjType::Text, id)?;
            super::case::splice_checked(doc, &text, MINUTES, *pos, *delete, insert)?;
            Ok(None)
        }
        Command::RecordDecision { text, method, votes } => {
            require(id, cmd, status, &[S::Discussed])?;
            limits::text("decision", text, limits::NOTE_CHARS)?;
            if let Some(e) = votes_fault(*method, votes, &option_keys(doc, id)?) {
                return Err(e);
            }
            let d = doc.put_object(ROOT, "decision", ObjType::Map)?;
            doc.put(&d, "text", text.as_str())?;
            doc.put(&d, "method", *method)?;
            doc.put(&d, "by", stamp.by.as_str())?;
            doc.put(&d, "at", ScalarValue::Timestamp(stamp.at))?;
            let list = doc.put_object(&d, "votes", ObjType::List)?;
            for v in votes {
                doc::append_map(
                    doc,
                    &list,
                    vec![
                        ("option", v.option.as_str().into()),
                        ("count", ScalarValue::Int(v.count)),
                    ],
                )?;
            }
            doc.put(ROOT, STATUS, S::Decided)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), text)?;
            Ok(None)
        }
        Command::AddFollowUpAction { text } => {
            require(id, cmd, status, &[S::Decided])?;
            limits::text("action", text, limits::NOTE_CHARS)?;
            let list = ("actions", limits::SHORT_LIST_ITEMS);
            Ok(Some(append_signed(doc, id, stamp, list, ("text", text))?))
        }
        Command::MarkImplemented { note } => {
            require(id, cmd, status, &[S::Decided])?;
            limits::optional_text("note", note, limits::NOTE_CHARS)?;
            doc.put(ROOT, STATUS, S::Implemented)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), note)?;
            Ok(None)
        }
        Command::DropDeliberation { reason } => {
            require(id, cmd, status, OPEN)?;
            limits::text("reason", reason, limits::NOTE_CHARS)?;
            doc.put(ROOT, STATUS, S::Dropped)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), reason)?;
            Ok(None)
        }
        Command::SettleConflict { field, value } => {
            super::command::settle(doc, id, stamp, REGISTERS, field, value)?;
            Ok(None)
        }
        other => Err(super::command::not_for(id, other, Kind::Deliberation)),
    }
}

impl KindSpec for Deliberation {
    const KIND: Kind = Kind::Deliberation;
    const CODE: i64 = 6;
    const CREATE: &'static str = "raise_deliberation";
    const REGISTERS: &'static [&'static str] = REGISTERS;
    const LAYOUT: Node = {
        use Node::{List, Map, Nullable, Text, Value as V};
        Map(&[
            (HEADER, HEADER_MAP),
            ("topic", V),
            ("background", V),
            (STATUS, V),
            ("comments", List(&Map(&[("id", V), ("at", V), ("by", V), ("text", V)]))),
            ("options", List(&Map(&[("id", V), ("by", V), ("text", V)]))),
            (
                "meetings",
                List(&Map(&[
                    ("id", V),
                    ("at", V),
                    ("place", V),
                    ("by", V),
                    ("held", V),
                    ("attendees", List(&V)),
                    ("minutes", Text),
                ])),
            ),
            (
                "decision",
                Nullable(&Map(&[
                    ("text", V),
                    ("method", V),
                    ("votes", List(&Map(&[("option", V), ("count", V)]))),
                    ("by", V),
                    ("at", V),
                ])),
            ),
            ("actions", List(&Map(&[("id", V), ("at", V), ("by", V), ("text", V)]))),
            (TIMELINE, EVENTS),
        ])
    };
    type New = NewDeliberation;

    fn of(record: &Record) -> Option<&Self> {
        match record {
            Record::Deliberation { deliberation } => Some(deliberation),
            _ => None,
        }
    }

    fn new_scope(new: &NewDeliberation) -> &str {
        &new.scope
    }

    common_spec!();

    fn limits(&self, v: &mut Violations) {
        use limits::{NAME_CHARS, NOTE_CHARS, SHORT_LIST_ITEMS, USER_ID_CHARS};
        v.check(limits::text("topic", &self.topic, limits::TITLE_CHARS));
        v.check(limits::optional_text("background", &self.background, limits::DESCRIPTION_CHARS));
        v.list("comments", self.comments.len(), limits::LIST_ITEMS);
        for c in &self.comments {
            v.check(limits::text("comment.id", &c.id, USER_ID_CHARS));
            v.check(limits::time("comment.at", c.at));
            v.check(limits::user_id("comment.by", &c.by));
            v.check(limits::text("comment", &c.text, NOTE_CHARS));
        }
        v.list("options", self.options.len(), SHORT_LIST_ITEMS);
        for o in &self.options {
            v.check(limits::text("option.id", &o.id, USER_ID_CHARS));
            v.check(limits::user_id("option.by", &o.by));
            v.check(limits::text("option", &o.text, NOTE_CHARS));
        }
        v.list("meetings", self.meetings.len(), SHORT_LIST_ITEMS);
        for m in &self.meetings {
            v.check(limits::text("meeting.id", &m.id, USER_ID_CHARS));
            v.check(limits::time("meeting.at", m.at));
            v.check(limits::text("place", &m.place, NAME_CHARS));
            v.check(limits::user_id("meeting.by", &m.by));
            // Two phones may record one meeting's attendance offline: the lists merge.
            v.list("attendees", m.attendees.len(), 2 * SHORT_LIST_ITEMS);
            for a in &m.attendees {
                v.check(limits::user_id("attendee", a));
            }
            v.check(limits::optional_text("minutes", &m.minutes, limits::NOTES_CHARS));
        }
        if let Some(d) = &self.decision {
            v.check(limits::text("decision", &d.text, NOTE_CHARS));
            v.check(limits::user_id("decision.by", &d.by));
            v.check(limits::time("decision.at", d.at));
            let known: Vec<String> = self.options.iter().map(|o| o.id.clone()).collect();
            if let Some(e) = votes_fault(d.method, &d.votes, &known) {
                v.check(Err(e));
            }
        }
        v.list("actions", self.actions.len(), SHORT_LIST_ITEMS);
        for a in &self.actions {
            v.check(limits::text("action.id", &a.id, USER_ID_CHARS));
            v.check(limits::time("action.at", a.at));
            v.check(limits::user_id("action.by", &a.by));
            v.check(limits::text("action", &a.text, NOTE_CHARS));
        }
    }

    fn participants(&self) -> Vec<String> {
        let mut named: Vec<String> = Vec::new();
        for a in self.meetings.iter().flat_map(|m| &m.attendees) {
            if !named.contains(a) {
                named.push(a.clone());
            }
        }
        named
    }

    fn photos(&self) -> Vec<&PhotoRef> {
        Vec::new()
    }

    fn photo_lists(_doc: &AutoCommit, _id: DocId) -> Result<Vec<automerge::ObjId>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::model::command::{apply, create};
    use crate::model::{NewRecord, read_record, validate};

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
            at: Timestamp::from_millis(AT + 86_400_000),
            place: "活动室".into(),
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
}
