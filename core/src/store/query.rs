//! Paged, filtered queries over the projection tables, newest first, with keyset paging.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};

use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::model::{CaseCategory, CaseStatus, PatrolStatus, ReportCategory, ReportStatus};
use crate::time::Timestamp;

/// Largest page a query returns.
pub const MAX_PAGE: i32 = 500;

/// Which page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PageRequest {
    /// Items per page (1..=500; 50 when not given).
    #[cfg_attr(feature = "uniffi", uniffi(default = 50))]
    pub limit: i32,
    /// `next` of the previous page; none (null) for the first page.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub after: Option<String>,
}

impl PageRequest {
    /// The first page of `limit` items.
    pub fn first(limit: i32) -> Self {
        PageRequest { limit, after: None }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Pass as `after` to read the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Filters for reports; all given filters must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReportFilter {
    /// Scope prefix: the scope itself and everything below it.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub scope: Option<String>,
    /// Any of these statuses (empty: any).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub statuses: Vec<ReportStatus>,
    /// This category.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub category: Option<ReportCategory>,
    /// Dispatched to this user.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub assignee: Option<String>,
    /// Submitted by this user.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub created_by: Option<String>,
    /// Dispatched or in progress with a deadline before this time.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub overdue_at: Option<Timestamp>,
    /// Only reports with concurrent conflicts.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub conflicted_only: bool,
}

/// Filters for patrol logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PatrolFilter {
    /// Scope prefix.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub scope: Option<String>,
    /// Patrols this user was a member of.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub member: Option<String>,
    /// This area.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub area: Option<String>,
    /// Active or finished.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub status: Option<PatrolStatus>,
    /// Started at or after.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub started_from: Option<Timestamp>,
    /// Started before.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub started_before: Option<Timestamp>,
}

/// Filters for mediation cases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CaseFilter {
    /// Scope prefix.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub scope: Option<String>,
    /// Any of these statuses (empty: any).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub statuses: Vec<CaseStatus>,
    /// Cases this mediator works on.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub mediator: Option<String>,
    /// This category.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub category: Option<CaseCategory>,
}

/// A report as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReportSummary {
    /// Document id.
    pub id: DocId,
    /// Scope.
    pub scope: String,
    /// Status (the winning value; see `conflicted`).
    pub status: ReportStatus,
    /// Category.
    pub category: ReportCategory,
    /// Title.
    pub title: String,
    /// Responder.
    pub assignee: Option<String>,
    /// Deadline.
    pub deadline: Option<Timestamp>,
    /// Submitted at.
    pub created_at: Timestamp,
    /// Submitted by.
    pub created_by: String,
    /// Whether a register holds concurrent values.
    pub conflicted: bool,
}

/// A patrol log as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PatrolSummary {
    /// Document id.
    pub id: DocId,
    /// Scope.
    pub scope: String,
    /// Area.
    pub area: String,
    /// Status.
    pub status: PatrolStatus,
    /// Started at.
    pub started_at: Timestamp,
    /// Ended at.
    pub ended_at: Option<Timestamp>,
    /// Number of entries.
    pub entries: i64,
    /// Whether a register holds concurrent values.
    pub conflicted: bool,
}

/// A mediation case as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CaseSummary {
    /// Document id.
    pub id: DocId,
    /// Scope.
    pub scope: String,
    /// Status.
    pub status: CaseStatus,
    /// Category.
    pub category: CaseCategory,
    /// Place.
    pub place: String,
    /// Opened at.
    pub created_at: Timestamp,
    /// Whether a register holds concurrent values.
    pub conflicted: bool,
}

/// Accumulates WHERE clauses and their parameters.
#[derive(Default)]
pub(super) struct Where {
    clauses: Vec<String>,
    pub(super) params: Vec<SqlValue>,
}

impl Where {
    pub(super) fn push(&mut self, clause: &str, values: impl IntoIterator<Item = SqlValue>) {
        self.clauses.push(clause.to_string());
        self.params.extend(values);
    }

