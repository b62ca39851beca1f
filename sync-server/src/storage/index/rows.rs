//! The index rows: one typed row per record, what the desk lists, filters, counts and streams
//! without loading documents. The domain (`crate::index`) computes them from records; storage
//! keeps them beside the documents, written in the same transaction as the write that made
//! them.

use fieldsync_core::DocId;
use fieldsync_core::model::{
    Addressee, BulletinStatus, CaseCategory, CaseStatus, DeliberationStatus, Kind, OverdueLimit,
    PatrolStatus, ReportCategory, ReportStatus, Severity, VisitStatus,
};
use fieldsync_core::policy::Audience;
use serde::Serialize;

use crate::rules::Priority;

/// Serializes a value by its `Display` (the core enums, stored and shown as strings).
fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A report as the index keeps it. Times are ms since the Unix epoch; the times of actions are
/// those of the latest timeline event of that action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path.
    pub scope: String,
    /// Workflow status.
    #[serde(serialize_with = "display")]
    pub status: ReportStatus,
    /// What it is about.
    #[serde(serialize_with = "display")]
    pub category: ReportCategory,
    /// Short title.
    pub title: String,
    /// Description (searched with the title).
    pub description: String,
    /// The reporter.
    pub created_by: String,
    /// The responder it is dispatched to.
    pub assignee: Option<String>,
    /// When it was created.
    pub created_at: i64,
    /// When it was submitted (`submit_report`).
    pub submitted_at: Option<i64>,
    /// When it was last accepted (`accept_report`).
    pub accepted_at: Option<i64>,
    /// When it was last dispatched (`dispatch_report`).
    pub dispatched_at: Option<i64>,
    /// When it was last resolved (`resolve_report`).
    pub resolved_at: Option<i64>,
    /// When the reporter last confirmed it (`confirm_report`).
    pub confirmed_at: Option<i64>,
    /// When it was last rejected (`reject_report`).
    pub rejected_at: Option<i64>,
    /// The responder's deadline.
    pub deadline: Option<i64>,
    /// Its category's priority, from the rules.
    pub priority: Priority,
    /// Latitude, when it has a location.
    pub lat: Option<f64>,
    /// Longitude, when it has a location.
    pub lon: Option<f64>,
    /// The location's address, when it has a location.
    pub address: Option<String>,
    /// Points awarded to the reporter.
    pub points: i64,
    /// Supervision events (`supervise`).
    pub supervisions: u32,
    /// Times it was reopened (`reopen_report`).
    pub reopens: u32,
    /// Whether the accept limit was escalated.
    pub escalated_accept: bool,
    /// Whether the resolve limit was escalated.
    pub escalated_resolve: bool,
    /// When it must be accepted by: created_at plus its category's accept limit.
    pub accept_due: i64,
    /// When it must be resolved by: created_at plus its category's resolve limit.
    pub resolve_due: i64,
    /// Photos attached.
    pub photos: u32,
    /// Comments.
    pub comments: u32,
    /// The time of its last timeline event (created_at when none).
    pub updated_at: i64,
}

impl ReportRow {
    /// The time limits this report has passed at `now`, escalated or not: the accept limit
    /// while it is still submitted or reopened, the resolve limit while it is not resolved,
    /// confirmed or rejected. The one definition of "overdue" the desk and the escalator use
    /// (the listing's `overdue_at` filter is its SQL form).
    pub fn passed_limits(&self, now: i64) -> Vec<OverdueLimit> {
        use ReportStatus as S;
        let mut limits = Vec::new();
        if now > self.accept_due && matches!(self.status, S::Submitted | S::Reopened) {
            limits.push(OverdueLimit::Accept);
        }
        if now > self.resolve_due
            && !matches!(self.status, S::Resolved | S::Confirmed | S::Rejected)
        {
            limits.push(OverdueLimit::Resolve);
        }
        limits
    }
}

