//! What the sync client asks of the store: batches of unpushed changes, recording what the
//! server acknowledged or refused, and applying a pulled page together with its cursor in one
//! transaction.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use automerge::ChangeHash;
use rusqlite::OptionalExtension;

use super::merge::{self, Prepared};
use super::rescope::{self, Rescope};
use super::writer::PushedAt;
use super::{Origin, RecordChanged, Store, signatures, sync_state};
use crate::authorship::ChangeSig;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::protocol::{self, PullDoc, PushDoc, PushOutcome, PushResult};
use crate::time::{Timestamp, now_ms};

/// What became of one batch of pushed documents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushTally {
    /// Documents the server acknowledged.
    pub acked: usize,
    /// Documents the server refused for good.
    pub rejected: usize,
    /// Documents the server could not take now.
    pub retry: usize,
}

/// What applying one pulled page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullTally {
    /// Documents that changed or were created.
    pub changed: Vec<DocId>,
    /// Documents whose data did not apply; they are asked for whole next time.
    pub failed: Vec<(DocId, String)>,
}

/// A document whose local changes the server refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Rejection {
    /// The document.
    pub id: DocId,
    /// Machine-readable reason.
    pub code: String,
    /// The rule that failed.
    pub message: String,
    /// When the refusal arrived.
    pub at: Timestamp,
}

/// Where the store stands with its server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncStatus {
    /// The server epoch last seen.
    pub epoch: Option<String>,
    /// When a sync last applied a page.
    pub last_sync_at: Option<Timestamp>,
    /// Documents with local changes the server has not acknowledged.
    pub pending_docs: i64,
    /// Documents whose changes the server refused.
    pub rejected: Vec<Rejection>,
}

impl Store {
    /// The feed position: `(epoch, cursor)` of the server last synced with (for tools and
    /// diagnostics; the sync client keeps it up to date).
    pub fn sync_position(&self) -> Result<(Option<String>, String)> {
        self.read(sync_state::position)
    }

    /// Documents to ask for whole in the next request, at most `limit`, leaving out `skip`.
    pub(crate) fn sync_wanted(&self, limit: usize, skip: &HashSet<DocId>) -> Result<Vec<DocId>> {
        self.read(|c| sync_state::wanted(c, limit, skip))
    }

    /// The next batch of unpushed changes: at most `max_docs` documents and about `max_bytes`
    /// (a document whose changes alone exceed it is sent as a causal prefix). Documents in `skip`
    /// are left out. The flag says whether more documents wait beyond this batch.
    pub(crate) fn push_batch(
        &self,
        max_docs: usize,
        max_bytes: usize,
        skip: &HashSet<DocId>,
    ) -> Result<(Vec<PushDoc>, bool)> {
        let mut w = self.writer();
        let key = signatures::cached_key(&mut w)?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut after = 0i64;
        loop {
            let page = sync_state::pending(&w.conn, after, 256)?;
            let Some(last) = page.last() else { return Ok((out, false)) };
            after = last.rowid;
            for p in page {
                if skip.contains(&p.id) {
                    continue;
                }
                if out.len() >= max_docs || (bytes >= max_bytes && !out.is_empty()) {
                    return Ok((out, true));
                }
                // A document the server has none of: its stored changes as they are, unless
                // it is loaded already.
                let stored = if p.acked.is_empty() { w.stored_changes(p.id)? } else { None };
                let (changes, heads, rowid, version) = match stored {
                    Some((row, changes)) => {
                        let heads = crate::changes::heads_of(&changes);
                        (changes, heads, row.rowid, row.version)
                    }
                    None => {
                        let mut loaded = w.take(p.id)?;
                        let heads = loaded.doc.get_heads();
                        let changes = loaded.doc.get_changes(&p.acked);
                        let (rowid, version) = (loaded.row.rowid, loaded.row.version);
                        w.put_back(p.id, loaded);
                        (changes, heads, rowid, version)
                    }
                };
                if changes.is_empty() {
                    // Nothing the server lacks: it holds the document as it is.
                    w.in_tx(|tx| sync_state::acknowledged(tx, p.rowid, &heads, &heads))?;
                    continue;
                }
                let room = max_bytes.saturating_sub(bytes).max(1);
                let mut taken = 0usize;
                let mut size = 0usize;
                for c in &changes {
                    if taken > 0 && size + c.raw_bytes().len() > room {
                        break;
                    }
                    size += c.raw_bytes().len();
                    taken += 1;
                }
                let prefix = &changes[..taken];
                let mut doc_bytes = Vec::with_capacity(size);
                for c in prefix {
                    doc_bytes.extend_from_slice(c.raw_bytes());
                }
                let at = PushedAt { rowid, version, heads: heads.clone() };
                w.pushed.insert(p.id, at);
                let pushed_heads = if taken == changes.len() {
                    heads
                } else {
                    let mut h = crate::changes::heads_of(prefix);
                    h.extend(p.acked.iter().copied());
                    h.sort();
                    h.dedup();
                    h.truncate(protocol::limits::HEADS);
                    h
                };
                bytes += doc_bytes.len();
                let signed =
                    signatures::signed_by(&w.conn, &w.identity.actor, key.as_deref(), prefix)?;
                out.push(PushDoc {
                    doc: p.id,
                    changes: doc_bytes,
                    heads: protocol::to_wire(&pushed_heads),
                    signed,
                });
            }
        }
    }

