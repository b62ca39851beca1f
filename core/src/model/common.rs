//! What every record kind shares: the header, the kinds, timeline events, locations, photo
//! references and the view of concurrent conflicts.

use autosurgeon::{Hydrate, HydrateError, Prop, ReadDoc};

use super::registry::Kind;
use crate::id::DocId;
use crate::time::{Millis, Timestamp};

/// Schema version written into new documents; documents with a higher one are refused.
pub const SCHEMA_VERSION: i64 = 1;

/// The part of every document that never changes after creation.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Header {
    /// The document id.
    #[autosurgeon(hydrate = "hydrate_doc_id")]
    pub id: DocId,
    /// Which record kind the document holds.
    pub kind: Kind,
    /// Schema version of the document's layout.
    #[autosurgeon(hydrate = "hydrate_count")]
    pub schema: i64,
    /// Scope path in the jurisdiction tree; access is decided by prefix.
    pub scope: String,
    /// User id of the creator.
    pub created_by: String,
    /// Creation time.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub created_at: Timestamp,
}

/// Who makes a change and when: every command carries one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// User id of the person acting.
    pub by: String,
    /// When, ms since the epoch.
    pub at: Millis,
}

/// One entry of a record's history: every state change appends one.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TimelineEvent {
    /// When.
    #[autosurgeon(hydrate = "hydrate_ts")]
    pub at: Timestamp,
    /// Who (user id).
    pub by: String,
    /// What happened, e.g. `dispatch_report`.
    pub action: String,
    /// A free-text note given with the change (may be empty).
    pub note: String,
}

/// A place on the map.
#[derive(Debug, Clone, PartialEq, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Location {
    /// Latitude in degrees (WGS 84).
    pub lat: f64,
    /// Longitude in degrees (WGS 84).
    pub lon: f64,
    /// Accuracy radius in metres (0 when unknown).
    pub accuracy: f64,
    /// Address as the person typed or the phone resolved it (may be empty).
    pub address: String,
}

/// A photo attached to a record, by content hash; the bytes travel separately.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Hydrate, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PhotoRef {
    /// Lower-case hex SHA-256 of the bytes.
    pub hash: String,
    /// Size in bytes.
    #[autosurgeon(hydrate = "hydrate_count")]
    pub size: i64,
    /// Media type, e.g. `image/jpeg`.
    pub media_type: String,
}

/// A single-valued field that devices set concurrently to different values.
///
/// Automerge keeps every concurrent value; the record shows the one that currently wins and all
/// the values, so a person can settle it with the `SettleConflict` command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FieldConflict {
    /// The field, e.g. `status`.
    pub field: String,
    /// The value reads currently return.
    pub winner: String,
    /// All concurrent values, the winner among them.
    pub values: Vec<String>,
}

pub(crate) fn hydrate_doc_id<D: ReadDoc>(
    doc: &D,
    obj: &automerge::ObjId,
    prop: Prop<'_>,
) -> Result<DocId, HydrateError> {
    let s = String::hydrate(doc, obj, prop)?;
    s.parse().map_err(|_| HydrateError::unexpected("a document id", s))
}

/// Reads a count or a size, stored as an unsigned integer (as before: nothing else is taken),
/// as the `i64` foreign code takes.
pub(crate) fn hydrate_count<D: ReadDoc>(
    doc: &D,
    obj: &automerge::ObjId,
    prop: Prop<'_>,
) -> Result<i64, HydrateError> {
    use automerge::{ScalarValue, Value};
    match doc.get(obj, &prop)? {
        Some((Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Uint(u) => i64::try_from(*u)
                .map_err(|_| HydrateError::unexpected("a count", format!("{u}, too large"))),
            other => Err(HydrateError::unexpected("a count", format!("{other:?}"))),
        },
        Some((Value::Object(t), _)) => {
            Err(HydrateError::unexpected("a count", format!("an object of type {t:?}")))
        }
        None => Err(HydrateError::unexpected("a count", "nothing".to_string())),
    }
}

/// Reads a time stored as an Automerge timestamp (or, leniently, an integer).
pub(crate) fn hydrate_ts<D: ReadDoc>(
    doc: &D,
    obj: &automerge::ObjId,
    prop: Prop<'_>,
) -> Result<Timestamp, HydrateError> {
    hydrate_opt_ts(doc, obj, prop)?
        .ok_or_else(|| HydrateError::unexpected("a timestamp", "nothing".to_string()))
}

/// Reads an optional time: a missing key or null is `None`.
pub(crate) fn hydrate_opt_ts<D: ReadDoc>(
    doc: &D,
    obj: &automerge::ObjId,
    prop: Prop<'_>,
) -> Result<Option<Timestamp>, HydrateError> {
    use automerge::{ScalarValue, Value};
    match doc.get(obj, &prop)? {
        None => Ok(None),
        Some((Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Null => Ok(None),
            ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Ok(Some(Timestamp::from_millis(*t))),
            other => Err(HydrateError::unexpected("a timestamp", format!("{other:?}"))),
        },
        Some((Value::Object(t), _)) => {
            Err(HydrateError::unexpected("a timestamp", format!("an object of type {t:?}")))
        }
    }
}

/// Reads an Automerge Text object (or, leniently, a plain string) as a `String`.
pub(crate) fn hydrate_text<D: ReadDoc>(
    doc: &D,
    obj: &automerge::ObjId,
    prop: Prop<'_>,
) -> Result<String, HydrateError> {
    use automerge::{ObjType, ScalarValue, Value};
    match doc.get(obj, &prop)? {
        Some((Value::Object(ObjType::Text), id)) => Ok(doc.text(&id)?),
        Some((Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Str(s) => Ok(s.to_string()),
            other => Err(HydrateError::unexpected("text", format!("{other:?}"))),
        },
        None => Ok(String::new()),
        Some((Value::Object(t), _)) => {
            Err(HydrateError::unexpected("text", format!("an object of type {t:?}")))
        }
    }
}

/// Conflicts are not stored in the document: they are computed after hydration.
pub(crate) fn computed_conflicts<D: ReadDoc>(
    _doc: &D,
    _obj: &automerge::ObjId,
    _prop: Prop<'_>,
) -> Result<Vec<FieldConflict>, HydrateError> {
    Ok(Vec::new())
}
