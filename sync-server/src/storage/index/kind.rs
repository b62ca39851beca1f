//! What the index knows of a kind, said once per kind and in no backend: its table and
//! columns, its row written and read as plain cells ([`Indexed`]), and its listing's filter
//! turned into backend-neutral terms ([`KindFilter`]). A backend goes over these descriptors
//! instead of matching on kinds, so a new kind is its module in `kinds/` and one line in
//! `index_rows!`, and every backend lists, writes and reads it without a change.

use std::str::FromStr;

use fieldsync_core::DocId;
use fieldsync_core::model::Kind;
use fieldsync_core::policy::Audience;

use super::IndexStorage;
use super::kinds::{InRow, IndexRow};
use super::query::{Page, PageRequest, Readable, Sort};
use crate::storage::{BoxFuture, StorageError, StorageResult};

/// A value of an index column, as every backend stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// An integer (times in ms, counts, flags).
    Integer(i64),
    /// A real (coordinates).
    Real(f64),
    /// Text (names, closed sets' values, user ids one a line).
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Cell {
    /// Text.
    pub fn text(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }

    /// An integer or nothing.
    pub fn int(v: Option<i64>) -> Cell {
        v.map_or(Cell::Null, Cell::Integer)
    }

    /// A count.
    pub fn count(n: u32) -> Cell {
        Cell::Integer(i64::from(n))
    }

    /// User ids one a line (a user id never holds a line break: core's limits refuse it).
    pub fn lines(ids: &[String]) -> StorageResult<Cell> {
        if let Some(bad) = ids.iter().find(|id| id.contains('\n')) {
            return Err(StorageError::Corrupt(format!("user id {bad:?} holds a line break")));
        }
        Ok(Cell::Text(ids.join("\n")))
    }
}

/// The cells of one row as read back, taken in the order of the kind's
/// [`Indexed::COLUMNS`].
pub struct Cells {
    table: &'static str,
    at: usize,
    cells: std::vec::IntoIter<Cell>,
}

impl Cells {
    /// The cells of a row of `table`.
    pub fn new(table: &'static str, cells: Vec<Cell>) -> Cells {
        Cells { table, at: 0, cells: cells.into_iter() }
    }

    fn corrupt(&self, what: &str) -> StorageError {
        StorageError::Corrupt(format!("{} column {}: {what}", self.table, self.at))
    }

    fn next(&mut self) -> StorageResult<Cell> {
        self.at += 1;
        self.cells.next().ok_or_else(|| self.corrupt("missing"))
    }

    /// An integer.
    pub fn int(&mut self) -> StorageResult<i64> {
        self.opt_int()?.ok_or_else(|| self.corrupt("null where an integer belongs"))
    }

    /// An integer or null.
    pub fn opt_int(&mut self) -> StorageResult<Option<i64>> {
        match self.next()? {
            Cell::Null => Ok(None),
            Cell::Integer(v) => Ok(Some(v)),
            other => Err(self.corrupt(&format!("{other:?} is not an integer"))),
        }
    }

    /// A flag (an integer, 0 false).
    pub fn flag(&mut self) -> StorageResult<bool> {
        Ok(self.int()? != 0)
    }

    /// A count.
    pub fn count(&mut self) -> StorageResult<u32> {
        let v = self.int()?;
        u32::try_from(v).map_err(|_| StorageError::Corrupt(format!("index count {v} out of range")))
    }

    /// A real or null.
    pub fn opt_real(&mut self) -> StorageResult<Option<f64>> {
        match self.next()? {
            Cell::Null => Ok(None),
            Cell::Real(v) => Ok(Some(v)),
            // SQLite hands back a real without a fraction as written.
            Cell::Integer(v) => Ok(Some(v as f64)),
            other => Err(self.corrupt(&format!("{other:?} is not a real"))),
        }
    }

    /// Text.
    pub fn text(&mut self) -> StorageResult<String> {
        self.opt_text()?.ok_or_else(|| self.corrupt("null where text belongs"))
    }

    /// Text or null.
    pub fn opt_text(&mut self) -> StorageResult<Option<String>> {
        match self.next()? {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s)),
            other => Err(self.corrupt(&format!("{other:?} is not text"))),
        }
    }

    /// Lines of text (user ids); none when empty.
    pub fn lines(&mut self) -> StorageResult<Vec<String>> {
        let s = self.text()?;
        Ok(if s.is_empty() { Vec::new() } else { s.split('\n').map(str::to_string).collect() })
    }

    /// One of a closed set of strings.
    pub fn parsed<T: FromStr>(&mut self) -> StorageResult<T> {
        let s = self.text()?;
        s.parse().map_err(|_| self.corrupt(&format!("{s:?} is not one of its values")))
    }
}

/// What every row's [`Indexed`] holds alike: `doc` and `scope`, from the row's fields of those
/// names.
macro_rules! row_head {
    () => {
        fn doc(&self) -> fieldsync_core::DocId {
            self.doc
        }

        fn scope(&self) -> &str {
            &self.scope
        }
    };
}

/// What every listing's [`KindFilter`] holds alike: `cut`, from the filter's `readable` and
/// `scope`.
macro_rules! filter_cut {
    () => {
        fn cut(&self) -> (&$crate::storage::index::Readable, Option<&str>) {
            (&self.readable, self.scope.as_deref())
        }
    };
}

pub(crate) use {filter_cut, row_head};

