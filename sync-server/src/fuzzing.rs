//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, off by default; it is not
//! part of the server's API). They run the same code a request runs on bytes from the network,
//! without storage or HTTP: the envelope and checks of each endpoint ([`request`]), the
//! ingestion of one document's pushed changes ([`ingest`]) and of a reconcile message
//! ([`reconcile`]). Each also checks what the server would do with an accepted result (that the
//! bytes it would store load back as the same document, that the changes it would log parse),
//! and reports a broken promise as a [`Violation`].

use std::sync::Arc;

use automerge::sync;
use automerge::{AutoCommit, ChangeHash};
use fieldsync_core::limits::DOC_BYTES;
use fieldsync_core::policy::Profile;
use fieldsync_core::protocol::{
    EnrollRequest, ReconcileRequest, SyncMessage, SyncRequest, VisibleRequest, limits,
};
use fieldsync_core::{DocId, changes, model};

use crate::documents::batch::Slot;
use crate::feed::cursor::Cursor;
use crate::http::error::ServerError;
use crate::ingest::Loaded;
use crate::ingest::{self, Refusal};
use crate::rules::Rules;
use crate::storage::{DocBytes, DocMeta, DocWrite};

/// A promise the server makes about accepted input, found broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

fn violation(msg: impl Into<String>) -> Violation {
    Violation(msg.into())
}

/// An endpoint whose request body comes from the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/sync`.
    Sync,
    /// `POST /v1/reconcile`.
    Reconcile,
    /// `POST /v1/visible`.
    Visible,
    /// `POST /v1/enroll`.
    Enroll,
}

impl Endpoint {
    /// Every endpoint, in a fixed order.
    pub const ALL: [Endpoint; 4] =
        [Endpoint::Sync, Endpoint::Reconcile, Endpoint::Visible, Endpoint::Enroll];
}

/// Decodes `body` as `endpoint` does and runs the checks it makes before storage is touched:
/// the envelope, the version, the fields and limits, the cursor, the enrollment code, and for
/// each document the start of ingestion (the change chunks of a push, the sync message of a
/// reconcile). A refused request is the error the client gets; a document whose bytes fail is
/// refused on its own, as the server does, and counted in the answer: `(documents, refused)`.
pub fn request(endpoint: Endpoint, body: &[u8]) -> Result<(usize, usize), ServerError> {
    match endpoint {
        Endpoint::Sync => {
            let req: SyncRequest = crate::http::envelope::decode_now(body)?;
            crate::http::sync::check(&req)?;
            let (cursor, _) = Cursor::parse_tagged(&req.cursor)?;
            // What the server writes back must parse as the same position (an internal error
            // otherwise, which the fuzz target reports).
            let again = Cursor::parse(&cursor.to_string()).map_err(|e| {
                ServerError::Internal(format!("cursor {cursor} does not read back: {e}"))
            })?;
            if again != cursor {
                return Err(ServerError::Internal(format!(
                    "cursor {cursor} reads back as {again}"
                )));
            }
            let refused =
                req.push.iter().filter(|p| ingest::parse(p.doc, &p.changes, DOC_BYTES).is_err());
            Ok((req.push.len(), refused.count()))
        }
        Endpoint::Reconcile => {
            let req: ReconcileRequest = crate::http::envelope::decode_now(body)?;
            crate::http::reconcile::check(&req)?;
            let refused = req.docs.iter().filter(|m| split_message(m).is_err());
            Ok((req.docs.len(), refused.count()))
        }
        Endpoint::Visible => {
            let req: VisibleRequest = crate::http::envelope::decode_now(body)?;
            crate::http::envelope::check_version(req.v)?;
            if req.ids.len() > limits::WANT_DOCS {
                return Err(ServerError::TooLarge(format!("{} documents", req.ids.len())));
            }
            Ok((req.ids.len(), 0))
        }
        Endpoint::Enroll => {
            let req: EnrollRequest = crate::http::envelope::decode_now(body)?;
            crate::http::envelope::check_version(req.v)?;
            crate::accounts::secret::normalize_code(&req.code).map_err(|reason| {
                ServerError::Unauthorized { code: "malformed_code", message: reason }
            })?;
            Ok((0, 0))
        }
    }
}

