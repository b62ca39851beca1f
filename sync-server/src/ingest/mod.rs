//! Verified ingestion of one document's incoming changes, as a pipeline of named steps:
//!
//! 1. **decode** the bytes into verified changes, bounded in what they inflate to
//!    ([`decode::parse`]);
//! 2. **admit** the changes the server lacks: the sending device's own, with their
//!    dependencies on the server ([`decode::admit`]);
//! 3. a document the author may not read is answered for as if it did not exist
//!    ([`as_if_missing`]);
//! 4. **the author's view**: the record as they saw it before and after ([`view::author_view`]);
//! 5. **apply** the changes to the document in memory ([`apply`]);
//! 6. **judge** the result: layout and limits ([`judge::valid`]), then the policy as the author
//!    saw the record and with the rights they hold now ([`judge::allowed`]); the header never
//!    changes; a new record keeps what the rules file sets for it ([`judge::by_the_rules`]);
//! 7. **record**: the [`DocWrite`] that stores and logs the changes ([`record`]).
//!
//! Nothing here touches storage; all of it runs on a blocking thread, and every Automerge call
//! is isolated so that a panic on hostile bytes fails this document only. When a step fails
//! after the in-memory document was changed, the slot is emptied: the caller does not put the
//! document back in the cache, and the next request loads it from storage.

mod author;
mod decode;
mod judge;
mod loaded;
mod read;
mod refusal;
mod relay;
mod view;

use std::sync::Arc;

use automerge::{AutoCommit, Change};
use fieldsync_core::model::Record;
use fieldsync_core::policy::{self, Audience};
use fieldsync_core::{DocId, model};

pub(crate) use author::Author;
pub(crate) use decode::{REQUEST_INFLATED_BYTES, parse, reserve_inflation};
pub(crate) use loaded::Loaded;
pub(crate) use read::{holds, load, read_checked};
pub(crate) use refusal::{Refusal, code};
pub(crate) use relay::{RelayedAuthor, RelayedAuthors, Signed, sigs_of};
use view::AuthorView;

use crate::index;
use crate::isolate::isolate;
use crate::photos::refs;
use crate::rules::Rules;
use crate::storage::{DocBytes, DocMeta, DocWrite, NewChange};

/// Ingests `bytes` (change chunks, or a saved document) into the document in `slot` (`None`:
/// not stored yet). On success the slot holds the document with the changes applied and the
/// answer is the write to commit (`None` when every change was known already). On a refusal
/// after the document was changed, the slot is emptied; the caller must then not put it back.
///
/// `keep_new`: a document new to the server is made cacheable (see [`record`]); off for bulk
/// uploads, which would only push the documents in use out of the cache. `max_bytes`: the
/// largest saved size the document may reach (`too_large` past it). `rules`: what the
/// record's index row is computed under.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ingest(
    id: DocId,
    slot: &mut Option<Loaded>,
    bytes: &[u8],
    author: Option<&Author>,
    signed: Signed<'_>,
    keep_new: bool,
    max_bytes: usize,
    rules: &Rules,
) -> Result<Option<DocWrite>, Refusal> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let incoming = parse(id, bytes, max_bytes)?;
    let Some(fresh) = decode::admit(id, slot.as_mut(), incoming, author, signed)? else {
        return Ok(None);
    };
    if let (Some(a), Some(l)) = (author, slot.as_mut())
        && fresh.deps.is_empty()
        && !policy::can_read(&a.profile, &Audience::of(view::current(id, l)?.as_ref()))
    {
        return as_if_missing(id, bytes, a, signed, max_bytes, rules);
    }
    let relayed = fresh.who.relays();
    // Changes of several authors are judged change by change (see `relay`): that needs the
    // stored document as it was, and each author's own view, not the pusher's.
    let (view, base, judged) = match author {
        Some(_) if relayed => {
            let current = match slot.as_mut() {
                Some(l) => Some(view::current(id, l)?),
                None => None,
            };
            let view = AuthorView { before: current.clone(), current, after: None };
            (view, slot.as_ref().map(|l| l.doc.clone()), fresh.changes.clone())
        }
        Some(_) => {
            let view = view::author_view(id, slot.as_mut(), &fresh.deps, &fresh.changes)?;
            (view, None, Vec::new())
        }
        None => (AuthorView::default(), None, Vec::new()),
    };
    let old_heads = slot.as_mut().map(|l| l.doc.get_heads());
    let who = fresh.who;
    let (mut loaded, mut log) = apply(id, slot, fresh.changes)?;
    for c in &mut log {
        (c.device, c.sig) = who.of(&automerge::ChangeHash(c.hash));
    }
    let record = read_checked(id, &loaded.doc)?;
    judge::valid(id, &mut loaded.doc, &record, view.current.as_deref(), old_heads.as_deref())?;
    match author {
        Some(a) if relayed => {
            relay::judge_each(id, base.as_ref(), &mut loaded.doc, &judged, a, &who, &record)?;
        }
        Some(a) => judge::allowed(id, a, &view, &record)?,
        None => {}
    }
    let is_new = old_heads.is_none();
    if !is_new && *record.header() != loaded.header {
        return Err(Refusal::rejected(
            code::HEADER_CHANGED,
            format!("the changes for {id} alter its header, which never changes"),
        ));
    }
    if is_new && author.is_some() {
        judge::by_the_rules(id, &record, rules)?;
    }
    let limits = WriteLimits { keep_new, max_bytes, rules };
    let write = record_write(id, &mut loaded, log, record, &view, author, is_new, &limits)?;
    *slot = Some(loaded);
    Ok(Some(write))
}

