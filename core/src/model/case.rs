//! Dispute-mediation cases: parties, sessions with notes that two mediators may edit offline at
//! once, an agreement, follow-up visits.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use autosurgeon::Hydrate;

use super::command::Command;
use super::common::{
    FieldConflict, Header, PhotoRef, Stamp, TimelineEvent, hydrate_text, hydrate_ts,
};
use super::doc::{self, HEADER, STATUS, TIMELINE};
use super::macros::string_enum;
use super::registry::{Kind, KindSpec, Record, common_spec};
use super::shape::{EVENTS, HEADER_MAP, Node, PHOTOS};
use super::validate::Violations;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::time::Timestamp;

string_enum! {
    /// What the dispute is about.
    CaseCategory as "category" {
        /// Involving a tourist.
        Tourist => "tourist",
        /// Between neighbours.
        Neighbour => "neighbour",
        /// Within a family.
        Family => "family",
        /// About property.
        Property => "property",
        /// About work and pay.
        Labour => "labour",
        /// Anything else.
        Other => "other",
    }
}

string_enum! {
    /// Where a case is in its workflow.
    CaseStatus as "status" {
        /// Recorded, no session yet.
        Intake => "intake",
        /// At least one session held.
        Mediating => "mediating",
        /// The parties agreed.
        Agreed => "agreed",
        /// Mediation failed.
        Failed => "failed",
        /// Passed on to a higher body.
        Escalated => "escalated",
        /// Closed.
        Closed => "closed",
    }
}

/// A party to the dispute.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Party {
    /// Name.
    pub name: String,
    /// Role, e.g. `tourist`, `shop owner`.
    pub role: String,
    /// Phone number or other contact (may be empty).
    pub contact: String,
}

/// A mediation session.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Session {
    /// Stable key of the session.
    pub id: String,
    /// When it was held.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
    /// Who recorded it.
    pub by: String,
    /// Who attended.
    pub attendees: Vec<String>,
    /// Notes (Automerge Text: two mediators' concurrent edits interleave).
    #[autosurgeon(hydrate = "hydrate_text")]
    pub notes: String,
}

/// A follow-up visit after the case.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FollowUp {
    /// Stable key.
    pub id: String,
    /// When.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
    /// Who visited.
    pub by: String,
    /// What was found.
    pub note: String,
}

/// A mediation case as read from its document.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct MediationCase {
    /// Id, scope, author, creation time.
    pub header: Header,
    /// What the dispute is about.
    pub category: CaseCategory,
    /// Where it is mediated.
    pub place: String,
    /// The parties.
    pub parties: Vec<Party>,
    /// User ids of the mediators.
    pub mediators: Vec<String>,
    /// Sessions, in merged order.
    pub sessions: Vec<Session>,
    /// Agreement text (Automerge Text).
    #[autosurgeon(hydrate = "hydrate_text")]
    pub agreement: String,
    /// Workflow status.
    pub status: CaseStatus,
    /// Body the case was escalated to.
    pub escalated_to: Option<String>,
    /// Follow-up visits.
    pub follow_ups: Vec<FollowUp>,
    /// Photos (evidence).
    pub photos: Vec<PhotoRef>,
    /// History of state changes.
    pub timeline: Vec<TimelineEvent>,
    /// Single-valued fields that devices set concurrently to different values.
    #[autosurgeon(hydrate = "super::common::computed_conflicts")]
    pub conflicts: Vec<FieldConflict>,
}

/// What a mediator gives to open a case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewCase {
    /// Scope the case belongs to.
    pub scope: String,
    /// What it is about.
    pub category: CaseCategory,
    /// Where.
    pub place: String,
    /// The parties.
    pub parties: Vec<Party>,
    /// Mediators' user ids.
    pub mediators: Vec<String>,
}

/// Registers of a case whose concurrent values are shown and can be settled.
pub(crate) const REGISTERS: &[&str] = &[STATUS, "escalated_to"];

