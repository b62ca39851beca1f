//! The commands of a visit: creating one and applying the others.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};

use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::model::command::Command;
use crate::model::common::Stamp;
use crate::model::doc::{self, STATUS, TIMELINE};
use crate::model::registry::Kind;
use crate::model::report::validate_photos;

use super::*;

/// A checklist's own faults: empty, too long, an item blank, too long or twice.
pub(super) fn checklist_fault(checklist: &[String]) -> Option<CoreError> {
    if checklist.is_empty() {
        return Some(CoreError::invalid("checklist", "a visit has at least one checklist item"));
    }
    if let Err(e) = limits::list_len("checklist", checklist.len(), limits::SHORT_LIST_ITEMS) {
        return Some(e);
    }
    for (i, item) in checklist.iter().enumerate() {
        if let Err(e) = limits::text("checklist", item, limits::NAME_CHARS) {
            return Some(e);
        }
        if checklist[..i].contains(item) {
            return Some(CoreError::invalid("checklist", format!("{item:?} appears twice")));
        }
    }
    None
}

/// Refuses a result for an item the visit's checklist does not hold.
fn check_item(checklist: &[String], item: &str) -> Result<()> {
    if checklist.iter().any(|c| c == item) {
        return Ok(());
    }
    let shown: String = item.chars().take(60).collect();
    Err(CoreError::invalid(
        "checklist",
        format!("{shown:?} is not an item of the visit's checklist ({})", checklist.join(", ")),
    ))
}

pub(super) fn check_result(checklist: &[String], item: &str, note: &str) -> Result<()> {
    check_item(checklist, item)?;
    limits::optional_text("note", note, limits::NOTE_CHARS)
}

fn append_result(
    doc: &mut AutoCommit,
    list: &automerge::ObjId,
    stamp: &Stamp,
    check: &NewCheck,
) -> Result<String> {
    let (key, _) = doc::append_item(
        doc,
        list,
        "results",
        limits::LIST_ITEMS,
        vec![
            ("item", check.item.as_str().into()),
            ("result", check.result.into()),
            ("note", check.note.as_str().into()),
            ("at", ScalarValue::Timestamp(stamp.at)),
            ("by", stamp.by.as_str().into()),
        ],
    )?;
    Ok(key)
}

/// Writes the fields of a new visit below its header.
pub(crate) fn create(doc: &mut AutoCommit, new: &NewVisit, stamp: &Stamp) -> Result<()> {
    limits::text("business", &new.business, limits::USER_ID_CHARS)?;
    if new.business.contains('/') {
        return Err(CoreError::invalid("business", "a business id holds no '/'"));
    }
    if business_of_scope(&new.scope) != Some(new.business.as_str()) {
        return Err(CoreError::invalid(
            "scope",
            format!(
                "a visit to {} lives in that business's own scope, not {}",
                new.business, new.scope
            ),
        ));
    }
    if new.visitors.is_empty() {
        return Err(CoreError::invalid("visitors", "a visit has at least one visitor"));
    }
    limits::list_len("visitors", new.visitors.len(), limits::SHORT_LIST_ITEMS)?;
    for (i, v) in new.visitors.iter().enumerate() {
        limits::user_id("visitors", v)?;
        if new.visitors[..i].contains(v) {
            return Err(CoreError::invalid("visitors", format!("{v} appears twice")));
        }
    }
    if let Some(e) = checklist_fault(&new.checklist) {
        return Err(e);
    }
    for c in &new.results {
        check_result(&new.checklist, &c.item, &c.note)?;
    }
    doc.put(ROOT, "business", new.business.as_str())?;
    doc::put_str_list(doc, &ROOT, "visitors", &new.visitors)?;
    doc::put_str_list(doc, &ROOT, "checklist", &new.checklist)?;
    let results = doc.put_object(ROOT, "results", ObjType::List)?;
    for c in &new.results {
        append_result(doc, &results, stamp, c)?;
    }
    doc.put_object(ROOT, "findings", ObjType::List)?;
    doc.put(ROOT, "follow_up", "")?;
    doc.put(ROOT, "follow_up_deadline", ScalarValue::Null)?;
    doc.put(ROOT, STATUS, VisitStatus::Open)?;
    doc.put_object(ROOT, TIMELINE, ObjType::List)?;
    Ok(())
}

