//! The layout every document of a kind must have, checked over the whole Automerge document:
//! no field the schema does not know, no object where a value belongs (or the reverse), no byte
//! strings, and no plain string longer than [`limits::SCALAR_CHARS`] — in every concurrent
//! value of a register, not only the one reads return.
//!
//! Reading a document into its typed record ignores keys it does not know and reads only the
//! winning value of a register, so without this a peer could store (and have relayed to every
//! reader) a 200 kB field the schema does not have, or a long string as a losing value.

use automerge::{
    AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, ScalarValueRef, Value, ValueRef,
};

use super::Kind;
use super::registry::{KindSpec, on_kind};
use crate::limits;

/// What may stand at a key or in a list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Node {
    /// A scalar other than bytes; a string at most [`limits::SCALAR_CHARS`] long.
    Value,
    /// Automerge Text (or, as reads accept, a plain string), at most [`limits::NOTES_CHARS`].
    Text,
    /// A map holding only these keys.
    Map(&'static [(&'static str, Node)]),
    /// A list of these.
    List(&'static Node),
    /// Null, or the node.
    Nullable(&'static Node),
}

use Node::{List, Map, Nullable, Text, Value as V};

/// The header's layout (every kind's).
pub(crate) const HEADER_MAP: Node = Map(&[
    ("id", V),
    ("kind", V),
    ("schema", V),
    ("scope", V),
    ("created_by", V),
    ("created_at", V),
]);
/// A location, or null.
pub(crate) const LOCATION: Node =
    Nullable(&Map(&[("lat", V), ("lon", V), ("accuracy", V), ("address", V)]));
/// A list of photo references.
pub(crate) const PHOTOS: Node = List(&Map(&[("hash", V), ("size", V), ("media_type", V)]));
/// A timeline.
pub(crate) const EVENTS: Node = List(&Map(&[("at", V), ("by", V), ("action", V), ("note", V)]));

/// Most faults [`faults`] lists.
const MAX_FAULTS: usize = 16;

/// Where document `doc`, a record of `kind`, departs from its kind's layout (paths such as
/// `/timeline/3/"extra"`, with what is wrong); empty when it keeps it. At most 16 are listed.
pub(crate) fn faults(doc: &AutoCommit, kind: Kind) -> Vec<String> {
    let root = on_kind!(kind, K => K::LAYOUT);
    let mut walk = Walk { doc, path: String::new(), faults: Vec::new() };
    walk.object(&ROOT, ObjType::Map, root);
    walk.faults
}

struct Walk<'a> {
    doc: &'a AutoCommit,
    path: String,
    faults: Vec<String>,
}

impl Walk<'_> {
    fn fault(&mut self, what: String) {
        if self.faults.len() < MAX_FAULTS {
            self.faults.push(what);
        }
    }

    fn full(&self) -> bool {
        self.faults.len() >= MAX_FAULTS
    }

    /// Checks the object `obj` of type `ty` against `node`. Maps and lists are read in one pass
    /// each (`map_range`, `list_range`); only a key or an item that holds concurrent values is
    /// read again for all of them.
    fn object(&mut self, obj: &ObjId, ty: ObjType, node: Node) {
        let doc = self.doc;
        match (node, ty) {
            (Map(fields), ObjType::Map) => {
                for item in doc.map_range(obj, ..) {
                    if self.full() {
                        return;
                    }
                    let key = item.key.as_ref();
                    let Some(&(_, child)) = fields.iter().find(|(k, _)| *k == key) else {
                        let what =
                            format!("{}/{} is not a field of its kind", self.path, shown(key));
                        self.fault(what);
                        continue;
                    };
                    let len = self.path.len();
                    self.path.push('/');
                    self.path.push_str(key);
                    if item.conflict {
                        self.values(doc.get_all(obj, key), child);
                    } else {
                        self.value_ref(&item.value, || item.id(), child);
                    }
                    self.path.truncate(len);
                }
            }
            (List(node), ObjType::List) => {
                for item in doc.list_range(obj, ..) {
                    if self.full() {
                        return;
                    }
                    let len = self.path.len();
                    self.path.push('/');
                    self.path.push_str(&item.index.to_string());
                    if item.conflict {
                        self.values(doc.get_all(obj, item.index), *node);
                    } else {
                        self.value_ref(&item.value, || item.id(), *node);
                    }
                    self.path.truncate(len);
                }
            }
            (Text, ObjType::Text) => {
                let chars = doc.length(obj);
                if chars > limits::NOTES_CHARS {
                    let max = limits::NOTES_CHARS;
                    self.fault(format!("{} holds {chars} characters; at most {max}", self.path));
                }
            }
            (Nullable(inner), _) => self.object(obj, ty, *inner),
            (_, ty) => {
                self.fault(format!("{} is a {ty:?}, which does not belong there", self.path))
            }
        }
    }

    /// Checks every concurrent value at the current path against `node`.
    fn values(
        &mut self,
        all: Result<Vec<(Value<'_>, ObjId)>, automerge::AutomergeError>,
        node: Node,
    ) {
        match all {
            Ok(all) => {
                for (value, id) in all {
                    match &value {
                        Value::Object(ty) => self.object(&id, *ty, node),
                        Value::Scalar(s) => self.scalar(Scalar::of(s.as_ref()), node),
                    }
                }
            }
            Err(e) => self.fault(format!("{} cannot be read: {e}", self.path)),
        }
    }

    /// Checks the one value of a key or an item (`id` names it when it is an object).
    fn value_ref(&mut self, value: &ValueRef<'_>, id: impl FnOnce() -> ObjId, node: Node) {
        match value {
            ValueRef::Object(ty) => self.object(&id(), *ty, node),
            ValueRef::Scalar(s) => self.scalar(Scalar::of_ref(s), node),
        }
    }

    /// Checks a scalar against `node`.
    fn scalar(&mut self, s: Scalar<'_>, node: Node) {
        match (node, s) {
            (Nullable(_), Scalar::Null) => {}
            (V | Text, Scalar::Str(text)) => {
                let max =
                    if matches!(node, Text) { limits::NOTES_CHARS } else { limits::SCALAR_CHARS };
                // Counting stops past the limit: a long string costs no more than a short one.
                let chars = text.chars().take(max + 1).count();
                if chars > max {
                    let chars = text.chars().count();
                    self.fault(format!("{} holds {chars} characters; at most {max}", self.path));
                }
            }
            (_, Scalar::Bytes) => {
                self.fault(format!("{} holds bytes, which no field takes", self.path));
            }
            (V, _) => {}
            _ => self.fault(format!("{} holds a value where an object belongs", self.path)),
        }
    }
}

