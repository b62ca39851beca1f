//! The documents, the change log and the list of refusals as storage keeps them: what a write
//! stores in one transaction ([`DocWrite`]), what the feed reads back (pages of the log, of the
//! catch-up, documents whole), and the [`DocumentStorage`] part of the storage trait.

use fieldsync_core::DocId;
use fieldsync_core::authorship::ChangeSig;
use fieldsync_core::model::{Addressee, Kind};
use fieldsync_core::policy::{Audience, Profile};

use super::{BoxFuture, StorageResult};

/// What the server knows of a stored document without loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMeta {
    /// The record kind (from the document's header).
    pub kind: Kind,
    /// The scope path (from the document's header).
    pub scope: String,
    /// Bytes of the stored snapshot.
    pub snapshot_bytes: u64,
    /// Bytes of the change chunks stored after the snapshot.
    pub chunk_bytes: u64,
    /// Bumped by every write: a write names the version it builds on.
    pub version: u64,
}

impl DocMeta {
    /// Saved size: snapshot plus chunks.
    pub fn stored_bytes(&self) -> u64 {
        self.snapshot_bytes + self.chunk_bytes
    }

    /// The metadata after `bytes` were written as version `version`.
    pub fn after(&self, bytes: &DocBytes, version: u64) -> DocMeta {
        let mut m = self.clone();
        match bytes {
            DocBytes::Snapshot(s) => {
                m.snapshot_bytes = s.len() as u64;
                m.chunk_bytes = 0;
            }
            DocBytes::Chunk(c) => m.chunk_bytes += c.len() as u64,
        }
        m.version = version;
        m
    }
}

/// A stored document: its metadata and its bytes (snapshot followed by chunks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    /// Kind, scope, sizes, version.
    pub meta: DocMeta,
    /// Snapshot followed by change chunks; Automerge loads them as one document.
    pub bytes: Vec<u8>,
}

/// New bytes for a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocBytes {
    /// A full snapshot that replaces everything stored for the document (creation, compaction).
    Snapshot(Vec<u8>),
    /// Change chunks appended after what is stored.
    Chunk(Vec<u8>),
}

impl DocBytes {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            DocBytes::Snapshot(b) | DocBytes::Chunk(b) => b.len(),
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One accepted change, to be appended to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    /// Its Automerge hash.
    pub hash: [u8; 32],
    /// Its Automerge actor id.
    pub actor: Vec<u8>,
    /// The change chunk.
    pub bytes: Vec<u8>,
    /// The device that made it, when not the one whose write stores it (a change relayed by
    /// another phone: `DocWrite::device` names the pusher); `None`: the write's device.
    pub device: Option<String>,
    /// Its author's signature (`fieldsync_core::authorship`), when it came with one.
    pub sig: Option<Vec<u8>>,
}

/// Everything one document write stores, in one transaction: the document's new bytes, the
/// log entries of the changes they contain and the record's index row.
#[derive(Debug, Clone, PartialEq)]
pub struct DocWrite {
    /// The document.
    pub doc: DocId,
    /// The version this write builds on; `None` creates the document.
    pub base: Option<u64>,
    /// Kind from the header (stored on creation).
    pub kind: Kind,
    /// Scope from the header (stored on creation).
    pub scope: String,
    /// The creator, from the header (stored on creation).
    pub created_by: String,
    /// The people the record names now (assignee, team, mediators): with kind, scope and
    /// creator, who may read it.
    pub participants: Vec<String>,
    /// Who a bulletin is addressed to (stored on creation; empty for the other kinds).
    pub addressed: Vec<Addressee>,
    /// When a bulletin's validity ends, ms (stored on creation; `None` for the other kinds):
    /// a device enrolled after it is not sent the bulletin.
    pub until: Option<i64>,
    /// The new bytes.
    pub bytes: DocBytes,
    /// The new changes in causal order; each gets the next seq.
    pub changes: Vec<NewChange>,
    /// The enrolled device that sent them, when known.
    pub device: Option<String>,
    /// The blobs the document references after this write, when that may have changed; `None`
    /// leaves the recorded references as they are (the document references none, before or
    /// after). See [`BlobRef`].
    pub blobs: Option<Vec<BlobRef>>,
    /// The record's index row after this write, written in the same transaction; `None`
    /// leaves the index as it is.
    pub index: Option<super::index::IndexRow>,
    /// What the record's points should come to after this write (a report's), settled in the
    /// same transaction; `None` leaves the ledger as it is.
    pub points: Option<super::PointsTarget>,
}

impl DocWrite {
    /// Bytes of document data the writes of `writes` carry (their new bytes and changes): what
    /// bounds a group commit.
    pub(crate) fn data_len(writes: &[DocWrite]) -> usize {
        writes
            .iter()
            .map(|w| w.bytes.len() + w.changes.iter().map(|c| c.bytes.len()).sum::<usize>())
            .sum()
    }
}

