//! What every listing of the index asks for: the reader's cut, the sort, and keyset pages with an
//! opaque cursor (the sort keys of the last row shown), so that a page is exact while rows
//! arrive and costs the same wherever it starts.

use std::fmt;
use std::str::FromStr;

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

    /// The cursor the page starts after, refused when it belongs to a listing in another order.
    pub fn cursor(&self) -> Result<Option<Cursor>, StorageError> {
        match self.after {
            Some(after) if after.sort != self.sort => Err(StorageError::InvalidQuery(
                "the cursor belongs to a listing in another order".into(),
            )),
            after => Ok(after),
        }
    }

    /// The page from the rows a backend read (up to [`PageRequest::limit`] + 1, each with its
    /// position in storage): one more than the limit says there is a next page, which starts
    /// after the last row kept (its sort keys from `keys_of`).
    pub fn page<T>(&self, mut rows: Vec<(i64, T)>, keys_of: impl Fn(&T) -> [i64; 2]) -> Page<T> {
        let limit = self.limit();
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = match (more, rows.last()) {
            (true, Some((pos, row))) => {
                Some(Cursor { sort: self.sort, keys: keys_of(row), row: *pos })
            }
            _ => None,
        };
        Page { rows: rows.into_iter().map(|(_, row)| row).collect(), next }
    }
}

/// How a sort orders one table: its key columns (all in one direction, the row's position in
/// storage after them), and whether it ascends.
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    /// The key columns.
    pub keys: &'a [&'a str],
    /// Whether the keys ascend.
    pub ascending: bool,
}

impl Order<'static> {
    /// The order of the reports' listing under `sort` (each has its indexes).
    pub fn reports(sort: Sort) -> Order<'static> {
        match sort {
            Sort::Created => Order { keys: &["created_at"], ascending: false },
            Sort::Deadline => Order { keys: &["deadline_key"], ascending: true },
            Sort::Priority => Order { keys: &["priority", "created_at"], ascending: false },
            Sort::Updated => Order { keys: &["updated_at"], ascending: false },
        }
    }
}

impl<'a> Order<'a> {
    /// The order of another kind's listing: `Created` (over its `created` column) or `Updated`
    /// only.
    pub fn created_or_updated(
        sort: Sort,
        created: &'a [&'a str],
    ) -> Result<Order<'a>, StorageError> {
        match sort {
            Sort::Created => Ok(Order { keys: created, ascending: false }),
            Sort::Updated => Ok(Order { keys: &["updated_at"], ascending: false }),
            other => Err(StorageError::InvalidQuery(format!(
                "this listing sorts by creation or by update, not {other:?}"
            ))),
        }
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
