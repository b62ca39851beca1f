//! Targeted reads and writes on an Automerge document, shared by the record kinds.
//!
//! Commands edit documents through these small operations (a put, an insert at the end of a list,
//! a text splice) rather than through `autosurgeon::reconcile`, which costs milliseconds per edit.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::common::{FieldConflict, Header, Location, PhotoRef, Stamp};
use crate::error::{CoreError, Result};
use crate::id::DocId;

/// Root keys shared by all kinds.
pub(crate) const HEADER: &str = "header";
pub(crate) const STATUS: &str = "status";
pub(crate) const TIMELINE: &str = "timeline";

/// Writes the header map; called once, at creation.
pub(crate) fn put_header(doc: &mut AutoCommit, h: &Header) -> Result<()> {
    let obj = doc.put_object(ROOT, HEADER, ObjType::Map)?;
    doc.put(&obj, "id", h.id.to_string())?;
    doc.put(&obj, "kind", h.kind)?;
    doc.put(&obj, "schema", ScalarValue::Uint(h.schema.max(0).unsigned_abs()))?;
    doc.put(&obj, "scope", h.scope.as_str())?;
    doc.put(&obj, "created_by", h.created_by.as_str())?;
    doc.put(&obj, "created_at", h.created_at)?;
    Ok(())
}

/// Reads the header, or says why the document has none.
pub(crate) fn read_header<D: autosurgeon::ReadDoc>(doc: &D, id: DocId) -> Result<Header> {
    autosurgeon::hydrate_prop(doc, ROOT, HEADER)
        .map_err(|e| CoreError::malformed(id, format!("header: {e}")))
}

/// The object at `key` of `obj`, if it is an object of type `ty`.
///
/// The readers here take any [`autosurgeon::ReadDoc`]: the document itself, or a
/// [`ReadOnce`](super::read::ReadOnce) view that reads each map and list in one pass.
pub(crate) fn object<D: autosurgeon::ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &str,
    ty: ObjType,
    id: DocId,
) -> Result<ObjId> {
    match doc.get(obj, key)? {
        Some((Value::Object(t), oid)) if t == ty => Ok(oid),
        _ => Err(CoreError::malformed(id, format!("{key} is not a {ty:?}"))),
    }
}

/// The list at a root key.
pub(crate) fn root_list<D: autosurgeon::ReadDoc>(doc: &D, key: &str, id: DocId) -> Result<ObjId> {
    object(doc, &ROOT, key, ObjType::List, id)
}

/// A string at `key` of `obj`, if there is one.
pub(crate) fn get_str<D: autosurgeon::ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &str,
) -> Result<Option<String>> {
    Ok(match doc.get(obj, key)? {
        Some((Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    })
}

/// The winning value of the root `status` register, parsed.
pub(crate) fn status<T: std::str::FromStr>(doc: &AutoCommit, id: DocId) -> Result<T> {
    get_str(doc, &ROOT, STATUS)?
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CoreError::malformed(id, "status is missing or unknown"))
}

/// Appends a map with the given scalar fields at the end of a list; returns the new map.
pub(crate) fn append_map(
    doc: &mut AutoCommit,
    list: &ObjId,
    fields: Vec<(&str, ScalarValue)>,
) -> Result<ObjId> {
    let len = doc.length(list);
    let item = doc.insert_object(list, len, ObjType::Map)?;
    for (k, v) in fields {
        doc.put(&item, k, v)?;
    }
    Ok(item)
}

/// Appends an addressable item to `list` (field `field`, at most `max` items): a map whose `id`
/// is a fresh [`item_key`](crate::id::item_key), then `fields`. Returns the key and the map.
pub(crate) fn append_item(
    doc: &mut AutoCommit,
    list: &ObjId,
    field: &'static str,
    max: usize,
    fields: Vec<(&str, ScalarValue)>,
) -> Result<(String, ObjId)> {
    crate::limits::room_in_list(field, doc.length(list), max)?;
    let key = crate::id::item_key();
    let mut all = Vec::with_capacity(fields.len() + 1);
    all.push(("id", ScalarValue::from(key.as_str())));
    all.extend(fields);
    let item = append_map(doc, list, all)?;
    Ok((key, item))
}

/// Appends `{at, by, action, note}` to the root timeline.
pub(crate) fn append_timeline(
    doc: &mut AutoCommit,
    id: DocId,
    stamp: &Stamp,
    action: &str,
    note: &str,
) -> Result<()> {
    let list = root_list(doc, TIMELINE, id)?;
    append_map(
        doc,
        &list,
        vec![
            ("at", ScalarValue::Timestamp(stamp.at)),
            ("by", stamp.by.as_str().into()),
            ("action", action.into()),
            ("note", note.into()),
        ],
    )?;
    Ok(())
}

/// Writes an optional location as a map (or null) at `key` of `obj`.
pub(crate) fn put_location(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    loc: Option<&Location>,
) -> Result<()> {
    match loc {
        None => {
            doc.put(obj, key, ScalarValue::Null)?;
        }
        Some(l) => {
            let m = doc.put_object(obj, key, ObjType::Map)?;
            doc.put(&m, "lat", l.lat)?;
            doc.put(&m, "lon", l.lon)?;
            doc.put(&m, "accuracy", l.accuracy)?;
            doc.put(&m, "address", l.address.as_str())?;
        }
    }
    Ok(())
}

/// Appends photo references to a list.
pub(crate) fn append_photos(doc: &mut AutoCommit, list: &ObjId, photos: &[PhotoRef]) -> Result<()> {
    for p in photos {
        append_map(
            doc,
            list,
            vec![
                ("hash", p.hash.as_str().into()),
                ("size", ScalarValue::Uint(p.size.max(0).unsigned_abs())),
                ("media_type", p.media_type.as_str().into()),
            ],
        )?;
    }
    Ok(())
}

/// The root `photos` list, when the document has one (a report's, a case's).
pub(crate) fn root_photo_list<D: autosurgeon::ReadDoc>(doc: &D) -> Result<Vec<ObjId>> {
    Ok(match doc.get(&ROOT, "photos")? {
        Some((Value::Object(ObjType::List), list)) => vec![list],
        _ => Vec::new(),
    })
}

/// Creates a Text object at `key` of `obj` holding `value`.
pub(crate) fn put_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &str) -> Result<ObjId> {
    let text = doc.put_object(obj, key, ObjType::Text)?;
    if !value.is_empty() {
        doc.splice_text(&text, 0, 0, value)?;
    }
    Ok(text)
}

