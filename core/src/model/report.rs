//! Resident reports: a problem a resident reports, dispatched by the command centre to a
//! responder, resolved on site and confirmed by the resident.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use autosurgeon::Hydrate;

use super::command::{Command, OverdueLimit};
use super::common::{
    FieldConflict, Header, Location, PhotoRef, Stamp, TimelineEvent, hydrate_opt_ts, hydrate_text,
};
use super::doc::{self, HEADER, STATUS, TIMELINE};
use super::macros::string_enum;
use super::registry::{Kind, KindSpec, Record, common_spec};
use super::shape::{EVENTS, HEADER_MAP, LOCATION, Node, PHOTOS};
use super::validate::Violations;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::time::Timestamp;

string_enum! {
    /// What a report is about.
    ReportCategory as "category" {
        /// Illegal construction, e.g. a roof-top building.
        IllegalConstruction => "illegal_construction",
        /// Rubbish, sewage, sanitation.
        Sanitation => "sanitation",
        /// A safety hazard.
        SafetyHazard => "safety_hazard",
        /// Noise.
        Noise => "noise",
        /// Damage to a road or a public facility.
        RoadFacilityDamage => "road_facility_damage",
        /// A dispute between people.
        Dispute => "dispute",
        /// Anything else.
        Other => "other",
    }
}

string_enum! {
    /// Where a report is in its workflow.
    ReportStatus as "status" {
        /// Reported, not yet looked at.
        Submitted => "submitted",
        /// Accepted as a real problem by the command centre.
        Accepted => "accepted",
        /// Given to a responder with a deadline.
        Dispatched => "dispatched",
        /// The responder is working on it.
        InProgress => "in_progress",
        /// The responder says it is solved.
        Resolved => "resolved",
        /// The reporter confirmed the resolution.
        Confirmed => "confirmed",
        /// Not a real problem, or not ours.
        Rejected => "rejected",
        /// Reopened after a resolution or a rejection.
        Reopened => "reopened",
    }
}

/// A comment on a report.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Comment {
    /// Stable key of the comment.
    pub id: String,
    /// When.
    #[autosurgeon(hydrate = "super::common::hydrate_ts")]
    pub at: Timestamp,
    /// Who (user id).
    pub by: String,
    /// The comment.
    pub text: String,
}

/// A resident report as read from its document.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Report {
    /// Id, scope, author, creation time.
    pub header: Header,
    /// What the report is about.
    pub category: ReportCategory,
    /// Short title.
    pub title: String,
    /// Description (Automerge Text: concurrent edits interleave).
    #[autosurgeon(hydrate = "hydrate_text")]
    pub description: String,
    /// Where the problem is.
    pub location: Option<Location>,
    /// Photos attached to the report.
    pub photos: Vec<PhotoRef>,
    /// Workflow status (the winning value if devices disagree; see `conflicts`).
    pub status: ReportStatus,
    /// User id of the responder it is dispatched to.
    pub assignee: Option<String>,
    /// When the responder must have resolved it.
    #[autosurgeon(hydrate = "hydrate_opt_ts")]
    pub deadline: Option<Timestamp>,
    /// Points awarded to the reporter.
    pub points: i64,
    /// Comments, oldest first.
    pub comments: Vec<Comment>,
    /// History of state changes, oldest first.
    pub timeline: Vec<TimelineEvent>,
    /// Single-valued fields that devices set concurrently to different values.
    #[autosurgeon(hydrate = "super::common::computed_conflicts")]
    pub conflicts: Vec<FieldConflict>,
}

/// What a resident gives to submit a report.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewReport {
    /// Scope (grid) the report belongs to.
    pub scope: String,
    /// What it is about.
    pub category: ReportCategory,
    /// Short title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Where.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub location: Option<Location>,
    /// Photos taken with it.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub photos: Vec<PhotoRef>,
}

/// Registers of a report whose concurrent values are shown and can be settled.
pub(crate) const REGISTERS: &[&str] =
    &[STATUS, "assignee", "deadline", "points", "category", "title"];

