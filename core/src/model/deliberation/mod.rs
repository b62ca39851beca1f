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

use automerge::AutoCommit;
use autosurgeon::Hydrate;

use super::command::Command;
use super::common::{
    FieldConflict, Header, PhotoRef, Stamp, TimelineEvent, hydrate_text, hydrate_ts,
};
use super::doc::{HEADER, STATUS, TIMELINE};
use super::macros::string_enum;
use super::registry::{Kind, KindSpec, Record, common_spec};
use super::report::Comment;
use super::shape::{EVENTS, HEADER_MAP, Node};
use super::validate::Violations;
use crate::error::Result;
use crate::id::DocId;
use crate::limits;
use crate::time::Timestamp;

mod commands;

use commands::votes_fault;
pub(crate) use commands::{apply, create};

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
/// Registers of a deliberation whose concurrent values are shown and can be settled.
pub(crate) const REGISTERS: &[&str] = &[STATUS];

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

    fn photo_lists<D: autosurgeon::ReadDoc>(_doc: &D, _id: DocId) -> Result<Vec<automerge::ObjId>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests;
