//! Listings of the index: the filters turned into one WHERE clause with numbered parameters,
//! the reader's scope cut included, and keyset pages (`(keys, doc) < ($n, $m)` on the sort's
//! index), so a page of 50 costs the same on the first page as on the thousandth. The same
//! filters as SQLite's (`sqlite/index/list.rs`), in PostgreSQL's spelling.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::super::db::{Tx, query};
use super::rows::{Stored, select, stored};
use crate::storage::index::{
    Cell, InRow, IndexRow, Listing, Order, Page, PageRequest, Readable, ReportCount, ReportFilter,
    ReportRow, Sort, Table as KindTable, Term, check_text, fold,
};
use crate::storage::{StorageError, StorageResult};

/// A parameter of a WHERE clause.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A BIGINT.
    Integer(i64),
    /// A TEXT.
    Text(String),
    /// A DOUBLE PRECISION.
    Real(f64),
    /// A BYTEA.
    Blob(Vec<u8>),
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Integer(v) => v,
            Value::Text(v) => v,
            Value::Real(v) => v,
            Value::Blob(v) => v,
        }
    }
}

/// A WHERE clause under construction: conditions joined by AND, each `?` of a condition
/// numbered (`$n`) as it is added, with the parameters in order.
#[derive(Default)]
pub(crate) struct Where {
    conditions: Vec<String>,
    params: Vec<Value>,
}

impl Where {
    /// Adds a condition with its `?` parameters, numbering them after those added before.
    pub(crate) fn and(&mut self, condition: String, params: impl IntoIterator<Item = Value>) {
        let mut sql = String::with_capacity(condition.len() + 8);
        let mut n = self.params.len();
        for c in condition.chars() {
            if c == '?' {
                n += 1;
                sql.push_str(&format!("${n}"));
            } else {
                sql.push(c);
            }
        }
        self.params.extend(params);
        debug_assert_eq!(n, self.params.len(), "one parameter per mark: {condition}");
        self.conditions.push(sql);
    }

    /// The parameters, as the driver takes them, followed by `extra` (numbered after the
    /// clause's: see [`Where::next_mark`]).
    pub(crate) fn sql_params<'a>(
        &'a self,
        extra: &[&'a (dyn ToSql + Sync)],
    ) -> Vec<&'a (dyn ToSql + Sync)> {
        self.params.iter().map(Value::as_sql).chain(extra.iter().copied()).collect()
    }

    /// The number the first parameter after the clause's gets.
    pub(crate) fn next_mark(&self) -> usize {
        self.params.len() + 1
    }

    /// `scope` is `prefix` or below it (by path segment, as core's `scope_covers`): one range
    /// on `scope_key`.
    pub(crate) fn inside(&mut self, prefix: &str) {
        self.and("(scope_key >= ? AND scope_key < ?)".into(), scope_range(prefix));
    }

    /// The reader's scope cut.
    pub(crate) fn readable(&mut self, readable: &Readable) {
        if let Readable::Scopes(scopes) = readable {
            if scopes.is_empty() {
                self.and("FALSE".into(), []);
            } else {
                let one = "(scope_key >= ? AND scope_key < ?)";
                let sql = vec![one; scopes.len()].join(" OR ");
                self.and(format!("({sql})"), scopes.iter().flat_map(|s| scope_range(s)));
            }
        }
    }

    /// What every kind's listing but the reports' starts with: the reader's cut, and the scope
    /// asked for.
    pub(crate) fn listing(readable: &Readable, scope: Option<&str>) -> Where {
        let mut w = Where::default();
        w.readable(readable);
        if let Some(scope) = scope {
            w.inside(scope);
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
            format!("strpos(E'\\n' || {column} || E'\\n', E'\\n' || ? || E'\\n') > 0"),
            [Value::Text(user.to_string())],
        );
    }

    /// A listing's term, as SQL (PostgreSQL's planner chooses its indexes itself: `leads` is a
    /// hint for SQLite's).
    pub(crate) fn term(&mut self, term: &Term) {
        match term {
            Term::OneOf(column, values) => self.one_of(column, values.clone()),
            Term::Equals { column, value, .. } => match value {
                Cell::Null => self.and(format!("{column} IS NULL"), []),
                Cell::Integer(v) => self.and(format!("{column} = ?"), [Value::Integer(*v)]),
                Cell::Real(v) => self.and(format!("{column} = ?"), [Value::Real(*v)]),
                Cell::Text(v) => self.and(format!("{column} = ?"), [Value::Text(v.clone())]),
                Cell::Blob(v) => self.and(format!("{column} = ?"), [Value::Blob(v.clone())]),
            },
            Term::HasLine(column, user) => self.has_line(column, user),
            Term::Range(column, from, to) => self.range(column, *from, *to),
            Term::Empty(column, true) => self.and(format!("{column} = ''"), []),
            Term::Empty(column, false) => self.and(format!("{column} <> ''"), []),
        }
    }

    /// The clause, `TRUE` when there is no condition.
    pub(crate) fn sql(&self) -> String {
        if self.conditions.is_empty() { "TRUE".into() } else { self.conditions.join(" AND ") }
    }
}

/// The parameters of one `(scope_key >= ? AND scope_key < ?)`: the range of the scope's
/// `scope_key` (itself followed by `'/'`) and its descendants' (`'0'` is the character after
/// `'/'`).
fn scope_range(prefix: &str) -> [Value; 2] {
    [Value::Text(format!("{prefix}/")), Value::Text(format!("{prefix}0"))]
}

