//! A patrol log in the index (queries bucket `started_at` into days).

use fieldsync_core::DocId;
use fieldsync_core::model::{Kind, PatrolStatus};
use fieldsync_core::policy::Audience;
use serde::Serialize;

use super::display;
use crate::storage::StorageResult;
use crate::storage::index::kind::{filter_cut, row_head};
use crate::storage::index::{Cell, Cells, Indexed, KindFilter, Readable, Term};

/// A patrol log as the index keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatrolRow {
    /// The document.
    pub doc: DocId,
    /// Its scope path.
    pub scope: String,
    /// The area patrolled.
    pub area: String,
    /// User ids of the team.
    pub members: Vec<String>,
    /// Active or finished.
    #[serde(serialize_with = "display")]
    pub status: PatrolStatus,
    /// Entries appended.
    pub entries: u32,
    /// Planned checkpoints reached (each counted once).
    pub checkpoints_reached: u32,
    /// Planned checkpoints.
    pub checkpoints_planned: u32,
    /// When the patrol started.
    pub started_at: i64,
    /// When it finished.
    pub ended_at: Option<i64>,
    /// The time of its last timeline event or entry.
    pub updated_at: i64,
}

impl Indexed for PatrolRow {
    const KIND: Kind = Kind::PatrolLog;
    const TABLE: &'static str = "patrol_index";
    const COLUMNS: &'static [&'static str] = &[
        "area",
        "members",
        "status",
        "entries",
        "checkpoints_reached",
        "checkpoints_planned",
        "started_at",
        "ended_at",
        "updated_at",
    ];

    row_head!();

    fn cells(&self) -> StorageResult<Vec<(&'static str, Cell)>> {
        Ok(vec![
            ("area", Cell::text(&self.area)),
            ("members", Cell::lines(&self.members)?),
            ("status", Cell::text(self.status.as_str())),
            ("entries", Cell::count(self.entries)),
            ("checkpoints_reached", Cell::count(self.checkpoints_reached)),
            ("checkpoints_planned", Cell::count(self.checkpoints_planned)),
            ("started_at", Cell::Integer(self.started_at)),
            ("ended_at", Cell::int(self.ended_at)),
            ("updated_at", Cell::Integer(self.updated_at)),
        ])
    }

    fn read(doc: DocId, scope: String, c: &mut Cells) -> StorageResult<Self> {
        Ok(PatrolRow {
            doc,
            scope,
            area: c.text()?,
            members: c.lines()?,
            status: c.parsed()?,
            entries: c.count()?,
            checkpoints_reached: c.count()?,
            checkpoints_planned: c.count()?,
            started_at: c.int()?,
            ended_at: c.opt_int()?,
            updated_at: c.int()?,
        })
    }

    fn audience(&self, a: &mut Audience) {
        a.participants = self.members.clone();
    }
}

/// Filters of a patrol log listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatrolFilter {
    /// The reader's scope cut.
    pub readable: Readable,
    /// Inside this scope.
    pub scope: Option<String>,
    /// One of these statuses (empty: any).
    pub statuses: Vec<PatrolStatus>,
    /// In this area (exactly).
    pub area: Option<String>,
    /// With this user in the team.
    pub member: Option<String>,
    /// Started at or after this time (ms).
    pub started_from: Option<i64>,
    /// Started before this time (ms).
    pub started_to: Option<i64>,
}

impl KindFilter for PatrolFilter {
    type Row = PatrolRow;
    const CREATED: &'static str = "started_at";

    filter_cut!();

    fn terms(&self) -> StorageResult<Vec<Term>> {
        let mut t = vec![Term::one_of("status", &self.statuses)];
        if let Some(area) = &self.area {
            t.push(Term::equals("area", area));
        }
        if let Some(m) = &self.member {
            t.push(Term::HasLine("members", m.clone()));
        }
        t.push(Term::Range("started_at", self.started_from, self.started_to));
        Ok(t)
    }

    fn times(row: &PatrolRow) -> (i64, i64) {
        (row.started_at, row.updated_at)
    }
}
