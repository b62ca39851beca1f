//! The registry of record kinds: the one place a kind is named.
//!
//! A kind is a module that implements [`KindSpec`] (its typed record, how one is created and
//! changed, its layout, its limits, the people it names, the photos it holds) and the policy's
//! `KindRules` (who reads, creates and changes it). This file lists the kinds: the [`Kind`]
//! value, its code in the phone's SQLite, its variant of [`Record`] and of [`NewRecord`], and
//! the dispatch macros ([`on_record!`], [`on_new!`], [`on_kind!`]) through which the rest of the
//! code reaches a kind's module instead of matching on kinds itself. Adding a kind is a module
//! of its own plus one entry in [`with_kinds!`], the list all of these are made from.

use automerge::{AutoCommit, ObjId};

use super::bulletin::{Bulletin, NewBulletin};
use super::case::{MediationCase, NewCase};
use super::command::Command;
use super::common::{FieldConflict, Header, PhotoRef, Stamp, TimelineEvent};
use super::deliberation::{Deliberation, NewDeliberation};
use super::macros::string_enum;
use super::patrol::{NewPatrol, PatrolLog};
use super::report::{NewReport, Report};
use super::shape::Node;
use super::validate::Violations;
use super::visit::{NewVisit, Visit};
use crate::error::Result;
use crate::id::DocId;

/// The one list of record kinds, each as `[variant, its name in documents, the field of its
/// `Record` and `NewRecord` variants, its typed record, what creates one, then the documentation
/// of its `Kind`, `Record` and `NewRecord` variants]`. It hands the list to the macro in
/// brackets with the arguments after them: [`Kind`], [`Record`], [`NewRecord`] and the
/// dispatch macros ([`on_record!`], [`on_new!`], [`on_kind!`]) are all made from it.
macro_rules! with_kinds {
    ([$($callback:tt)+] $args:tt) => {
        $($callback)+! { $args
            [Report, "report", report, Report, NewReport,
                "A resident's report of a problem.", "A resident report.",
                "A resident submits a report."],
            [PatrolLog, "patrol_log", patrol_log, PatrolLog, NewPatrol,
                "A patrol team's log.", "A patrol log.", "A team starts a patrol."],
            [MediationCase, "mediation_case", mediation_case, MediationCase, NewCase,
                "A dispute-mediation case.", "A mediation case.", "A mediator opens a case."],
            [Bulletin, "bulletin", bulletin, Bulletin, NewBulletin,
                "A warning bulletin (预警通报).", "A warning bulletin.",
                "The police, a grid leader or a dispatcher issues a bulletin."],
            [Visit, "visit", visit, Visit, NewVisit,
                "A visit to a business of the registry (走访).", "A business visit.",
                "A police patrol member, a grid leader or a dispatcher records a business visit."],
            [Deliberation, "deliberation", deliberation, Deliberation, NewDeliberation,
                "A deliberation (议事协商).", "A deliberation.",
                "A resident or a grid leader raises a deliberation."],
        }
    };
}