/// A table of the index and the columns its rows are read from.
struct Table<'a> {
    name: &'a str,
    columns: &'a str,
}

/// Runs a keyset page over `table`: rows matching `filter`, after the cursor, in the order.
async fn page<T>(
    tx: &Tx<'_>,
    table: &Table<'_>,
    mut filter: Where,
    order: &Order<'_>,
    page: &PageRequest,
    read: impl Fn(&Row) -> StorageResult<Stored<T>>,
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
        table.columns,
        table.name,
        filter.sql(),
        order_by.join(", "),
        limit + 1
    );
    let rows = query(tx, &sql, &filter.sql_params(&[])).await?;
    let mut out: Vec<Stored<T>> = Vec::with_capacity(limit + 1);
    for r in &rows {
        out.push(read(r)?);
    }
    Ok(page.page(out.into_iter().map(|s| (s.pos, s.row)).collect(), keys_of))
}

/// The WHERE clause of a report filter (listings and counts share it).
fn report_where(f: &ReportFilter) -> StorageResult<Where> {
    let mut w = Where::default();
    w.readable(&f.readable);
    if let Some(scope) = &f.scope {
        w.inside(scope);
    }
    // Every sort has an index per status (v9.sql); none per category.
    w.one_of("status", f.statuses.iter().map(|s| s.as_str().to_string()).collect());
    w.one_of("category", f.categories.iter().map(|c| c.as_str().to_string()).collect());
    if let Some(a) = &f.assignee {
        w.and("assignee = ?".into(), [Value::Text(a.clone())]);
    }
    if let Some(c) = &f.created_by {
        w.and("created_by = ?".into(), [Value::Text(c.clone())]);
    }
    if let Some(now) = f.overdue_at {
        // Only an open report can be overdue: said first, as the partial index
        // `report_index_open` is defined.
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
        w.and("strpos(search, ?) > 0".into(), [Value::Text(fold(text))]);
    }
    Ok(w)
}

/// A page of reports.
pub(crate) async fn reports(
    tx: &Tx<'_>,
    f: &ReportFilter,
    req: &PageRequest,
) -> StorageResult<Page<ReportRow>> {
    let w = report_where(f)?;
    let order = Order::reports(req.sort);
    let kind = KindTable::of::<ReportRow>();
    let columns = select(&kind);
    let table = Table { name: kind.name, columns: &columns };
    let read = |r: &Row| {
        let s = stored(r, &kind)?;
        let row = ReportRow::take(s.row)
            .ok_or_else(|| StorageError::Corrupt("report_index holds another kind".into()))?;
        Ok(Stored { pos: s.pos, seq: s.seq, row })
    };
    page(tx, &table, w, &order, req, read, |r: &ReportRow| match req.sort {
        Sort::Created => [r.created_at, 0],
        Sort::Deadline => [r.deadline.unwrap_or(i64::MAX), 0],
        Sort::Priority => [r.priority.rank(), r.created_at],
        Sort::Updated => [r.updated_at, 0],
    })
    .await
}

/// A page of one kind's rows, as its listing says.
pub(crate) async fn rows(
    tx: &Tx<'_>,
    listing: &Listing,
    req: &PageRequest,
) -> StorageResult<Page<IndexRow>> {
    let order = Order::created_or_updated(req.sort, std::slice::from_ref(&listing.created))?;
    let mut w = Where::listing(&listing.readable, listing.scope.as_deref());
    for term in &listing.terms {
        w.term(term);
    }
    let columns = select(&listing.table);
    let table = Table { name: listing.table.name, columns: &columns };
    let keys = listing.keys;
    page(tx, &table, w, &order, req, |r| stored(r, &listing.table), |row| keys(row, req.sort)).await
}

/// When each of `businesses` was last visited, from the business's own index.
pub(crate) async fn last_visits(
    tx: &Tx<'_>,
    businesses: &[String],
) -> StorageResult<Vec<Option<i64>>> {
    let mut out = Vec::with_capacity(businesses.len());
    for b in businesses {
        let rows =
            query(tx, "SELECT max(created_at) FROM visit_index WHERE business = $1", &[b]).await?;
        out.push(match rows.first() {
            Some(r) => r.try_get::<_, Option<i64>>(0)?,
            None => None,
        });
    }
    Ok(out)
}

/// How many reports of each status a filter holds, and how many of them are overdue at `now`
/// (the definition of `ReportRow::passed_limits`, in SQL as the overdue filter writes it).
pub(crate) async fn count_reports(
    tx: &Tx<'_>,
    f: &ReportFilter,
    now: i64,
) -> StorageResult<Vec<ReportCount>> {
    let w = report_where(f)?;
    let now_mark = w.next_mark();
    let sql = format!(
        "SELECT status, count(*), \
                sum((status NOT IN ('resolved', 'confirmed', 'rejected') AND \
                    ((status IN ('submitted', 'reopened') AND accept_due < ${now_mark}) \
                     OR resolve_due < ${now_mark}))::int) \
         FROM report_index WHERE {} GROUP BY status ORDER BY status COLLATE \"C\"",
        w.sql()
    );
    let rows = query(tx, &sql, &w.sql_params(&[&now])).await?;
    let mut out = Vec::new();
    for r in &rows {
        let status = super::rows::parsed(r, 0)?;
        let count = |i: usize| -> StorageResult<u64> {
            let n: Option<i64> = r.try_get(i)?;
            Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
        };
        out.push(ReportCount { status, reports: count(1)?, overdue: count(2)? });
    }
    Ok(out)
}
