//! A read-only view of a document that reads each map and list in one pass.
//!
//! Hydrating a record with autosurgeon asks the document for one key at a time, and each
//! `get` on Automerge 0.12 resolves the object and seeks its ops anew (about 20 K instructions
//! each; a report needs about 45 of them). [`ReadOnce`] answers those `get`s from one
//! `map_range` / `list_range` pass per object, made the first time the object is asked for,
//! and remembers, per root key, whether it holds concurrent values, so that only conflicted
//! registers pay for `get_all`. The values are the ones `get` returns: the winning value of
//! each key (the last visible op), with its id.
//!
//! It is what autosurgeon reads through (its `ReadDoc`). Anything it does not hold (text,
//! objects it has not met as values, a property of the wrong kind for its object) goes to the
//! document, so its answers are always the document's own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::RangeBounds;
use std::rc::Rc;

use automerge::iter::{ListRange, MapRange};
use automerge::transaction::Transactable;
use automerge::{
    AutoCommit, AutomergeError, ChangeHash, ObjId, ObjType, Parents, Prop, ROOT, ReadDoc, Value,
};

/// One key's (or index's) winning value, its id, and whether other values are concurrent.
struct Entry {
    value: Value<'static>,
    id: ObjId,
    conflict: bool,
}

/// What the view knows of an object.
enum Known {
    /// Its type, from the value that holds it; its entries are not read yet.
    Type(ObjType),
    /// A map's entries by key.
    Map(Rc<HashMap<String, Entry>>),
    /// A list's entries by index.
    List(Rc<Vec<Entry>>),
}

/// A read-only view of `doc` answering `get` and `length` from one pass per map or list.
///
/// Meant to live for one read (a record's hydration); the document cannot change under it,
/// since it borrows the document.
pub(crate) struct ReadOnce<'a> {
    doc: &'a AutoCommit,
    known: RefCell<HashMap<ObjId, Known>>,
}

impl<'a> ReadOnce<'a> {
    /// A view of `doc` that has read nothing yet.
    pub(crate) fn new(doc: &'a AutoCommit) -> Self {
        let mut known = HashMap::new();
        known.insert(ROOT, Known::Type(ObjType::Map));
        Self { doc, known: RefCell::new(known) }
    }

    /// The document this view reads.
    pub(crate) fn doc(&self) -> &'a AutoCommit {
        self.doc
    }

    /// Whether the root key `key` holds more than one concurrent value.
    pub(crate) fn root_conflict(&self, key: &str) -> bool {
        match self.map(&ROOT) {
            Some(map) => map.get(key).is_some_and(|e| e.conflict),
            None => self.doc.get_all(ROOT, key).is_ok_and(|all| all.len() > 1),
        }
    }

    /// The entries of map `obj`, read in one pass the first time; `None` when the view does
    /// not know `obj` as a map.
    fn map(&self, obj: &ObjId) -> Option<Rc<HashMap<String, Entry>>> {
        let mut known = self.known.borrow_mut();
        match known.get(obj)? {
            Known::Map(map) => return Some(map.clone()),
            Known::Type(ObjType::Map | ObjType::Table) => {}
            Known::Type(_) | Known::List(_) => return None,
        }
        let mut map = HashMap::new();
        for item in self.doc.map_range(obj, ..) {
            let id = item.id();
            let value = item.value.into_value();
            if let Value::Object(t) = value {
                known.entry(id.clone()).or_insert(Known::Type(t));
            }
            map.insert(item.key.into_owned(), Entry { value, id, conflict: item.conflict });
        }
        let map = Rc::new(map);
        known.insert(obj.clone(), Known::Map(map.clone()));
        Some(map)
    }

    /// The entries of list `obj`, read in one pass the first time; `None` when the view does
    /// not know `obj` as a list.
    fn list(&self, obj: &ObjId) -> Option<Rc<Vec<Entry>>> {
        let mut known = self.known.borrow_mut();
        match known.get(obj)? {
            Known::List(list) => return Some(list.clone()),
            Known::Type(ObjType::List) => {}
            Known::Type(_) | Known::Map(_) => return None,
        }
        let mut list = Vec::new();
        for item in self.doc.list_range(obj, ..) {
            let id = item.id();
            let value = item.value.into_value();
            if let Value::Object(t) = value {
                known.entry(id.clone()).or_insert(Known::Type(t));
            }
            list.push(Entry { value, id, conflict: item.conflict });
        }
        let list = Rc::new(list);
        known.insert(obj.clone(), Known::List(list.clone()));
        Some(list)
    }
}

/// What the phone's projection reads a document through: autosurgeon's reads, and whether a
/// root register holds concurrent values. A [`ReadOnce`] view answers from one pass per object;
/// the document itself answers each read on its own (the reference the view must equal).
pub(crate) trait DocReader: autosurgeon::ReadDoc {
    /// Whether the root key `key` holds more than one concurrent value.
    fn root_conflict(&self, key: &str) -> bool;
}

impl DocReader for ReadOnce<'_> {
    fn root_conflict(&self, key: &str) -> bool {
        ReadOnce::root_conflict(self, key)
    }
}

/// The reference: only tests read a document key by key (the view must answer the same).
#[cfg(test)]
impl DocReader for AutoCommit {
    fn root_conflict(&self, key: &str) -> bool {
        ReadDoc::get_all(self, ROOT, key).is_ok_and(|all| all.len() > 1)
    }
}

/// The answer `get` gives for an entry.
fn found(entry: Option<&Entry>) -> Option<(Value<'static>, ObjId)> {
    entry.map(|e| (e.value.clone(), e.id.clone()))
}

impl autosurgeon::ReadDoc for ReadOnce<'_> {
    type Parents<'b>
        = Parents<'b>
    where
        Self: 'b;

    fn get_heads(&self) -> Vec<ChangeHash> {
        Transactable::base_heads(self.doc)
    }

    fn get<P: Into<Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        match prop.into() {
            Prop::Map(key) => match self.map(obj) {
                Some(map) => Ok(found(map.get(&key))),
                None => ReadDoc::get(self.doc, obj, key),
            },
            Prop::Seq(i) => match self.list(obj) {
                Some(list) => Ok(found(list.get(i))),
                None => ReadDoc::get(self.doc, obj, i),
            },
        }
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        match self.known.borrow().get(obj.as_ref()) {
            Some(Known::Type(t)) => Some(*t),
            Some(Known::List(_)) => Some(ObjType::List),
            Some(Known::Map(_)) | None => ReadDoc::object_type(self.doc, obj).ok(),
        }
    }

    fn map_range<'b, O, R>(&'b self, obj: O, range: R) -> MapRange<'b>
    where
        R: RangeBounds<String> + 'b,
        O: AsRef<ObjId>,
        R: RangeBounds<String>,
    {
        ReadDoc::map_range(self.doc, obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> ListRange<'_> {
        ReadDoc::list_range(self.doc, obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        let obj = obj.as_ref();
        match self.list(obj) {
            Some(list) => list.len(),
            None => ReadDoc::length(self.doc, obj),
        }
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        ReadDoc::text(self.doc, obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        ReadDoc::parents(self.doc, obj)
    }

    fn is_empty(&self) -> bool {
        self.map(&ROOT).map_or_else(|| ReadDoc::keys(self.doc, ROOT).count() == 0, |m| m.is_empty())
    }
}
