//! A report in the index: its workflow times from the timeline, due times and priority from
//! the rules. Reports have a listing of their own (`IndexStorage::list_reports`: every sort,
//! text search, the overdue filter) and counts.

use fieldsync_core::DocId;
use fieldsync_core::model::{Kind, OverdueLimit, ReportCategory, ReportStatus};
use fieldsync_core::policy::Audience;
use serde::Serialize;

use super::display;
use crate::rules::Priority;
use crate::storage::index::kind::row_head;
use crate::storage::index::{Cell, Cells, Indexed, Readable, fold};
use crate::storage::{StorageError, StorageResult};

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

impl Indexed for ReportRow {
    const KIND: Kind = Kind::Report;
    const TABLE: &'static str = "report_index";
    const COLUMNS: &'static [&'static str] = &[
        "status",
        "category",
        "title",
        "description",
        "created_by",
        "assignee",
        "created_at",
        "submitted_at",
        "accepted_at",
        "dispatched_at",
        "resolved_at",
        "confirmed_at",
        "rejected_at",
        "deadline",
        "priority",
        "lat",
        "lon",
        "address",
        "points",
        "supervisions",
        "reopens",
        "escalated_accept",
        "escalated_resolve",
        "accept_due",
        "resolve_due",
        "photos",
        "comments",
        "updated_at",
    ];

    row_head!();

    fn cells(&self) -> StorageResult<Vec<(&'static str, Cell)>> {
        Ok(vec![
            ("status", Cell::text(self.status.as_str())),
            ("category", Cell::text(self.category.as_str())),
            ("title", Cell::text(&self.title)),
            ("description", Cell::text(&self.description)),
            ("search", Cell::Text(fold(&format!("{}\n{}", self.title, self.description)))),
            ("created_by", Cell::text(&self.created_by)),
            ("assignee", self.assignee.as_deref().map_or(Cell::Null, Cell::text)),
            ("created_at", Cell::Integer(self.created_at)),
            ("submitted_at", Cell::int(self.submitted_at)),
            ("accepted_at", Cell::int(self.accepted_at)),
            ("dispatched_at", Cell::int(self.dispatched_at)),
            ("resolved_at", Cell::int(self.resolved_at)),
            ("confirmed_at", Cell::int(self.confirmed_at)),
            ("rejected_at", Cell::int(self.rejected_at)),
            ("deadline", Cell::int(self.deadline)),
            ("deadline_key", Cell::Integer(self.deadline.unwrap_or(i64::MAX))),
            ("priority", Cell::Integer(self.priority.rank())),
            ("lat", self.lat.map_or(Cell::Null, Cell::Real)),
            ("lon", self.lon.map_or(Cell::Null, Cell::Real)),
            ("address", self.address.as_deref().map_or(Cell::Null, Cell::text)),
            ("points", Cell::Integer(self.points)),
            ("supervisions", Cell::count(self.supervisions)),
            ("reopens", Cell::count(self.reopens)),
            ("escalated_accept", Cell::Integer(self.escalated_accept.into())),
            ("escalated_resolve", Cell::Integer(self.escalated_resolve.into())),
            ("accept_due", Cell::Integer(self.accept_due)),
            ("resolve_due", Cell::Integer(self.resolve_due)),
            ("photos", Cell::count(self.photos)),
            ("comments", Cell::count(self.comments)),
            ("updated_at", Cell::Integer(self.updated_at)),
        ])
    }

    fn read(doc: DocId, scope: String, c: &mut Cells) -> StorageResult<Self> {
        Ok(ReportRow {
            doc,
            scope,
            status: c.parsed()?,
            category: c.parsed()?,
            title: c.text()?,
            description: c.text()?,
            created_by: c.text()?,
            assignee: c.opt_text()?,
            created_at: c.int()?,
            submitted_at: c.opt_int()?,
            accepted_at: c.opt_int()?,
            dispatched_at: c.opt_int()?,
            resolved_at: c.opt_int()?,
            confirmed_at: c.opt_int()?,
            rejected_at: c.opt_int()?,
            deadline: c.opt_int()?,
            priority: {
                let rank = c.int()?;
                Priority::from_rank(rank).ok_or_else(|| {
                    StorageError::Corrupt(format!("index priority {rank} is not one"))
                })?
            },
            lat: c.opt_real()?,
            lon: c.opt_real()?,
            address: c.opt_text()?,
            points: c.int()?,
            supervisions: c.count()?,
            reopens: c.count()?,
            escalated_accept: c.flag()?,
            escalated_resolve: c.flag()?,
            accept_due: c.int()?,
            resolve_due: c.int()?,
            photos: c.count()?,
            comments: c.count()?,
            updated_at: c.int()?,
        })
    }

    fn audience(&self, a: &mut Audience) {
        a.created_by = self.created_by.clone();
        a.participants = self.assignee.iter().cloned().collect();
    }
}

/// Filters of a report listing; every one set must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportFilter {
    /// The reader's scope cut.
    pub readable: Readable,
    /// Inside this scope (the scope or below it, by path segment).
    pub scope: Option<String>,
    /// One of these statuses (empty: any).
    pub statuses: Vec<ReportStatus>,
    /// One of these categories (empty: any).
    pub categories: Vec<ReportCategory>,
    /// Dispatched to this user.
    pub assignee: Option<String>,
    /// Reported by this user.
    pub created_by: Option<String>,
    /// Overdue at this time (ms): the accept limit passed while still submitted or reopened,
    /// or the resolve limit passed while not resolved, confirmed or rejected.
    pub overdue_at: Option<i64>,
    /// Created at or after this time (ms).
    pub created_from: Option<i64>,
    /// Created before this time (ms).
    pub created_to: Option<i64>,
    /// Title or description holds this text (case-folded; taken literally, whatever it holds).
    pub text: Option<String>,
}

/// How many reports of one status a filter holds (`IndexStorage::count_reports`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReportCount {
    /// The status.
    pub status: ReportStatus,
    /// Reports in it.
    pub reports: u64,
    /// Of those, the ones overdue at the time counted for.
    pub overdue: u64,
}
