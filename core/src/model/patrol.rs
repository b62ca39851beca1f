//! Patrol logs: a joint team (police, village cadres, villager volunteers) walks an area; every
//! member's phone appends entries to the same log, offline, and the log merges when they meet signal.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ScalarValue};
use autosurgeon::Hydrate;

use super::command::Command;
use super::common::{
    FieldConflict, Header, Location, PhotoRef, Stamp, TimelineEvent, hydrate_opt_ts, hydrate_ts,
};
use super::doc::{self, HEADER, STATUS, TIMELINE};
use super::macros::string_enum;
use super::registry::{Kind, KindSpec, Record, common_spec};
use super::report::{validate_location, validate_photos};
use super::shape::{EVENTS, HEADER_MAP, LOCATION, Node, PHOTOS};
use super::validate::Violations;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::time::Timestamp;

string_enum! {
    /// What a team member is.
    MemberKind as "member.kind" {
        /// A police officer.
        Police => "police",
        /// A village cadre.
        VillageCadre => "village_cadre",
        /// A villager volunteer.
        VillagerVolunteer => "villager_volunteer",
    }
}

string_enum! {
    /// What a patrol entry records.
    EntryKind as "entry.kind" {
        /// The team reached a planned checkpoint.
        CheckpointReached => "checkpoint_reached",
        /// Something seen.
        Observation => "observation",
        /// A hazard found (a loose rock, a broken rail).
        HazardFound => "hazard_found",
        /// An incident.
        Incident => "incident",
        /// A tourist helped.
        TouristHelped => "tourist_helped",
        /// A warning issued.
        WarningIssued => "warning_issued",
    }
}

string_enum! {
    /// Whether a patrol is under way.
    PatrolStatus as "status" {
        /// Started, entries may be added.
        Active => "active",
        /// Finished; no more entries.
        Finished => "finished",
    }
}

/// A member of a patrol team.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TeamMember {
    /// User id.
    pub user: String,
    /// Display name.
    pub name: String,
    /// Police, cadre or volunteer.
    pub kind: MemberKind,
}

/// A planned checkpoint of the route.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Checkpoint {
    /// Name, unique within the patrol.
    pub name: String,
    /// Where it is.
    pub location: Option<Location>,
}

/// One entry a member appended to the log.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PatrolEntry {
    /// Stable key of the entry.
    pub id: String,
    /// When.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
    /// Who (user id).
    pub by: String,
    /// What it records.
    pub kind: EntryKind,
    /// Free text.
    pub text: String,
    /// Where.
    pub location: Option<Location>,
    /// Photos.
    pub photos: Vec<PhotoRef>,
    /// Name of the checkpoint, for an entry of kind checkpoint reached.
    pub checkpoint: Option<String>,
}

/// A patrol log as read from its document.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PatrolLog {
    /// Id, scope, author, creation time.
    pub header: Header,
    /// The area patrolled, e.g. a scenic area's name.
    pub area: String,
    /// The team.
    pub members: Vec<TeamMember>,
    /// Planned checkpoints, in route order.
    pub checkpoints: Vec<Checkpoint>,
    /// Active or finished.
    pub status: PatrolStatus,
    /// When the patrol started.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub started_at: Timestamp,
    /// When it finished.
    #[autosurgeon(hydrate = "hydrate_opt_ts")]
    pub ended_at: Option<Timestamp>,
    /// Entries, in merged order.
    pub entries: Vec<PatrolEntry>,
    /// History of state changes.
    pub timeline: Vec<TimelineEvent>,
    /// Single-valued fields that devices set concurrently to different values.
    #[autosurgeon(hydrate = "super::common::computed_conflicts")]
    pub conflicts: Vec<FieldConflict>,
}

/// What a team gives to start a patrol.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewPatrol {
    /// Scope the patrol belongs to.
    pub scope: String,
    /// Area patrolled.
    pub area: String,
    /// The team.
    pub members: Vec<TeamMember>,
    /// Planned checkpoints.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub checkpoints: Vec<Checkpoint>,
}

/// One entry to append.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewEntry {
    /// What it records.
    pub kind: EntryKind,
    /// Free text.
    pub text: String,
    /// Where.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub location: Option<Location>,
    /// Photos.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub photos: Vec<PhotoRef>,
    /// Checkpoint name, for an entry of kind checkpoint reached.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub checkpoint: Option<String>,
}