/// Writes the fields of a new case below its header.
pub(crate) fn create(doc: &mut AutoCommit, new: &NewCase, _stamp: &Stamp) -> Result<()> {
    limits::text("place", &new.place, limits::NAME_CHARS)?;
    limits::list_len("parties", new.parties.len(), limits::SHORT_LIST_ITEMS)?;
    limits::list_len("mediators", new.mediators.len(), limits::SHORT_LIST_ITEMS)?;
    if new.parties.is_empty() {
        return Err(CoreError::invalid("parties", "a case needs at least one party"));
    }
    for p in &new.parties {
        limits::text("party.name", &p.name, limits::NAME_CHARS)?;
        limits::optional_text("party.role", &p.role, limits::NAME_CHARS)?;
        limits::optional_text("party.contact", &p.contact, limits::NAME_CHARS)?;
    }
    for m in &new.mediators {
        limits::user_id("mediator", m)?;
    }
    doc.put(ROOT, "category", new.category)?;
    doc.put(ROOT, "place", new.place.as_str())?;
    let parties = doc.put_object(ROOT, "parties", ObjType::List)?;
    for p in &new.parties {
        doc::append_map(
            doc,
            &parties,
            vec![
                ("name", p.name.as_str().into()),
                ("role", p.role.as_str().into()),
                ("contact", p.contact.as_str().into()),
            ],
        )?;
    }
    doc::put_str_list(doc, &ROOT, "mediators", &new.mediators)?;
    doc.put_object(ROOT, "sessions", ObjType::List)?;
    doc::put_text(doc, &ROOT, "agreement", "")?;
    doc.put(ROOT, STATUS, CaseStatus::Intake)?;
    doc.put(ROOT, "escalated_to", ScalarValue::Null)?;
    doc.put_object(ROOT, "follow_ups", ObjType::List)?;
    doc.put_object(ROOT, "photos", ObjType::List)?;
    doc.put_object(ROOT, TIMELINE, ObjType::List)?;
    Ok(())
}

use CaseStatus as S;

fn require(id: DocId, cmd: &Command, status: CaseStatus, allowed: &[CaseStatus]) -> Result<()> {
    super::command::require(id, cmd, "the case", status, allowed)
}

/// Applies a case command to the document; the caller commits.
pub(crate) fn apply(
    doc: &mut AutoCommit,
    id: DocId,
    stamp: &Stamp,
    cmd: &Command,
) -> Result<Option<String>> {
    let status: CaseStatus = doc::status(doc, id)?;
    match cmd {
        Command::AddSession { attendees, notes } => {
            require(id, cmd, status, &[S::Intake, S::Mediating])?;
            limits::list_len("attendees", attendees.len(), limits::SHORT_LIST_ITEMS)?;
            for a in attendees {
                limits::text("attendee", a, limits::NAME_CHARS)?;
            }
            limits::optional_text("notes", notes, limits::NOTES_CHARS)?;
            let list = doc::root_list(doc, "sessions", id)?;
            let (key, item) = doc::append_item(
                doc,
                &list,
                "sessions",
                limits::SHORT_LIST_ITEMS,
                vec![("at", ScalarValue::Timestamp(stamp.at)), ("by", stamp.by.as_str().into())],
            )?;
            doc::put_str_list(doc, &item, "attendees", attendees)?;
            doc::put_text(doc, &item, "notes", notes)?;
            if status == S::Intake {
                doc.put(ROOT, STATUS, S::Mediating)?;
                doc::append_timeline(doc, id, stamp, cmd.name(), "")?;
            }
            Ok(Some(key))
        }
        Command::EditNotes { session, pos, delete, insert } => {
            require(
                id,
                cmd,
                status,
                &[S::Intake, S::Mediating, S::Agreed, S::Failed, S::Escalated],
            )?;
            let list = doc::root_list(doc, "sessions", id)?;
            let item = doc::find_item(doc, &list, session).and_then(|item| {
                item.ok_or_else(|| {
                    CoreError::invalid("session", format!("no session {session:?} in {id}"))
                })
            })?;
            let text = doc::object(doc, &item, "notes", ObjType::Text, id)?;
            splice_checked(doc, &text, NOTES, *pos, *delete, insert)?;
            Ok(None)
        }
        Command::RecordAgreement { text } => {
            require(id, cmd, status, &[S::Mediating])?;
            limits::text("agreement", text, limits::NOTES_CHARS)?;
            let obj = doc::object(doc, &ROOT, "agreement", ObjType::Text, id)?;
            let len = doc.length(&obj);
            doc.splice_text(&obj, 0, len as isize, text)?;
            doc.put(ROOT, STATUS, S::Agreed)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), "")?;
            Ok(None)
        }
        Command::RecordFailure { reason } => {
            require(id, cmd, status, &[S::Mediating])?;
            limits::text("reason", reason, limits::NOTE_CHARS)?;
            doc.put(ROOT, STATUS, S::Failed)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), reason)?;
            Ok(None)
        }
        Command::EscalateCase { to, reason } => {
            require(id, cmd, status, &[S::Mediating, S::Failed])?;
            limits::text("to", to, limits::NAME_CHARS)?;
            limits::optional_text("reason", reason, limits::NOTE_CHARS)?;
            doc.put(ROOT, "escalated_to", to.as_str())?;
            doc.put(ROOT, STATUS, S::Escalated)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), reason)?;
            Ok(None)
        }
        Command::CloseCase { note } => {
            require(id, cmd, status, &[S::Agreed, S::Failed, S::Escalated])?;
            limits::optional_text("note", note, limits::NOTE_CHARS)?;
            doc.put(ROOT, STATUS, S::Closed)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), note)?;
            Ok(None)
        }
        Command::AddFollowUp { note } => {
            require(id, cmd, status, &[S::Agreed, S::Closed])?;
            limits::text("note", note, limits::NOTE_CHARS)?;
            let list = ("follow_ups", limits::SHORT_LIST_ITEMS);
            Ok(Some(super::command::append_signed(doc, id, stamp, list, ("note", note))?))
        }
        Command::AddPhoto { photo, entry } => {
            super::command::add_root_photo(doc, id, photo, entry.as_ref(), "a mediation case")?;
            Ok(None)
        }
        Command::SettleConflict { field, value } => {
            super::command::settle(doc, id, stamp, REGISTERS, field, value)?;
            Ok(None)
        }
        other => Err(super::command::not_for(id, other, Kind::MediationCase)),
    }
}