/// A patrol log as the index keeps it (queries bucket `started_at` into days).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatrolRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path.
    pub scope: String,
    /// The area patrolled.
    pub area: String,
    /// User ids of the team.
    pub members: Vec<String>,
    /// Active or finished.
    #[serde(serialize_with = "display")]
    pub status: PatrolStatus,
    /// Entries appended.
    pub entries: u32,
    /// Planned checkpoints reached (each counted once).
    pub checkpoints_reached: u32,
    /// Planned checkpoints.
    pub checkpoints_planned: u32,
    /// When the patrol started.
    pub started_at: i64,
    /// When it finished.
    pub ended_at: Option<i64>,
    /// The time of its last timeline event or entry.
    pub updated_at: i64,
}

/// How a mediation ended, as far as it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not ended (or closed without any of the others).
    None,
    /// The parties agreed.
    Agreed,
    /// Mediation failed.
    Failed,
    /// Passed on to a higher body.
    Escalated,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 4] =
        [Outcome::None, Outcome::Agreed, Outcome::Failed, Outcome::Escalated];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::None => "none",
            Outcome::Agreed => "agreed",
            Outcome::Failed => "failed",
            Outcome::Escalated => "escalated",
        }
    }
}

/// A mediation case as the index keeps it: never a party's name or contact (the index feeds
/// exports).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path.
    pub scope: String,
    /// Workflow status.
    #[serde(serialize_with = "display")]
    pub status: CaseStatus,
    /// What the dispute is about.
    #[serde(serialize_with = "display")]
    pub category: CaseCategory,
    /// User ids of the mediators.
    pub mediators: Vec<String>,
    /// Sessions held.
    pub sessions: u32,
    /// How it ended (the latest agreement, failure or escalation).
    pub outcome: Outcome,
    /// When it was opened.
    pub opened_at: i64,
    /// When it was last closed (`close_case`).
    pub closed_at: Option<i64>,
    /// The time of its last timeline event.
    pub updated_at: i64,
}

/// A warning bulletin as the index keeps it: who it warns and who acknowledged it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulletinRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path (where it warns).
    pub scope: String,
    /// Issued or withdrawn.
    #[serde(serialize_with = "display")]
    pub status: BulletinStatus,
    /// How grave.
    #[serde(serialize_with = "display")]
    pub severity: Severity,
    /// Who it is addressed to.
    pub audience: Vec<Addressee>,
    /// Short title.
    pub title: String,
    /// Its issuer.
    pub created_by: String,
    /// When it was issued.
    pub created_at: i64,
    /// When its validity ends.
    pub valid_until: i64,
    /// User ids of those who acknowledged it, each once, in the order they did.
    pub acknowledged: Vec<String>,
    /// The time of its last timeline event or acknowledgement.
    pub updated_at: i64,
}

/// A business visit as the index keeps it: what the desk lists and what tells when a business
/// was last visited.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path (the business's own).
    pub scope: String,
    /// The business visited.
    pub business: String,
    /// Open or closed.
    #[serde(serialize_with = "display")]
    pub status: VisitStatus,
    /// User ids of the visitors, each once.
    pub visitors: Vec<String>,
    /// Who recorded it.
    pub created_by: String,
    /// When it was recorded (the visit's time).
    pub created_at: i64,
    /// The checklist items whose result as it stands is a failure.
    pub failed: Vec<String>,
    /// Findings recorded.
    pub findings: u32,
    /// The follow-up asked of the business (empty: none).
    pub follow_up: String,
    /// By when.
    pub follow_up_deadline: Option<i64>,
    /// The time of its last timeline event, result or finding.
    pub updated_at: i64,
}

