//! The phone's list of deliberations: those of a scope, in some states, raised by someone or
//! attended by someone, newest first, with their next meeting.

use rusqlite::Connection;

use super::query::{Page, PageRequest, Where, check_limit, doc_id, page_sql, run};
use crate::error::Result;
use crate::id::DocId;
use crate::model::DeliberationStatus;
use crate::time::Timestamp;

/// Filters for deliberations; all given filters must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DeliberationFilter {
    /// Scope prefix: the scope itself and everything below it.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub scope: Option<String>,
    /// Any of these statuses (empty: any).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub statuses: Vec<DeliberationStatus>,
    /// Raised by this user.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub created_by: Option<String>,
    /// Attended (one of its meetings) by this user.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub attended_by: Option<String>,
}

/// A deliberation as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DeliberationSummary {
    /// Document id.
    pub id: DocId,
    /// The grid or community it concerns.
    pub scope: String,
    /// Where it is in its course.
    pub status: DeliberationStatus,
    /// Its topic.
    pub topic: String,
    /// Raised at.
    pub created_at: Timestamp,
    /// Raised by.
    pub created_by: String,
    /// How many comments it has.
    pub comments: i64,
    /// How many meetings it has (held or not).
    pub meetings: i64,
    /// When the earliest of its meetings not held yet is.
    pub next_meeting_at: Option<Timestamp>,
    /// Whether a register holds concurrent values.
    pub conflicted: bool,
}

pub(crate) fn deliberations(
    conn: &Connection,
    f: &DeliberationFilter,
    page: &PageRequest,
) -> Result<Page<DeliberationSummary>> {
    check_limit(page)?;
    let mut w = Where::default();
    w.scope("t.scope", &f.scope)?;
    w.any_of("t.status", f.statuses.iter().map(|s| s.as_str()));
    w.text("t.created_by = ?", &f.created_by);
    w.text(
        "t.doc IN (SELECT doc FROM doc_users WHERE role = 'deliberation_attendee' AND user = ?)",
        &f.attended_by,
    );
    w.after("t.created_at", page)?;
    let sql = page_sql(
        "d.doc_id, t.scope, t.status, t.topic, t.created_at, t.created_by, t.comments, \
         t.meetings, t.next_meeting_at, t.conflicted, t.doc",
        "deliberations",
        &w,
        "t.created_at",
        page,
    );
    run(conn, &sql, w.params, page, |r| {
        let s = DeliberationSummary {
            id: doc_id(r, 0)?,
            scope: r.get(1)?,
            status: r.get(2)?,
            topic: r.get(3)?,
            created_at: r.get(4)?,
            created_by: r.get(5)?,
            comments: r.get(6)?,
            meetings: r.get(7)?,
            next_meeting_at: r.get(8)?,
            conflicted: r.get(9)?,
        };
        Ok((s, r.get(4)?, r.get(10)?))
    })
}