/// Registers of a patrol log whose concurrent values are shown and can be settled.
pub(crate) const REGISTERS: &[&str] = &[STATUS, "ended_at"];

/// Writes the fields of a new patrol log below its header.
pub(crate) fn create(doc: &mut AutoCommit, new: &NewPatrol, stamp: &Stamp) -> Result<()> {
    limits::text("area", &new.area, limits::NAME_CHARS)?;
    if new.members.is_empty() {
        return Err(CoreError::invalid("members", "a patrol needs at least one member"));
    }
    limits::list_len("members", new.members.len(), limits::SHORT_LIST_ITEMS)?;
    limits::list_len("checkpoints", new.checkpoints.len(), limits::SHORT_LIST_ITEMS)?;
    for m in &new.members {
        limits::user_id("member.user", &m.user)?;
        limits::text("member.name", &m.name, limits::NAME_CHARS)?;
    }
    let mut names = std::collections::HashSet::new();
    for c in &new.checkpoints {
        limits::text("checkpoint.name", &c.name, limits::NAME_CHARS)?;
        validate_location(c.location.as_ref())?;
        if !names.insert(c.name.as_str()) {
            return Err(CoreError::invalid("checkpoints", format!("{:?} appears twice", c.name)));
        }
    }
    doc.put(ROOT, "area", new.area.as_str())?;
    let members = doc.put_object(ROOT, "members", ObjType::List)?;
    for m in &new.members {
        doc::append_map(
            doc,
            &members,
            vec![
                ("user", m.user.as_str().into()),
                ("name", m.name.as_str().into()),
                ("kind", m.kind.into()),
            ],
        )?;
    }
    let checkpoints = doc.put_object(ROOT, "checkpoints", ObjType::List)?;
    for c in &new.checkpoints {
        let item = doc::append_map(doc, &checkpoints, vec![("name", c.name.as_str().into())])?;
        doc::put_location(doc, &item, "location", c.location.as_ref())?;
    }
    doc.put(ROOT, STATUS, PatrolStatus::Active)?;
    doc.put(ROOT, "started_at", ScalarValue::Timestamp(stamp.at))?;
    doc.put(ROOT, "ended_at", ScalarValue::Null)?;
    doc.put_object(ROOT, "entries", ObjType::List)?;
    doc.put_object(ROOT, TIMELINE, ObjType::List)?;
    Ok(())
}

fn require_active(doc: &AutoCommit, id: DocId, cmd: &Command) -> Result<()> {
    let status: PatrolStatus = doc::status(doc, id)?;
    if status != PatrolStatus::Active {
        return Err(CoreError::InvalidTransition {
            id,
            command: cmd.name(),
            reason: format!("the patrol is {status}"),
        });
    }
    Ok(())
}

/// Applies a patrol command to the document; the caller commits.
pub(crate) fn apply(
    doc: &mut AutoCommit,
    id: DocId,
    stamp: &Stamp,
    cmd: &Command,
) -> Result<Option<String>> {
    match cmd {
        Command::AddPatrolEntry { entry } => {
            require_active(doc, id, cmd)?;
            limits::optional_text("entry.text", &entry.text, limits::NOTE_CHARS)?;
            validate_location(entry.location.as_ref())?;
            validate_photos(&entry.photos)?;
            if let Some(cp) = &entry.checkpoint {
                limits::text("entry.checkpoint", cp, limits::NAME_CHARS)?;
            }
            let list = doc::root_list(doc, "entries", id)?;
            let (key, item) = doc::append_item(
                doc,
                &list,
                "entries",
                limits::LIST_ITEMS,
                vec![
                    ("at", ScalarValue::Timestamp(stamp.at)),
                    ("by", stamp.by.as_str().into()),
                    ("kind", entry.kind.into()),
                    ("text", entry.text.as_str().into()),
                    (
                        "checkpoint",
                        entry.checkpoint.as_deref().map_or(ScalarValue::Null, Into::into),
                    ),
                ],
            )?;
            doc::put_location(doc, &item, "location", entry.location.as_ref())?;
            let photos = doc.put_object(&item, "photos", ObjType::List)?;
            doc::append_photos(doc, &photos, &entry.photos)?;
            Ok(Some(key))
        }
        Command::FinishPatrol { note } => {
            require_active(doc, id, cmd)?;
            limits::optional_text("note", note, limits::NOTE_CHARS)?;
            doc.put(ROOT, STATUS, PatrolStatus::Finished)?;
            doc.put(ROOT, "ended_at", ScalarValue::Timestamp(stamp.at))?;
            doc::append_timeline(doc, id, stamp, cmd.name(), note)?;
            Ok(None)
        }
        Command::AddPhoto { photo, entry } => {
            let what = ("a patrol photo belongs to an entry", "entry");
            super::command::add_item_photo(doc, id, "entries", photo, entry.as_ref(), what)?;
            Ok(None)
        }
        Command::SettleConflict { field, value } => {
            super::command::settle(doc, id, stamp, REGISTERS, field, value)?;
            Ok(None)
        }
        other => Err(super::command::not_for(id, other, Kind::PatrolLog)),
    }
}