/// A reconcile message's changes, as the server takes them out of it.
fn split_message(m: &SyncMessage) -> Result<(sync::Message, Vec<u8>), Refusal> {
    let (msg, changes) = crate::documents::reconcile::split(m)?;
    if !changes.is_empty() {
        ingest::parse(m.doc, &changes, DOC_BYTES)?;
    }
    Ok((msg, changes))
}

/// Who sends the changes: the enrolled device, its actor, and its user's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// Device id.
    pub device: String,
    /// The Automerge actor the device's changes must carry.
    pub actor: Vec<u8>,
    /// Its user's profile, which the access policy checks the changes against.
    pub profile: Profile,
}

impl Author {
    fn to_ingest(&self) -> ingest::Author {
        ingest::Author {
            device: self.device.clone(),
            actor: self.actor.clone(),
            profile: self.profile.clone(),
            rights_changed: false,
            key: None,
        }
    }
}

/// A document as the server holds it: its stored bytes, loaded once; every run starts from a
/// copy of it, as a request starts from the cached document.
pub struct Stored {
    id: DocId,
    bytes: Vec<u8>,
    loaded: Loaded,
}

impl Stored {
    /// Loads stored bytes (a saved record) as the server loads them. `with_record`: also keep
    /// the typed record, as the cache does after a push hydrated it.
    pub fn new(id: DocId, bytes: Vec<u8>, with_record: bool) -> Result<Stored, Violation> {
        let doc = AutoCommit::load(&bytes).map_err(|e| violation(format!("seed: {e}")))?;
        let header = model::read_header(&doc, id).map_err(|e| violation(format!("seed: {e}")))?;
        let meta = DocMeta {
            kind: header.kind,
            scope: header.scope,
            snapshot_bytes: bytes.len() as u64,
            chunk_bytes: 0,
            version: 1,
        };
        let mut loaded =
            ingest::load(id, &bytes, meta).map_err(|r| violation(format!("seed: {r:?}")))?;
        if with_record {
            let record = ingest::read_checked(id, &loaded.doc)
                .map_err(|r| violation(format!("seed: {r:?}")))?;
            loaded.record = Some(Arc::new(record));
        }
        Ok(Stored { id, bytes, loaded })
    }

    /// The document's id.
    pub fn id(&self) -> DocId {
        self.id
    }

    fn copy(&self) -> Loaded {
        Loaded {
            doc: self.loaded.doc.clone(),
            header: self.loaded.header.clone(),
            meta: self.loaded.meta.clone(),
            built: self.loaded.built,
            record: self.loaded.record.clone(),
        }
    }
}

/// What ingesting bytes came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every change was held already: nothing to write.
    Unchanged,
    /// Accepted: this many new changes, stored as a new snapshot or an appended chunk.
    Accepted {
        /// New changes logged.
        changes: usize,
        /// Stored as a whole new snapshot (else appended).
        snapshot: bool,
        /// What the server stores for the document afterwards (snapshot, then chunks): what a
        /// phone that asks for it whole receives.
        stored: Vec<u8>,
    },
    /// Refused with this per-document code; `retry` when the client keeps the changes.
    Refused {
        /// The protocol code.
        code: &'static str,
        /// Whether the client tries again later.
        retry: bool,
    },
}

fn refused(r: &Refusal) -> Outcome {
    match r {
        Refusal::Rejected { code, .. } => Outcome::Refused { code, retry: false },
        Refusal::Retry { code, .. } => Outcome::Refused { code, retry: true },
        Refusal::Stale { .. } => {
            Outcome::Refused { code: ingest::code::STALE_RIGHTS, retry: false }
        }
    }
}

/// Ingests `bytes` for document `id`, which the server holds as `stored` (or not at all), sent
/// by `author` (or by no device), as a push does with the default per-document limit; then
/// checks the write it would store.
pub fn ingest(
    id: DocId,
    stored: Option<&Stored>,
    bytes: &[u8],
    author: Option<&Author>,
) -> Result<Outcome, Violation> {
    let author = author.map(Author::to_ingest);
    let mut slot = stored.map(Stored::copy);
    match ingest::ingest(
        id,
        &mut slot,
        bytes,
        author.as_ref(),
        Default::default(),
        true,
        DOC_BYTES,
        &Rules::default(),
    ) {
        Ok(None) => Ok(Outcome::Unchanged),
        Ok(Some(write)) => check_write(id, stored, &mut slot, &write, author.as_ref()),
        Err(r) => Ok(refused(&r)),
    }
}

