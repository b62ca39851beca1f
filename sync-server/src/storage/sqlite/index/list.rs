//! Listings of the index: the filters turned into one WHERE clause with positional parameters,
//! the reader's scope cut included, and keyset pages (`(keys, doc) < (?, ?)` on the sort's
//! index), so a page of 50 costs the same on the first page as on the thousandth.
//!
//! A listing never starts from the scope index: a scope range followed by a sort reads and
//! sorts every row of the scope (a grid's ten thousand for a page of 50). Its scope terms are
//! written `+scope_key`, which SQLite judges without choosing an index for them, so the plan
//! starts from the sort's own index (`v9.sql`), which holds `scope_key` and so tests it
//! before reading a row.

use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use super::rows::{Stored, select, stored};
use super::upsert::value;
use crate::storage::index::{
    InRow, IndexRow, Listing, Order, Page, PageRequest, Readable, ReportCount, ReportFilter,
    ReportRow, Sort, Table, Term, check_text, fold,
};
use crate::storage::{StorageError, StorageResult};

/// A WHERE clause under construction: conditions joined by AND, with their parameters in order.
#[derive(Default)]
pub(crate) struct Where {
    conditions: Vec<String>,
    pub(crate) params: Vec<Value>,
}

/// Whether a scope term may choose the scope index (statistics of one scope) or is judged on
/// the rows another index leads to (listings, the reader's cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeIndex {
    /// The term may start the plan.
    Use,
    /// The term only filters.
    Skip,
}

impl ScopeIndex {
    fn column(self) -> &'static str {
        match self {
            ScopeIndex::Use => "scope_key",
            ScopeIndex::Skip => "+scope_key",
        }
    }
}

impl Where {
    /// Adds a condition with its `?` parameters.
    pub(crate) fn and(&mut self, condition: String, params: impl IntoIterator<Item = Value>) {
        self.conditions.push(condition);
        self.params.extend(params);
    }

    /// `scope` is `prefix` or below it (by path segment, as core's `scope_covers`): one range
    /// on `scope_key`.
    pub(crate) fn inside(&mut self, prefix: &str, index: ScopeIndex) {
        let c = index.column();
        self.and(format!("({c} >= ? AND {c} < ?)"), scope_range(prefix));
    }

    /// The reader's scope cut (never from the scope index: it is mostly wide).
    pub(crate) fn readable(&mut self, readable: &Readable) {
        if let Readable::Scopes(scopes) = readable {
            if scopes.is_empty() {
                self.and("0".into(), []);
            } else {
                let one = "(+scope_key >= ? AND +scope_key < ?)";
                let sql = vec![one; scopes.len()].join(" OR ");
                self.and(format!("({sql})"), scopes.iter().flat_map(|s| scope_range(s)));
            }
        }
    }

    /// What every kind's listing but the reports' starts with: the reader's cut, and the scope
    /// asked for (judged on the sort's index).
    pub(crate) fn listing(readable: &Readable, scope: Option<&str>) -> Where {
        let mut w = Where::default();
        w.readable(readable);
        if let Some(scope) = scope {
            w.inside(scope, ScopeIndex::Skip);
        }
        w
    }

    /// `column` is one of `values` (nothing added when empty).
    pub(crate) fn one_of(&mut self, column: &str, values: Vec<String>) {
        if !values.is_empty() {
            let marks = vec!["?"; values.len()].join(", ");
            self.and(format!("{column} IN ({marks})"), values.into_iter().map(Value::Text));
        }
    }

    /// `column` is one of `values`, judged on the sort's index unless there is exactly one
    /// value and `own_index` (an index that starts with `column = ?` and goes on in the sort's
    /// order): several values of an index's first column come out of it unordered, and a
    /// sort would then read them all.
    pub(crate) fn one_of_in_order(&mut self, column: &str, values: Vec<String>, own_index: bool) {
        if values.len() == 1 && own_index {
            self.one_of(column, values);
        } else {
            self.one_of(&format!("+{column}"), values);
        }
    }

