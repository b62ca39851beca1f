//! Verified ingestion of one document's incoming changes: parse and verify every change, skip
//! the ones already held, refuse changes whose dependencies are missing, apply the rest, check
//! that the document is still a valid record with the same header and within its size limit,
//! and produce the [`DocWrite`] that stores and logs them. Nothing here touches storage; all of
//! it runs on a blocking thread, and every Automerge call is isolated so that a panic on
//! hostile bytes fails this document only.
//!
//! When a step fails after the in-memory document was changed, the slot is emptied: the caller
//! does not put the document back in the cache, and the next request loads it from storage.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use automerge::{AutoCommit, Change, ChangeHash};
use fieldsync_core::changes::{self, ParseError};
use fieldsync_core::model::Record;
use fieldsync_core::policy::{self, Profile};
use fieldsync_core::protocol::{PushOutcome, limits};
use fieldsync_core::{CoreError, DocId, model};

use crate::author_view::{AuthorView, author_view};
use crate::blobs::refs;
use crate::cache::Loaded;
use crate::storage::{DocBytes, DocMeta, DocWrite, NewChange};

/// Who sent changes: the enrolled device, the actor its changes must carry, and the profile
/// the access policy checks them against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Author {
    /// The device id (written into the log).
    pub(crate) device: String,
    /// The Automerge actor assigned to the device at enrolment.
    pub(crate) actor: Vec<u8>,
    /// Its user's profile now.
    pub(crate) profile: Profile,
}

/// Why a document's changes were not taken; travels in the per-document `results`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Refused for good: sending the same changes again will not help.
    Rejected {
        /// Protocol code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// Not taken now; the client keeps the changes and tries again later.
    Retry {
        /// Protocol code.
        code: &'static str,
        /// For people.
        message: String,
    },
}

impl Refusal {
    pub(crate) fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        Refusal::Rejected { code, message: message.into() }
    }

    pub(crate) fn retry(code: &'static str, message: impl Into<String>) -> Self {
        Refusal::Retry { code, message: message.into() }
    }

    /// As a push outcome.
    pub(crate) fn outcome(self) -> PushOutcome {
        match self {
            Refusal::Rejected { code, message } => {
                PushOutcome::Rejected { code: code.to_string(), message }
            }
            Refusal::Retry { code, message } => {
                PushOutcome::Retry { code: code.to_string(), message }
            }
        }
    }
}

/// Per-document codes of the protocol.
pub(crate) mod code {
    pub(crate) const MALFORMED_CHANGES: &str = "malformed_changes";
    pub(crate) const MISSING_DEPENDENCIES: &str = "missing_dependencies";
    pub(crate) const INVALID_DOCUMENT: &str = "invalid_document";
    pub(crate) const HEADER_CHANGED: &str = "header_changed";
    pub(crate) const TOO_LARGE: &str = "too_large";
    pub(crate) const INTERNAL_ERROR: &str = "internal_error";
    pub(crate) const FORGED_ACTOR: &str = "forged_actor";
    pub(crate) const FORBIDDEN: &str = "forbidden";
}

/// Runs `f`, turning a panic into an error message.
pub(crate) fn isolate<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// Loads stored bytes into a document, with its header.
pub(crate) fn load(id: DocId, bytes: &[u8], meta: DocMeta) -> Result<Loaded, Refusal> {
    let loaded = isolate(|| -> Result<Loaded, String> {
        let doc = AutoCommit::load(bytes).map_err(|e| e.to_string())?;
        let header = model::read_header(&doc, id).map_err(|e| e.to_string())?;
        Ok(Loaded { doc, header, meta, built: false, record: None })
    });
    match loaded {
        Ok(Ok(l)) => Ok(l),
        Ok(Err(e)) | Err(e) => {
            tracing::error!(doc = %id, "stored document does not load: {e}");
            Err(Refusal::retry(code::INTERNAL_ERROR, format!("document {id} does not load: {e}")))
        }
    }
}

/// Whether `doc` holds every one of `hashes` (a hash lookup; `get_change_by_hash` would
/// rebuild each change).
pub(crate) fn holds(doc: &mut AutoCommit, hashes: &[ChangeHash]) -> bool {
    hashes.is_empty() || doc.get_missing_deps(hashes).is_empty()
}