    /// Records the server's answer to a push: acknowledged heads, refusals.
    pub(crate) fn apply_push_results(
        &self,
        pushed: &[PushDoc],
        results: &[PushResult],
    ) -> Result<PushTally> {
        let mut w = self.writer();
        let mut tally = PushTally::default();
        let mut acked: Vec<(i64, Vec<ChangeHash>, Vec<ChangeHash>)> = Vec::new();
        let mut refused: Vec<(i64, String, String)> = Vec::new();
        for r in results {
            if !pushed.iter().any(|p| p.doc == r.doc) {
                continue; // not ours to record: the server answered about something we did not push
            }
            // The next batch may be read while this one is answered: only this one's entries go.
            let at = w.pushed.remove(&r.doc);
            let Some(row) = super::docs::find(&w.conn, r.doc)? else { continue };
            match &r.outcome {
                PushOutcome::Acked { heads } => {
                    let current = match at {
                        Some(at) if at.rowid == row.rowid && at.version == row.version => at.heads,
                        _ => {
                            let mut loaded = w.take(r.doc)?;
                            let current = loaded.doc.get_heads();
                            w.put_back(r.doc, loaded);
                            current
                        }
                    };
                    acked.push((row.rowid, protocol::from_wire(heads), current));
                    tally.acked += 1;
                }
                PushOutcome::Rejected { code, message } => {
                    refused.push((row.rowid, code.clone(), message.clone()));
                    tally.rejected += 1;
                }
                PushOutcome::Retry { .. } => tally.retry += 1,
            }
        }
        let now = now_ms();
        w.in_tx(|tx| {
            for (rowid, heads, current) in &acked {
                sync_state::acknowledged(tx, *rowid, heads, current)?;
            }
            for (rowid, code, message) in &refused {
                sync_state::rejected(tx, *rowid, code, message, now)?;
            }
            Ok(())
        })?;
        Ok(tally)
    }