/// Step 3: a push to a document its author may not read, with changes built on none of its
/// history (a creation under a taken id), is answered exactly as the same push under an id no
/// document has: judged as that creation, its refusal is the same word for word. A creation
/// that would be accepted there cannot take a taken id: `forbidden (create.id)`.
fn as_if_missing(
    id: DocId,
    bytes: &[u8],
    author: &Author,
    signed: Signed<'_>,
    max_bytes: usize,
    rules: &Rules,
) -> Result<Option<DocWrite>, Refusal> {
    let mut nothing = None;
    ingest(id, &mut nothing, bytes, Some(author), signed, false, max_bytes, rules)?;
    Err(Refusal::rejected(
        code::FORBIDDEN,
        format!(
            "{} may not make these changes to {id} (create.id): a new record needs an id of its own",
            author.profile.user
        ),
    ))
}

/// Step 5: applies `fresh` (causally ordered) to the document taken out of `slot` (or a new
/// one); the slot stays empty whatever follows, until the write is ready. Returns the document
/// and the changes as logged.
fn apply(
    id: DocId,
    slot: &mut Option<Loaded>,
    fresh: Vec<Change>,
) -> Result<(Loaded, Vec<NewChange>), Refusal> {
    let log: Vec<NewChange> = fresh
        .iter()
        .map(|c| NewChange {
            hash: c.hash().0,
            actor: c.actor_id().to_bytes().to_vec(),
            bytes: c.raw_bytes().to_vec(),
            device: None,
            sig: None,
        })
        .collect();
    let mut loaded = slot.take().unwrap_or_else(|| Loaded {
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
    });
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
    Ok((loaded, log))
}

/// What bounds and shapes a write besides the record: see [`ingest`].
struct WriteLimits<'a> {
    keep_new: bool,
    max_bytes: usize,
    rules: &'a Rules,
}

