//! A mediation case in the index: never a party's name or contact (the index feeds exports).

use fieldsync_core::DocId;
use fieldsync_core::model::{CaseCategory, CaseStatus, Kind};
use fieldsync_core::policy::Audience;
use serde::Serialize;

use super::display;
use crate::storage::index::kind::{filter_cut, row_head};
use crate::storage::index::{Cell, Cells, Indexed, KindFilter, Readable, Term};
use crate::storage::{StorageError, StorageResult};

/// How a mediation ended, as far as it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not ended (or closed without any of the others).
    None,
    /// The parties agreed.
    Agreed,
    /// Mediation failed.
    Failed,
    /// Passed on to a higher body.
    Escalated,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 4] =
        [Outcome::None, Outcome::Agreed, Outcome::Failed, Outcome::Escalated];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::None => "none",
            Outcome::Agreed => "agreed",
            Outcome::Failed => "failed",
            Outcome::Escalated => "escalated",
        }
    }
}

/// A mediation case as the index keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path.
    pub scope: String,
    /// Workflow status.
    #[serde(serialize_with = "display")]
    pub status: CaseStatus,
    /// What the dispute is about.
    #[serde(serialize_with = "display")]
    pub category: CaseCategory,
    /// User ids of the mediators.
    pub mediators: Vec<String>,
    /// Sessions held.
    pub sessions: u32,
    /// How it ended (the latest agreement, failure or escalation).
    pub outcome: Outcome,
    /// When it was opened.
    pub opened_at: i64,
    /// When it was last closed (`close_case`).
    pub closed_at: Option<i64>,
    /// The time of its last timeline event.
    pub updated_at: i64,
}

impl Indexed for CaseRow {
    const KIND: Kind = Kind::MediationCase;
    const TABLE: &'static str = "case_index";
    const COLUMNS: &'static [&'static str] = &[
        "status",
        "category",
        "mediators",
        "sessions",
        "outcome",
        "opened_at",
        "closed_at",
        "updated_at",
    ];

    row_head!();

    fn cells(&self) -> StorageResult<Vec<(&'static str, Cell)>> {
        Ok(vec![
            ("status", Cell::text(self.status.as_str())),
            ("category", Cell::text(self.category.as_str())),
            ("mediators", Cell::lines(&self.mediators)?),
            ("sessions", Cell::count(self.sessions)),
            ("outcome", Cell::text(self.outcome.as_str())),
            ("opened_at", Cell::Integer(self.opened_at)),
            ("closed_at", Cell::int(self.closed_at)),
            ("updated_at", Cell::Integer(self.updated_at)),
        ])
    }

    fn read(doc: DocId, scope: String, c: &mut Cells) -> StorageResult<Self> {
        let status = c.parsed()?;
        let category = c.parsed()?;
        let mediators = c.lines()?;
        let sessions = c.count()?;
        let outcome = c.text()?;
        let outcome =
            Outcome::ALL.into_iter().find(|o| o.as_str() == outcome).ok_or_else(|| {
                StorageError::Corrupt(format!("index outcome {outcome:?} is not one"))
            })?;
        Ok(CaseRow {
            doc,
            scope,
            status,
            category,
            mediators,
            sessions,
            outcome,
            opened_at: c.int()?,
            closed_at: c.opt_int()?,
            updated_at: c.int()?,
        })
    }

    fn audience(&self, a: &mut Audience) {
        a.participants = self.mediators.clone();
    }
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

impl KindFilter for CaseFilter {
    type Row = CaseRow;
    const CREATED: &'static str = "opened_at";

    filter_cut!();

    fn terms(&self) -> StorageResult<Vec<Term>> {
        let mut t = vec![Term::one_of("status", &self.statuses)];
        t.push(Term::one_of("category", &self.categories));
        if let Some(m) = &self.mediator {
            t.push(Term::HasLine("mediators", m.clone()));
        }
        t.push(Term::Range("opened_at", self.opened_from, self.opened_to));
        Ok(t)
    }

    fn times(row: &CaseRow) -> (i64, i64) {
        (row.opened_at, row.updated_at)
    }
}