/// What the layout asks of a scalar, from either of Automerge's two scalar types.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Null,
    Str(&'a str),
    Bytes,
    Other,
}

impl<'a> Scalar<'a> {
    fn of(s: &'a ScalarValue) -> Self {
        match s {
            ScalarValue::Null => Scalar::Null,
            ScalarValue::Str(t) => Scalar::Str(t),
            ScalarValue::Bytes(_) | ScalarValue::Unknown { .. } => Scalar::Bytes,
            _ => Scalar::Other,
        }
    }

    fn of_ref(s: &'a ScalarValueRef<'_>) -> Self {
        match s {
            ScalarValueRef::Null => Scalar::Null,
            ScalarValueRef::Str(t) => Scalar::Str(t),
            ScalarValueRef::Bytes(_) | ScalarValueRef::Unknown { .. } => Scalar::Bytes,
            _ => Scalar::Other,
        }
    }
}

/// A key as shown in an error: at most 64 characters.
fn shown(key: &str) -> String {
    let mut s: String = key.chars().take(64).collect();
    if s.len() < key.len() {
        s.push('…');
    }
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ObjType, ROOT};

    use super::*;
    use crate::model::command::create;
    use crate::model::doc::TIMELINE;
    use crate::model::{NewRecord, NewReport, ReportCategory, Stamp};

    fn report() -> (crate::DocId, AutoCommit) {
        let new = NewRecord::Report {
            report: NewReport {
                scope: "jl/grid-7".into(),
                category: ReportCategory::Noise,
                title: "loud bar".into(),
                description: "every night".into(),
                location: None,
                photos: vec![],
            },
        };
        create(&new, &Stamp { by: "r-1".into(), at: 1_700_000_000_000 }, ActorId::random())
            .expect("create")
    }

    #[test]
    fn a_record_made_by_commands_has_its_layout() {
        let (_, doc) = report();
        assert_eq!(faults(&doc, Kind::Report), Vec::<String>::new());
    }

    #[test]
    fn unknown_fields_anywhere_are_refused() {
        let (_, mut doc) = report();
        let mut extra = doc.fork();
        extra.put(ROOT, "blob", "x".repeat(10)).unwrap();
        let e = faults(&extra, Kind::Report).join("; ");
        assert!(e.contains("\"blob\" is not a field"), "{e}");

        let mut nested = doc.fork();
        let timeline = match nested.get(ROOT, TIMELINE).unwrap() {
            Some((_, obj)) => obj,
            None => panic!("no timeline"),
        };
        let event = match nested.get(&timeline, 0).unwrap() {
            Some((_, obj)) => obj,
            None => panic!("no event"),
        };
        nested.put(&event, "extra", 1).unwrap();
        let e = faults(&nested, Kind::Report).join("; ");
        assert!(e.contains("/timeline/0/\"extra\""), "{e}");
    }

    #[test]
    fn wrong_types_bytes_and_long_strings_are_refused_even_as_losing_values() {
        let (_, mut doc) = report();
        let mut object = doc.fork();
        object.put_object(ROOT, "title", ObjType::Map).unwrap();
        assert_eq!(faults(&object, Kind::Report).len(), 1);

        let mut bytes = doc.fork();
        bytes.put(ROOT, "title", ScalarValue::Bytes(vec![1, 2, 3])).unwrap();
        assert_eq!(faults(&bytes, Kind::Report).len(), 1);

        // Two concurrent titles: the long one is refused whichever value wins.
        let mut a = doc.fork().with_actor(ActorId::from([1u8; 16]));
        let mut b = doc.fork().with_actor(ActorId::from([2u8; 16]));
        a.put(ROOT, "title", "x".repeat(limits::SCALAR_CHARS + 1)).unwrap();
        b.put(ROOT, "title", "short").unwrap();
        a.merge(&mut b).unwrap();
        assert_eq!(a.get_all(ROOT, "title").unwrap().len(), 2);
        let e = faults(&a, Kind::Report).join("; ");
        assert!(e.contains("/title holds"), "{e}");
    }
}