    pub(super) fn text(&mut self, clause: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.push(clause, [SqlValue::Text(v.clone())]);
        }
    }

    pub(super) fn any_of<'a>(
        &mut self,
        column: &str,
        values: impl ExactSizeIterator<Item = &'a str>,
    ) {
        if values.len() == 0 {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.push(
            &format!("{column} IN ({marks})"),
            values.map(|v| SqlValue::Text(v.to_string())).collect::<Vec<_>>(),
        );
    }

    /// The scope itself or anything below it. One range, `[s, s0)` (`'/'` sorts just before
    /// `'0'`), that an index on the scope can seek, and the exact test inside it: the scope, or
    /// one that starts with `s/`. (An OR of the scope and the range below it was not a range:
    /// SQLite read every row of the other columns' match, a grid's reports of one status among
    /// all grids', and filtered them.)
    pub(super) fn scope(&mut self, column: &str, scope: &Option<String>) -> Result<()> {
        if let Some(s) = scope {
            crate::limits::scope(s)?;
            self.push(
                &format!(
                    "{column} >= ? AND {column} < ? \
                     AND ({column} = ? OR ({column} > ? AND substr({column}, 1, ?) = ?))"
                ),
                [
                    SqlValue::Text(s.clone()),
                    SqlValue::Text(format!("{s}0")),
                    SqlValue::Text(s.clone()),
                    SqlValue::Text(format!("{s}/")),
                    SqlValue::Integer(s.len() as i64 + 1),
                    SqlValue::Text(format!("{s}/")),
                ],
            );
        }
        Ok(())
    }

    /// Keyset paging on (order column DESC, doc DESC).
    pub(super) fn after(&mut self, order: &str, page: &PageRequest) -> Result<()> {
        if let Some(cursor) = &page.after {
            let (t, d) = parse_cursor(cursor)?;
            self.push(
                &format!("({order} < ? OR ({order} = ? AND t.doc < ?))"),
                [SqlValue::Integer(t), SqlValue::Integer(t), SqlValue::Integer(d)],
            );
        }
        Ok(())
    }

    pub(super) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

pub(super) fn parse_cursor(cursor: &str) -> Result<(i64, i64)> {
    let bad = || {
        CoreError::invalid(
            "page cursor",
            format!("{:?} is not a cursor", cursor.chars().take(40).collect::<String>()),
        )
    };
    let (t, d) = cursor.split_once('.').ok_or_else(bad)?;
    Ok((t.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?))
}

pub(super) fn check_limit(page: &PageRequest) -> Result<()> {
    if !(1..=MAX_PAGE).contains(&page.limit) {
        return Err(CoreError::invalid("limit", format!("{}; must be 1..={MAX_PAGE}", page.limit)));
    }
    Ok(())
}

/// Runs `SELECT <cols>, <order>, t.doc ... LIMIT n+1` and cuts the page.
/// The statement of a page of `table`'s rows matching `w`, newest `order` first: the page's
/// documents are chosen first, from what an index holds where one serves the filter and the
/// order, and only the page's rows are then read, with their document ids (`columns` name them
/// as `t.…` and `d.doc_id`). Joined before the choice, every match cost its row and a `docs`
/// page to keep a page of them: 60 to 300 for a grid's reports of one status, all of a district's.
pub(super) fn page_sql(
    columns: &str,
    table: &str,
    w: &Where,
    order: &str,
    page: &PageRequest,
) -> String {
    format!(
        "SELECT {columns} FROM \
         (SELECT t.doc FROM {table} t {} ORDER BY {order} DESC, t.doc DESC LIMIT {}) p \
         JOIN {table} t ON t.doc = p.doc JOIN docs d ON d.id = t.doc \
         ORDER BY {order} DESC, t.doc DESC",
        w.sql(),
        page.limit + 1
    )
}

pub(super) fn run<T>(
    conn: &Connection,
    sql: &str,
    params: Vec<SqlValue>,
    page: &PageRequest,
    map: impl Fn(&Row<'_>) -> rusqlite::Result<(T, i64, i64)>,
) -> Result<Page<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    while let Some(row) = rows.next()? {
        if items.len() as i64 == i64::from(page.limit) {
            more = true;
            break;
        }
        let (item, order, doc) = map(row)?;
        last = Some((order, doc));
        items.push(item);
    }
    let next = if more { last.map(|(o, d)| format!("{o}.{d}")) } else { None };
    Ok(Page { items, next })
}

pub(super) fn doc_id(row: &Row<'_>, idx: usize) -> rusqlite::Result<DocId> {
    let bytes: Vec<u8> = row.get(idx)?;
    DocId::from_slice(&bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Blob, Box::new(e))
    })
}

pub(crate) fn reports(
    conn: &Connection,
    f: &ReportFilter,
    page: &PageRequest,
) -> Result<Page<ReportSummary>> {
    let (sql, params) = reports_sql(f, page)?;
    run(conn, &sql, params, page, |r| Ok((report_summary(r)?, r.get(7)?, r.get(10)?)))
}

/// A report's summary from a row whose first ten columns are, in order, `d.doc_id`, `scope`,
/// `status`, `category`, `title`, `assignee`, `deadline`, `created_at`, `created_by` and
/// `conflicted` (the page of reports and the inbox select them so).
pub(super) fn report_summary(r: &Row<'_>) -> rusqlite::Result<ReportSummary> {
    Ok(ReportSummary {
        id: doc_id(r, 0)?,
        scope: r.get(1)?,
        status: r.get(2)?,
        category: r.get(3)?,
        title: r.get(4)?,
        assignee: r.get(5)?,
        deadline: r.get(6)?,
        created_at: r.get(7)?,
        created_by: r.get(8)?,
        conflicted: r.get(9)?,
    })
}