/// Declares [`Kind`], [`Record`] and [`NewRecord`] from [`with_kinds!`]'s list.
macro_rules! declare_kinds {
    (() $([
        $variant:ident, $name:literal, $field:ident, $record:ident, $new:ident,
        $kind_doc:literal, $record_doc:literal, $new_doc:literal
    ],)+) => {
        string_enum! {
            /// The kind of a record; fixed at creation.
            Kind as "kind" {
                $( #[doc = $kind_doc] $variant => $name, )+
            }
        }

        /// A record of any kind, as read from its document.
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        #[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
        #[serde(untagged)]
        pub enum Record {
            $(
                #[doc = $record_doc]
                $variant {
                    /// The record.
                    $field: $record,
                },
            )+
        }

        /// A new record to create.
        #[derive(Debug, Clone, PartialEq)]
        #[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
        pub enum NewRecord {
            $(
                #[doc = $new_doc]
                $variant {
                    /// What the record is created with.
                    $field: $new,
                },
            )+
        }

        $(
            impl From<$record> for Record {
                fn from($field: $record) -> Record {
                    Record::$variant { $field }
                }
            }
        )+
    };
}

with_kinds!([declare_kinds]());

/// The arms of [`on_record!`].
macro_rules! record_arms {
    (($record:expr, $r:ident, $body:expr) $([$variant:ident, $name:literal, $field:ident,
        $($rest:tt)*],)+) => {
        match $record {
            $( $crate::model::Record::$variant { $field: $r } => $body, )+
        }
    };
}

/// The arms of [`on_new!`].
macro_rules! new_arms {
    (($new:expr, $n:ident, $K:ident, $body:expr) $([$variant:ident, $name:literal,
        $field:ident, $record:ident, $($rest:tt)*],)+) => {
        match $new {
            $(
                $crate::model::NewRecord::$variant { $field: $n } => {
                    type $K = $crate::model::$record;
                    $body
                }
            )+
        }
    };
}

/// The arms of [`on_kind!`].
macro_rules! kind_arms {
    (($kind:expr, $K:ident, $body:expr) $([$variant:ident, $name:literal, $field:ident,
        $record:ident, $($rest:tt)*],)+) => {
        match $kind {
            $(
                $crate::model::Kind::$variant => {
                    type $K = $crate::model::$record;
                    $body
                }
            )+
        }
    };
}

/// Runs `$body` with `$r` bound to the typed record inside `$record` (a `&Record`), whatever
/// its kind: the body is compiled once per kind, so it calls the kind's [`KindSpec`].
macro_rules! on_record {
    ($record:expr, $r:ident => $body:expr) => {
        $crate::model::with_kinds!([$crate::model::record_arms]($record, $r, $body))
    };
}

/// Runs `$body` with `$n` bound to what `$new` (a `&NewRecord`) creates and `$K` naming the
/// kind's typed record.
macro_rules! on_new {
    ($new:expr, $n:ident, $K:ident => $body:expr) => {
        $crate::model::with_kinds!([$crate::model::new_arms]($new, $n, $K, $body))
    };
}

/// Runs `$body` with `$K` naming the typed record of `$kind` (a [`Kind`]).
macro_rules! on_kind {
    ($kind:expr, $K:ident => $body:expr) => {
        $crate::model::with_kinds!([$crate::model::kind_arms]($kind, $K, $body))
    };
}

/// What every kind's `impl KindSpec` holds alike: `create` and `apply`, calling the kind
/// module's own `create(doc, new, stamp)` and `apply(doc, id, stamp, cmd)`, and the accessors
/// of the fields every typed record has (`header`, `timeline`, `conflicts`).
macro_rules! common_spec {
    () => {
        fn create(doc: &mut AutoCommit, new: &Self::New, stamp: &Stamp) -> Result<()> {
            create(doc, new, stamp)
        }

        fn apply(
            doc: &mut AutoCommit,
            id: DocId,
            stamp: &Stamp,
            cmd: &Command,
        ) -> Result<Option<String>> {
            apply(doc, id, stamp, cmd)
        }

        fn header(&self) -> &Header {
            &self.header
        }

        fn timeline(&self) -> &[TimelineEvent] {
            &self.timeline
        }

        fn conflicts(&self) -> &[FieldConflict] {
            &self.conflicts
        }

        fn set_conflicts(&mut self, conflicts: Vec<FieldConflict>) {
            self.conflicts = conflicts;
        }
    };
}

pub(crate) use {
    common_spec, kind_arms, new_arms, on_kind, on_new, on_record, record_arms, with_kinds,
};

/// What a record kind is, in one place: implemented by each kind's typed record.
pub(crate) trait KindSpec:
    autosurgeon::Hydrate + Clone + PartialEq + Into<Record> + 'static
{
    /// The kind.
    const KIND: Kind;
    /// The small integer that stands for the kind in the phone's SQLite; never reused.
    const CODE: i64;
    /// The timeline action of its creation, e.g. `submit_report`.
    const CREATE: &'static str;
    /// The single-valued fields whose concurrent values are shown and can be settled.
    const REGISTERS: &'static [&'static str];
    /// The layout every document of the kind keeps (see `shape`).
    const LAYOUT: Node;
    /// What is given to create one.
    type New;

    /// The typed record inside `record`, when it is of this kind.
    fn of(record: &Record) -> Option<&Self>;
    /// The scope a record to create belongs to.
    fn new_scope(new: &Self::New) -> &str;
    /// The photos a record to create starts with.
    fn new_photos(_new: &Self::New) -> &[PhotoRef] {
        &[]
    }
    /// Writes the fields of a new record below its header (the caller writes the header,
    /// appends the creation's timeline event and commits).
    fn create(doc: &mut AutoCommit, new: &Self::New, stamp: &Stamp) -> Result<()>;
    /// Applies a command to a document of the kind (the caller commits); the key of the item
    /// it appended, if any.
    fn apply(
        doc: &mut AutoCommit,
        id: DocId,
        stamp: &Stamp,
        cmd: &Command,
    ) -> Result<Option<String>>;
    /// The header.
    fn header(&self) -> &Header;
    /// The timeline.
    fn timeline(&self) -> &[TimelineEvent];
    /// The concurrent conflicts of its registers.
    fn conflicts(&self) -> &[FieldConflict];
    /// Sets the concurrent conflicts of its registers, found after reading.
    fn set_conflicts(&mut self, conflicts: Vec<FieldConflict>);
    /// Checks every limit of the record's own fields (the header and its timeline are checked
    /// for every kind by `validate`).
    fn limits(&self, v: &mut Violations);
    /// The people the record names (assignee, team, mediators, ...): they may read it.
    fn participants(&self) -> Vec<String>;
    /// Every photo the record references.
    fn photos(&self) -> Vec<&PhotoRef>;
    /// The lists of photo references the document holds, found without reading it whole (the
    /// phone's store projects them on every write).
    fn photo_lists<D: autosurgeon::ReadDoc>(doc: &D, id: DocId) -> Result<Vec<ObjId>>;
}