pub(crate) fn validate_location(loc: Option<&Location>) -> Result<()> {
    if let Some(l) = loc {
        if !(l.lat.is_finite() && (-90.0..=90.0).contains(&l.lat)) {
            return Err(CoreError::invalid("location.lat", format!("{} is not a latitude", l.lat)));
        }
        if !(l.lon.is_finite() && (-180.0..=180.0).contains(&l.lon)) {
            return Err(CoreError::invalid(
                "location.lon",
                format!("{} is not a longitude", l.lon),
            ));
        }
        if !(l.accuracy.is_finite() && l.accuracy >= 0.0) {
            return Err(CoreError::invalid("location.accuracy", "must be a non-negative number"));
        }
        limits::optional_text("location.address", &l.address, limits::NAME_CHARS)?;
    }
    Ok(())
}

pub(crate) fn validate_photos(photos: &[PhotoRef]) -> Result<()> {
    limits::list_len("photos", photos.len(), limits::SHORT_LIST_ITEMS)?;
    for p in photos {
        if p.hash.len() != 64
            || !p.hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(CoreError::invalid(
                "photo.hash",
                "must be 64 lower-case hex digits (SHA-256)",
            ));
        }
        if p.size <= 0 || p.size.unsigned_abs() > limits::BLOB_BYTES {
            return Err(CoreError::invalid(
                "photo.size",
                format!("{} bytes; a photo holds 1 to {} bytes", p.size, limits::BLOB_BYTES),
            ));
        }
        if !crate::protocol::is_photo_media_type(&p.media_type) {
            return Err(CoreError::invalid(
                "photo.media_type",
                format!(
                    "{:?} is not a photo's media type; one of {}",
                    p.media_type.chars().take(limits::MEDIA_TYPE_CHARS).collect::<String>(),
                    crate::protocol::PHOTO_MEDIA_TYPES.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The timeline note of an escalation: the limit, then who was told (`resolve: gl-1, hq-1`).
pub fn escalation_note(limit: OverdueLimit, notify: &[String]) -> String {
    format!("{limit}: {}", notify.join(", "))
}

/// Which limit a timeline event escalated, if it is an escalation.
pub fn escalation_limit(e: &TimelineEvent) -> Option<OverdueLimit> {
    if e.action != crate::policy::ESCALATE {
        return None;
    }
    e.note.split(':').next()?.trim().parse().ok()
}

/// Writes the fields of a new report below its header.
pub(crate) fn create(doc: &mut AutoCommit, new: &NewReport, _stamp: &Stamp) -> Result<()> {
    limits::text("title", &new.title, limits::TITLE_CHARS)?;
    limits::optional_text("description", &new.description, limits::DESCRIPTION_CHARS)?;
    validate_location(new.location.as_ref())?;
    validate_photos(&new.photos)?;
    doc.put(ROOT, "category", new.category)?;
    doc.put(ROOT, "title", new.title.as_str())?;
    doc::put_text(doc, &ROOT, "description", &new.description)?;
    doc::put_location(doc, &ROOT, "location", new.location.as_ref())?;
    let photos = doc.put_object(ROOT, "photos", ObjType::List)?;
    doc::append_photos(doc, &photos, &new.photos)?;
    doc.put(ROOT, STATUS, ReportStatus::Submitted)?;
    doc.put(ROOT, "assignee", ScalarValue::Null)?;
    doc.put(ROOT, "deadline", ScalarValue::Null)?;
    doc.put(ROOT, "points", 0i64)?;
    doc.put_object(ROOT, "comments", ObjType::List)?;
    doc.put_object(ROOT, TIMELINE, ObjType::List)?;
    Ok(())
}

use ReportStatus as S;

/// The statuses a command may start from and the status it leads to (`None`: unchanged).
fn transition(cmd: &Command) -> Option<(&'static [ReportStatus], Option<ReportStatus>)> {
    Some(match cmd {
        Command::AcceptReport { .. } => (&[S::Submitted, S::Reopened], Some(S::Accepted)),
        Command::RejectReport { .. } => {
            (&[S::Submitted, S::Accepted, S::Reopened], Some(S::Rejected))
        }
        Command::DispatchReport { .. } => {
            (&[S::Accepted, S::Reopened, S::Dispatched], Some(S::Dispatched))
        }
        Command::StartWork { .. } => (&[S::Dispatched], Some(S::InProgress)),
        Command::ResolveReport { .. } => (&[S::InProgress], Some(S::Resolved)),
        Command::ConfirmReport { .. } => (&[S::Resolved], Some(S::Confirmed)),
        Command::ReopenReport { .. } => {
            (&[S::Resolved, S::Rejected, S::Confirmed], Some(S::Reopened))
        }
        Command::AwardPoints { .. } => (&[S::Confirmed], None),
        _ => return None,
    })
}

/// Applies a report command to the document; the caller commits.
pub(crate) fn apply(
    doc: &mut AutoCommit,
    id: DocId,
    stamp: &Stamp,
    cmd: &Command,
) -> Result<Option<String>> {
    let status: ReportStatus = doc::status(doc, id)?;
    if let Some((from, to)) = transition(cmd) {
        if !from.contains(&status) {
            let allowed: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
            return Err(CoreError::InvalidTransition {
                id,
                command: cmd.name(),
                reason: format!("its status is {status}; it must be {}", allowed.join(" or ")),
            });
        }
        let note = match cmd {
            Command::AcceptReport { note }
            | Command::StartWork { note }
            | Command::ResolveReport { note }
            | Command::ConfirmReport { note } => {
                limits::optional_text("note", note, limits::NOTE_CHARS)?;
                note.clone()
            }
            Command::RejectReport { reason } | Command::ReopenReport { reason } => {
                limits::text("reason", reason, limits::NOTE_CHARS)?;
                reason.clone()
            }
            Command::DispatchReport { assignee, deadline, note } => {
                limits::user_id("assignee", assignee)?;
                limits::optional_text("note", note, limits::NOTE_CHARS)?;
                limits::time("deadline", deadline.as_millis())?;
                if deadline.as_millis() <= stamp.at {
                    return Err(CoreError::invalid(
                        "deadline",
                        format!("{deadline} is in the past"),
                    ));
                }
                doc.put(ROOT, "assignee", assignee.as_str())?;
                doc.put(ROOT, "deadline", *deadline)?;
                note.clone()
            }
            Command::AwardPoints { points, note } => {
                if !(1..=limits::POINTS_MAX).contains(points) {
                    return Err(CoreError::invalid(
                        "points",
                        format!("{points}; must be 1..={}", limits::POINTS_MAX),
                    ));
                }
                let current = doc.get(ROOT, "points")?;
                if matches!(current, Some((automerge::Value::Scalar(ref v), _)) if v.as_i64().unwrap_or(0) != 0)
                {
                    return Err(CoreError::InvalidTransition {
                        id,
                        command: cmd.name(),
                        reason: "points were already awarded".to_string(),
                    });
                }
                limits::optional_text("note", note, limits::NOTE_CHARS)?;
                doc.put(ROOT, "points", *points)?;
                note.clone()
            }
            _ => String::new(),
        };
        if let Some(to) = to {
            if to == status {
                // A re-dispatch keeps the status, but it is a workflow step all the same: it
                // must write the register, so that a step someone else took concurrently (work
                // started by the first assignee) shows as a conflict instead of merging away.
                // Automerge skips a put of the value a register holds: remove it first.
                doc.delete(ROOT, STATUS)?;
            }
            doc.put(ROOT, STATUS, to)?;
        }
        doc::append_timeline(doc, id, stamp, cmd.name(), &note)?;
        return Ok(None);
    }
    match cmd {
        Command::Supervise { note } => {
            limits::text("note", note, limits::NOTE_CHARS)?;
            doc::append_timeline(doc, id, stamp, cmd.name(), note)?;
            Ok(None)
        }
        Command::Escalate { limit, notify } => {
            limits::list_len("notify", notify.len(), limits::SHORT_LIST_ITEMS)?;
            for user in notify {
                limits::user_id("notify", user)?;
            }
            let events: Vec<TimelineEvent> = autosurgeon::hydrate_prop(doc, ROOT, TIMELINE)
                .map_err(|e| CoreError::malformed(id, format!("timeline: {e}")))?;
            if events.iter().any(|e| escalation_limit(e) == Some(*limit)) {
                return Err(CoreError::InvalidTransition {
                    id,
                    command: cmd.name(),
                    reason: format!("it was already escalated past its {limit} limit"),
                });
            }
            doc::append_timeline(doc, id, stamp, cmd.name(), &escalation_note(*limit, notify))?;
            Ok(None)
        }
        Command::CommentReport { text } => {
            limits::text("comment", text, limits::NOTE_CHARS)?;
            let list = ("comments", limits::LIST_ITEMS);
            Ok(Some(super::command::append_signed(doc, id, stamp, list, ("text", text))?))
        }
        Command::AddPhoto { photo, entry } => {
            super::command::add_root_photo(doc, id, photo, entry.as_ref(), "a report")?;
            Ok(None)
        }
        Command::SettleConflict { field, value } => {
            super::command::settle(doc, id, stamp, REGISTERS, field, value)?;
            Ok(None)
        }
        other => Err(super::command::not_for(id, other, Kind::Report)),
    }
}

impl KindSpec for Report {
    const KIND: Kind = Kind::Report;
    const CODE: i64 = 1;
    const CREATE: &'static str = "submit_report";
    const REGISTERS: &'static [&'static str] = REGISTERS;
    const LAYOUT: Node = {
        use Node::{List, Map, Text, Value as V};
        Map(&[
            (HEADER, HEADER_MAP),
            ("category", V),
            ("title", V),
            ("description", Text),
            ("location", LOCATION),
            ("photos", PHOTOS),
            (STATUS, V),
            ("assignee", V),
            ("deadline", V),
            ("points", V),
            ("comments", List(&Map(&[("id", V), ("at", V), ("by", V), ("text", V)]))),
            (TIMELINE, EVENTS),
        ])
    };
    type New = NewReport;

    fn of(record: &Record) -> Option<&Self> {
        match record {
            Record::Report { report } => Some(report),
            _ => None,
        }
    }

    fn new_scope(new: &NewReport) -> &str {
        &new.scope
    }

    fn new_photos(new: &NewReport) -> &[PhotoRef] {
        &new.photos
    }

    common_spec!();

    fn limits(&self, v: &mut Violations) {
        v.check(limits::text("title", &self.title, limits::TITLE_CHARS));
        v.check(limits::optional_text("description", &self.description, limits::DESCRIPTION_CHARS));
        v.location(self.location.as_ref());
        v.photos(&self.photos);
        if let Some(a) = &self.assignee {
            v.check(limits::user_id("assignee", a));
        }
        if let Some(d) = self.deadline {
            v.check(limits::time("deadline", d));
        }
        if !(0..=limits::POINTS_MAX).contains(&self.points) {
            v.check(Err(CoreError::invalid(
                "points",
                format!("{}; must be 0..={}", self.points, limits::POINTS_MAX),
            )));
        }
        v.list("comments", self.comments.len(), limits::LIST_ITEMS);
        for c in &self.comments {
            v.check(limits::text("comment.id", &c.id, limits::USER_ID_CHARS));
            v.check(limits::time("comment.at", c.at));
            v.check(limits::user_id("comment.by", &c.by));
            v.check(limits::text("comment", &c.text, limits::NOTE_CHARS));
        }
    }

    fn participants(&self) -> Vec<String> {
        self.assignee.iter().cloned().collect()
    }

    fn photos(&self) -> Vec<&PhotoRef> {
        self.photos.iter().collect()
    }

    fn photo_lists<D: autosurgeon::ReadDoc>(doc: &D, _id: DocId) -> Result<Vec<automerge::ObjId>> {
        doc::root_photo_list(doc)
    }
}