/// A blob a document references (a photo), as a write records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// Lower-case hex SHA-256 of the bytes.
    pub hash: String,
    /// Size in bytes, as the reference gives it.
    pub size: u64,
    /// Media type, as the reference gives it.
    pub media_type: String,
    /// The device whose changes in this write added the reference; `None` when it was there
    /// before (who added it stays as recorded) or the write has no known author.
    pub added_by: Option<String>,
}

/// A push refused as `stale_rights` (right when made, not now): honest offline work that the
/// server lists for the dispatchers of the record's scope, so it is never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The document.
    pub doc: DocId,
    /// Its kind.
    pub kind: Kind,
    /// Its scope.
    pub scope: String,
    /// The device that pushed.
    pub device: String,
    /// Its user.
    pub user: String,
    /// The refusal's protocol code.
    pub code: String,
    /// The refusal, for people (the rule and why).
    pub message: String,
    /// When, ms since the Unix epoch.
    pub at: i64,
}

/// A listed refusal: one per document, device and code; a refusal repeated updates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRefusal {
    /// Its position in the list (increasing; a repeat keeps the first position).
    pub id: i64,
    /// What was refused, as last recorded (`at` is the last time).
    pub refused: Refused,
    /// When it was first refused.
    pub first_at: i64,
    /// How many times.
    pub times: u64,
}

/// What a committed write became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The document's new version.
    pub version: u64,
    /// Seq of the write's last log entry (0 when it had no changes).
    pub last_seq: u64,
}

/// A document sent whole, with its position in storage order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeDoc {
    /// Position in storage order (the `<row>` of a catch-up cursor).
    pub pos: i64,
    /// The document.
    pub doc: DocId,
    /// Its stored bytes.
    pub bytes: Vec<u8>,
    /// Who may read it.
    pub audience: Audience,
}

/// Whom a catch-up is read for: the documents `profile` may read, except those `held` may
/// read too (a device whose rights changed from `held` to `profile` holds those already).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchUpReader {
    /// The rights the device reads under now.
    pub profile: Profile,
    /// The rights its feed was read under before, if what they let it read is left out.
    pub held: Option<Profile>,
}

impl CatchUpReader {
    /// Whether a document with audience `a` goes into the catch-up.
    pub fn takes(&self, a: &Audience) -> bool {
        fieldsync_core::policy::can_read(&self.profile, a)
            && !self.held.as_ref().is_some_and(|h| fieldsync_core::policy::can_read(h, a))
    }
}

/// One page of the catch-up (documents whole, in storage order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchUpPage {
    /// Documents after the position asked for, within the byte budget (at least one if any).
    pub docs: Vec<WholeDoc>,
    /// No document follows the last one in `docs`.
    pub done: bool,
    /// The last log seq, read in the same snapshot as the documents.
    pub log_end: u64,
    /// Estimate of the documents after the last one in `docs`.
    pub docs_after: u64,
    /// The last position examined (documents the reader may not read are passed over without
    /// their bytes being read); the next page starts after it.
    pub scanned_to: i64,
}

/// A log entry as pulled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogItem {
    /// Its seq.
    pub seq: u64,
    /// Its document.
    pub doc: DocId,
    /// The change chunk.
    pub bytes: Vec<u8>,
}

/// One page of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    /// Entries after the position asked for, leaving out the skipped actor's, in seq order,
    /// within the byte budget (at least one if any).
    pub entries: Vec<LogItem>,
    /// Where the next page starts: the last entry's seq when the budget cut the page, else
    /// `end` (entries of the skipped actor up to there are passed over).
    pub next: u64,
    /// The last seq of the log, in the same snapshot.
    pub end: u64,
}

/// A log entry with its audit fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its seq.
    pub seq: u64,
    /// Its document.
    pub doc: DocId,
    /// The change hash.
    pub hash: [u8; 32],
    /// The change's actor.
    pub actor: Vec<u8>,
    /// The device that sent it, when known.
    pub device: Option<String>,
    /// When the server accepted it, ms since the Unix epoch.
    pub received_at: i64,
    /// The change chunk.
    pub bytes: Vec<u8>,
    /// Its author's signature, when it came with one (docs/peer.md, "Signed changes"): kept
    /// so that the change can be passed on as its author's.
    pub sig: Option<Vec<u8>>,
    /// Who may read its document now.
    pub audience: Audience,
}