/// Parses and verifies `bytes`, chunk by chunk, bounding what they inflate to, all together, by
/// `max_bytes` (the largest a document may be).
pub(crate) fn parse(id: DocId, bytes: &[u8], max_bytes: usize) -> Result<Vec<Change>, Refusal> {
    let malformed = |e: ParseError| {
        Refusal::rejected(code::MALFORMED_CHANGES, format!("changes for {id} are malformed: {e}"))
    };
    let too_large = || {
        Refusal::rejected(
            code::TOO_LARGE,
            format!("changes for {id} inflate past {max_bytes} bytes"),
        )
    };
    let chunks = changes::split_chunks(bytes).map_err(malformed)?;
    let mut budget = max_bytes;
    let mut out = Vec::new();
    for (_, chunk) in chunks {
        // Automerge inflates compressed changes and the deflated columns of a saved document
        // without a bound: what the chunk inflates to is measured first, within the budget.
        if changes::inflated_size(chunk, budget).map_err(malformed)? > budget {
            return Err(too_large());
        }
        for c in changes::parse_changes(chunk, budget).map_err(malformed)? {
            budget = budget.checked_sub(c.raw_bytes().len()).ok_or_else(too_large)?;
            out.push(c);
        }
    }
    Ok(out)
}

/// What the Automerge chunks of one request may inflate to, all documents together: as much as
/// the request's body may (a document alone may inflate to its own limit).
pub(crate) const REQUEST_INFLATED_BYTES: usize = limits::INFLATED_BYTES;