/// A record kind as the index keeps it: implemented by its row.
pub trait Indexed: InRow + Clone + Send + 'static {
    /// The kind.
    const KIND: Kind;
    /// Its table.
    const TABLE: &'static str;
    /// The columns its row is read from, after the ones every row has (its document, its scope),
    /// in [`Indexed::read`]'s order.
    const COLUMNS: &'static [&'static str];

    /// The document.
    fn doc(&self) -> DocId;
    /// Its scope.
    fn scope(&self) -> &str;
    /// The columns written, after the ones every row has, each with its value (more than
    /// [`Indexed::COLUMNS`] when some are only searched or sorted on).
    fn cells(&self) -> StorageResult<Vec<(&'static str, Cell)>>;
    /// The row from its document, its scope and the cells of [`Indexed::COLUMNS`].
    fn read(doc: DocId, scope: String, cells: &mut Cells) -> StorageResult<Self>;
    /// Fills in what the row knows of who may read the record (`audience` has its kind and
    /// scope).
    fn audience(&self, audience: &mut Audience);
}

/// A kind's table as a backend goes over it (every kind's: [`IndexRow::TABLES`]).
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The kind.
    pub kind: Kind,
    /// The table's name.
    pub name: &'static str,
    /// The columns read back, after the document and scope.
    pub columns: &'static [&'static str],
    /// A row from its document, scope and cells.
    pub read: fn(DocId, String, &mut Cells) -> StorageResult<IndexRow>,
}

impl Table {
    /// The table of `K`.
    pub const fn of<K: Indexed>() -> Table {
        Table { kind: K::KIND, name: K::TABLE, columns: K::COLUMNS, read: read_as::<K> }
    }
}

fn read_as<K: Indexed>(doc: DocId, scope: String, cells: &mut Cells) -> StorageResult<IndexRow> {
    K::read(doc, scope, cells).map(Into::into)
}

/// One condition of a listing, as any backend can judge it.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// `column` holds one of `values` (none: no condition).
    OneOf(&'static str, Vec<String>),
    /// `column` holds `value`; `leads`: an index on the column may start the plan (a backend
    /// may judge the term on the rows the sort's index leads to instead).
    Equals {
        /// The column.
        column: &'static str,
        /// The value.
        value: Cell,
        /// Whether an index on the column may start the plan.
        leads: bool,
    },
    /// A line of `column` (user ids one a line) is the user.
    HasLine(&'static str, String),
    /// `column` is at or after the first time and before the second, where given.
    Range(&'static str, Option<i64>, Option<i64>),
    /// The text of `column` is empty (`true`) or not.
    Empty(&'static str, bool),
}

impl Term {
    /// `column` holds `value`.
    pub fn equals(column: &'static str, value: &str) -> Term {
        Term::Equals { column, value: Cell::text(value), leads: true }
    }

    /// `column` holds one of a closed set's `values`.
    pub fn one_of<T: std::fmt::Display>(column: &'static str, values: &[T]) -> Term {
        Term::OneOf(column, values.iter().map(|v| v.to_string()).collect())
    }
}

/// A listing of one kind as a backend runs it: the kind's table, the reader's cut, the scope
/// asked for and the kind's terms, sorted by creation (the kind's `created` column) or by
/// update.
#[derive(Debug)]
pub struct Listing {
    /// The kind's table.
    pub table: Table,
    /// The column of its `Created` sort.
    pub created: &'static str,
    /// The reader's scope cut.
    pub readable: Readable,
    /// Inside this scope.
    pub scope: Option<String>,
    /// Every one must hold.
    pub terms: Vec<Term>,
    /// The sort keys of a row of the listing (the cursor of the page it ends).
    pub keys: fn(&IndexRow, Sort) -> [i64; 2],
}

/// The filter of a kind's listing: what the desk asks for, turned into a [`Listing`].
pub trait KindFilter: Send + 'static {
    /// The rows it lists.
    type Row: Indexed;
    /// The column the `Created` sort orders by.
    const CREATED: &'static str;

    /// The reader's cut and the scope asked for.
    fn cut(&self) -> (&Readable, Option<&str>);
    /// The filter's terms (an impossible one refused with `InvalidQuery`).
    fn terms(&self) -> StorageResult<Vec<Term>>;
    /// A row's time of creation (its `CREATED` column) and of update.
    fn times(row: &Self::Row) -> (i64, i64);

    /// The listing a backend runs.
    fn listing(&self) -> StorageResult<Listing> {
        let (readable, scope) = self.cut();
        Ok(Listing {
            table: Table::of::<Self::Row>(),
            created: Self::CREATED,
            readable: readable.clone(),
            scope: scope.map(str::to_string),
            terms: self.terms()?,
            keys: |row, sort| match Self::Row::of(row).map(Self::times) {
                Some((_, updated)) if sort == Sort::Updated => [updated, 0],
                Some((created, _)) => [created, 0],
                None => [0, 0],
            },
        })
    }
}

/// Typed listings over any [`IndexStorage`]: the kind comes from its filter's type.
pub trait Listings: IndexStorage {
    /// A page of the rows of the filter's kind (sorts: `Created`, `Updated`).
    fn list<F: KindFilter>(
        &self,
        filter: F,
        page: PageRequest,
    ) -> BoxFuture<'_, StorageResult<Page<F::Row>>> {
        Box::pin(async move {
            let found = self.list_rows(filter.listing()?, page).await?;
            let rows = found
                .rows
                .into_iter()
                .map(|row| {
                    let kind = row.kind();
                    F::Row::take(row).ok_or_else(|| {
                        StorageError::Corrupt(format!(
                            "a listing of {} gave a row of {kind}",
                            F::Row::KIND
                        ))
                    })
                })
                .collect::<StorageResult<_>>()?;
            Ok(Page { rows, next: found.next })
        })
    }
}

impl<S: IndexStorage + ?Sized> Listings for S {}
