//! Applying Automerge bytes from elsewhere, in two steps: `prepare` verifies and merges in memory
//! (nothing on disk changes, and on error the document is dropped from the cache), `write` puts
//! the result into an open transaction. A sync applies a whole page this way in one transaction.

use automerge::{ActorId, AutoCommit, ChangeHash};

use super::docs::DocRow;
use super::inbox::InboxReason;
use super::projection::Projection;
use super::writer::{Loaded, Source, Writer};
use super::{blob_refs, docs};
use crate::changes::{self, ParseError};
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::model::{self, Kind, PhotoRef, ReadOnce};

/// A merge done in memory, waiting to be written.
pub(crate) struct Prepared {
    pub(crate) id: DocId,
    pub(crate) kind: Kind,
    pub(crate) created: bool,
    pub(crate) changed: bool,
    /// Heads of the incoming changes alone (what the sender is known to hold).
    pub(crate) incoming_heads: Vec<ChangeHash>,
    pub(crate) loaded: Option<Loaded>,
    doc: Option<AutoCommit>,
    write: Write,
    proj: Option<Projection>,
    /// The photos the merged document references (registered with it).
    photos: Vec<PhotoRef>,
    /// What the merge brought into the inbox of this phone's user (set by `write`).
    pub(crate) inbox: Vec<InboxReason>,
}

enum Write {
    Nothing,
    Append(Vec<u8>),
    Insert(Vec<u8>),
}

fn malformed(id: DocId) -> impl Fn(ParseError) -> CoreError {
    move |e| CoreError::malformed(id, e.0)
}

/// One document of a page to prepare: its id, where it starts from, and the bytes to merge.
type Item<'a> = (DocId, Result<Source>, &'a [u8]);

/// Below this many documents a page is prepared on the calling thread alone.
const PARALLEL_FROM: usize = 16;
/// Most threads one page is prepared on.
const MAX_THREADS: usize = 4;

/// What the bytes of one merge may inflate to (compressed changes, the deflated columns of a
/// saved document). A saved document's columns take about three times their deflated size for
/// text and barely more for the rest, so this leaves legitimate data ample room and stops a
/// deflate bomb (a thousand times its size) before Automerge, which inflates without a bound,
/// asks for gigabytes.
pub(crate) const MERGE_INFLATED_BYTES: usize = 8 * limits::MERGE_BYTES;

fn check_size(id: DocId, bytes: &[u8]) -> Result<()> {
    if bytes.len() > limits::MERGE_BYTES {
        return Err(CoreError::invalid(
            "bytes",
            format!("{} bytes; at most {} per merge", bytes.len(), limits::MERGE_BYTES),
        ));
    }
    // Bytes that do not split into chunks are refused when parsed, before anything inflates.
    let Ok(chunks) = changes::split_chunks(bytes) else { return Ok(()) };
    let mut left = MERGE_INFLATED_BYTES;
    for (_, chunk) in chunks {
        match changes::inflated_size(chunk, left).map_err(malformed(id))? {
            n if n <= left => left -= n,
            _ => {
                return Err(CoreError::invalid(
                    "bytes",
                    format!("they inflate past {MERGE_INFLATED_BYTES} bytes"),
                ));
            }
        }
    }
    Ok(())
}

/// A whole document from elsewhere that this store holds every change of (see [`held`]).
pub(crate) struct Held {
    /// Where it is stored.
    pub(crate) row: DocRow,
    /// The store's heads of it.
    pub(crate) heads: Vec<ChangeHash>,
    /// The heads of the bytes that came (all among `heads`).
    pub(crate) incoming: Vec<ChangeHash>,
}

/// A whole document from elsewhere that this store holds every change of (one this phone
/// pushed, sent back by a catch-up).
/// Found from the chunks' layout, with nothing loaded: a merge would load both documents and
/// rebuild every incoming change to change nothing. `None` when that is not known this way
/// (bare changes, a document not stored, heads the store lacks, bytes whose layout does not
/// read): those go through [`prepare`], which verifies them.
pub(crate) fn held(w: &mut Writer, id: DocId, bytes: &[u8]) -> Result<Option<Held>> {
    if !changes::starts_with_document(bytes) || bytes.len() > limits::MERGE_BYTES {
        return Ok(None);
    }
    // The store's copy first: a catch-up to a new phone brings documents it does not hold, and
    // the incoming heads would be read (the chunk hashed whole) for nothing.
    let Some((row, local)) = w.stored_heads(id)? else { return Ok(None) };
    let Ok(incoming) = changes::heads_of_saved(bytes, limits::MERGE_BYTES) else {
        return Ok(None);
    };
    let held = incoming.iter().all(|h| local.contains(h));
    Ok(held.then_some(Held { row, heads: local, incoming }))
}

