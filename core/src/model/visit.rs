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

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use autosurgeon::Hydrate;

use super::command::Command;
use super::common::{
    FieldConflict, Header, PhotoRef, Stamp, TimelineEvent, hydrate_opt_ts, hydrate_ts,
};
use super::doc::{self, HEADER, STATUS, TIMELINE};
use super::macros::string_enum;
use super::registry::{Kind, KindSpec, Record, common_spec};
use super::report::validate_photos;
use super::shape::{EVENTS, HEADER_MAP, Node, PHOTOS};
use super::validate::Violations;
use crate::error::{CoreError, Result};
use crate::id::{DocId, item_key};
use crate::limits;
use crate::time::Timestamp;

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

/// A checklist's own faults: empty, too long, an item blank, too long or twice.
fn checklist_fault(checklist: &[String]) -> Option<CoreError> {
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

fn check_result(checklist: &[String], item: &str, note: &str) -> Result<()> {
    check_item(checklist, item)?;
    limits::optional_text("note", note, limits::NOTE_CHARS)
}

fn append_result(
    doc: &mut AutoCommit,
    list: &automerge::ObjId,
    stamp: &Stamp,
    check: &NewCheck,
) -> Result<String> {
    limits::room_in_list("results", doc.length(list), limits::LIST_ITEMS)?;
    let key = item_key();
    doc::append_map(
        doc,
        list,
        vec![
            ("id", key.as_str().into()),
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
            limits::room_in_list("findings", doc.length(&list), limits::LIST_ITEMS)?;
            let key = item_key();
            let item = doc::append_map(
                doc,
                &list,
                vec![
                    ("id", key.as_str().into()),
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
            super::command::add_item_photo(doc, id, "findings", photo, entry.as_ref(), what)?;
            Ok(None)
        }
        Command::SettleConflict { field, value } => {
            super::command::settle(doc, id, stamp, REGISTERS, field, value)?;
            Ok(None)
        }
        other => Err(super::command::not_for(id, other, Kind::Visit)),
    }
}

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

    fn photo_lists(doc: &AutoCommit, id: DocId) -> Result<Vec<automerge::ObjId>> {
        super::command::item_photo_lists(doc, id, "findings")
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::model::command::{apply, create};
    use crate::model::{NewRecord, read_record, validate};

    const AT: i64 = 1_700_000_000_000;
    const AREA: &str = "jl/cc/scenic-1";

    fn new_visit() -> NewVisit {
        NewVisit {
            business: "b1".into(),
            scope: business_scope(AREA, "b1"),
            visitors: vec!["police-1".into(), "vol-1".into()],
            checklist: vec!["fire_safety".into(), "guest_registration".into(), "hazards".into()],
            results: vec![NewCheck {
                item: "guest_registration".into(),
                result: CheckOutcome::Pass,
                note: String::new(),
            }],
        }
    }

    fn stamp(by: &str, at: i64) -> Stamp {
        Stamp { by: by.into(), at }
    }

    fn recorded() -> (DocId, AutoCommit) {
        let new = NewRecord::Visit { visit: new_visit() };
        create(&new, &stamp("police-1", AT), ActorId::random()).expect("record")
    }

    fn read(doc: &AutoCommit, id: DocId) -> Visit {
        match read_record(doc, id).expect("read") {
            Record::Visit { visit } => visit,
            other => panic!("not a visit: {other:?}"),
        }
    }

    fn photo() -> PhotoRef {
        PhotoRef { hash: "ab".repeat(32), size: 1000, media_type: "image/jpeg".into() }
    }

    #[test]
    fn a_business_owns_a_scope_below_its_own() {
        assert_eq!(business_scope(AREA, "b1"), "jl/cc/scenic-1/business:b1");
        assert_eq!(business_of_scope("jl/cc/scenic-1/business:b1"), Some("b1"));
        assert_eq!(business_of_scope("jl/cc/scenic-1"), None);
        assert_eq!(business_of_scope("jl/business:"), None);
    }

    #[test]
    fn a_recorded_visit_keeps_its_layout_and_limits() {
        let (id, doc) = recorded();
        let v = read(&doc, id);
        assert_eq!(v.header.kind, Kind::Visit);
        assert_eq!(v.header.scope, "jl/cc/scenic-1/business:b1");
        assert_eq!(v.status, VisitStatus::Open);
        assert_eq!(v.result_of("guest_registration").map(|r| r.result), Some(CheckOutcome::Pass));
        assert_eq!(v.timeline[0].action, "record_visit");
        assert_eq!(crate::model::layout_faults(&doc, Kind::Visit), Vec::<String>::new());
        assert!(validate::validate(&Record::Visit { visit: v }).is_ok());
    }

    #[test]
    fn bad_visits_are_refused_with_the_field_named() {
        let cases: Vec<(NewVisit, &str)> = vec![
            (NewVisit { visitors: vec![], ..new_visit() }, "visitors"),
            (NewVisit { checklist: vec![], ..new_visit() }, "checklist"),
            (
                NewVisit { checklist: vec!["hazards".into(), "hazards".into()], ..new_visit() },
                "checklist",
            ),
            (
                NewVisit {
                    results: vec![NewCheck {
                        item: "casino_licence".into(),
                        result: CheckOutcome::Fail,
                        note: String::new(),
                    }],
                    ..new_visit()
                },
                "checklist",
            ),
            (NewVisit { scope: AREA.into(), ..new_visit() }, "scope"),
            (NewVisit { scope: business_scope(AREA, "b2"), ..new_visit() }, "scope"),
        ];
        for (new, field) in cases {
            let got = create(&NewRecord::Visit { visit: new }, &stamp("p", AT), ActorId::random());
            assert!(
                matches!(&got, Err(CoreError::InvalidInput { field: f, .. }) if *f == field),
                "{field}: {:?}",
                got.map(|(id, _)| id)
            );
        }
    }

    #[test]
    fn two_phones_record_offline_and_both_results_and_findings_merge() {
        let (id, mut doc) = recorded();
        let mut a = doc.fork().with_actor(ActorId::from([1u8; 16]));
        let mut b = doc.fork().with_actor(ActorId::from([2u8; 16]));
        let fail = Command::RecordCheck {
            item: "fire_safety".into(),
            result: CheckOutcome::Fail,
            note: "灭火器过期".into(),
        };
        apply(&mut a, id, &stamp("police-1", AT + 10), &fail).expect("check");
        let finding =
            Command::AddFinding { text: "消防通道堵塞".into(), photos: vec![photo()] };
        let key = apply(&mut b, id, &stamp("vol-1", AT + 20), &finding).expect("finding").item;
        let pass = Command::RecordCheck {
            item: "fire_safety".into(),
            result: CheckOutcome::Pass,
            note: "当场更换".into(),
        };
        apply(&mut b, id, &stamp("vol-1", AT + 30), &pass).expect("check");
        a.merge(&mut b).expect("merge");
        let v = read(&a, id);
        assert_eq!(v.results.len(), 3, "every result survives");
        assert_eq!(v.result_of("fire_safety").map(|r| r.result), Some(CheckOutcome::Pass));
        assert_eq!(v.findings.len(), 1);
        assert_eq!(Some(v.findings[0].id.clone()), key);
        assert_eq!(v.photos().len(), 1);
        assert!(v.failed().is_empty());
    }

    #[test]
    fn an_item_off_the_checklist_or_a_closed_visit_is_refused_and_changes_nothing() {
        let (id, mut doc) = recorded();
        let off = Command::RecordCheck {
            item: "casino_licence".into(),
            result: CheckOutcome::Pass,
            note: String::new(),
        };
        let before = read(&doc, id);
        let got = apply(&mut doc.fork(), id, &stamp("police-1", AT + 1), &off);
        assert!(matches!(got, Err(CoreError::InvalidInput { field: "checklist", .. })), "{got:?}");
        let follow = Command::SetVisitFollowUp {
            action: "更换灭火器".into(),
            deadline: Timestamp::from_millis(AT + 7 * 86_400_000),
        };
        apply(&mut doc, id, &stamp("police-1", AT + 2), &follow).expect("follow-up");
        apply(&mut doc, id, &stamp("police-1", AT + 3), &Command::CloseVisit { note: "".into() })
            .expect("close");
        let closed = read(&doc, id);
        assert_eq!(closed.follow_up, "更换灭火器");
        assert_eq!(closed.status, VisitStatus::Closed);
        assert_eq!(closed.results, before.results);
        let finding = Command::AddFinding { text: "x".into(), photos: vec![] };
        let got = apply(&mut doc.fork(), id, &stamp("police-1", AT + 4), &finding);
        assert!(matches!(got, Err(CoreError::InvalidTransition { .. })), "{got:?}");
        let wrong = apply(&mut doc.fork(), id, &stamp("x", AT), &Command::AcknowledgeBulletin);
        assert!(matches!(wrong, Err(CoreError::WrongKind { .. })), "{wrong:?}");
    }
}
