//! Domain commands: the only way records change.
//!
//! A command checks the record's current state and its arguments first, then touches only the
//! fields it changes (a put, an append, a text splice) and appends a timeline event for a state
//! change. A refused command returns a typed error and leaves the document as it was.

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit};

use super::common::{Header, PhotoRef, SCHEMA_VERSION, Stamp};
use super::deliberation::{DecisionMethod, VoteCount};
use super::doc;
use super::macros::string_enum;
use super::patrol::NewEntry;
pub use super::registry::NewRecord;
use super::registry::{Kind, KindSpec, on_kind, on_new};
use super::visit::CheckOutcome;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::time::Timestamp;

/// A change to an existing record.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Command {
    /// The command centre accepts a submitted (or reopened) report.
    AcceptReport {
        /// Optional note.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// The command centre rejects a report.
    RejectReport {
        /// Why (required).
        reason: String,
    },
    /// The command centre gives a report to a responder with a deadline.
    DispatchReport {
        /// User id of the responder.
        assignee: String,
        /// When the responder must have resolved it (after now).
        deadline: Timestamp,
        /// Optional note.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// The responder starts work.
    StartWork {
        /// Optional note.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// The responder resolves the report on site.
    ResolveReport {
        /// What was done (may be empty).
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// The reporter confirms the resolution.
    ConfirmReport {
        /// Optional note.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// A resolved, rejected or confirmed report is reopened (a confirmed one by the command
    /// centre only: its points are given back until it is confirmed again).
    ReopenReport {
        /// Why (required).
        reason: String,
    },
    /// Points are awarded to the reporter of a confirmed report.
    AwardPoints {
        /// How many (1..=10,000).
        points: i64,
        /// Optional note.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// Supervision (督办): the command centre or a supervisor presses the responder on a
    /// report; the assignee's phone sees it at its next sync.
    Supervise {
        /// What is asked (required).
        note: String,
    },
    /// The server's system device marks a report overdue on one of its time limits and names
    /// who it escalates to (the scope's grid leaders and dispatchers). Only that device may.
    Escalate {
        /// Which limit passed: `accept` or `resolve`.
        limit: OverdueLimit,
        /// User ids told (may be empty when the scope has nobody to tell).
        notify: Vec<String>,
    },
    /// A comment on a report.
    CommentReport {
        /// The comment.
        text: String,
    },
    /// A team member appends an entry to an active patrol.
    AddPatrolEntry {
        /// The entry.
        entry: NewEntry,
    },
    /// The patrol ends; no more entries.
    FinishPatrol {
        /// Optional note.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// A mediation session is held.
    AddSession {
        /// Who attended.
        attendees: Vec<String>,
        /// Initial notes (may be empty).
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        notes: String,
    },
    /// Edits a session's notes as a text splice. Positions count UTF-16 code units, as
    /// Kotlin and Java strings, Swift's `String.utf16` and `NSRange`, and JavaScript do (from
    /// Rust: `str::encode_utf16().count()`): an emoji or a CJK character outside the Basic
    /// Multilingual Plane counts two. A position inside such a character is `InvalidInput`.
    EditNotes {
        /// Session key.
        session: String,
        /// Where the edit starts, in UTF-16 code units from the start of the notes.
        pos: i64,
        /// How many UTF-16 code units to delete there.
        delete: i64,
        /// What to insert there.
        insert: String,
    },
    /// The parties agreed; records the agreement text.
    RecordAgreement {
        /// The agreement.
        text: String,
    },
    /// Mediation failed.
    RecordFailure {
        /// Why.
        reason: String,
    },
    /// The case is passed to a higher body.
    EscalateCase {
        /// To whom, e.g. `people's court`.
        to: String,
        /// Why (may be empty).
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        reason: String,
    },
    /// The case is closed.
    CloseCase {
        /// Optional note.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// A follow-up visit after an agreement.
    AddFollowUp {
        /// What was found.
        note: String,
    },
    /// A recipient acknowledges a warning bulletin: they read it (once per person).
    AcknowledgeBulletin,
    /// The issuer (or a dispatcher of its scope) withdraws a bulletin before its validity ends.
    WithdrawBulletin {
        /// Why (required).
        reason: String,
    },
    /// A visitor records a checklist item's result (an item of the visit's checklist; the
    /// latest result of an item is the one that stands).
    RecordCheck {
        /// The checklist item.
        item: String,
        /// Pass, fail or not applicable.
        result: CheckOutcome,
        /// What was seen.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// A visitor records a finding, with its photos.
    AddFinding {
        /// What was found.
        text: String,
        /// Photos of it.
        #[cfg_attr(feature = "uniffi", uniffi(default))]
        photos: Vec<PhotoRef>,
    },
    /// Another member joins the visit.
    AddVisitor {
        /// User id.
        user: String,
    },
    /// What the business must do after the visit, and by when.
    SetVisitFollowUp {
        /// The action asked of the business.
        action: String,
        /// By when (after now).
        deadline: Timestamp,
    },
    /// The visit is done (its follow-up checked, if it had one).
    CloseVisit {
        /// Optional note.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// A reader comments on a deliberation (until it is implemented or dropped).
    CommentDeliberation {
        /// The comment.
        text: String,
    },
    /// A reader puts an option to a deliberation (before its decision).
    ProposeOption {
        /// What the option proposes.
        text: String,
    },
    /// A grid leader or dispatcher of its scope schedules a meeting of a deliberation.
    ScheduleMeeting {
        /// When it is held.
        at: Timestamp,
        /// Where.
        place: String,
    },
    /// A grid leader or dispatcher of its scope records that a meeting was held, and who
    /// attended (user ids).
    RecordMeeting {
        /// The meeting's key.
        meeting: String,
        /// User ids of those who attended, each once.
        attendees: Vec<String>,
    },
    /// Edits a meeting's minutes as a text splice; positions count UTF-16 code units as in
    /// [`Command::EditNotes`].
    EditMinutes {
        /// The meeting's key.
        meeting: String,
        /// Where the edit starts, in UTF-16 code units from the start of the minutes.
        pos: i64,
        /// How many UTF-16 code units to delete there.
        delete: i64,
        /// What to insert there.
        insert: String,
    },
    /// A grid leader or dispatcher of its scope records a deliberation's decision.
    RecordDecision {
        /// What was decided.
        text: String,
        /// By vote or by consensus.
        method: DecisionMethod,
        /// For a vote: the votes of each option counted (a known option, once, 0 or more);
        /// empty for a consensus.
        #[cfg_attr(feature = "uniffi", uniffi(default))]
        votes: Vec<VoteCount>,
    },
    /// A grid leader or dispatcher of its scope adds a follow-up action to a decided
    /// deliberation.
    AddFollowUpAction {
        /// What is to be done.
        text: String,
    },
    /// A grid leader or dispatcher of its scope marks what was decided as done.
    MarkImplemented {
        /// Optional note.
        #[cfg_attr(feature = "uniffi", uniffi(default = ""))]
        note: String,
    },
    /// A deliberation is given up before it is implemented (by the staff of its scope, or
    /// by who raised it while it is only proposed).
    DropDeliberation {
        /// Why (required).
        reason: String,
    },
    /// Attaches a photo to a report, a case, a bulletin, or (with `entry`) a patrol entry or a
    /// visit's finding.
    AddPhoto {
        /// The photo reference.
        photo: PhotoRef,
        /// The patrol entry's key, for patrol logs.
        #[cfg_attr(feature = "uniffi", uniffi(default))]
        entry: Option<String>,
    },
    /// Settles a concurrent conflict on a single-valued field by choosing one of its values.
    SettleConflict {
        /// The field, e.g. `status`.
        field: String,
        /// One of the values shown in the record's conflicts.
        value: String,
    },
}

impl Command {
    /// The command's name, as written in timelines and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Command::AcceptReport { .. } => "accept_report",
            Command::RejectReport { .. } => "reject_report",
            Command::DispatchReport { .. } => "dispatch_report",
            Command::StartWork { .. } => "start_work",
            Command::ResolveReport { .. } => "resolve_report",
            Command::ConfirmReport { .. } => "confirm_report",
            Command::ReopenReport { .. } => "reopen_report",
            Command::AwardPoints { .. } => "award_points",
            Command::Supervise { .. } => crate::policy::SUPERVISE,
            Command::Escalate { .. } => crate::policy::ESCALATE,
            Command::CommentReport { .. } => "comment_report",
            Command::AddPatrolEntry { .. } => "add_patrol_entry",
            Command::FinishPatrol { .. } => "finish_patrol",
            Command::AddSession { .. } => "add_session",
            Command::EditNotes { .. } => "edit_notes",
            Command::RecordAgreement { .. } => "record_agreement",
            Command::RecordFailure { .. } => "record_failure",
            Command::EscalateCase { .. } => "escalate_case",
            Command::CloseCase { .. } => "close_case",
            Command::AddFollowUp { .. } => "add_follow_up",
            Command::AcknowledgeBulletin => "acknowledge_bulletin",
            Command::WithdrawBulletin { .. } => "withdraw_bulletin",
            Command::RecordCheck { .. } => "record_check",
            Command::AddFinding { .. } => "add_finding",
            Command::AddVisitor { .. } => "add_visitor",
            Command::SetVisitFollowUp { .. } => "set_visit_follow_up",
            Command::CloseVisit { .. } => "close_visit",
            Command::CommentDeliberation { .. } => "comment_deliberation",
            Command::ProposeOption { .. } => "propose_option",
            Command::ScheduleMeeting { .. } => "schedule_meeting",
            Command::RecordMeeting { .. } => "record_meeting",
            Command::EditMinutes { .. } => "edit_minutes",
            Command::RecordDecision { .. } => "record_decision",
            Command::AddFollowUpAction { .. } => "add_follow_up_action",
            Command::MarkImplemented { .. } => "mark_implemented",
            Command::DropDeliberation { .. } => "drop_deliberation",
            Command::AddPhoto { .. } => "add_photo",
            Command::SettleConflict { .. } => "settle_conflict",
        }
    }

    /// The one kind of record this command applies to, if it is specific to one.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Command::AcceptReport { .. }
            | Command::RejectReport { .. }
            | Command::DispatchReport { .. }
            | Command::StartWork { .. }
            | Command::ResolveReport { .. }
            | Command::ConfirmReport { .. }
            | Command::ReopenReport { .. }
            | Command::AwardPoints { .. }
            | Command::Supervise { .. }
            | Command::Escalate { .. }
            | Command::CommentReport { .. } => Some(Kind::Report),
            Command::AddPatrolEntry { .. } | Command::FinishPatrol { .. } => Some(Kind::PatrolLog),
            Command::AddSession { .. }
            | Command::EditNotes { .. }
            | Command::RecordAgreement { .. }
            | Command::RecordFailure { .. }
            | Command::EscalateCase { .. }
            | Command::CloseCase { .. }
            | Command::AddFollowUp { .. } => Some(Kind::MediationCase),
            Command::AcknowledgeBulletin | Command::WithdrawBulletin { .. } => Some(Kind::Bulletin),
            Command::RecordCheck { .. }
            | Command::AddFinding { .. }
            | Command::AddVisitor { .. }
            | Command::SetVisitFollowUp { .. }
            | Command::CloseVisit { .. } => Some(Kind::Visit),
            Command::CommentDeliberation { .. }
            | Command::ProposeOption { .. }
            | Command::ScheduleMeeting { .. }
            | Command::RecordMeeting { .. }
            | Command::EditMinutes { .. }
            | Command::RecordDecision { .. }
            | Command::AddFollowUpAction { .. }
            | Command::MarkImplemented { .. }
            | Command::DropDeliberation { .. } => Some(Kind::Deliberation),
            Command::AddPhoto { .. } | Command::SettleConflict { .. } => None,
        }
    }
}

string_enum! {
    /// A report's time limits (set per category by the server's rules).
    OverdueLimit as "limit" {
        /// Accepted (or rejected) within the limit after submission.
        Accept => "accept",
        /// Resolved within the limit after submission.
        Resolve => "resolve",
    }
}

/// What a command produced besides the change itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Applied {
    /// Key of the list item the command appended (entry, comment, session, follow-up).
    pub item: Option<String>,
}

/// Builds the document of a new record, committed as one change by `actor`.
///
/// The store calls it for `Store::create`; tools that simulate devices without a store (the
/// benchmark harness, load tests) call it directly.
pub fn create(new: &NewRecord, stamp: &Stamp, actor: ActorId) -> Result<(DocId, AutoCommit)> {
    limits::scope(new.scope())?;
    limits::user_id("created_by", &stamp.by)?;
    limits::time("time", stamp.at)?;
    let id = DocId::random();
    let header = Header {
        id,
        kind: new.kind(),
        schema: SCHEMA_VERSION,
        scope: new.scope().to_string(),
        created_by: stamp.by.clone(),
        created_at: Timestamp::from_millis(stamp.at),
    };
    let mut doc = AutoCommit::new().with_actor(actor);
    doc::put_header(&mut doc, &header)?;
    on_new!(new, n, K => K::create(&mut doc, n, stamp))?;
    let action = new.kind().create_action();
    doc::append_timeline(&mut doc, id, stamp, action, "")?;
    doc.commit_with(commit_options(action, stamp));
    Ok((id, doc))
}

/// Applies a command to a stored document and commits it as one change.
///
/// On error the document may hold uncommitted operations; the caller must drop it (the store
/// reloads it from disk), so that nothing of a refused command survives.
pub fn apply(doc: &mut AutoCommit, id: DocId, stamp: &Stamp, cmd: &Command) -> Result<Applied> {
    limits::user_id("by", &stamp.by)?;
    limits::time("time", stamp.at)?;
    let header = doc::read_header(doc, id)?;
    if header.schema > SCHEMA_VERSION {
        return Err(CoreError::DocumentTooNew {
            id,
            found: header.schema,
            supported: SCHEMA_VERSION,
        });
    }
    if let Some(expected) = cmd.kind()
        && expected != header.kind
    {
        return Err(CoreError::WrongKind { id, expected, found: header.kind });
    }
    let item = on_kind!(header.kind, K => K::apply(doc, id, stamp, cmd))?;
    doc.commit_with(commit_options(cmd.name(), stamp));
    Ok(Applied { item })
}

fn commit_options(name: &str, stamp: &Stamp) -> CommitOptions {
    CommitOptions::default().with_message(name).with_time(stamp.at.div_euclid(1000))
}

/// `SettleConflict` for any kind: only registers of that kind may be settled.
pub(crate) fn settle(
    doc: &mut AutoCommit,
    id: DocId,
    stamp: &Stamp,
    registers: &[&str],
    field: &str,
    value: &str,
) -> Result<()> {
    if !registers.contains(&field) {
        return Err(CoreError::NoSuchConflict {
            id,
            reason: format!("{field:?} is not a single-valued field of this record"),
        });
    }
    doc::settle(doc, id, field, value)?;
    doc::append_timeline(doc, id, stamp, "settle_conflict", &format!("{field} = {value}"))
}

/// Refuses `cmd` (`InvalidTransition`) unless `status`, the record's (`what`: `the case`,
/// ...), is one of `allowed`, naming them.
pub(crate) fn require<S: Copy + PartialEq + std::fmt::Display>(
    id: DocId,
    cmd: &Command,
    what: &str,
    status: S,
    allowed: &[S],
) -> Result<()> {
    if allowed.contains(&status) {
        return Ok(());
    }
    let names: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
    Err(CoreError::InvalidTransition {
        id,
        command: cmd.name(),
        reason: format!("{what} is {status}; it must be {}", names.join(" or ")),
    })
}

/// Appends `{id, at, by, <field>: text}` to the root list `list`, by the stamp's user at its
/// time, after checking the list's room (`max`): a comment, a follow-up (the caller checks the
/// text). Returns the new item's key.
pub(crate) fn append_signed(
    doc: &mut AutoCommit,
    id: DocId,
    stamp: &Stamp,
    (list, max): (&'static str, usize),
    (field, text): (&'static str, &str),
) -> Result<String> {
    let obj = doc::root_list(doc, list, id)?;
    let fields = vec![
        ("at", automerge::ScalarValue::Timestamp(stamp.at)),
        ("by", stamp.by.as_str().into()),
        (field, text.into()),
    ];
    Ok(doc::append_item(doc, &obj, list, max, fields)?.0)
}

/// `AddPhoto` to the root `photos` list of a record (`what`: `a report`, ...). An `entry` is
/// refused: ignoring it would put the photo elsewhere than the caller meant.
pub(crate) fn add_root_photo(
    doc: &mut AutoCommit,
    id: DocId,
    photo: &PhotoRef,
    entry: Option<&String>,
    what: &str,
) -> Result<()> {
    super::report::validate_photos(std::slice::from_ref(photo))?;
    if entry.is_some() {
        return Err(CoreError::invalid(
            "entry",
            format!("a photo of {what} belongs to the record itself: give no entry"),
        ));
    }
    let list = doc::root_list(doc, "photos", id)?;
    limits::room_in_list(
        "photos",
        automerge::ReadDoc::length(doc, &list),
        limits::SHORT_LIST_ITEMS,
    )?;
    doc::append_photos(doc, &list, std::slice::from_ref(photo))
}

/// `AddPhoto` to the `photos` list of the item `entry` names in the root list `list` (a
/// patrol's entries, a visit's findings). No `entry` is refused with `without` (`a patrol
/// photo belongs to an entry`): a photo of these kinds belongs to an item, which `item_name`
/// names in the refusal of an unknown one.
pub(crate) fn add_item_photo(
    doc: &mut AutoCommit,
    id: DocId,
    list: &str,
    photo: &PhotoRef,
    entry: Option<&String>,
    (without, item_name): (&str, &str),
) -> Result<()> {
    super::report::validate_photos(std::slice::from_ref(photo))?;
    let Some(entry) = entry else {
        return Err(CoreError::invalid("entry", without.to_string()));
    };
    let items = doc::root_list(doc, list, id)?;
    let item = doc::find_item(doc, &items, entry)?
        .ok_or_else(|| CoreError::invalid("entry", format!("no {item_name} {entry:?} in {id}")))?;
    let photos = doc::object(doc, &item, "photos", automerge::ObjType::List, id)?;
    limits::room_in_list(
        "photos",
        automerge::ReadDoc::length(doc, &photos),
        limits::SHORT_LIST_ITEMS,
    )?;
    doc::append_photos(doc, &photos, std::slice::from_ref(photo))
}

/// The `photos` lists of the maps of the root list `list` (a patrol's entries, a visit's
/// findings).
pub(crate) fn item_photo_lists<D: autosurgeon::ReadDoc>(
    doc: &D,
    id: DocId,
    list: &str,
) -> Result<Vec<automerge::ObjId>> {
    use automerge::{ObjType, Value};
    let items = doc::root_list(doc, list, id)?;
    let mut lists = Vec::new();
    for i in 0..doc.length(&items) {
        if let Some((Value::Object(ObjType::Map), item)) = doc.get(&items, i)?
            && let Some((Value::Object(ObjType::List), photos)) = doc.get(&item, "photos")?
        {
            lists.push(photos);
        }
    }
    Ok(lists)
}

/// The error for a command sent to a kind it does not apply to.
pub(crate) fn not_for(id: DocId, cmd: &Command, found: Kind) -> CoreError {
    match cmd.kind() {
        Some(expected) => CoreError::WrongKind { id, expected, found },
        None => CoreError::InvalidTransition {
            id,
            command: cmd.name(),
            reason: format!("it does not apply to a {found}"),
        },
    }
}