/// Verifies `bytes` and merges them into the document in memory.
pub(crate) fn prepare(w: &mut Writer, id: DocId, bytes: &[u8]) -> Result<Prepared> {
    check_size(id, bytes)?;
    let actor = w.identity.actor.clone();
    let source = w.take_source(id)?;
    prepare_from(id, source, bytes, &actor)
}

/// The CPU half of [`prepare`]: loading, verifying and merging, with no access to the database.
fn prepare_from(id: DocId, source: Source, bytes: &[u8], actor: &ActorId) -> Result<Prepared> {
    match source.load(id, actor)? {
        Some(loaded) => prepare_existing(id, loaded, bytes),
        None => prepare_new(id, bytes, actor.clone()),
    }
}

/// [`prepare`] for a page of documents: what is on disk is read on the writer's thread, and the
/// loading and merging (the CPU work) is spread over up to [`MAX_THREADS`] threads. Returns one
/// result per document, in order; only a database error fails the whole page.
pub(crate) fn prepare_many(
    w: &mut Writer,
    items: &[(DocId, &[u8])],
) -> Result<Vec<Result<Prepared>>> {
    let actor = w.identity.actor.clone();
    let mut work: Vec<Item<'_>> = Vec::with_capacity(items.len());
    for &(id, bytes) in items {
        // An oversized merge is refused before anything is read for it.
        let source = match check_size(id, bytes) {
            Ok(()) => Ok(w.take_source(id)?),
            Err(e) => Err(e),
        };
        work.push((id, source, bytes));
    }
    let many = items.len() > 1;
    let run = |(id, source, bytes): Item<'_>| {
        let p = source.and_then(|source| prepare_from(id, source, bytes, &actor))?;
        Ok(if many { p.forget_new() } else { p })
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(work.len() / PARALLEL_FROM)
        .max(1);
    if threads == 1 {
        return Ok(work.into_iter().map(run).collect());
    }
    let per = work.len().div_ceil(threads);
    let mut chunks: Vec<Vec<Item<'_>>> = Vec::with_capacity(threads);
    let mut it = work.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(it.by_ref().take(per).collect());
    }
    let run = &run;
    Ok(std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let ids: Vec<DocId> = chunk.iter().map(|(id, _, _)| *id).collect();
                (ids, scope.spawn(move || chunk.into_iter().map(run).collect::<Vec<_>>()))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(ids, h)| match h.join() {
                Ok(results) => results,
                // A panic outside the guarded Automerge calls fails that chunk's documents only.
                Err(_) => ids
                    .into_iter()
                    .map(|id| Err(CoreError::malformed(id, "merging panicked")))
                    .collect(),
            })
            .collect()
    }))
}

fn prepare_existing(id: DocId, mut loaded: Loaded, bytes: &[u8]) -> Result<Prepared> {
    let kind = loaded.row.kind;
    let incoming = changes::parse_changes(bytes, limits::MERGE_BYTES).map_err(malformed(id))?;
    let incoming_heads = changes::heads_of(&incoming);
    let before = loaded.doc.get_heads();
    let header_before = model::doc::read_header(&ReadOnce::new(&loaded.doc), id)?;
    changes::guarded(|| loaded.doc.apply_changes(incoming).map_err(|e| ParseError(e.to_string())))
        .map_err(malformed(id))?;
    let missing = loaded.doc.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(CoreError::MissingDependencies { id, missing: missing.len() });
    }
    let unchanged = loaded.doc.get_heads() == before;
    let (write, proj, photos) = if unchanged {
        (Write::Nothing, None, Vec::new())
    } else {
        let chunk = loaded.doc.save_after(&before);
        // One view for every read below: each map and list is read once.
        let view = ReadOnce::new(&loaded.doc);
        if *model::read_record_in(&view, id)?.header() != header_before {
            return Err(CoreError::malformed(id, "the incoming changes alter its header"));
        }
        if loaded.row.stored_bytes() + chunk.len() as i64 > limits::DOC_BYTES as i64 {
            return Err(CoreError::invalid(
                "document",
                format!("{id} would exceed {} bytes", limits::DOC_BYTES),
            ));
        }
        let photos = blob_refs::scan(&view, kind, id)?;
        (Write::Append(chunk), Some(Projection::read(&view, id)?), photos)
    };
    Ok(Prepared {
        id,
        kind,
        created: false,
        changed: !unchanged,
        incoming_heads,
        loaded: Some(loaded),
        doc: None,
        write,
        proj,
        photos,
        inbox: Vec::new(),
    })
}