/// The promises about an accepted write: the bytes stored after it load as the document in
/// memory, a valid record with the header it had; each logged change parses, is the author's,
/// and is in the document.
fn check_write(
    id: DocId,
    stored: Option<&Stored>,
    slot: &mut Option<Loaded>,
    write: &DocWrite,
    author: Option<&ingest::Author>,
) -> Result<Outcome, Violation> {
    let Some(loaded) = slot.as_mut() else {
        return Err(violation("accepted, but the document is gone from memory"));
    };
    if write.changes.is_empty() {
        return Err(violation("a write with no changes"));
    }
    let after: Vec<u8> = match (&write.bytes, stored) {
        (DocBytes::Snapshot(s), _) => s.clone(),
        (DocBytes::Chunk(c), Some(s)) => s.bytes.iter().chain(c).copied().collect(),
        (DocBytes::Chunk(_), None) => return Err(violation("a new document stored as a chunk")),
    };
    let meta = DocMeta { version: 2, ..loaded.meta.clone() };
    let mut reloaded = ingest::load(id, &after, meta)
        .map_err(|r| violation(format!("the stored bytes do not load again: {r:?}")))?;
    let (mut a, mut b) = (reloaded.doc.get_heads(), loaded.doc.get_heads());
    a.sort();
    b.sort();
    if a != b {
        return Err(violation("the stored bytes load as another state than the one in memory"));
    }
    let record = ingest::read_checked(id, &reloaded.doc)
        .map_err(|r| violation(format!("the stored document is not a record: {r:?}")))?;
    if let Some(s) = stored
        && record.header() != &s.loaded.header
    {
        return Err(violation("the header changed"));
    }
    for c in &write.changes {
        let parsed = changes::parse_changes(&c.bytes, limits::BODY_BYTES)
            .map_err(|e| violation(format!("a logged change does not parse: {e}")))?;
        if parsed.len() != 1 || parsed[0].hash().0 != c.hash {
            return Err(violation("a logged change is not the change it names"));
        }
        if author.is_some_and(|a| a.actor != c.actor) {
            return Err(violation("a logged change is not the author's"));
        }
        if !ingest::holds(&mut reloaded.doc, &[ChangeHash(c.hash)]) {
            return Err(violation("a logged change is not in the stored document"));
        }
    }
    Ok(Outcome::Accepted {
        changes: write.changes.len(),
        snapshot: matches!(write.bytes, DocBytes::Snapshot(_)),
        stored: after,
    })
}

/// Handles `message` (an Automerge sync message) for document `id` as `POST /v1/reconcile`
/// does: the changes in it are ingested as a push of `author`'s, then the server answers from
/// a fresh sync state. Returns what became of the changes (`None`: the message held none) and
/// the answer, which is checked to decode as a sync message.
pub fn reconcile(
    id: DocId,
    stored: Option<&Stored>,
    message: &[u8],
    author: &Author,
) -> Result<(Option<Outcome>, Vec<u8>), Violation> {
    let m = SyncMessage { doc: id, message: message.to_vec() };
    let (msg, changes) = match crate::documents::reconcile::split(&m) {
        Ok(s) => s,
        Err(r) => return Ok((Some(refused(&r)), Vec::new())),
    };
    let ingest_author = author.to_ingest();
    let mut slot = Slot::Ready(stored.map(Stored::copy));
    let mut outcome = None;
    if !changes.is_empty() {
        outcome = Some(
            match slot.ingest(
                id,
                &changes,
                Some(&ingest_author),
                Default::default(),
                true,
                DOC_BYTES,
                &Rules::default(),
            ) {
                Ok(None) => Outcome::Unchanged,
                Ok(Some(p)) => {
                    let mut held = match slot.ready(id) {
                        Ok(l) => l.take(),
                        Err(r) => return Err(violation(format!("accepted, then broken: {r:?}"))),
                    };
                    let o = check_write(id, stored, &mut held, &p.write, Some(&ingest_author))?;
                    slot = Slot::Ready(held);
                    o
                }
                Err(r) => refused(&r),
            },
        );
    }
    let answer = crate::documents::reconcile::answer_for(id, &mut slot, msg, &author.profile, 0);
    if !answer.is_empty() {
        crate::isolate::isolate(|| sync::Message::decode(&answer))
            .map_err(|p| violation(format!("decoding the answer panicked: {p}")))?
            .map_err(|e| violation(format!("the answer does not decode: {e}")))?;
    }
    Ok((outcome, answer))
}