/// The checklist the document holds.
fn checklist_of(doc: &AutoCommit, id: DocId) -> Result<Vec<String>> {
    let list = doc::root_list(doc, "checklist", id)?;
    (0..doc.length(&list))
        .map(|i| match doc.get(&list, i)? {
            Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(s) => Ok(s.to_string()),
                _ => Err(CoreError::malformed(id, "a checklist item is not text")),
            },
            _ => Err(CoreError::malformed(id, "a checklist item is not text")),
        })
        .collect()
}

/// Applies a visit command to the document; the caller commits.
pub(crate) fn apply(
    doc: &mut AutoCommit,
    id: DocId,
    stamp: &Stamp,
    cmd: &Command,
) -> Result<Option<String>> {
    let status: VisitStatus = doc::status(doc, id)?;
    let open = || {
        if status == VisitStatus::Closed {
            return Err(CoreError::InvalidTransition {
                id,
                command: cmd.name(),
                reason: "the visit is closed".into(),
            });
        }
        Ok(())
    };
    match cmd {
        Command::RecordCheck { item, result, note } => {
            open()?;
            check_result(&checklist_of(doc, id)?, item, note)?;
            let list = doc::root_list(doc, "results", id)?;
            let check = NewCheck { item: item.clone(), result: *result, note: note.clone() };
            Ok(Some(append_result(doc, &list, stamp, &check)?))
        }
        Command::AddFinding { text, photos } => {
            open()?;
            limits::text("finding.text", text, limits::NOTE_CHARS)?;
            validate_photos(photos)?;
            let list = doc::root_list(doc, "findings", id)?;
            let (key, item) = doc::append_item(
                doc,
                &list,
                "findings",
                limits::LIST_ITEMS,
                vec![
                    ("text", text.as_str().into()),
                    ("at", ScalarValue::Timestamp(stamp.at)),
                    ("by", stamp.by.as_str().into()),
                ],
            )?;
            let list = doc.put_object(&item, "photos", ObjType::List)?;
            doc::append_photos(doc, &list, photos)?;
            Ok(Some(key))
        }
        Command::AddVisitor { user } => {
            open()?;
            limits::user_id("visitors", user)?;
            let list = doc::root_list(doc, "visitors", id)?;
            let len = doc.length(&list);
            for i in 0..len {
                if let Some((automerge::Value::Scalar(s), _)) = doc.get(&list, i)?
                    && s.as_str() == Some(user.as_str())
                {
                    return Err(CoreError::invalid("visitors", format!("{user} visits already")));
                }
            }
            limits::room_in_list("visitors", len, limits::SHORT_LIST_ITEMS)?;
            doc.insert(&list, len, user.as_str())?;
            Ok(None)
        }
        Command::SetVisitFollowUp { action, deadline } => {
            open()?;
            limits::text("follow_up", action, limits::NOTE_CHARS)?;
            limits::time("follow_up_deadline", deadline.as_millis())?;
            if deadline.as_millis() <= stamp.at {
                return Err(CoreError::invalid(
                    "follow_up_deadline",
                    format!("{deadline} is not after now"),
                ));
            }
            doc.put(ROOT, "follow_up", action.as_str())?;
            doc.put(ROOT, "follow_up_deadline", ScalarValue::Timestamp(deadline.as_millis()))?;
            doc::append_timeline(doc, id, stamp, cmd.name(), action)?;
            Ok(None)
        }
        Command::CloseVisit { note } => {
            open()?;
            limits::optional_text("note", note, limits::NOTE_CHARS)?;
            doc.put(ROOT, STATUS, VisitStatus::Closed)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), note)?;
            Ok(None)
        }
        Command::AddPhoto { photo, entry } => {
            let what = ("a visit's photo belongs to a finding", "finding");
            crate::model::command::add_item_photo(
                doc,
                id,
                "findings",
                photo,
                entry.as_ref(),
                what,
            )?;
            Ok(None)
        }
        Command::SettleConflict { field, value } => {
            crate::model::command::settle(doc, id, stamp, REGISTERS, field, value)?;
            Ok(None)
        }
        other => Err(crate::model::command::not_for(id, other, Kind::Visit)),
    }
}