/// A deliberation as the index keeps it: where it is in its course, how much was said, its
/// next meeting and who attended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliberationRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path (the grid or community it concerns).
    pub scope: String,
    /// Where it is in its course.
    #[serde(serialize_with = "display")]
    pub status: DeliberationStatus,
    /// Its topic.
    pub topic: String,
    /// Who raised it.
    pub created_by: String,
    /// When it was raised.
    pub created_at: i64,
    /// How many comments it has.
    pub comments: u32,
    /// How many options were put to it.
    pub options: u32,
    /// How many meetings it has (held or not).
    pub meetings: u32,
    /// When the earliest of its meetings not held yet is.
    pub next_meeting_at: Option<i64>,
    /// User ids of those who attended one of its meetings, each once.
    pub attendees: Vec<String>,
    /// When its decision was recorded.
    pub decided_at: Option<i64>,
    /// The time of its last timeline event, comment or follow-up action.
    pub updated_at: i64,
}

/// The index row of one record.
// Reports are most rows: boxing them would allocate for nearly every row to save memory on
// the few others, in batches of at most a few hundred.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndexRow {
    /// A report's.
    Report(ReportRow),
    /// A patrol log's.
    PatrolLog(PatrolRow),
    /// A mediation case's.
    MediationCase(CaseRow),
    /// A warning bulletin's.
    Bulletin(BulletinRow),
    /// A business visit's.
    Visit(VisitRow),
    /// A deliberation's.
    Deliberation(DeliberationRow),
}

impl IndexRow {
    /// The document the row is of.
    pub fn doc(&self) -> DocId {
        match self {
            IndexRow::Report(r) => r.doc,
            IndexRow::PatrolLog(p) => p.doc,
            IndexRow::MediationCase(c) => c.doc,
            IndexRow::Bulletin(b) => b.doc,
            IndexRow::Visit(v) => v.doc,
            IndexRow::Deliberation(d) => d.doc,
        }
    }

    /// The record's scope.
    pub fn scope(&self) -> &str {
        match self {
            IndexRow::Report(r) => &r.scope,
            IndexRow::PatrolLog(p) => &p.scope,
            IndexRow::MediationCase(c) => &c.scope,
            IndexRow::Bulletin(b) => &b.scope,
            IndexRow::Visit(v) => &v.scope,
            IndexRow::Deliberation(d) => &d.scope,
        }
    }

    /// The record's kind (the `kind` the row is serialized with, the name of its events).
    pub fn kind(&self) -> Kind {
        match self {
            IndexRow::Report(_) => Kind::Report,
            IndexRow::PatrolLog(_) => Kind::PatrolLog,
            IndexRow::MediationCase(_) => Kind::MediationCase,
            IndexRow::Bulletin(_) => Kind::Bulletin,
            IndexRow::Visit(_) => Kind::Visit,
            IndexRow::Deliberation(_) => Kind::Deliberation,
        }
    }

    /// The record's audience as far as the row knows it, for `policy::can_read` (rows of
    /// patrol logs and cases keep no creator: they are read by scope and by the people named).
    pub fn audience(&self) -> Audience {
        let mut a = Audience::plain(self.kind(), self.scope(), "");
        match self {
            IndexRow::Report(r) => {
                a.created_by = r.created_by.clone();
                a.participants = r.assignee.iter().cloned().collect();
            }
            IndexRow::PatrolLog(p) => a.participants = p.members.clone(),
            IndexRow::MediationCase(c) => a.participants = c.mediators.clone(),
            IndexRow::Bulletin(b) => {
                a.created_by = b.created_by.clone();
                a.addressed = b.audience.clone();
                a.until = Some(b.valid_until);
            }
            IndexRow::Visit(v) => {
                a.created_by = v.created_by.clone();
                a.participants = v.visitors.clone();
            }
            IndexRow::Deliberation(d) => {
                a.created_by = d.created_by.clone();
                a.participants = d.attendees.clone();
            }
        }
        a
    }
}

/// A row as it changed: with the seq of the write that last touched it (the event id of the
/// live event stream).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexChange {
    /// The log seq of the write that last touched the row.
    pub seq: u64,
    /// The row.
    pub row: IndexRow,
}