    /// Applies one pulled page and stores the new feed position, in one transaction. A document
    /// whose data does not apply is skipped and asked for whole next time; the documents in
    /// `unwanted` are no longer asked for (the server has none of them for this device).
    /// `rescoped`: the page said the user's rights changed, and how.
    pub(crate) fn apply_pull(
        &self,
        docs: &[PullDoc],
        epoch: &str,
        cursor: &str,
        rescoped: Option<Rescope>,
        unwanted: &[DocId],
    ) -> Result<PullTally> {
        let mut tally = PullTally::default();
        let mut notes = Vec::new();
        {
            let mut w = self.writer();
            let mut prepared: Vec<Prepared> = Vec::new();
            let grouped = group_by_doc(docs);
            // Documents held already (a catch-up sends back what this phone pushed) are not
            // merged: each would cost two loads and a rebuild of every change, to change nothing.
            let mut held = Vec::new();
            let mut items: Vec<(DocId, &[u8])> = Vec::with_capacity(grouped.len());
            for (id, b) in &grouped {
                match merge::held(&mut w, *id, b)? {
                    Some(h) => held.push((*id, h)),
                    None => items.push((*id, &b[..])),
                }
            }
            for ((id, _), result) in items.iter().zip(merge::prepare_many(&mut w, &items)?) {
                match result {
                    Ok(p) => prepared.push(p),
                    Err(e @ (CoreError::Storage(_) | CoreError::Io(_))) => return Err(e),
                    Err(e) => {
                        tracing::warn!(doc = %id, "pulled data did not apply: {e}");
                        tally.failed.push((*id, e.to_string()));
                    }
                }
            }
            let now = now_ms();
            let me = w.identity.user.clone();
            let sigs = sigs_by_doc(docs);
            let result = w.in_tx(|tx| {
                // What a pulled document leaves besides its data: the server's copies of its
                // authors' signatures, to pass the changes on to peers (docs/peer.md), and the
                // heads the server is known to hold; kept with the data, in its transaction.
                let pulled =
                    |id: DocId, rowid: i64, incoming: &[ChangeHash], heads: &[ChangeHash]| {
                        if let Some(s) = sigs.get(&id) {
                            signatures::keep(tx, s.iter().map(|c| (c.hash.0, &c.sig)))?;
                        }
                        sync_state::after_pull(tx, rowid, incoming, heads)?;
                        sync_state::set_wanted(tx, id, false)
                    };
                for p in prepared.iter_mut() {
                    let rowid = p.write(tx, now, &me)?;
                    let heads = p.heads();
                    pulled(p.id, rowid, &p.incoming_heads, &heads)?;
                }
                for (id, h) in &held {
                    pulled(*id, h.row.rowid, &h.incoming, &h.heads)?;
                }
                for id in unwanted {
                    sync_state::set_wanted(tx, *id, false)?;
                }
                for (id, _) in &tally.failed {
                    sync_state::set_wanted(tx, *id, true)?;
                }
                if let Some(how) = rescoped {
                    rescope::mark(tx, how)?;
                }
                sync_state::set_position(tx, epoch, cursor, now)
            });
            match result {
                Ok(()) => {
                    for mut p in prepared {
                        if p.changed {
                            tally.changed.push(p.id);
                            notes.push(RecordChanged {
                                id: p.id,
                                kind: p.kind,
                                origin: Origin::Remote,
                                inbox: std::mem::take(&mut p.inbox),
                            });
                        }
                        p.finish(&mut w);
                    }
                }
                // The merged documents in memory are ahead of the disk: drop them all.
                Err(e) => {
                    w.clear_cache();
                    return Err(e);
                }
            }
        }
        if !notes.is_empty() {
            self.notify(&notes);
        }
        Ok(tally)
    }

    /// Clears the server's refusal of a document's changes, so that the next sync offers them
    /// again (after the user's role or scope changed, say). Until then a refused document is
    /// not pushed again, and stays listed in [`Store::sync_status`].
    pub fn retry_rejected(&self, id: DocId) -> Result<()> {
        let mut w = self.writer();
        let row = super::docs::find(&w.conn, id)?.ok_or(CoreError::NotFound { id })?;
        w.in_tx(|tx| sync_state::clear_rejection(tx, row.rowid))
    }

    /// Where this store stands with its server: pending pushes and refusals.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        self.read(|c| {
            let (epoch, last_sync_at): (Option<String>, Option<i64>) = c
                .query_row("SELECT epoch, last_sync_at FROM sync_server WHERE id = 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?
                .unwrap_or((None, None));
            let pending_docs: i64 = c.query_row(
                "SELECT count(*) FROM sync_docs WHERE pending = 1 AND rejected_code IS NULL",
                [],
                |r| r.get(0),
            )?;
            let mut stmt = c.prepare(
                "SELECT d.doc_id, s.rejected_code, s.rejected_message, s.rejected_at \
                 FROM sync_docs s JOIN docs d ON d.id = s.doc WHERE s.rejected_code IS NOT NULL \
                 ORDER BY s.rejected_at",
            )?;
            let rejected = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?, r.get::<_, Option<i64>>(3)?))
                })?
                .map(|row| {
                    let (id, code, message, at) = row?;
                    Ok(Rejection {
                        id: DocId::from_slice(&id)?,
                        code,
                        message,
                        at: Timestamp::from_millis(at.unwrap_or(0)),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(SyncStatus {
                epoch,
                last_sync_at: last_sync_at.map(Timestamp::from_millis),
                pending_docs,
                rejected,
            })
        })
    }
}

impl Store {
    /// Automerge's sync protocol, our side: the next message for the server about `id`.
    pub(crate) fn sync_generate(
        &self,
        id: DocId,
        state: &mut automerge::sync::State,
    ) -> Result<Option<Vec<u8>>> {
        use automerge::sync::SyncDoc;
        let mut w = self.writer();
        let mut loaded = w.take(id)?;
        let message = loaded.doc.sync().generate_sync_message(state);
        w.put_back(id, loaded);
        Ok(message.map(|m| m.encode()))
    }