impl KindSpec for MediationCase {
    const KIND: Kind = Kind::MediationCase;
    const CODE: i64 = 3;
    const CREATE: &'static str = "open_case";
    const REGISTERS: &'static [&'static str] = REGISTERS;
    const LAYOUT: Node = {
        use Node::{List, Map, Text, Value as V};
        Map(&[
            (HEADER, HEADER_MAP),
            ("category", V),
            ("place", V),
            ("parties", List(&Map(&[("name", V), ("role", V), ("contact", V)]))),
            ("mediators", List(&V)),
            (
                "sessions",
                List(&Map(&[
                    ("id", V),
                    ("at", V),
                    ("by", V),
                    ("attendees", List(&V)),
                    ("notes", Text),
                ])),
            ),
            ("agreement", Text),
            (STATUS, V),
            ("escalated_to", V),
            ("follow_ups", List(&Map(&[("id", V), ("at", V), ("by", V), ("note", V)]))),
            ("photos", PHOTOS),
            (TIMELINE, EVENTS),
        ])
    };
    type New = NewCase;

    fn of(record: &Record) -> Option<&Self> {
        match record {
            Record::MediationCase { mediation_case } => Some(mediation_case),
            _ => None,
        }
    }

    fn new_scope(new: &NewCase) -> &str {
        &new.scope
    }

    common_spec!();

    fn limits(&self, v: &mut Violations) {
        use limits::{NAME_CHARS, NOTE_CHARS, NOTES_CHARS, SHORT_LIST_ITEMS};
        v.check(limits::text("place", &self.place, NAME_CHARS));
        if self.parties.is_empty() {
            v.check(Err(CoreError::invalid("parties", "a case needs at least one party")));
        }
        v.list("parties", self.parties.len(), SHORT_LIST_ITEMS);
        for p in &self.parties {
            v.check(limits::text("party.name", &p.name, NAME_CHARS));
            v.check(limits::optional_text("party.role", &p.role, NAME_CHARS));
            v.check(limits::optional_text("party.contact", &p.contact, NAME_CHARS));
        }
        v.list("mediators", self.mediators.len(), SHORT_LIST_ITEMS);
        for m in &self.mediators {
            v.check(limits::user_id("mediator", m));
        }
        v.list("sessions", self.sessions.len(), SHORT_LIST_ITEMS);
        for s in &self.sessions {
            v.check(limits::text("session.id", &s.id, limits::USER_ID_CHARS));
            v.check(limits::time("session.at", s.at));
            v.check(limits::user_id("session.by", &s.by));
            v.list("attendees", s.attendees.len(), SHORT_LIST_ITEMS);
            for a in &s.attendees {
                v.check(limits::text("attendee", a, NAME_CHARS));
            }
            v.check(limits::optional_text("notes", &s.notes, NOTES_CHARS));
        }
        v.check(limits::optional_text("agreement", &self.agreement, NOTES_CHARS));
        if let Some(to) = &self.escalated_to {
            v.check(limits::text("to", to, NAME_CHARS));
        }
        v.list("follow_ups", self.follow_ups.len(), SHORT_LIST_ITEMS);
        for f in &self.follow_ups {
            v.check(limits::text("follow_up.id", &f.id, limits::USER_ID_CHARS));
            v.check(limits::time("follow_up.at", f.at));
            v.check(limits::user_id("follow_up.by", &f.by));
            v.check(limits::text("note", &f.note, NOTE_CHARS));
        }
        v.photos(&self.photos);
    }

    fn participants(&self) -> Vec<String> {
        self.mediators.clone()
    }

    fn photos(&self) -> Vec<&PhotoRef> {
        self.photos.iter().collect()
    }

    fn photo_lists<D: autosurgeon::ReadDoc>(doc: &D, _id: DocId) -> Result<Vec<automerge::ObjId>> {
        doc::root_photo_list(doc)
    }
}

