//! What a listing of the index asks for: filters per kind, the sort, and keyset pages with an
//! opaque cursor (the sort keys of the last row shown), so that a page is exact while rows
//! arrive and costs the same wherever it starts.

use std::fmt;
use std::str::FromStr;

use fieldsync_core::model::{
    BulletinStatus, CaseCategory, CaseStatus, DeliberationStatus, PatrolStatus, ReportCategory,
    ReportStatus, Severity, VisitStatus,
};

use crate::storage::StorageError;

/// The largest page a listing returns.
pub const MAX_PAGE: usize = 200;

/// The longest text searched for, in characters (longer text is refused).
pub const MAX_TEXT_CHARS: usize = 100;

/// Which rows a reader may see, cut in the query itself so that pages are full: the reader's
/// scopes (a row is kept when one of them is its scope or an ancestor of it), or everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Readable {
    /// Every row (the caller applies no scope cut).
    #[default]
    All,
    /// Rows inside any of these scopes (none: no row).
    Scopes(Vec<String>),
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

/// Filters of a patrol log listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatrolFilter {
    /// The reader's scope cut.
    pub readable: Readable,
    /// Inside this scope.
    pub scope: Option<String>,
    /// One of these statuses (empty: any).
    pub statuses: Vec<PatrolStatus>,
    /// In this area (exactly).
    pub area: Option<String>,
    /// With this user in the team.
    pub member: Option<String>,
    /// Started at or after this time (ms).
    pub started_from: Option<i64>,
    /// Started before this time (ms).
    pub started_to: Option<i64>,
}

/// Filters of a mediation case listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaseFilter {
    /// The reader's scope cut.
    pub readable: Readable,
    /// Inside this scope.
    pub scope: Option<String>,
    /// One of these statuses (empty: any).
    pub statuses: Vec<CaseStatus>,
    /// One of these categories (empty: any).
    pub categories: Vec<CaseCategory>,
    /// With this user among the mediators.
    pub mediator: Option<String>,
    /// Opened at or after this time (ms).
    pub opened_from: Option<i64>,
    /// Opened before this time (ms).
    pub opened_to: Option<i64>,
}

/// Filters of a bulletin listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulletinFilter {
    /// The reader's scope cut.
    pub readable: Readable,
    /// Inside this scope.
    pub scope: Option<String>,
    /// One of these statuses (empty: any).
    pub statuses: Vec<BulletinStatus>,
    /// One of these severities (empty: any).
    pub severities: Vec<Severity>,
    /// Issued by this user.
    pub created_by: Option<String>,
    /// In force at this time (ms): issued, its validity not ended.
    pub in_force_at: Option<i64>,
    /// Issued at or after this time (ms).
    pub created_from: Option<i64>,
    /// Issued before this time (ms).
    pub created_to: Option<i64>,
}

/// What a listing of business visits asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisitFilter {
    /// The reader's scope cut.
    pub readable: Readable,
    /// Inside this scope.
    pub scope: Option<String>,
    /// Of this business.
    pub business: Option<String>,
    /// One of these statuses (empty: any).
    pub statuses: Vec<VisitStatus>,
    /// With a failed checklist item.
    pub failed: Option<bool>,
    /// Open with a follow-up due before this time (ms).
    pub follow_up_before: Option<i64>,
    /// Recorded at or after this time (ms).
    pub created_from: Option<i64>,
    /// Recorded before this time (ms).
    pub created_to: Option<i64>,
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

/// The order of a listing. Reports take any; patrol logs and cases `Created` (newest start or
/// opening first) and `Updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Newest first (the default).
    #[default]
    Created,
    /// Earliest deadline first; reports without one last.
    Deadline,
    /// Most urgent first, then newest first.
    Priority,
    /// Most recently changed first.
    Updated,
}

impl Sort {
    fn tag(self) -> char {
        match self {
            Sort::Created => 'c',
            Sort::Deadline => 'd',
            Sort::Priority => 'p',
            Sort::Updated => 'u',
        }
    }

    fn of_tag(tag: char) -> Option<Sort> {
        [Sort::Created, Sort::Deadline, Sort::Priority, Sort::Updated]
            .into_iter()
            .find(|s| s.tag() == tag)
    }
}

/// Where a page starts: after the row with these sort keys. Opaque to clients (shown and
/// parsed as a string); a cursor is bound to the sort it was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The sort it belongs to.
    pub(crate) sort: Sort,
    /// The last row's sort keys (the second is 0 for one-key sorts).
    pub(crate) keys: [i64; 2],
    /// The last row's position in storage (the tie-breaker).
    pub(crate) row: i64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}.{}.{}", self.sort.tag(), self.keys[0], self.keys[1], self.row)
    }
}

impl FromStr for Cursor {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            StorageError::InvalidQuery(format!(
                "{:?} is not a page cursor",
                s.chars().take(40).collect::<String>()
            ))
        };
        let mut chars = s.chars();
        let sort = chars.next().and_then(Sort::of_tag).ok_or_else(bad)?;
        let mut parts = chars.as_str().split('.').map(|p| p.parse::<i64>().map_err(|_| bad()));
        let k0 = parts.next().ok_or_else(bad)??;
        let k1 = parts.next().ok_or_else(bad)??;
        let row = parts.next().ok_or_else(bad)??;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Cursor { sort, keys: [k0, k1], row })
    }
}

/// Which page of a listing: its order, its size and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// The order.
    pub sort: Sort,
    /// Rows wanted, 1 to [`MAX_PAGE`] (larger is lowered, 0 raised to 1).
    pub size: usize,
    /// After the row a previous page ended with (`None`: the first page).
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { sort: Sort::Created, size: 50, after: None }
    }
}

impl PageRequest {
    /// The page size within bounds.
    pub fn limit(&self) -> usize {
        self.size.clamp(1, MAX_PAGE)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows, in the listing's order.
    pub rows: Vec<T>,
    /// Where the next page starts; `None` when this is the last.
    pub next: Option<Cursor>,
}

/// Checks the text of a search: at most [`MAX_TEXT_CHARS`] characters, not blank.
pub fn check_text(text: &str) -> Result<(), StorageError> {
    if text.trim().is_empty() {
        return Err(StorageError::InvalidQuery("the search text is empty".into()));
    }
    let n = text.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(StorageError::InvalidQuery(format!(
            "the search text has {n} characters; at most {MAX_TEXT_CHARS}"
        )));
    }
    Ok(())
}

/// The case-folded form text is stored and searched in (so that `Roof` finds `roof`; Chinese
/// has no case and stays as it is).
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor { sort: Sort::Priority, keys: [3, -17], row: 42 };
        assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
        for bad in ["", "x1.2.3", "c1.2", "c1.2.3.4", "c1.a.3", "c1.2.3'; DROP TABLE docs"] {
            assert!(matches!(bad.parse::<Cursor>(), Err(StorageError::InvalidQuery(_))), "{bad}");
        }
    }

    #[test]
    fn text_is_bounded() {
        assert!(check_text("违").is_ok());
        assert!(check_text("  ").is_err());
        assert!(check_text(&"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
    }
}