/// Puts a list of strings at `key` of `obj`.
pub(crate) fn put_str_list(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    items: &[String],
) -> Result<()> {
    let list = doc.put_object(obj, key, ObjType::List)?;
    for (i, s) in items.iter().enumerate() {
        doc.insert(&list, i, s.as_str())?;
    }
    Ok(())
}

/// The item of a list of maps whose `id` field is `key`.
pub(crate) fn find_item(doc: &AutoCommit, list: &ObjId, key: &str) -> Result<Option<ObjId>> {
    for i in 0..doc.length(list) {
        if let Some((Value::Object(ObjType::Map), item)) = doc.get(list, i)?
            && get_str(doc, &item, "id")?.as_deref() == Some(key)
        {
            return Ok(Some(item));
        }
    }
    Ok(None)
}

/// Shows a register value the way conflicts are reported.
pub(crate) fn render(value: &Value<'_>) -> String {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            ScalarValue::Int(i) | ScalarValue::Timestamp(i) => i.to_string(),
            ScalarValue::Uint(u) => u.to_string(),
            ScalarValue::F64(f) => f.to_string(),
            ScalarValue::Boolean(b) => b.to_string(),
            ScalarValue::Null => "null".to_string(),
            other => format!("{other:?}"),
        },
        Value::Object(t) => format!("<{t:?}>"),
    }
}

/// Every register among `fields` that holds more than one concurrent value; only the fields
/// `maybe_conflicted` names are read whole (the others are known to hold one value).
pub(crate) fn conflicts(
    doc: &AutoCommit,
    fields: &[&str],
    maybe_conflicted: &dyn Fn(&str) -> bool,
) -> Result<Vec<FieldConflict>> {
    let mut out = Vec::new();
    for field in fields {
        if !maybe_conflicted(field) {
            continue;
        }
        let all = doc.get_all(ROOT, *field)?;
        if all.len() > 1 {
            let winner = doc.get(ROOT, *field)?.map(|(v, _)| render(&v)).unwrap_or_default();
            out.push(FieldConflict {
                field: (*field).to_string(),
                winner,
                values: all.iter().map(|(v, _)| render(v)).collect(),
            });
        }
    }
    Ok(out)
}

/// Puts the one of a register's concurrent values that `choice` names, superseding the others.
pub(crate) fn settle(doc: &mut AutoCommit, id: DocId, field: &str, choice: &str) -> Result<()> {
    let all = doc.get_all(ROOT, field)?;
    if all.len() < 2 {
        return Err(CoreError::NoSuchConflict {
            id,
            reason: format!("{field} has no concurrent values to settle"),
        });
    }
    let chosen = all.iter().find(|(v, _)| render(v) == choice).and_then(|(v, _)| match v {
        Value::Scalar(s) => Some(s.as_ref().clone()),
        Value::Object(_) => None,
    });
    let Some(value) = chosen else {
        return Err(CoreError::NoSuchConflict {
            id,
            reason: format!("{choice:?} is not one of the concurrent values of {field}"),
        });
    };
    doc.put(ROOT, field, value)?;
    Ok(())
}