/// The names a text field's errors give: the field, its range, its edit.
pub(crate) struct TextField {
    /// The field, e.g. `notes`.
    pub(crate) name: &'static str,
    /// A range outside it or inside a character, e.g. `notes range`.
    pub(crate) range: &'static str,
    /// An edit that changes nothing, e.g. `notes edit`.
    pub(crate) edit: &'static str,
}

/// A session's notes.
const NOTES: TextField = TextField { name: "notes", range: "notes range", edit: "notes edit" };

/// Splices Text at a range given in UTF-16 code units (the unit of the platforms' strings:
/// `Command::EditNotes`, `Command::EditMinutes`), after checking the range and the resulting
/// length; Automerge counts code points, so the range is converted on the text as it is now.
pub(crate) fn splice_checked(
    doc: &mut AutoCommit,
    text: &automerge::ObjId,
    field: TextField,
    pos: i64,
    delete: i64,
    insert: &str,
) -> Result<()> {
    let notes = doc.text(text)?;
    let units = notes.encode_utf16().count() as i64;
    if pos < 0 || delete < 0 || pos > units || delete > units - pos {
        return Err(CoreError::invalid(
            field.range,
            format!("{pos}+{delete} is outside the {} ({units} UTF-16 code units)", field.name),
        ));
    }
    let start = code_points_before(&notes, pos, field.range)?;
    let end = code_points_before(&notes, pos + delete, field.range)?;
    limits::optional_text("insert", insert, limits::NOTES_CHARS)?;
    let len = notes.chars().count();
    let new_len = len - (end - start) + insert.chars().count();
    if new_len > limits::NOTES_CHARS {
        return Err(CoreError::invalid(
            field.name,
            format!("would be {new_len} characters; at most {}", limits::NOTES_CHARS),
        ));
    }
    if delete == 0 && insert.is_empty() {
        return Err(CoreError::invalid(field.edit, "deletes and inserts nothing"));
    }
    doc.splice_text(text, start, (end - start) as isize, insert)?;
    Ok(())
}

/// How many code points of `text` come before UTF-16 position `units` (at most its length);
/// `InvalidInput` naming `field` when the position falls inside a character of two code units
/// (an emoji).
fn code_points_before(text: &str, units: i64, field: &'static str) -> Result<usize> {
    let mut at = 0i64;
    for (n, c) in text.chars().enumerate() {
        if at == units {
            return Ok(n);
        }
        at += c.len_utf16() as i64;
        if at > units {
            return Err(CoreError::invalid(
                field,
                format!(
                    "position {units} falls inside the character {c:?} (two UTF-16 code units)"
                ),
            ));
        }
    }
    Ok(text.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_positions_map_to_code_points() {
        let text = "😀双方同意见面𠀀!";
        assert_eq!(code_points_before(text, 0, "r").unwrap(), 0);
        assert_eq!(code_points_before(text, 2, "r").unwrap(), 1, "after the emoji");
        assert_eq!(code_points_before(text, 4, "r").unwrap(), 3, "after 双方");
        assert_eq!(code_points_before(text, 8, "r").unwrap(), 7, "before 𠀀");
        assert_eq!(code_points_before(text, 10, "r").unwrap(), 8, "after 𠀀");
        assert_eq!(code_points_before(text, 11, "r").unwrap(), 9, "the end");
        for inside in [1, 9] {
            assert!(
                matches!(
                    code_points_before(text, inside, "r"),
                    Err(CoreError::InvalidInput { .. })
                ),
                "{inside} splits a character"
            );
        }
    }
}
