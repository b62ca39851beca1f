//! A deliberation in the index: where it is in its course, how much was said, its next meeting
//! and who attended.

use fieldsync_core::DocId;
use fieldsync_core::model::{DeliberationStatus, Kind};
use fieldsync_core::policy::Audience;
use serde::Serialize;

use super::display;
use crate::storage::StorageResult;
use crate::storage::index::kind::{filter_cut, row_head};
use crate::storage::index::{Cell, Cells, Indexed, KindFilter, Readable, Term};

/// A deliberation as the index keeps it.
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

impl Indexed for DeliberationRow {
    const KIND: Kind = Kind::Deliberation;
    const TABLE: &'static str = "deliberation_index";
    const COLUMNS: &'static [&'static str] = &[
        "status",
        "topic",
        "created_by",
        "created_at",
        "comments",
        "options",
        "meetings",
        "next_meeting_at",
        "attendees",
        "decided_at",
        "updated_at",
    ];

    row_head!();

    fn cells(&self) -> StorageResult<Vec<(&'static str, Cell)>> {
        Ok(vec![
            ("status", Cell::text(self.status.as_str())),
            ("topic", Cell::text(&self.topic)),
            ("created_by", Cell::text(&self.created_by)),
            ("created_at", Cell::Integer(self.created_at)),
            ("comments", Cell::count(self.comments)),
            ("options", Cell::count(self.options)),
            ("meetings", Cell::count(self.meetings)),
            ("next_meeting_at", Cell::int(self.next_meeting_at)),
            ("attendees", Cell::lines(&self.attendees)?),
            ("decided_at", Cell::int(self.decided_at)),
            ("updated_at", Cell::Integer(self.updated_at)),
        ])
    }

    fn read(doc: DocId, scope: String, c: &mut Cells) -> StorageResult<Self> {
        Ok(DeliberationRow {
            doc,
            scope,
            status: c.parsed()?,
            topic: c.text()?,
            created_by: c.text()?,
            created_at: c.int()?,
            comments: c.count()?,
            options: c.count()?,
            meetings: c.count()?,
            next_meeting_at: c.opt_int()?,
            attendees: c.lines()?,
            decided_at: c.opt_int()?,
            updated_at: c.int()?,
        })
    }

    fn audience(&self, a: &mut Audience) {
        a.created_by = self.created_by.clone();
        a.participants = self.attendees.clone();
    }
}

/// Filters of a deliberation listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeliberationFilter {
    /// The reader's scope cut.
    pub readable: Readable,
    /// Inside this scope.
    pub scope: Option<String>,
    /// One of these statuses (empty: any).
    pub statuses: Vec<DeliberationStatus>,
    /// Raised by this user.
    pub created_by: Option<String>,
    /// Attended (one of its meetings) by this user.
    pub attendee: Option<String>,
    /// Raised at or after this time (ms).
    pub created_from: Option<i64>,
    /// Raised before this time (ms).
    pub created_to: Option<i64>,
}

impl KindFilter for DeliberationFilter {
    type Row = DeliberationRow;
    const CREATED: &'static str = "created_at";

    filter_cut!();

    fn terms(&self) -> StorageResult<Vec<Term>> {
        let mut t = vec![Term::one_of("status", &self.statuses)];
        if let Some(c) = &self.created_by {
            t.push(Term::equals("created_by", c));
        }
        if let Some(a) = &self.attendee {
            t.push(Term::HasLine("attendees", a.clone()));
        }
        t.push(Term::Range("created_at", self.created_from, self.created_to));
        Ok(t)
    }

    fn times(row: &DeliberationRow) -> (i64, i64) {
        (row.created_at, row.updated_at)
    }
}
