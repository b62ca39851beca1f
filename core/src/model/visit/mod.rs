//! Business visits (走访联系制度): police patrol members, grid leaders and dispatchers visit a
//! business of the registry, go through a checklist (fire safety, guest registration, food
//! safety, hazards: the items come from the server's rules file), note each item's result and
//! what they found, with photos, and set a follow-up with a deadline. Two phones of one visit
//! record offline: results, findings and visitors are lists of maps with stable keys (or of
//! user ids) that merge; the follow-up and the status are registers.
//!
//! A visit lives in its business's own scope, `{business scope}/business:{id}` (see
//! [`business_scope`]): the jurisdiction tree then decides who reads it as it decides every
//! other record, and the business's operator, whose one scope is that place, reads the visits
//! to their business and nothing else.

use automerge::AutoCommit;
use autosurgeon::Hydrate;

use super::command::Command;
use super::common::{
    FieldConflict, Header, PhotoRef, Stamp, TimelineEvent, hydrate_opt_ts, hydrate_ts,
};
use super::doc::{HEADER, STATUS, TIMELINE};
use super::macros::string_enum;
use super::registry::{Kind, KindSpec, Record, common_spec};
use super::shape::{EVENTS, HEADER_MAP, Node, PHOTOS};
use super::validate::Violations;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::time::Timestamp;

mod commands;

pub(crate) use commands::{apply, create};
use commands::{check_result, checklist_fault};

/// The segment that names a business below its scope: `…/business:{id}`.
pub const BUSINESS_SEGMENT: &str = "business:";

/// The scope of a business's own place in the jurisdiction tree, below the scope it lies in:
/// where its visits live and what its operator's one scope is.
pub fn business_scope(scope: &str, business: &str) -> String {
    format!("{scope}/{BUSINESS_SEGMENT}{business}")
}

/// The business whose own place `scope` is (see [`business_scope`]), if it is one.
pub fn business_of_scope(scope: &str) -> Option<&str> {
    let (_, last) = scope.rsplit_once('/')?;
    last.strip_prefix(BUSINESS_SEGMENT).filter(|b| !b.is_empty())
}

string_enum! {
    /// The result of one checklist item.
    CheckOutcome as "result" {
        /// Kept.
        Pass => "pass",
        /// Not kept: a finding, usually a follow-up.
        Fail => "fail",
        /// Does not apply to this business (food safety at a boat rental).
        NotApplicable => "not_applicable",
    }
}

string_enum! {
    /// Whether a visit is still being recorded or followed up.
    VisitStatus as "status" {
        /// Being recorded, or its follow-up is pending.
        Open => "open",
        /// Done: its follow-up (if any) was checked.
        Closed => "closed",
    }
}

/// A checklist item's result, as one visitor recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CheckResult {
    /// Stable key.
    pub id: String,
    /// The checklist item (one of the visit's `checklist`).
    pub item: String,
    /// Pass, fail or not applicable.
    pub result: CheckOutcome,
    /// What was seen (may be empty).
    pub note: String,
    /// When it was recorded.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
    /// Who recorded it (user id).
    pub by: String,
}

/// Something a visitor found, with its photos.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Finding {
    /// Stable key (what a photo added later names as its `entry`).
    pub id: String,
    /// What was found.
    pub text: String,
    /// Photos of it.
    pub photos: Vec<PhotoRef>,
    /// When.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
    /// Who (user id).
    pub by: String,
}

/// A business visit as read from its document.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Visit {
    /// Id, scope (the business's own, see [`business_scope`]), who recorded it and when.
    pub header: Header,
    /// The business visited (its registry id).
    pub business: String,
    /// The visiting members (user ids), in merged order.
    pub visitors: Vec<String>,
    /// The checklist items, as the rules gave them when the visit began.
    pub checklist: Vec<String>,
    /// Each recorded result, in merged order; an item's result is its latest ([`Visit::result_of`]).
    pub results: Vec<CheckResult>,
    /// What was found.
    pub findings: Vec<Finding>,
    /// What the business must do after the visit (empty: nothing).
    pub follow_up: String,
    /// By when.
    #[autosurgeon(hydrate = "hydrate_opt_ts")]
    pub follow_up_deadline: Option<Timestamp>,
    /// Open or closed.
    pub status: VisitStatus,
    /// History of state changes.
    pub timeline: Vec<TimelineEvent>,
    /// Single-valued fields that devices set concurrently to different values.
    #[autosurgeon(hydrate = "super::common::computed_conflicts")]
    pub conflicts: Vec<FieldConflict>,
}

impl Visit {
    /// The result of `item` as it stands: the latest recorded (by time, then merged order).
    pub fn result_of(&self, item: &str) -> Option<&CheckResult> {
        self.results.iter().filter(|r| r.item == item).max_by_key(|r| r.at)
    }

    /// The visitors, each once (two phones may add the same visitor offline).
    pub fn visitors_once(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for u in &self.visitors {
            if !out.contains(u) {
                out.push(u.clone());
            }
        }
        out
    }