/// The documents, the change log, the epoch and the list of refusals.
///
/// Rules every backend keeps (the conformance suite checks them):
/// - a [`DocWrite`] and its log entries commit in one transaction, or not at all;
/// - seqs strictly increase in commit order, and a reader never sees a seq before every smaller
///   seq is visible (so a page never skips an entry that commits later);
/// - a write whose `base` is not the stored version fails with [`StorageError::Conflict`](super::StorageError::Conflict) and
///   changes nothing, while the other writes of the same batch go through;
/// - a change hash appears at most once per document in the log;
/// - a write's blob references commit with it: `Some` makes the document's references those
///   listed (keeping who added each earlier), `None` leaves them.
pub trait DocumentStorage: Send + Sync + 'static {
    /// The epoch: a random id made when the storage was created, changed only by a restore.
    fn epoch(&self) -> &str;

    /// The end of the log as other writers of the same storage move it (other server
    /// instances on one database), to wake the event stream; `None` when nobody else writes
    /// (SQLite: one server owns the file). Closed when the storage closes.
    fn log_watch(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Loads documents; `None` for the ones not stored.
    fn load(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<Option<StoredDoc>>>>;

    /// The stored version of each document, in the order asked (`None`: not stored), read in
    /// one snapshot: what an instance checks its cached copies against when other writers
    /// share the storage (`log_watch`), so that no request works on, or answers from, a
    /// version another instance has replaced.
    fn versions(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<Option<u64>>>>;

    /// Commits writes, each all-or-nothing; the answer has one result per write, in order.
    /// The outer error means nothing of the batch is known to be stored.
    fn commit(
        &self,
        writes: Vec<DocWrite>,
    ) -> BoxFuture<'_, StorageResult<Vec<StorageResult<Committed>>>>;

    /// The stored bytes of documents, in the order asked, while they fit in `max_bytes` (at
    /// least one is read). Documents not stored are left out; the count says how many ids
    /// were looked at.
    fn whole(
        &self,
        ids: Vec<DocId>,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<(Vec<WholeDoc>, usize)>>;

    /// The signatures the log holds of each document's changes (those that came signed), for
    /// a pull that carries them with whole documents; documents without any are left out.
    fn signatures(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<DocSignatures>>>;

    /// Who may read each of these documents; ids not stored are left out.
    fn readers(&self, ids: Vec<DocId>) -> BoxFuture<'_, StorageResult<Vec<(DocId, Audience)>>>;

    /// Every stored document with who may read it, in storage order (what a reconciling device
    /// may lack).
    fn audiences(&self) -> BoxFuture<'_, StorageResult<Vec<(DocId, Audience)>>>;

    /// The documents after position `after`, whole, in storage order.
    ///
    /// With `reader`, only documents it [takes](CatchUpReader::takes) are returned, and the
    /// others cost neither bytes read nor budget.
    fn catch_up(
        &self,
        after: i64,
        max_bytes: usize,
        reader: Option<CatchUpReader>,
    ) -> BoxFuture<'_, StorageResult<CatchUpPage>>;

    /// The log after `after`, leaving out the changes of actor `skip_actor`.
    fn log_page(
        &self,
        after: u64,
        skip_actor: Vec<u8>,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<LogPage>>;

    /// The last seq of the log (0 when empty).
    fn log_end(&self) -> BoxFuture<'_, StorageResult<u64>>;

    /// The last position of the documents in storage order (0 when none).
    fn docs_end(&self) -> BoxFuture<'_, StorageResult<i64>>;

    /// Log entries with their audit fields, after `after`, at most `limit`.
    fn audit(&self, after: u64, limit: usize) -> BoxFuture<'_, StorageResult<Vec<LogRecord>>>;

    /// Every stored document id, in storage order.
    fn doc_ids(&self) -> BoxFuture<'_, StorageResult<Vec<DocId>>>;

    /// The documents named by the log entries after seq `after` up to `upto`, each once, with
    /// the version stored now, in storage order, at most `limit` (an instance drops from its
    /// cache what another instance has replaced).
    fn logged_docs(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<(DocId, u64)>>>;

    /// Lists refusals (see [`Refused`]): a repeat of one listed (same document, device and
    /// code) updates its message, last time and count.
    fn record_refusals(&self, refusals: Vec<Refused>) -> BoxFuture<'_, StorageResult<()>>;

    /// The listed refusals of records inside any of `scopes` (each a scope path or an ancestor
    /// of the record's scope; none: all), with an id after `after`, oldest first, at most
    /// `limit`.
    fn refusals(
        &self,
        scopes: Vec<String>,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<StoredRefusal>>>;
}

/// The signatures the log holds of one document's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocSignatures {
    /// The document.
    pub doc: DocId,
    /// Its signed changes' signatures, in log order.
    pub sigs: Vec<ChangeSig>,
    /// The actors of those changes, each once.
    pub signers: Vec<Vec<u8>>,
}

impl DocSignatures {
    /// Adds one logged change's signature, read back as stored.
    pub(crate) fn push(&mut self, hash: &[u8], sig: &[u8], actor: &[u8]) -> StorageResult<()> {
        self.sigs.push(change_sig(hash, sig)?);
        if !self.signers.iter().any(|a| a == actor) {
            self.signers.push(actor.to_vec());
        }
        Ok(())
    }
}

/// A logged change's hash and signature as read back, checked for their lengths.
pub(crate) fn change_sig(hash: &[u8], sig: &[u8]) -> StorageResult<ChangeSig> {
    let hash: [u8; 32] = hash.try_into().map_err(|_| {
        super::StorageError::Corrupt(format!("log entry with a {}-byte hash", hash.len()))
    })?;
    let sig: [u8; 64] = sig.try_into().map_err(|_| {
        super::StorageError::Corrupt(format!("log entry with a {}-byte signature", sig.len()))
    })?;
    Ok(ChangeSig {
        hash: fieldsync_core::protocol::Hash(hash),
        sig: fieldsync_core::authorship::Signature(sig),
    })
}
