//! The index rows: one typed row per record, what the desk lists, filters, counts and streams
//! without loading documents. The domain (`crate::index`) computes them from records; storage
//! keeps them beside the documents, written in the same transaction as the write that made
//! them.
//!
//! Each kind is a module here: its row, the filter of its listing and its descriptor
//! ([`Indexed`], [`KindFilter`](super::KindFilter)). The list below is the one place the
//! index names its kinds.

mod bulletin;
mod case;
mod deliberation;
mod patrol;
mod report;
mod visit;

pub use bulletin::{BulletinFilter, BulletinRow};
pub use case::{CaseFilter, CaseRow, Outcome};
pub use deliberation::{DeliberationFilter, DeliberationRow};
pub use patrol::{PatrolFilter, PatrolRow};
pub use report::{ReportCount, ReportFilter, ReportRow};
pub use visit::{VisitFilter, VisitRow};

use fieldsync_core::DocId;
use fieldsync_core::model::Kind;
use fieldsync_core::policy::Audience;
use serde::Serialize;

use super::kind::{Cell, Indexed, Table};
use crate::storage::StorageResult;

/// Serializes a value by its `Display` (the core enums, stored and shown as strings).
fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A row's place in [`IndexRow`]: implemented for every kind's row by `index_rows!`.
pub trait InRow: Sized + Into<IndexRow> {
    /// The row inside `row`, when it is of this kind.
    fn of(row: &IndexRow) -> Option<&Self>;
    /// The row `row` is, when it is of this kind.
    fn take(row: IndexRow) -> Option<Self>;
}

/// Declares [`IndexRow`] with a variant per kind's row, its dispatch and the tables backends
/// go over.
macro_rules! index_rows {
    ($( $(#[$m:meta])* $variant:ident($row:ident), )+) => {
        /// The index row of one record.
        // Reports are most rows: boxing them would allocate for nearly every row to save memory
        // on the few others, in batches of at most a few hundred.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum IndexRow {
            $( $(#[$m])* $variant($row), )+
        }

        impl IndexRow {
            /// Every kind's table.
            pub const TABLES: &'static [Table] = &[$( Table::of::<$row>(), )+];

            /// The document the row is of.
            pub fn doc(&self) -> DocId {
                match self {
                    $( IndexRow::$variant(r) => r.doc(), )+
                }
            }

            /// The record's scope.
            pub fn scope(&self) -> &str {
                match self {
                    $( IndexRow::$variant(r) => r.scope(), )+
                }
            }

            /// Its table's name and the columns written after the ones every row has (its
            /// document, its scope), each with its value.
            pub fn cells(&self) -> StorageResult<(&'static str, Vec<(&'static str, Cell)>)> {
                match self {
                    $( IndexRow::$variant(r) => Ok((<$row as Indexed>::TABLE, r.cells()?)), )+
                }
            }

            /// The record's kind (the `kind` the row is serialized with, the name of its
            /// events).
            pub fn kind(&self) -> Kind {
                match self {
                    $( IndexRow::$variant(_) => <$row as Indexed>::KIND, )+
                }
            }

            /// The record's audience as far as the row knows it, for `policy::can_read`
            /// (rows of patrol logs and cases keep no creator: they are read by scope and by
            /// the people named).
            pub fn audience(&self) -> Audience {
                let mut a = Audience::plain(self.kind(), self.scope(), "");
                match self {
                    $( IndexRow::$variant(r) => r.audience(&mut a), )+
                }
                a
            }
        }

        $(
            impl InRow for $row {
                fn of(row: &IndexRow) -> Option<&Self> {
                    match row {
                        IndexRow::$variant(r) => Some(r),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }

                fn take(row: IndexRow) -> Option<Self> {
                    match row {
                        IndexRow::$variant(r) => Some(r),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }

            impl From<$row> for IndexRow {
                fn from(row: $row) -> IndexRow {
                    IndexRow::$variant(row)
                }
            }
        )+
    };
}

index_rows! {
    /// A report's.
    Report(ReportRow),
    /// A patrol log's.
    PatrolLog(PatrolRow),
    /// A mediation case's.
    MediationCase(CaseRow),
    /// A warning bulletin's.
    Bulletin(BulletinRow),
    /// A business visit's.
    Visit(VisitRow),
    /// A deliberation's.
    Deliberation(DeliberationRow),
}

/// A row as it changed: with the seq of the write that last touched it (the event id of the
/// live event stream).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexChange {
    /// The log seq of the write that last touched the row.
    pub seq: u64,
    /// The row.
    pub row: IndexRow,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_table() {
        let mut kinds: Vec<Kind> = IndexRow::TABLES.iter().map(|t| t.kind).collect();
        kinds.sort();
        assert_eq!(kinds, Kind::ALL.to_vec());
        let mut names: Vec<&str> = IndexRow::TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), IndexRow::TABLES.len());
    }
}