fn prepare_new(id: DocId, bytes: &[u8], actor: ActorId) -> Result<Prepared> {
    let whole = changes::starts_with_document(bytes);
    let mut doc = if whole {
        let doc = changes::guarded(|| {
            AutoCommit::load_with_options(
                bytes,
                automerge::LoadOptions::new()
                    .on_partial_load(automerge::OnPartialLoad::Error)
                    .verification_mode(automerge::VerificationMode::Check),
            )
            .map_err(|e| ParseError(e.to_string()))
        })
        .map_err(malformed(id))?;
        let mut doc = doc.with_actor(actor);
        changes::check_times(doc.document()).map_err(malformed(id))?;
        doc
    } else {
        // Bare changes: applied to an empty document, so missing dependencies are counted.
        let incoming = changes::parse_changes(bytes, limits::MERGE_BYTES).map_err(malformed(id))?;
        let mut doc = AutoCommit::new().with_actor(actor);
        changes::guarded(|| doc.apply_changes(incoming).map_err(|e| ParseError(e.to_string())))
            .map_err(malformed(id))?;
        doc
    };
    let missing = doc.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(CoreError::MissingDependencies { id, missing: missing.len() });
    }
    // The projection reads the header and every field the lists and search use, so a document
    // that lacks them is refused here; the rest is read (and checked) when the record is opened.
    let (proj, photos) = {
        let view = ReadOnce::new(&doc);
        let proj = Projection::read(&view, id)?;
        let photos = blob_refs::scan(&view, proj.kind(), id)?;
        (proj, photos)
    };
    let kind = proj.kind();
    // A saved document is stored as given (it loaded strictly as it is); bare changes are saved
    // as a compact snapshot.
    let snapshot = if whole { bytes.to_vec() } else { doc.save() };
    if snapshot.len() > limits::DOC_BYTES {
        return Err(CoreError::invalid(
            "document",
            format!("{id} exceeds {} bytes", limits::DOC_BYTES),
        ));
    }
    Ok(Prepared {
        id,
        kind,
        created: true,
        changed: true,
        incoming_heads: doc.get_heads(),
        loaded: None,
        doc: Some(doc),
        write: Write::Insert(snapshot),
        proj: Some(proj),
        photos,
        inbox: Vec::new(),
    })
}

impl Prepared {
    /// Writes the merge into the open transaction `tx`; returns the document's row id. `me` is
    /// this phone's user, whose new inbox items the merge brings are kept in `inbox`.
    pub(crate) fn write(&mut self, tx: &rusqlite::Connection, now: i64, me: &str) -> Result<i64> {
        let stored = self.loaded.as_ref().map(|l| l.row.rowid);
        if let Some(p) = &self.proj {
            self.inbox = p.inbox_news(tx, stored, me)?;
        }
        let rowid = match std::mem::replace(&mut self.write, Write::Nothing) {
            Write::Nothing | Write::Append(_) if self.loaded.is_none() => {
                return Err(CoreError::malformed(self.id, "merge lost its document"));
            }
            Write::Nothing => self.loaded.as_ref().map_or(0, |l| l.row.rowid),
            Write::Append(chunk) => match self.loaded.as_mut() {
                Some(l) => {
                    let mut row = l.row;
                    docs::append(tx, &mut row, &mut l.doc, &chunk, now)?;
                    l.row = row;
                    row.rowid
                }
                None => return Err(CoreError::malformed(self.id, "merge lost its document")),
            },
            Write::Insert(snapshot) => {
                let row = docs::insert(tx, self.id, self.kind, &snapshot, now)?;
                if let Some(doc) = self.doc.take() {
                    self.loaded = Some(Loaded::new(doc, row));
                }
                row.rowid
            }
        };
        if let Some(p) = &self.proj {
            p.write(tx, rowid)?;
        }
        blob_refs::register(tx, rowid, &self.photos)?;
        Ok(rowid)
    }

    /// The merged document's heads.
    pub(crate) fn heads(&mut self) -> Vec<ChangeHash> {
        match (self.loaded.as_mut(), self.doc.as_mut()) {
            (Some(l), _) => l.doc.get_heads(),
            (None, Some(d)) => d.get_heads(),
            // A new document dropped after preparing: its heads are those of what came in.
            (None, None) => self.incoming_heads.clone(),
        }
    }

    /// Drops a new document's in-memory copy (a page of many new documents is not worth
    /// caching, and dropping it here can happen on a worker thread).
    fn forget_new(mut self) -> Self {
        if self.created {
            self.doc = None;
        }
        self
    }

    /// Hands the loaded document back to the writer's cache after the transaction committed.
    pub(crate) fn finish(self, w: &mut Writer) {
        if let Some(l) = self.loaded {
            w.put_back(self.id, l);
        }
    }
}
