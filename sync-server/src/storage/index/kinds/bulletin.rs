//! A warning bulletin in the index: who it warns and who acknowledged it.

use fieldsync_core::DocId;
use fieldsync_core::model::{Addressee, BulletinStatus, Kind, Severity};
use fieldsync_core::policy::Audience;
use serde::Serialize;

use super::display;
use crate::storage::index::kind::{filter_cut, row_head};
use crate::storage::index::{Cell, Cells, Indexed, KindFilter, Readable, Term};
use crate::storage::{StorageError, StorageResult};

/// A warning bulletin as the index keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulletinRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path (where it warns).
    pub scope: String,
    /// Issued or withdrawn.
    #[serde(serialize_with = "display")]
    pub status: BulletinStatus,
    /// How grave.
    #[serde(serialize_with = "display")]
    pub severity: Severity,
    /// Who it is addressed to.
    pub audience: Vec<Addressee>,
    /// Short title.
    pub title: String,
    /// Its issuer.
    pub created_by: String,
    /// When it was issued.
    pub created_at: i64,
    /// When its validity ends.
    pub valid_until: i64,
    /// User ids of those who acknowledged it, each once, in the order they did.
    pub acknowledged: Vec<String>,
    /// The time of its last timeline event or acknowledgement.
    pub updated_at: i64,
}

impl Indexed for BulletinRow {
    const KIND: Kind = Kind::Bulletin;
    const TABLE: &'static str = "bulletin_index";
    const COLUMNS: &'static [&'static str] = &[
        "status",
        "severity",
        "audience",
        "title",
        "created_by",
        "created_at",
        "valid_until",
        "acknowledged",
        "updated_at",
    ];

    row_head!();

    fn cells(&self) -> StorageResult<Vec<(&'static str, Cell)>> {
        let audience: Vec<String> = self.audience.iter().map(|a| a.to_string()).collect();
        Ok(vec![
            ("status", Cell::text(self.status.as_str())),
            ("severity", Cell::text(self.severity.as_str())),
            ("audience", Cell::Text(audience.join("\n"))),
            ("title", Cell::text(&self.title)),
            ("created_by", Cell::text(&self.created_by)),
            ("created_at", Cell::Integer(self.created_at)),
            ("valid_until", Cell::Integer(self.valid_until)),
            ("acknowledged", Cell::lines(&self.acknowledged)?),
            ("updated_at", Cell::Integer(self.updated_at)),
        ])
    }

    fn read(doc: DocId, scope: String, c: &mut Cells) -> StorageResult<Self> {
        let status = c.parsed()?;
        let severity = c.parsed()?;
        let audience = c
            .lines()?
            .iter()
            .map(|a| a.parse().map_err(|_| StorageError::Corrupt(format!("index addressee {a:?}"))))
            .collect::<StorageResult<_>>()?;
        Ok(BulletinRow {
            doc,
            scope,
            status,
            severity,
            audience,
            title: c.text()?,
            created_by: c.text()?,
            created_at: c.int()?,
            valid_until: c.int()?,
            acknowledged: c.lines()?,
            updated_at: c.int()?,
        })
    }

    fn audience(&self, a: &mut Audience) {
        a.created_by = self.created_by.clone();
        a.addressed = self.audience.clone();
        a.until = Some(self.valid_until);
    }
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

impl KindFilter for BulletinFilter {
    type Row = BulletinRow;
    const CREATED: &'static str = "created_at";

    filter_cut!();

    fn terms(&self) -> StorageResult<Vec<Term>> {
        let mut t = vec![Term::one_of("status", &self.statuses)];
        t.push(Term::one_of("severity", &self.severities));
        if let Some(c) = &self.created_by {
            t.push(Term::equals("created_by", c));
        }
        if let Some(at) = self.in_force_at {
            t.push(Term::equals("status", BulletinStatus::Issued.as_str()));
            t.push(Term::Range("valid_until", Some(at), None));
        }
        t.push(Term::Range("created_at", self.created_from, self.created_to));
        Ok(t)
    }

    fn times(row: &BulletinRow) -> (i64, i64) {
        (row.created_at, row.updated_at)
    }
}