    /// `column` is at or after `from` and before `to`, where given.
    pub(crate) fn range(&mut self, column: &str, from: Option<i64>, to: Option<i64>) {
        if let Some(from) = from {
            self.and(format!("{column} >= ?"), [Value::Integer(from)]);
        }
        if let Some(to) = to {
            self.and(format!("{column} < ?"), [Value::Integer(to)]);
        }
    }

    /// A line of `column` (user ids one a line) is `user`.
    pub(crate) fn has_line(&mut self, column: &str, user: &str) {
        self.and(
            format!("instr(char(10) || {column} || char(10), char(10) || ? || char(10)) > 0"),
            [Value::Text(user.to_string())],
        );
    }

    /// A listing's term, as SQL.
    pub(crate) fn term(&mut self, term: &Term) {
        match term {
            Term::OneOf(column, values) => self.one_of(column, values.clone()),
            Term::Equals { column, value: v, leads } => {
                let plus = if *leads { "" } else { "+" };
                self.and(format!("{plus}{column} = ?"), [value(v.clone())]);
            }
            Term::HasLine(column, user) => self.has_line(column, user),
            Term::Range(column, from, to) => self.range(column, *from, *to),
            Term::Empty(column, true) => self.and(format!("{column} = ''"), []),
            Term::Empty(column, false) => self.and(format!("{column} <> ''"), []),
        }
    }

    /// The clause, `1` when there is no condition.
    pub(crate) fn sql(&self) -> String {
        if self.conditions.is_empty() { "1".into() } else { self.conditions.join(" AND ") }
    }
}

/// The parameters of one `(scope_key >= ? AND scope_key < ?)`: the range of the scope's
/// `scope_key` (itself followed by `'/'`) and its descendants' (`'0'` is the character after
/// `'/'`).
fn scope_range(prefix: &str) -> [Value; 2] {
    [Value::Text(format!("{prefix}/")), Value::Text(format!("{prefix}0"))]
}

/// Runs a keyset page over `table`: rows matching `filter`, after the cursor, in the order.
fn page<T>(
    conn: &Connection,
    table: &Table,
    mut filter: Where,
    order: &Order<'_>,
    page: &PageRequest,
    read: impl Fn(&Row<'_>) -> StorageResult<Stored<T>>,
    keys_of: impl Fn(&T) -> [i64; 2],
) -> StorageResult<Page<T>> {
    let mut columns_and_pos: Vec<&str> = order.keys.to_vec();
    columns_and_pos.push("doc");
    let tuple = columns_and_pos.join(", ");
    let (dir, cmp) = if order.ascending { ("ASC", ">") } else { ("DESC", "<") };
    if let Some(after) = page.cursor()? {
        let marks = vec!["?"; columns_and_pos.len()].join(", ");
        let mut values: Vec<Value> =
            after.keys[..order.keys.len()].iter().map(|k| Value::Integer(*k)).collect();
        values.push(Value::Integer(after.row));
        filter.and(format!("({tuple}) {cmp} ({marks})"), values);
    }
    let limit = page.limit();
    let order_by: Vec<String> = columns_and_pos.iter().map(|c| format!("{c} {dir}")).collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {}",
        select(table),
        table.name,
        filter.sql(),
        order_by.join(", "),
        limit + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(filter.params.iter()))?;
    let mut out: Vec<Stored<T>> = Vec::with_capacity(limit + 1);
    while let Some(r) = rows.next()? {
        out.push(read(r)?);
    }
    Ok(page.page(out.into_iter().map(|s| (s.pos, s.row)).collect(), keys_of))
}