impl Kind {
    /// The small integer that stands for the kind in SQLite.
    pub(crate) fn code(self) -> i64 {
        on_kind!(self, K => K::CODE)
    }

    /// The kind a SQLite code stands for.
    pub(crate) fn from_code(code: i64) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// The timeline action that creates a record of the kind.
    pub(crate) fn create_action(self) -> &'static str {
        on_kind!(self, K => K::CREATE)
    }

    /// The single-valued fields of the kind whose concurrent values are shown.
    pub(crate) fn registers(self) -> &'static [&'static str] {
        on_kind!(self, K => K::REGISTERS)
    }
}

impl Record {
    /// The header shared by all kinds.
    pub fn header(&self) -> &Header {
        on_record!(self, r => KindSpec::header(r))
    }

    /// The kind of the record.
    pub fn kind(&self) -> Kind {
        self.header().kind
    }

    /// Its history of state changes, oldest first.
    pub fn timeline(&self) -> &[TimelineEvent] {
        on_record!(self, r => KindSpec::timeline(r))
    }

    /// Its single-valued fields that devices set concurrently to different values.
    pub fn conflicts(&self) -> &[FieldConflict] {
        on_record!(self, r => KindSpec::conflicts(r))
    }

    /// Every photo the record references (a report's, a case's, those of each patrol entry).
    pub fn photos(&self) -> Vec<&PhotoRef> {
        on_record!(self, r => KindSpec::photos(r))
    }

    /// The people the record names besides its creator (a report's assignee, a patrol's team,
    /// a case's mediators): who may read it for being named.
    pub fn participants(&self) -> Vec<String> {
        on_record!(self, r => KindSpec::participants(r))
    }
}

impl NewRecord {
    /// The kind of record this creates.
    pub fn kind(&self) -> Kind {
        on_new!(self, _n, K => K::KIND)
    }

    /// The scope the new record belongs to.
    pub fn scope(&self) -> &str {
        on_new!(self, n, K => K::new_scope(n))
    }

    /// The photos the new record starts with.
    pub fn photos(&self) -> &[PhotoRef] {
        on_new!(self, n, K => K::new_photos(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_come_back() {
        for &k in Kind::ALL {
            assert_eq!(Kind::from_code(k.code()), Some(k), "{k}");
        }
        let mut codes: Vec<i64> = Kind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Kind::ALL.len());
        assert_eq!(Kind::from_code(0), None);
    }
}