impl KindSpec for PatrolLog {
    const KIND: Kind = Kind::PatrolLog;
    const CODE: i64 = 2;
    const CREATE: &'static str = "start_patrol";
    const REGISTERS: &'static [&'static str] = REGISTERS;
    const LAYOUT: Node = {
        use Node::{List, Map, Value as V};
        Map(&[
            (HEADER, HEADER_MAP),
            ("area", V),
            ("members", List(&Map(&[("user", V), ("name", V), ("kind", V)]))),
            ("checkpoints", List(&Map(&[("name", V), ("location", LOCATION)]))),
            (STATUS, V),
            ("started_at", V),
            ("ended_at", V),
            (
                "entries",
                List(&Map(&[
                    ("id", V),
                    ("at", V),
                    ("by", V),
                    ("kind", V),
                    ("text", V),
                    ("location", LOCATION),
                    ("photos", PHOTOS),
                    ("checkpoint", V),
                ])),
            ),
            (TIMELINE, EVENTS),
        ])
    };
    type New = NewPatrol;

    fn of(record: &Record) -> Option<&Self> {
        match record {
            Record::PatrolLog { patrol_log } => Some(patrol_log),
            _ => None,
        }
    }

    fn new_scope(new: &NewPatrol) -> &str {
        &new.scope
    }

    common_spec!();

    fn limits(&self, v: &mut Violations) {
        use limits::{LIST_ITEMS, NAME_CHARS, NOTE_CHARS, SHORT_LIST_ITEMS};
        v.check(limits::text("area", &self.area, NAME_CHARS));
        if self.members.is_empty() {
            v.check(Err(CoreError::invalid("members", "a patrol needs at least one member")));
        }
        v.list("members", self.members.len(), SHORT_LIST_ITEMS);
        for m in &self.members {
            v.check(limits::user_id("member.user", &m.user));
            v.check(limits::text("member.name", &m.name, NAME_CHARS));
        }
        v.list("checkpoints", self.checkpoints.len(), SHORT_LIST_ITEMS);
        let mut names = std::collections::HashSet::new();
        for c in &self.checkpoints {
            v.check(limits::text("checkpoint.name", &c.name, NAME_CHARS));
            v.location(c.location.as_ref());
            if !names.insert(c.name.as_str()) {
                v.check(Err(CoreError::invalid(
                    "checkpoints",
                    format!("{:?} appears twice", c.name),
                )));
            }
        }
        v.check(limits::time("started_at", self.started_at));
        if let Some(end) = self.ended_at {
            v.check(limits::time("ended_at", end));
        }
        v.list("entries", self.entries.len(), LIST_ITEMS);
        for e in &self.entries {
            v.check(limits::text("entry.id", &e.id, limits::USER_ID_CHARS));
            v.check(limits::time("entry.at", e.at));
            v.check(limits::user_id("entry.by", &e.by));
            v.check(limits::optional_text("entry.text", &e.text, NOTE_CHARS));
            v.location(e.location.as_ref());
            v.photos(&e.photos);
            if let Some(cp) = &e.checkpoint {
                v.check(limits::text("entry.checkpoint", cp, NAME_CHARS));
            }
        }
    }

    fn participants(&self) -> Vec<String> {
        self.members.iter().map(|m| m.user.clone()).collect()
    }

    fn photos(&self) -> Vec<&PhotoRef> {
        self.entries.iter().flat_map(|e| e.photos.iter()).collect()
    }

    fn photo_lists<D: autosurgeon::ReadDoc>(doc: &D, id: DocId) -> Result<Vec<automerge::ObjId>> {
        super::command::item_photo_lists(doc, id, "entries")
    }
}
