//! A business visit in the index: what the desk lists and what tells when a business was last
//! visited.

use fieldsync_core::DocId;
use fieldsync_core::model::{Kind, VisitStatus};
use fieldsync_core::policy::Audience;
use serde::Serialize;

use super::display;
use crate::storage::StorageResult;
use crate::storage::index::kind::{filter_cut, row_head};
use crate::storage::index::{Cell, Cells, Indexed, KindFilter, Readable, Term};

/// A business visit as the index keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path (the business's own).
    pub scope: String,
    /// The business visited.
    pub business: String,
    /// Open or closed.
    #[serde(serialize_with = "display")]
    pub status: VisitStatus,
    /// User ids of the visitors, each once.
    pub visitors: Vec<String>,
    /// Who recorded it.
    pub created_by: String,
    /// When it was recorded (the visit's time).
    pub created_at: i64,
    /// The checklist items whose result as it stands is a failure.
    pub failed: Vec<String>,
    /// Findings recorded.
    pub findings: u32,
    /// The follow-up asked of the business (empty: none).
    pub follow_up: String,
    /// By when.
    pub follow_up_deadline: Option<i64>,
    /// The time of its last timeline event, result or finding.
    pub updated_at: i64,
}

impl Indexed for VisitRow {
    const KIND: Kind = Kind::Visit;
    const TABLE: &'static str = "visit_index";
    const COLUMNS: &'static [&'static str] = &[
        "business",
        "status",
        "visitors",
        "created_by",
        "created_at",
        "failed",
        "findings",
        "follow_up",
        "follow_up_deadline",
        "updated_at",
    ];

    row_head!();

    fn cells(&self) -> StorageResult<Vec<(&'static str, Cell)>> {
        Ok(vec![
            ("business", Cell::text(&self.business)),
            ("status", Cell::text(self.status.as_str())),
            ("visitors", Cell::lines(&self.visitors)?),
            ("created_by", Cell::text(&self.created_by)),
            ("created_at", Cell::Integer(self.created_at)),
            ("failed", Cell::lines(&self.failed)?),
            ("findings", Cell::count(self.findings)),
            ("follow_up", Cell::text(&self.follow_up)),
            ("follow_up_deadline", Cell::int(self.follow_up_deadline)),
            ("updated_at", Cell::Integer(self.updated_at)),
        ])
    }

    fn read(doc: DocId, scope: String, c: &mut Cells) -> StorageResult<Self> {
        Ok(VisitRow {
            doc,
            scope,
            business: c.text()?,
            status: c.parsed()?,
            visitors: c.lines()?,
            created_by: c.text()?,
            created_at: c.int()?,
            failed: c.lines()?,
            findings: c.count()?,
            follow_up: c.text()?,
            follow_up_deadline: c.opt_int()?,
            updated_at: c.int()?,
        })
    }

    fn audience(&self, a: &mut Audience) {
        a.created_by = self.created_by.clone();
        a.participants = self.visitors.clone();
    }
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

impl KindFilter for VisitFilter {
    type Row = VisitRow;
    const CREATED: &'static str = "created_at";

    filter_cut!();

    fn terms(&self) -> StorageResult<Vec<Term>> {
        let mut t = Vec::new();
        if let Some(b) = &self.business {
            // The business's own index is in the order of visits, not of the listing's sort.
            t.push(Term::Equals { column: "business", value: Cell::text(b), leads: false });
        }
        t.push(Term::one_of("status", &self.statuses));
        if let Some(failed) = self.failed {
            t.push(Term::Empty("failed", !failed));
        }
        if let Some(before) = self.follow_up_before {
            t.push(Term::equals("status", VisitStatus::Open.as_str()));
            t.push(Term::Range("follow_up_deadline", None, Some(before)));
        }
        t.push(Term::Range("created_at", self.created_from, self.created_to));
        Ok(t)
    }

    fn times(row: &VisitRow) -> (i64, i64) {
        (row.created_at, row.updated_at)
    }
}