/// Measures what `bytes` (the changes pushed for `id`) inflate to against `left`, what remains
/// of the request's [`REQUEST_INFLATED_BYTES`], and takes it from there. Once a document does
/// not fit, or cannot be measured (inflating failed part way), nothing more is inflated for this
/// request: the documents after it that would need inflating are answered `too_large` as a
/// retry, for a later request. The first document that inflates anything is left to
/// [`ingest`], which holds it to the document's own limit. Without this, a body of a few
/// megabytes holding many small deflate bombs, one per document, costs gigabytes of inflating.
pub(crate) fn reserve_inflation(id: DocId, bytes: &[u8], left: &mut usize) -> Result<(), Refusal> {
    // Bytes that do not split into chunks are refused by `ingest` before anything is inflated.
    let Ok(chunks) = changes::split_chunks(bytes) else { return Ok(()) };
    let first = *left == REQUEST_INFLATED_BYTES;
    for (_, chunk) in chunks {
        match changes::inflated_size(chunk, *left) {
            Ok(n) if n <= *left => *left -= n,
            _ => {
                *left = 0;
                if first {
                    return Ok(());
                }
                return Err(Refusal::retry(
                    code::TOO_LARGE,
                    format!(
                        "the changes for {id} and those before them in this request inflate past \
                         {REQUEST_INFLATED_BYTES} bytes; send them in a later request"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Orders changes so that each comes after the ones it depends on (Kahn, stable).
fn causal_order(changes: Vec<Change>) -> Vec<Change> {
    let index: HashMap<ChangeHash, usize> =
        changes.iter().enumerate().map(|(i, c)| (c.hash(), i)).collect();
    let mut waiting = vec![0usize; changes.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, c) in changes.iter().enumerate() {
        for d in c.deps() {
            if let Some(&j) = index.get(d) {
                waiting[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: VecDeque<usize> = (0..changes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(changes.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &k in &dependents[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push_back(k);
            }
        }
    }
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// Ingests `bytes` (change chunks, or a saved document) into the document in `slot` (`None`:
/// not stored yet). On success the slot holds the document with the changes applied and the
/// answer is the write to commit (`None` when every change was known already). On a refusal
/// after the document was changed, the slot is emptied; the caller must then not put it back.
///
/// `keep_new`: a document new to the server is made cacheable (see below); off for bulk
/// uploads, which would only push the documents in use out of the cache. `max_bytes`: the
/// largest saved size the document may reach (`too_large` past it).
pub(crate) fn ingest(
    id: DocId,
    slot: &mut Option<Loaded>,
    bytes: &[u8],
    author: Option<&Author>,
    keep_new: bool,
    max_bytes: usize,
) -> Result<Option<DocWrite>, Refusal> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let incoming = parse(id, bytes, max_bytes)?;
    let mut seen = HashSet::new();
    let incoming: Vec<Change> = incoming.into_iter().filter(|c| seen.insert(c.hash())).collect();
    let hashes: Vec<ChangeHash> = incoming.iter().map(Change::hash).collect();
    let new_hashes: HashSet<ChangeHash> = match slot.as_mut() {
        Some(l) => l.doc.get_missing_deps(&hashes).into_iter().collect(),
        None => hashes.iter().copied().collect(),
    };
    let fresh: Vec<Change> =
        incoming.into_iter().filter(|c| new_hashes.contains(&c.hash())).collect();
    if fresh.is_empty() {
        return Ok(None);
    }
    // Changes the server holds already may come from anyone (a phone passes on what it got);
    // a new change must be the sending device's own, so authorship in the history holds.
    if let Some(a) = author
        && let Some(forged) = fresh.iter().find(|c| c.actor_id().to_bytes() != a.actor.as_slice())
    {
        return Err(Refusal::rejected(
            code::FORGED_ACTOR,
            format!(
                "a change for {id} carries actor {}, not this device's {}; nothing of it was stored",
                forged.actor_id(),
                automerge::ActorId::from(a.actor.as_slice())
            ),
        ));
    }
    let mut outside: Vec<ChangeHash> = fresh
        .iter()
        .flat_map(|c| c.deps().iter().copied())
        .filter(|d| !new_hashes.contains(d))
        .collect();
    outside.sort();
    outside.dedup();
    let missing = match slot.as_mut() {
        Some(l) => l.doc.get_missing_deps(&outside).len(),
        None => outside.len(),
    };
    if missing > 0 {
        return Err(Refusal::retry(
            code::MISSING_DEPENDENCIES,
            format!("{missing} changes that the changes for {id} depend on are not on the server"),
        ));
    }
    let fresh = causal_order(fresh);
    let view = match author {
        Some(_) => author_view(id, slot.as_mut(), &outside, &fresh)?,
        None => AuthorView::default(),
    };
    let log: Vec<NewChange> = fresh
        .iter()
        .map(|c| NewChange {
            hash: c.hash().0,
            actor: c.actor_id().to_bytes().to_vec(),
            bytes: c.raw_bytes().to_vec(),
        })
        .collect();
    let chunk: Vec<u8> = log.iter().flat_map(|c| c.bytes.iter().copied()).collect();

    // From here on the document in memory changes: any refusal leaves the slot empty.
    let existing = slot.take();
    let is_new = existing.is_none();
    let mut loaded = match existing {
        Some(l) => l,
        None => Loaded {
            doc: AutoCommit::new(),
            header: placeholder_header(id),
            meta: DocMeta {
                kind: model::Kind::Report,
                scope: String::new(),
                snapshot_bytes: 0,
                chunk_bytes: 0,
                version: 0,
            },
            built: true,
            record: None,
        },
    };
    match isolate(|| loaded.doc.apply_changes(fresh)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(Refusal::rejected(
                code::MALFORMED_CHANGES,
                format!("changes for {id} do not apply: {e}"),
            ));
        }
        Err(p) => {
            tracing::warn!(doc = %id, "Automerge panicked applying changes: {p}");
            return Err(Refusal::rejected(
                code::MALFORMED_CHANGES,
                format!("changes for {id} could not be applied (the decoder failed)"),
            ));
        }
    }
    if !holds(&mut loaded.doc, &[]) {
        return Err(Refusal::retry(
            code::MISSING_DEPENDENCIES,
            format!("changes for {id} wait for dependencies"),
        ));
    }
    let record = read_checked(id, &loaded.doc)?;
    let header = record.header().clone();
    if let Some(a) = author {
        let after = view.after.as_ref().unwrap_or(&record);
        policy::check_change(&a.profile, view.before.as_deref(), after).map_err(|d| {
            Refusal::rejected(
                code::FORBIDDEN,
                format!(
                    "{} may not make these changes to {id} ({}): {}",
                    a.profile.user, d.rule, d.message
                ),
            )
        })?;
    }
    if !is_new && header != loaded.header {
        return Err(Refusal::rejected(
            code::HEADER_CHANGED,
            format!("the changes for {id} alter its header, which never changes"),
        ));
    }
    let compact =
        is_new || loaded.meta.chunk_bytes + chunk.len() as u64 > loaded.meta.snapshot_bytes;
    let bytes = if compact {
        let snapshot = isolate(|| loaded.doc.save()).map_err(|p| {
            tracing::error!(doc = %id, "Automerge panicked saving: {p}");
            Refusal::retry(code::INTERNAL_ERROR, format!("document {id} could not be saved"))
        })?;
        DocBytes::Snapshot(snapshot)
    } else {
        DocBytes::Chunk(chunk)
    };
    let stored_after = match &bytes {
        DocBytes::Snapshot(s) => s.len() as u64,
        DocBytes::Chunk(c) => loaded.meta.stored_bytes() + c.len() as u64,
    };
    if stored_after > max_bytes as u64 {
        return Err(Refusal::rejected(
            code::TOO_LARGE,
            format!("document {id} would take {stored_after} bytes; at most {max_bytes}"),
        ));
    }
    if is_new {
        loaded.meta.kind = header.kind;
        loaded.meta.scope = header.scope.clone();
        loaded.header = header;
        // Built from changes, the document takes two to three times the memory of its loaded
        // form: load the snapshot just made, so that the cache can keep the compact form (a
        // new record is often edited again soon).
        if keep_new
            && let DocBytes::Snapshot(snapshot) = &bytes
            && let Ok(Ok(doc)) = isolate(|| AutoCommit::load(snapshot))
        {
            loaded.doc = doc;
            loaded.built = false;
        }
    }
    let audience = policy::Audience::of(&record);
    // The photos the document references, and which of them this author added: recorded with
    // the write, so that the author may upload them and readers of the document read them.
    let blobs = refs::of_write(
        &record,
        view.before.as_deref(),
        view.after.as_ref().unwrap_or(&record),
        author.map(|a| a.device.as_str()),
        author.is_some() || is_new,
    );
    loaded.record = Some(Arc::new(record));
    let write = DocWrite {
        doc: id,
        base: if is_new { None } else { Some(loaded.meta.version) },
        kind: loaded.meta.kind,
        scope: loaded.meta.scope.clone(),
        created_by: audience.created_by,
        participants: audience.participants,
        bytes,
        changes: log,
        device: author.map(|a| a.device.clone()),
        blobs,
    };
    *slot = Some(loaded);
    Ok(Some(write))
}

/// Checks that `doc` is a valid record; returns it.
pub(crate) fn read_checked(id: DocId, doc: &AutoCommit) -> Result<Record, Refusal> {
    let invalid = |e: String| {
        Refusal::rejected(
            code::INVALID_DOCUMENT,
            format!("document {id} is not a valid record: {e}"),
        )
    };
    let checked = isolate(|| model::read_record(doc, id));
    match checked {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(CoreError::Malformed { reason, .. })) => Err(invalid(reason)),
        Ok(Err(e)) => Err(invalid(e.to_string())),
        Err(p) => Err(invalid(format!("reading it panicked: {p}"))),
    }
}

fn placeholder_header(id: DocId) -> model::Header {
    model::Header {
        id,
        kind: model::Kind::Report,
        schema: 0,
        scope: String::new(),
        created_by: String::new(),
        created_at: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use fieldsync_core::Store;
    use fieldsync_core::limits::DOC_BYTES;
    use fieldsync_core::model::{Location, NewRecord, NewReport, ReportCategory};

    pub(crate) fn report() -> NewRecord {
        NewRecord::Report(NewReport {
            scope: "jl/changchun/grid-07".into(),
            category: ReportCategory::IllegalConstruction,
            title: "roof-top building".into(),
            description: "about 20 m²".into(),
            location: Some(Location { lat: 43.88, lon: 125.32, accuracy: 8.0, address: "".into() }),
            photos: vec![],
        })
    }

    fn fixture() -> (tempfile::TempDir, Store, DocId) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("p.db")).unwrap();
        store.set_user("resident-1").unwrap();
        let id = store.create(&report()).unwrap();
        (dir, store, id)
    }

    fn changes_of(doc: &mut AutoCommit, after: &[ChangeHash]) -> Vec<u8> {
        doc.get_changes(after).iter().flat_map(|c| c.raw_bytes().to_vec()).collect()
    }

    #[test]
    fn creates_then_appends_and_skips_what_it_has() {
        let (_d, store, id) = fixture();
        let mut doc = store.load(id).unwrap();
        let all = changes_of(&mut doc, &[]);
        let mut slot = None;
        let w = ingest(id, &mut slot, &all, None, true, DOC_BYTES).unwrap().unwrap();
        assert_eq!(w.base, None);
        assert!(matches!(w.bytes, DocBytes::Snapshot(_)));
        assert_eq!(w.changes.len(), doc.get_changes(&[]).len());
        assert_eq!(w.scope, "jl/changchun/grid-07");
        assert!(slot.is_some());
        // Pushing the same changes again: nothing to write.
        assert_eq!(ingest(id, &mut slot, &all, None, true, DOC_BYTES).unwrap(), None);

        slot.as_mut().unwrap().meta = slot.as_ref().unwrap().meta.after(&w.bytes, 1);
        let heads = doc.get_heads();
        store.execute(id, &model::Command::AcceptReport { note: "on it".into() }).unwrap();
        let mut doc = store.load(id).unwrap();
        let more = changes_of(&mut doc, &heads);
        let dev = Author {
            device: "dev".into(),
            actor: store.identity().actor.to_bytes().to_vec(),
            // The store's user, as a dispatcher: accepting a report is theirs to do.
            profile: Profile {
                user: store.identity().user,
                role: policy::Role::Dispatcher,
                patrol: None,
                scopes: vec!["jl".into()],
            },
        };
        let w = ingest(id, &mut slot, &more, Some(&dev), true, DOC_BYTES).unwrap().unwrap();
        assert_eq!(w.base, Some(1));
        assert_eq!(w.changes.len(), 1);
        assert_eq!(w.device.as_deref(), Some("dev"));
        assert!(holds(&mut slot.as_mut().unwrap().doc, &doc.get_heads()));
    }

    #[test]
    fn refuses_missing_dependencies_without_touching_the_document() {
        let (_d, store, id) = fixture();
        let mut doc = store.load(id).unwrap();
        let created = doc.get_heads();
        let mut slot = None;
        let w = ingest(id, &mut slot, &changes_of(&mut doc, &[]), None, true, DOC_BYTES)
            .unwrap()
            .unwrap();
        slot.as_mut().unwrap().meta = slot.as_ref().unwrap().meta.after(&w.bytes, 1);
        store.execute(id, &model::Command::AcceptReport { note: String::new() }).unwrap();
        store
            .execute(
                id,
                &model::Command::DispatchReport {
                    assignee: "officer-1".into(),
                    deadline: 1,
                    note: String::new(),
                },
            )
            .unwrap();
        let mut latest = store.load(id).unwrap();
        // Only the last change, without the one it depends on.
        let after = latest.get_changes(&created);
        assert_eq!(after.len(), 2);
        let last = after[1].raw_bytes().to_vec();
        let r = ingest(id, &mut slot, &last, None, true, DOC_BYTES);
        assert!(matches!(r, Err(Refusal::Retry { code: code::MISSING_DEPENDENCIES, .. })), "{r:?}");
        let kept = slot.as_mut().expect("the document stays loaded");
        assert_eq!(kept.doc.get_heads(), created);
        // For a document the server lacks, changes after its creation miss their dependencies.
        let mut none = None;
        let r = ingest(id, &mut none, &last, None, true, DOC_BYTES);
        assert!(matches!(r, Err(Refusal::Retry { .. })));
        assert!(none.is_none());
    }

    #[test]
    fn refuses_garbage_non_records_and_header_changes() {
        let (_d, store, id) = fixture();
        let mut slot = None;
        let r = ingest(id, &mut slot, b"definitely not automerge", None, true, DOC_BYTES);
        assert!(matches!(r, Err(Refusal::Rejected { code: code::MALFORMED_CHANGES, .. })));

        // A valid Automerge document that is not a record.
        let mut plain = AutoCommit::new();
        plain.put(automerge::ROOT, "hello", "world").unwrap();
        let bytes = changes_of(&mut plain, &[]);
        let r = ingest(id, &mut slot, &bytes, None, true, DOC_BYTES);
        assert!(matches!(r, Err(Refusal::Rejected { code: code::INVALID_DOCUMENT, .. })), "{r:?}");
        assert!(slot.is_none());

        // A change to the header of a stored record.
        let mut doc = store.load(id).unwrap();
        let all = changes_of(&mut doc, &[]);
        let w = ingest(id, &mut slot, &all, None, true, DOC_BYTES).unwrap().unwrap();
        slot.as_mut().unwrap().meta = slot.as_ref().unwrap().meta.after(&w.bytes, 1);
        let heads = doc.get_heads();
        let mut fork = doc.fork();
        let header = match automerge::ReadDoc::get(&fork, automerge::ROOT, "header").unwrap() {
            Some((_, obj)) => obj,
            None => panic!("no header"),
        };
        fork.put(&header, "scope", "somewhere/else").unwrap();
        let bad = changes_of(&mut fork, &heads);
        let r = ingest(id, &mut slot, &bad, None, true, DOC_BYTES);
        assert!(matches!(r, Err(Refusal::Rejected { code: code::HEADER_CHANGED, .. })), "{r:?}");
        assert!(slot.is_none(), "a document changed in memory is dropped");
    }

    #[test]
    fn causal_order_puts_dependencies_first() {
        let mut doc = AutoCommit::new();
        for i in 0..5i64 {
            doc.put(automerge::ROOT, "n", i).unwrap();
            doc.commit();
        }
        let mut changes = doc.get_changes(&[]);
        changes.reverse();
        let ordered = causal_order(changes);
        let hashes: Vec<_> = ordered.iter().map(Change::hash).collect();
        for (i, c) in ordered.iter().enumerate() {
            for d in c.deps() {
                assert!(hashes[..i].contains(d));
            }
        }
    }
}
