//! The record kinds as Automerge documents, and the commands that change them.
//!
//! Layout of a document: a `header` map that never changes after creation (id, kind, schema,
//! scope, created_by, created_at), then the kind's fields at the root. Lists that several people
//! append to are lists of maps with a stable `id`; free text two people may edit is Automerge
//! Text; single-valued fields are registers whose concurrent values are shown, never hidden.

pub(crate) mod macros;

pub mod bulletin;
pub mod case;
pub mod command;
pub mod common;
pub mod deliberation;
pub(crate) mod doc;
pub mod patrol;
mod read;
pub(crate) use read::{DocReader, ReadOnce};
#[cfg(test)]
pub(crate) mod read_tests;
mod registry;
pub mod report;
mod shape;
pub mod validate;
pub mod visit;

use automerge::AutoCommit;

pub use bulletin::{Acknowledgement, Addressee, Bulletin, BulletinStatus, NewBulletin, Severity};
pub use case::{CaseCategory, CaseStatus, FollowUp, MediationCase, NewCase, Party, Session};
pub use command::{Applied, Command, OverdueLimit};
pub use common::{FieldConflict, Header, Location, PhotoRef, SCHEMA_VERSION, Stamp, TimelineEvent};
pub use deliberation::{
    Decision, DecisionMethod, Deliberation, DeliberationOption, DeliberationStatus, FollowUpAction,
    Meeting, NewDeliberation, VoteCount,
};
pub use patrol::{
    Checkpoint, EntryKind, MemberKind, NewEntry, NewPatrol, PatrolEntry, PatrolLog, PatrolStatus,
    TeamMember,
};
pub use registry::{Kind, NewRecord, Record};
pub(crate) use registry::{
    KindSpec, kind_arms, new_arms, on_kind, on_record, record_arms, with_kinds,
};
pub use report::{
    Comment, NewReport, Report, ReportCategory, ReportStatus, escalation_limit, escalation_note,
};
pub use visit::{
    CheckOutcome, CheckResult, Finding, NewCheck, NewVisit, Visit, VisitStatus, business_of_scope,
    business_scope,
};

use crate::error::{CoreError, Result};
use crate::id::DocId;

/// Where `doc`, a record of `kind`, departs from its kind's layout: fields the schema does not
/// know, objects where values belong, bytes, over-long strings (in every concurrent value).
/// Empty when the document keeps the layout; at most 16 faults, each naming its path.
pub fn layout_faults(doc: &AutoCommit, kind: Kind) -> Vec<String> {
    shape::faults(doc, kind)
}

/// Reads only a document's header (cheaper than [`read_record`]): what a server needs to file a
/// document and to check that incoming changes leave the header alone.
pub fn read_header(doc: &AutoCommit, id: DocId) -> Result<Header> {
    doc::read_header(doc, id)
}

/// The header of document `id`, checked: it names `id`, and its schema is one this build reads.
pub(crate) fn checked_header<D: autosurgeon::ReadDoc>(doc: &D, id: DocId) -> Result<Header> {
    let header = doc::read_header(doc, id)?;
    if header.id != id {
        return Err(CoreError::malformed(id, format!("its header names {}", header.id)));
    }
    if header.schema > SCHEMA_VERSION {
        return Err(CoreError::DocumentTooNew {
            id,
            found: header.schema,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(header)
}

/// Reads a document into its typed record, with the concurrent conflicts of its registers.
///
/// Fails with `Malformed` when the document is not a valid record of the kind its header names,
/// and with `DocumentTooNew` when a newer schema wrote it.
///
/// Each map and list of the document is read in one pass (see [`read::ReadOnce`]): the header
/// checked first and the record hydrated after it share those reads, and only registers that
/// hold concurrent values are read whole. The record is the one [`read_record_per_key`] reads.
pub fn read_record(doc: &AutoCommit, id: DocId) -> Result<Record> {
    read_record_in(&ReadOnce::new(doc), id)
}

/// [`read_record`] through a view that other reads of the same document share.
pub(crate) fn read_record_in(view: &ReadOnce<'_>, id: DocId) -> Result<Record> {
    read_via(view, view.doc(), id, &|field| view.root_conflict(field))
}

/// Reads a document into its typed record asking the document for one key at a time: the
/// reference [`read_record`] must equal (tests compare the two), several times slower.
#[doc(hidden)]
pub fn read_record_per_key(doc: &AutoCommit, id: DocId) -> Result<Record> {
    read_via(doc, doc, id, &|_| true)
}

/// Reads `doc` through `view`; `maybe_conflicted` says which root registers may hold
/// concurrent values (the others are not read whole).
fn read_via<D: autosurgeon::ReadDoc>(
    view: &D,
    doc: &AutoCommit,
    id: DocId,
    maybe_conflicted: &dyn Fn(&str) -> bool,
) -> Result<Record> {
    let header = checked_header(view, id)?;
    on_kind!(header.kind, K => read_as::<K, D>(view, doc, id, maybe_conflicted))
}

fn read_as<K: KindSpec, D: autosurgeon::ReadDoc>(
    view: &D,
    doc: &AutoCommit,
    id: DocId,
    maybe_conflicted: &dyn Fn(&str) -> bool,
) -> Result<Record> {
    let mut record: K =
        autosurgeon::hydrate(view).map_err(|e| CoreError::malformed(id, e.to_string()))?;
    record.set_conflicts(doc::conflicts(doc, K::REGISTERS, maybe_conflicted)?);
    Ok(record.into())
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::model::command::{apply, create};

    /// The desk API shows records as JSON: the kind's fields at the top, enums and times as
    /// the documents keep them (strings, ms).
    #[test]
    fn a_record_serializes_as_the_desk_shows_it() {
        let new = NewRecord::Report {
            report: NewReport {
                scope: "jl/cc/grid-7".into(),
                category: ReportCategory::SafetyHazard,
                title: "井盖缺失".into(),
                description: String::new(),
                location: None,
                photos: vec![],
            },
        };
        let stamp = Stamp { by: "res-1".into(), at: 1_700_000_000_000 };
        let (id, mut doc) = create(&new, &stamp, ActorId::random()).unwrap();
        apply(&mut doc, id, &stamp, &Command::CommentReport { text: "还在".into() }).unwrap();
        let json = serde_json::to_value(read_record(&doc, id).unwrap()).unwrap();
        let report = &json["report"];
        assert_eq!(report["header"]["id"], id.to_string());
        assert_eq!(report["header"]["kind"], "report");
        assert_eq!(report["header"]["created_at"], 1_700_000_000_000i64);
        assert_eq!(report["category"], "safety_hazard");
        assert_eq!(report["status"], "submitted");
        assert_eq!(report["comments"][0]["text"], "还在");
        assert_eq!(report["timeline"][0]["action"], "submit_report");
    }
}