    /// The items whose result as it stands is a failure.
    pub fn failed(&self) -> Vec<&str> {
        self.checklist
            .iter()
            .filter(|i| self.result_of(i).is_some_and(|r| r.result == CheckOutcome::Fail))
            .map(String::as_str)
            .collect()
    }
}

/// A checklist item's result given with a new visit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewCheck {
    /// The checklist item.
    pub item: String,
    /// Pass, fail or not applicable.
    pub result: CheckOutcome,
    /// What was seen.
    #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
    pub note: String,
}

/// What a visitor gives to record a visit. The phone's store checks the business against its
/// copy of the registry and the checklist against the rules it holds; `Store::plan_visit`
/// fills the scope and the checklist from them.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewVisit {
    /// The business visited (its registry id).
    pub business: String,
    /// The business's own scope, below the one it lies in (see [`business_scope`]).
    pub scope: String,
    /// The visiting members (at least one; user ids).
    pub visitors: Vec<String>,
    /// The checklist items (from the rules).
    pub checklist: Vec<String>,
    /// Results recorded at once.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub results: Vec<NewCheck>,
}

/// Registers of a visit whose concurrent values are shown and can be settled.
pub(crate) const REGISTERS: &[&str] = &[STATUS, "follow_up", "follow_up_deadline"];

impl KindSpec for Visit {
    const KIND: Kind = Kind::Visit;
    const CODE: i64 = 5;
    const CREATE: &'static str = "record_visit";
    const REGISTERS: &'static [&'static str] = REGISTERS;
    const LAYOUT: Node = {
        use Node::{List, Map, Value as V};
        Map(&[
            (HEADER, HEADER_MAP),
            ("business", V),
            ("visitors", List(&V)),
            ("checklist", List(&V)),
            (
                "results",
                List(&Map(&[
                    ("id", V),
                    ("item", V),
                    ("result", V),
                    ("note", V),
                    ("at", V),
                    ("by", V),
                ])),
            ),
            (
                "findings",
                List(&Map(&[("id", V), ("text", V), ("photos", PHOTOS), ("at", V), ("by", V)])),
            ),
            ("follow_up", V),
            ("follow_up_deadline", V),
            (STATUS, V),
            (TIMELINE, EVENTS),
        ])
    };
    type New = NewVisit;

    fn of(record: &Record) -> Option<&Self> {
        match record {
            Record::Visit { visit } => Some(visit),
            _ => None,
        }
    }

    fn new_scope(new: &NewVisit) -> &str {
        &new.scope
    }

    common_spec!();

    fn limits(&self, v: &mut Violations) {
        use limits::{LIST_ITEMS, NOTE_CHARS, SHORT_LIST_ITEMS};
        v.check(limits::text("business", &self.business, limits::USER_ID_CHARS));
        if business_of_scope(&self.header.scope) != Some(self.business.as_str()) {
            v.check(Err(CoreError::invalid(
                "scope",
                format!("a visit to {} lives in that business's own scope", self.business),
            )));
        }
        if self.visitors.is_empty() {
            v.check(Err(CoreError::invalid("visitors", "a visit has at least one visitor")));
        }
        // Two phones may add the same visitor offline: both merge, and neither is a fault.
        v.list("visitors", self.visitors.len(), SHORT_LIST_ITEMS);
        for u in &self.visitors {
            v.check(limits::user_id("visitors", u));
        }
        if let Some(e) = checklist_fault(&self.checklist) {
            v.check(Err(e));
        }
        v.list("results", self.results.len(), LIST_ITEMS);
        for r in &self.results {
            v.check(limits::text("result.id", &r.id, limits::USER_ID_CHARS));
            v.check(check_result(&self.checklist, &r.item, &r.note));
            v.check(limits::time("result.at", r.at));
            v.check(limits::user_id("result.by", &r.by));
        }
        v.list("findings", self.findings.len(), LIST_ITEMS);
        for f in &self.findings {
            v.check(limits::text("finding.id", &f.id, limits::USER_ID_CHARS));
            v.check(limits::text("finding.text", &f.text, NOTE_CHARS));
            v.photos(&f.photos);
            v.check(limits::time("finding.at", f.at));
            v.check(limits::user_id("finding.by", &f.by));
        }
        v.check(limits::optional_text("follow_up", &self.follow_up, NOTE_CHARS));
        if let Some(d) = self.follow_up_deadline {
            v.check(limits::time("follow_up_deadline", d));
        }
    }

    fn participants(&self) -> Vec<String> {
        self.visitors_once()
    }

    fn photos(&self) -> Vec<&PhotoRef> {
        self.findings.iter().flat_map(|f| f.photos.iter()).collect()
    }

    fn photo_lists<D: autosurgeon::ReadDoc>(doc: &D, id: DocId) -> Result<Vec<automerge::ObjId>> {
        super::command::item_photo_lists(doc, id, "findings")
    }
}

#[cfg(test)]
mod tests;