/// The WHERE clause of a report filter (listings and counts share it).
fn report_where(f: &ReportFilter) -> StorageResult<Where> {
    let mut w = Where::default();
    w.readable(&f.readable);
    if let Some(scope) = &f.scope {
        w.inside(scope, ScopeIndex::Skip);
    }
    // Every sort has an index per status (v9.sql); none per category.
    w.one_of_in_order("status", f.statuses.iter().map(|s| s.as_str().to_string()).collect(), true);
    w.one_of_in_order(
        "category",
        f.categories.iter().map(|c| c.as_str().to_string()).collect(),
        false,
    );
    if let Some(a) = &f.assignee {
        w.and("assignee = ?".into(), [Value::Text(a.clone())]);
    }
    if let Some(c) = &f.created_by {
        w.and("created_by = ?".into(), [Value::Text(c.clone())]);
    }
    if let Some(now) = f.overdue_at {
        // Only an open report can be overdue: said first, as the partial index
        // `report_index_open` is defined, so that SQLite may read that index alone.
        w.and(
            "status NOT IN ('resolved', 'confirmed', 'rejected') AND \
             ((status IN ('submitted', 'reopened') AND accept_due < ?) OR resolve_due < ?)"
                .into(),
            [Value::Integer(now), Value::Integer(now)],
        );
    }
    w.range("created_at", f.created_from, f.created_to);
    if let Some(text) = &f.text {
        check_text(text)?;
        w.and("instr(search, ?) > 0".into(), [Value::Text(fold(text))]);
    }
    Ok(w)
}

/// A page of reports.
pub(crate) fn reports(
    conn: &Connection,
    f: &ReportFilter,
    req: &PageRequest,
) -> StorageResult<Page<ReportRow>> {
    let w = report_where(f)?;
    let order = Order::reports(req.sort);
    let table = Table::of::<ReportRow>();
    let read = |r: &Row<'_>| {
        let s = stored(r, &table)?;
        let row = ReportRow::take(s.row)
            .ok_or_else(|| StorageError::Corrupt("report_index holds another kind".into()))?;
        Ok(Stored { pos: s.pos, seq: s.seq, row })
    };
    page(conn, &table, w, &order, req, read, |r: &ReportRow| match req.sort {
        Sort::Created => [r.created_at, 0],
        Sort::Deadline => [r.deadline.unwrap_or(i64::MAX), 0],
        Sort::Priority => [r.priority.rank(), r.created_at],
        Sort::Updated => [r.updated_at, 0],
    })
}

/// A page of one kind's rows, as its listing says.
pub(crate) fn rows(
    conn: &Connection,
    listing: &Listing,
    req: &PageRequest,
) -> StorageResult<Page<IndexRow>> {
    let order = Order::created_or_updated(req.sort, std::slice::from_ref(&listing.created))?;
    let mut w = Where::listing(&listing.readable, listing.scope.as_deref());
    for term in &listing.terms {
        w.term(term);
    }
    let table = &listing.table;
    let keys = listing.keys;
    page(conn, table, w, &order, req, |r| stored(r, table), |row| keys(row, req.sort))
}

/// When each of `businesses` was last visited, from the business's own index.
pub(crate) fn last_visits(
    conn: &Connection,
    businesses: &[String],
) -> StorageResult<Vec<Option<i64>>> {
    let mut stmt =
        conn.prepare_cached("SELECT max(created_at) FROM visit_index WHERE business = ?1")?;
    businesses.iter().map(|b| Ok(stmt.query_row([b], |r| r.get::<_, Option<i64>>(0))?)).collect()
}

/// How many reports of each status a filter holds, and how many of them are overdue at `now`
/// (the definition of `ReportRow::passed_limits`, in SQL as the overdue filter writes it).
pub(crate) fn count_reports(
    conn: &Connection,
    f: &ReportFilter,
    now: i64,
) -> StorageResult<Vec<ReportCount>> {
    let mut w = report_where(f)?;
    let sql = format!(
        "SELECT status, COUNT(*), \
                SUM(status NOT IN ('resolved', 'confirmed', 'rejected') AND \
                    ((status IN ('submitted', 'reopened') AND accept_due < ?) OR resolve_due < ?)) \
         FROM report_index WHERE {} GROUP BY status ORDER BY status",
        w.sql()
    );
    let mut params = vec![Value::Integer(now), Value::Integer(now)];
    params.append(&mut w.params);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let status = super::rows::parsed(r, 0)?;
        let count = |i: usize| -> StorageResult<u64> {
            let n: Option<i64> = r.get(i)?;
            Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
        };
        out.push(ReportCount { status, reports: count(1)?, overdue: count(2)? });
    }
    Ok(out)
}
