//! The commands of a deliberation: creating one and applying the others.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};

use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::model::case::TextField;
use crate::model::command::{Command, append_signed};
use crate::model::common::Stamp;
use crate::model::doc::{self, STATUS, TIMELINE};
use crate::model::registry::Kind;

use super::*;

/// A meeting's minutes, as edits name them in errors.
const MINUTES: TextField =
    TextField { name: "minutes", range: "minutes range", edit: "minutes edit" };

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
    let (key, _) = doc::append_item(
        doc,
        list,
        "options",
        limits::SHORT_LIST_ITEMS,
        vec![("by", by.into()), ("text", text.into())],
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
    crate::model::command::require(id, cmd, "the deliberation", status, allowed)
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
pub(super) fn votes_fault(
    method: DecisionMethod,
    votes: &[VoteCount],
    known: &[String],
) -> Option<CoreError> {
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
            let (key, item) = doc::append_item(
                doc,
                &list,
                "meetings",
                limits::SHORT_LIST_ITEMS,
                vec![
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
            crate::model::case::splice_checked(doc, &text, MINUTES, *pos, *delete, insert)?;
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
            crate::model::command::settle(doc, id, stamp, REGISTERS, field, value)?;
            Ok(None)
        }
        other => Err(crate::model::command::not_for(id, other, Kind::Deliberation)),
    }
}