/// Step 7: the write that stores and logs `log` for the document `loaded` now holds, with the
/// record's index row (written in the same transaction).
#[allow(clippy::too_many_arguments)]
fn record_write(
    id: DocId,
    loaded: &mut Loaded,
    log: Vec<NewChange>,
    record: Record,
    view: &AuthorView,
    author: Option<&Author>,
    is_new: bool,
    limits: &WriteLimits<'_>,
) -> Result<DocWrite, Refusal> {
    let WriteLimits { keep_new, max_bytes, rules } = *limits;
    let chunk: Vec<u8> = log.iter().flat_map(|c| c.bytes.iter().copied()).collect();
    let compact =
        is_new || loaded.meta.chunk_bytes + chunk.len() as u64 > loaded.meta.snapshot_bytes;
    let bytes = if compact {
        let snapshot = isolate(|| snapshot_of(&mut loaded.doc)).map_err(|p| {
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
        let header = record.header().clone();
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
    let audience = Audience::of(&record);
    // The photos the document references, and which of them this author added: recorded with
    // the write, so that the author may upload them and readers of the document read them.
    let blobs = refs::of_write(
        &record,
        view.before.as_deref(),
        view.after.as_ref().unwrap_or(&record),
        author.map(|a| a.device.as_str()),
        author.is_some() || is_new,
    );
    let index = Some(index::row_of(&record, rules));
    let points = index.as_ref().and_then(|row| crate::points::target_of(row, rules));
    loaded.record = Some(Arc::new(record));
    Ok(DocWrite {
        doc: id,
        base: if is_new { None } else { Some(loaded.meta.version) },
        kind: loaded.meta.kind,
        scope: loaded.meta.scope.clone(),
        created_by: audience.created_by,
        participants: audience.participants,
        addressed: audience.addressed,
        until: audience.until,
        bytes,
        changes: log,
        device: author.map(|a| a.device.clone()),
        blobs,
        index,
        points,
    })
}

/// Below this size a document's snapshot is saved with its columns as they are, not deflated
/// one by one. Every sync body is gzipped as a whole, and across a page of documents gzip finds
/// far more to take out of plain columns than of deflated ones (383 against 622 bytes a report
/// over the wire, measured on the bench's reports); a plain snapshot also saves in a fifth of
/// the time (7 against 31 µs a report) and loads a tenth faster (72 against 82 µs). It takes
/// about a tenth more room on disk (1,075 against 969 bytes). A larger document, where deflating
/// its text pays on disk and against the size limit, is deflated as before.
const PLAIN_SNAPSHOT_BYTES: usize = 16 * 1024;

/// The snapshot stored for `doc`: plain when small (see [`PLAIN_SNAPSHOT_BYTES`]), deflated
/// otherwise.
fn snapshot_of(doc: &mut AutoCommit) -> Vec<u8> {
    let plain = doc.save_nocompress();
    if plain.len() <= PLAIN_SNAPSHOT_BYTES { plain } else { doc.save() }
}

fn placeholder_header(id: DocId) -> model::Header {
    model::Header {
        id,
        kind: model::Kind::Report,
        schema: 0,
        scope: String::new(),
        created_by: String::new(),
        created_at: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ChangeHash;
    use automerge::transaction::Transactable;
    use fieldsync_core::Store;
    use fieldsync_core::limits::DOC_BYTES;
    use fieldsync_core::model::{Location, NewRecord, NewReport, ReportCategory};
    use fieldsync_core::policy::Profile;

    pub(crate) fn report() -> NewRecord {
        NewRecord::Report {
            report: NewReport {
                scope: "jl/changchun/grid-07".into(),
                category: ReportCategory::IllegalConstruction,
                title: "roof-top building".into(),
                description: "about 20 m²".into(),
                location: Some(Location {
                    lat: 43.88,
                    lon: 125.32,
                    accuracy: 8.0,
                    address: "".into(),
                }),
                photos: vec![],
            },
        }
    }

    fn fixture() -> (tempfile::TempDir, Store, DocId) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("p.db")).unwrap();
        store.set_user("resident-1").unwrap();
        let id = store.create(&report()).unwrap();
        (dir, store, id)
    }

    /// Ingests with the defaults of a push: no signatures, a new document kept, the
    /// protocol's document limit and the default rules.
    fn ingest_plain(
        id: DocId,
        slot: &mut Option<Loaded>,
        bytes: &[u8],
        author: Option<&Author>,
    ) -> Result<Option<DocWrite>, Refusal> {
        ingest(id, slot, bytes, author, Signed::default(), true, DOC_BYTES, &Rules::default())
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
        let w = ingest_plain(id, &mut slot, &all, None).unwrap().unwrap();
        assert_eq!(w.base, None);
        assert!(matches!(w.bytes, DocBytes::Snapshot(_)));
        assert_eq!(w.changes.len(), doc.get_changes(&[]).len());
        assert_eq!(w.scope, "jl/changchun/grid-07");
        assert!(slot.is_some());
        // Pushing the same changes again: nothing to write.
        assert_eq!(ingest_plain(id, &mut slot, &all, None).unwrap(), None);

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
            rights_changed: false,
            key: None,
        };
        let w = ingest_plain(id, &mut slot, &more, Some(&dev)).unwrap().unwrap();
        assert_eq!(w.base, Some(1));
        assert_eq!(w.changes.len(), 1);
        assert_eq!(w.device.as_deref(), Some("dev"));
        assert!(holds(&mut slot.as_mut().unwrap().doc, &doc.get_heads()));
    }

    /// A new report's snapshot is stored with plain columns, which the sync body's gzip takes
    /// far more out of; a report whose plain snapshot would pass `PLAIN_SNAPSHOT_BYTES` is
    /// stored deflated. Both hold every change pushed.
    #[test]
    fn a_small_record_is_stored_plain_and_a_large_one_deflated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("p.db")).unwrap();
        let with = |description: String| {
            let NewRecord::Report { mut report } = report() else { unreachable!() };
            report.description = description;
            store.create(&NewRecord::Report { report }).unwrap()
        };
        // Long enough that Automerge would deflate its text column (past 256 bytes).
        let small = with("屋顶违建，约二十平方米。".repeat(40));
        let large = with("屋顶违建，约二十平方米。".repeat(800));
        for (id, plain) in [(small, true), (large, false)] {
            let mut doc = store.load(id).unwrap();
            let w = ingest_plain(id, &mut None, &changes_of(&mut doc, &[]), None).unwrap().unwrap();
            let DocBytes::Snapshot(stored) = w.bytes else { panic!("{id}: not a snapshot") };
            let mut back = AutoCommit::load(&stored).unwrap();
            assert_eq!(back.get_heads(), doc.get_heads());
            let (deflated, as_plain) = (back.save(), back.save_nocompress());
            assert!(deflated.len() < as_plain.len(), "{id}: the text deflates");
            if plain {
                assert_eq!(stored, as_plain, "the small one is plain");
                assert!(stored.len() <= PLAIN_SNAPSHOT_BYTES);
            } else {
                assert!(as_plain.len() > PLAIN_SNAPSHOT_BYTES, "{} bytes plain", as_plain.len());
                assert_eq!(stored, deflated, "the large one is deflated");
            }
        }
    }

    #[test]
    fn refuses_missing_dependencies_without_touching_the_document() {
        let (_d, store, id) = fixture();
        let mut doc = store.load(id).unwrap();
        let created = doc.get_heads();
        let mut slot = None;
        let w = ingest_plain(id, &mut slot, &changes_of(&mut doc, &[]), None).unwrap().unwrap();
        slot.as_mut().unwrap().meta = slot.as_ref().unwrap().meta.after(&w.bytes, 1);
        store.execute(id, &model::Command::AcceptReport { note: String::new() }).unwrap();
        store
            .execute(
                id,
                &model::Command::DispatchReport {
                    assignee: "officer-1".into(),
                    deadline: fieldsync_core::time::Timestamp::from_millis(1_900_000_000_000),
                    note: String::new(),
                },
            )
            .unwrap();
        let mut latest = store.load(id).unwrap();
        // Only the last change, without the one it depends on.
        let after = latest.get_changes(&created);
        assert_eq!(after.len(), 2);
        let last = after[1].raw_bytes().to_vec();
        let r = ingest_plain(id, &mut slot, &last, None);
        assert!(matches!(r, Err(Refusal::Retry { code: code::MISSING_DEPENDENCIES, .. })), "{r:?}");
        let kept = slot.as_mut().expect("the document stays loaded");
        assert_eq!(kept.doc.get_heads(), created);
        // For a document the server lacks, changes after its creation miss their dependencies.
        let mut none = None;
        let r = ingest_plain(id, &mut none, &last, None);
        assert!(matches!(r, Err(Refusal::Retry { .. })));
        assert!(none.is_none());
    }

    #[test]
    fn refuses_garbage_non_records_and_header_changes() {
        let (_d, store, id) = fixture();
        let mut slot = None;
        let r = ingest_plain(id, &mut slot, b"definitely not automerge", None);
        assert!(matches!(r, Err(Refusal::Rejected { code: code::MALFORMED_CHANGES, .. })));

        // A valid Automerge document that is not a record.
        let mut plain = AutoCommit::new();
        plain.put(automerge::ROOT, "hello", "world").unwrap();
        let bytes = changes_of(&mut plain, &[]);
        let r = ingest_plain(id, &mut slot, &bytes, None);
        assert!(matches!(r, Err(Refusal::Rejected { code: code::INVALID_DOCUMENT, .. })), "{r:?}");
        assert!(slot.is_none());

        // A change to the header of a stored record.
        let mut doc = store.load(id).unwrap();
        let all = changes_of(&mut doc, &[]);
        let w = ingest_plain(id, &mut slot, &all, None).unwrap().unwrap();
        slot.as_mut().unwrap().meta = slot.as_ref().unwrap().meta.after(&w.bytes, 1);
        let heads = doc.get_heads();
        let mut fork = doc.fork();
        let header = match automerge::ReadDoc::get(&fork, automerge::ROOT, "header").unwrap() {
            Some((_, obj)) => obj,
            None => panic!("no header"),
        };
        fork.put(&header, "scope", "somewhere/else").unwrap();
        let bad = changes_of(&mut fork, &heads);
        let r = ingest_plain(id, &mut slot, &bad, None);
        assert!(matches!(r, Err(Refusal::Rejected { code: code::HEADER_CHANGED, .. })), "{r:?}");
        assert!(slot.is_none(), "a document changed in memory is dropped");
    }
}