/// The statement of a page of reports and its parameters.
fn reports_sql(f: &ReportFilter, page: &PageRequest) -> Result<(String, Vec<SqlValue>)> {
    check_limit(page)?;
    let mut w = Where::default();
    w.scope("t.scope", &f.scope)?;
    w.any_of("t.status", f.statuses.iter().map(|s| s.as_str()));
    if let Some(c) = f.category {
        w.push("t.category = ?", [SqlValue::Text(c.as_str().into())]);
    }
    w.text("t.assignee = ?", &f.assignee);
    w.text("t.created_by = ?", &f.created_by);
    if let Some(at) = f.overdue_at {
        w.push(
            "t.deadline IS NOT NULL AND t.status IN ('dispatched', 'in_progress') AND t.deadline < ?",
            [SqlValue::Integer(at.as_millis())],
        );
    }
    if f.conflicted_only {
        w.push("t.conflicted = 1", []);
    }
    w.after("t.created_at", page)?;
    let sql = page_sql(
        "d.doc_id, t.scope, t.status, t.category, t.title, t.assignee, t.deadline, \
         t.created_at, t.created_by, t.conflicted, t.doc",
        "reports",
        &w,
        "t.created_at",
        page,
    );
    Ok((sql, w.params))
}

pub(crate) fn patrols(
    conn: &Connection,
    f: &PatrolFilter,
    page: &PageRequest,
) -> Result<Page<PatrolSummary>> {
    check_limit(page)?;
    let mut w = Where::default();
    w.scope("t.scope", &f.scope)?;
    w.text(
        "t.doc IN (SELECT doc FROM doc_users WHERE role = 'patrol_member' AND user = ?)",
        &f.member,
    );
    w.text("t.area = ?", &f.area);
    if let Some(s) = f.status {
        w.push("t.status = ?", [SqlValue::Text(s.as_str().into())]);
    }
    if let Some(t) = f.started_from {
        w.push("t.started_at >= ?", [SqlValue::Integer(t.as_millis())]);
    }
    if let Some(t) = f.started_before {
        w.push("t.started_at < ?", [SqlValue::Integer(t.as_millis())]);
    }
    w.after("t.started_at", page)?;
    let sql = page_sql(
        "d.doc_id, t.scope, t.area, t.status, t.started_at, t.ended_at, t.entry_count, \
         t.conflicted, t.doc",
        "patrols",
        &w,
        "t.started_at",
        page,
    );
    run(conn, &sql, w.params, page, |r| {
        let s = PatrolSummary {
            id: doc_id(r, 0)?,
            scope: r.get(1)?,
            area: r.get(2)?,
            status: r.get(3)?,
            started_at: r.get(4)?,
            ended_at: r.get(5)?,
            entries: r.get::<_, i64>(6)?.max(0),
            conflicted: r.get(7)?,
        };
        Ok((s, r.get(4)?, r.get(8)?))
    })
}

pub(crate) fn cases(
    conn: &Connection,
    f: &CaseFilter,
    page: &PageRequest,
) -> Result<Page<CaseSummary>> {
    check_limit(page)?;
    let mut w = Where::default();
    w.scope("t.scope", &f.scope)?;
    w.any_of("t.status", f.statuses.iter().map(|s| s.as_str()));
    w.text(
        "t.doc IN (SELECT doc FROM doc_users WHERE role = 'case_mediator' AND user = ?)",
        &f.mediator,
    );
    if let Some(c) = f.category {
        w.push("t.category = ?", [SqlValue::Text(c.as_str().into())]);
    }
    w.after("t.created_at", page)?;
    let sql = page_sql(
        "d.doc_id, t.scope, t.status, t.category, t.place, t.created_at, t.conflicted, t.doc",
        "cases",
        &w,
        "t.created_at",
        page,
    );
    run(conn, &sql, w.params, page, |r| {
        let s = CaseSummary {
            id: doc_id(r, 0)?,
            scope: r.get(1)?,
            status: r.get(2)?,
            category: r.get(3)?,
            place: r.get(4)?,
            created_at: r.get(5)?,
            conflicted: r.get(6)?,
        };
        Ok((s, r.get(5)?, r.get(7)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How SQLite runs the page of reports `f` asks for, one line per step.
    fn plan_of(f: &ReportFilter) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = super::super::schema::open_writer(&dir.path().join("s.db"), None).expect("open");
        let (sql, params) = reports_sql(f, &PageRequest::first(50)).expect("sql");
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("prepare");
        stmt.query_map(params_from_iter(params), |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    #[test]
    fn a_grids_page_of_one_status_reads_the_page_not_every_match() {
        let plan = plan_of(&ReportFilter {
            scope: Some("jl/cc/grid-1".into()),
            statuses: vec![ReportStatus::Submitted],
            ..Default::default()
        });
        // The grid's range of the index, not every report of the status (the scope's OR
        // defeated the range), and the index alone chooses the page before any row is read.
        assert!(
            plan.iter().any(|step| step.contains("COVERING INDEX reports_by_status_scope")
                && step.contains("status=? AND scope>? AND scope<?")),
            "{plan:#?}"
        );
        let docs = plan.iter().position(|s| s.starts_with("SEARCH d")).expect("docs read");
        let chosen = plan.iter().position(|s| s.contains("COVERING INDEX")).expect("index");
        assert!(chosen < docs, "{plan:#?}");
    }
}
