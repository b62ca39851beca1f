//! The record index, the fourth part of the storage: one typed row per record (`kinds`: a
//! module per kind with its row and the filter of its listing), written with the document
//! write that produced it ([`DocWrite::index`](super::DocWrite::index)), and read as filtered
//! keyset pages (query), single rows, the rows changed after a log seq (the live event stream)
//! and assessment statistics (stats). What a backend needs of a kind is in its descriptor
//! (`kind`: [`Indexed`], [`KindFilter`]), so backends hold no code per kind.

mod kind;
mod kinds;
mod query;
mod stats;

pub use kind::{Cell, Cells, Indexed, KindFilter, Listing, Listings, Table, Term};
// Every kind's row and filter, so that a new kind is named in `kinds/` alone.
pub use kinds::*;
pub use query::{
    Cursor, MAX_PAGE, MAX_TEXT_CHARS, Order, Page, PageRequest, Readable, Sort, check_text, fold,
};
pub use stats::{
    CHINA_UTC_OFFSET_MINUTES, CaseStats, PatrolDayStats, ReportStats, StatsGroup, StatsQuery,
    day_of, percentile,
};

use fieldsync_core::DocId;

use super::{BoxFuture, StorageResult};

/// The record index.
///
/// Rules every backend keeps (the conformance suite checks them):
/// - a document write's row commits in the same transaction as the write, or not at all (a
///   conflicting or failed write leaves the row as it was);
/// - each row records the seq of the last log entry of its document when it was written
///   (`IndexChange::seq`), so rows changed after a seq come back in seq order;
/// - a listing's scope filters and reader cut are by path segment (`a/b` covers `a/b/c`, not
///   `a/bc`), text is matched as a literal, case-folded substring (any characters, `%`, `_`,
///   quotes and FTS syntax included), and keyset pages neither skip nor repeat a row that
///   stays in place while others are inserted.
pub trait IndexStorage: Send + Sync + 'static {
    /// The index row of one document (`None`: not indexed).
    fn index_row(&self, doc: DocId) -> BoxFuture<'_, StorageResult<Option<IndexChange>>>;

    /// A page of reports.
    fn list_reports(
        &self,
        filter: ReportFilter,
        page: PageRequest,
    ) -> BoxFuture<'_, StorageResult<Page<ReportRow>>>;

    /// How many reports of each status `filter` holds (statuses with none left out), and how
    /// many of them are overdue at `now`: the board's counters, in one query whatever the
    /// number of reports.
    fn count_reports(
        &self,
        filter: ReportFilter,
        now: i64,
    ) -> BoxFuture<'_, StorageResult<Vec<ReportCount>>>;

    /// A page of one kind's rows (not reports': [`IndexStorage::list_reports`]), as its
    /// filter's [`Listing`] says (sorts: `Created`, by the listing's `created` column, and
    /// `Updated`); typed by [`Listings::list`].
    fn list_rows(
        &self,
        listing: Listing,
        page: PageRequest,
    ) -> BoxFuture<'_, StorageResult<Page<IndexRow>>>;

    /// When each of `businesses` was last visited (ms; `None`: never), in the order given.
    fn last_visits(
        &self,
        businesses: Vec<String>,
    ) -> BoxFuture<'_, StorageResult<Vec<Option<i64>>>>;

    /// Rows written after log seq `after`, in seq order, at most `limit`.
    fn index_changes_after(
        &self,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<IndexChange>>>;

    /// How many rows the index holds (all kinds).
    fn index_len(&self) -> BoxFuture<'_, StorageResult<u64>>;

    /// Removes every row (the start of a rebuild).
    fn clear_index(&self) -> BoxFuture<'_, StorageResult<()>>;

    /// Writes rows computed from stored documents (a rebuild), each with its document's last
    /// log seq, in one transaction; a row of a document not stored is an error and nothing is
    /// written.
    fn put_index_rows(&self, rows: Vec<IndexRow>) -> BoxFuture<'_, StorageResult<()>>;

    /// Report figures per group, for reports created in the range.
    fn report_stats(&self, query: StatsQuery) -> BoxFuture<'_, StorageResult<Vec<ReportStats>>>;

    /// Patrols per area and day, for patrols started in the range.
    fn patrol_stats(&self, query: StatsQuery) -> BoxFuture<'_, StorageResult<Vec<PatrolDayStats>>>;

    /// Case figures per group, for cases opened in the range.
    fn case_stats(&self, query: StatsQuery) -> BoxFuture<'_, StorageResult<Vec<CaseStats>>>;
}
