//! The checks a document passes once the pushed changes are applied: it keeps its kind's layout
//! and every limit a phone keeps (core's `model::layout_faults` and `model::validate`, one code
//! path with the phone), and the author's changes are ones their role and scope allow, as the
//! author saw the record and with the rights they hold now (core's `policy`).

use std::collections::HashSet;

use automerge::{AutoCommit, ChangeHash};
use fieldsync_core::DocId;
use fieldsync_core::model::{self, Record, validate};
use fieldsync_core::policy::{self, Denied};

use super::author::Author;
use super::refusal::{Refusal, code};
use super::view::AuthorView;
use crate::isolate::isolate;
use crate::rules::Rules;

/// Refuses a document whose layout or limits the changes broke. Faults the document had
/// before (stored before a rule existed) are not the pusher's and do not refuse it: `current`
/// is the record before the changes and `old_heads` its heads (`None` for a new document).
pub(crate) fn valid(
    id: DocId,
    doc: &mut AutoCommit,
    merged: &Record,
    current: Option<&Record>,
    old_heads: Option<&[ChangeHash]>,
) -> Result<(), Refusal> {
    let invalid = |what: String| {
        Refusal::rejected(
            code::INVALID_DOCUMENT,
            format!("document {id} is not a valid record: {what}"),
        )
    };
    let kind = merged.header().kind;
    let faults = isolate(|| model::layout_faults(doc, kind)).map_err(invalid)?;
    if !faults.is_empty() {
        let old: HashSet<String> = match old_heads {
            Some(heads) => isolate(|| doc.fork_at(heads))
                .ok()
                .and_then(Result::ok)
                .map(|before| model::layout_faults(&before, kind).into_iter().collect())
                .unwrap_or_default(),
            None => HashSet::new(),
        };
        if let Some(fault) = faults.into_iter().find(|f| !old.contains(f)) {
            return Err(invalid(fault));
        }
    }
    match validate::new_violations(current, merged).into_iter().next() {
        Some(e) => Err(invalid(e.to_string())),
        None => Ok(()),
    }
}

/// Refuses changes the author may not make: `forbidden` when they are not theirs to make even
/// as they saw the record, `stale_rights` when they were but are not now (the record moved on
/// meanwhile, or the author's rights changed before their device heard of it).
pub(crate) fn allowed(
    id: DocId,
    author: &Author,
    view: &AuthorView,
    merged: &Record,
) -> Result<(), Refusal> {
    let p = &author.profile;
    let after = view.after.as_ref().unwrap_or(merged);
    let message = |d: &Denied| {
        format!("{} may not make these changes to {id} ({}): {}", p.user, d.rule, d.message)
    };
    let stale = |d: Denied| {
        let message =
            format!("{} (the record or the rights changed since the change was made)", message(&d));
        Refusal::stale(message, merged, None)
    };
    if let Err(d) = policy::check_change(p, view.before.as_deref(), after) {
        // A device that has not yet heard of its rights change acted under the rights it had.
        return Err(if author.rights_changed {
            stale(d)
        } else {
            Refusal::rejected(code::FORBIDDEN, message(&d))
        });
    }
    if let (true, Some(before), Some(after), Some(current)) =
        (view.concurrent(), view.before.as_deref(), view.after.as_ref(), view.current.as_deref())
    {
        policy::check_now(p, before, after, current, merged).map_err(stale)?;
    }
    Ok(())
}

/// Refuses a new record that breaks what the server's rules file sets for it: a visit whose
/// checklist holds an item the rules' `visits.checklist` does not list (`invalid_document`).
/// Judged at creation only: the rules may change, and a visit keeps the checklist it began with.
pub(crate) fn by_the_rules(id: DocId, record: &Record, rules: &Rules) -> Result<(), Refusal> {
    let Record::Visit { visit } = record else { return Ok(()) };
    let listed = &rules.visits().checklist;
    match visit.checklist.iter().find(|i| !listed.contains(i)) {
        None => Ok(()),
        Some(item) => Err(Refusal::rejected(
            code::INVALID_DOCUMENT,
            format!(
                "document {id} is not a valid record: checklist item {:?} is not in the rules \
                 ({})",
                item.chars().take(60).collect::<String>(),
                listed.join(", ")
            ),
        )),
    }
}