    /// Automerge's sync protocol, receiving: the server's changes go through the verified merge
    /// path (and are stored), then the message without them updates `state`.
    pub(crate) fn sync_receive(
        &self,
        id: DocId,
        state: &mut automerge::sync::State,
        message: &[u8],
    ) -> Result<()> {
        use automerge::sync::{Message, SyncDoc};
        if message.is_empty() {
            return Ok(());
        }
        let mut msg = crate::changes::guarded(|| {
            Message::decode(message).map_err(|e| crate::changes::ParseError(e.to_string()))
        })
        .map_err(|e| CoreError::Protocol(format!("sync message for {id}: {}", e.0)))?;
        let chunks: Vec<u8> = msg.changes.iter().flat_map(|c| c.iter().copied()).collect();
        msg.changes = Vec::<Vec<u8>>::new().into();
        if !chunks.is_empty() {
            let mut w = self.writer();
            let mut prepared = merge::prepare(&mut w, id, &chunks)?;
            if prepared.changed {
                let now = now_ms();
                let me = w.identity.user.clone();
                w.in_tx(|tx| {
                    let rowid = prepared.write(tx, now, &me)?;
                    let heads = prepared.heads();
                    sync_state::after_pull(tx, rowid, &prepared.incoming_heads, &heads)
                })?;
                let note = RecordChanged {
                    id,
                    kind: prepared.kind,
                    origin: Origin::Remote,
                    inbox: std::mem::take(&mut prepared.inbox),
                };
                prepared.finish(&mut w);
                drop(w);
                self.notify(&[note]);
            } else {
                prepared.finish(&mut w);
            }
        }
        let mut w = self.writer();
        let mut loaded = w.take(id)?;
        // The message comes from the network: a panic inside Automerge is a protocol error, and
        // the document it may have left half-changed is dropped (it reloads from SQLite).
        let received = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            loaded.doc.sync().receive_sync_message(state, msg)
        }));
        let Ok(received) = received else {
            return Err(CoreError::Protocol(format!(
                "sync message for {id}: Automerge panicked on it"
            )));
        };
        w.put_back(id, loaded);
        received.map_err(|e| CoreError::Protocol(format!("sync message for {id}: {e}")))
    }

    /// Ends a reconciliation: the new feed position, the heads the server reported per document,
    /// and the documents to ask for whole.
    pub(crate) fn finish_reconcile(
        &self,
        epoch: &str,
        cursor: &str,
        server_heads: &[(DocId, Vec<ChangeHash>)],
        missing: &[DocId],
    ) -> Result<()> {
        let mut w = self.writer();
        let mut acked = Vec::new();
        for (id, heads) in server_heads {
            let Some(row) = super::docs::find(&w.conn, *id)? else { continue };
            let mut loaded = w.take(*id)?;
            let current = loaded.doc.get_heads();
            w.put_back(*id, loaded);
            acked.push((row.rowid, heads.clone(), current));
        }
        let now = now_ms();
        w.in_tx(|tx| {
            for (rowid, heads, current) in &acked {
                sync_state::acknowledged(tx, *rowid, heads, current)?;
            }
            for id in missing {
                sync_state::set_wanted(tx, *id, true)?;
            }
            sync_state::set_position(tx, epoch, cursor, now)
        })
    }
}

/// The pulled data of each document as one byte string, documents in order of first appearance.
/// A page may name a document more than once (a whole document, then feed entries after it);
/// the pieces are in causal order, and Automerge reads a saved document followed by changes.
fn group_by_doc(docs: &[PullDoc]) -> Vec<(DocId, Cow<'_, [u8]>)> {
    let mut at: HashMap<DocId, usize> = HashMap::new();
    let mut out: Vec<(DocId, Cow<'_, [u8]>)> = Vec::with_capacity(docs.len());
    for d in docs {
        match at.get(&d.doc) {
            Some(&i) => out[i].1.to_mut().extend_from_slice(&d.bytes),
            None => {
                at.insert(d.doc, out.len());
                out.push((d.doc, Cow::Borrowed(&d.bytes[..])));
            }
        }
    }
    out
}

/// The signatures a page carries, by document.
fn sigs_by_doc(docs: &[PullDoc]) -> HashMap<DocId, Vec<&ChangeSig>> {
    let mut out: HashMap<DocId, Vec<&ChangeSig>> = HashMap::new();
    for d in docs.iter().filter(|d| !d.sigs.is_empty()) {
        out.entry(d.doc).or_default().extend(&d.sigs);
    }
    out
}

#[cfg(test)]
#[path = "sync_ops_tests.rs"]
mod tests;
