//! Automerge's own sync protocol for a batch of documents, after an epoch change
//! (`POST /v1/reconcile`). The changes inside a client's message go through the same verified
//! ingestion as a push (and are stored and logged); the rest of the message then updates a
//! fresh sync state on the server's document, from which the server's answer is generated. No
//! state is kept between requests: the client's state carries the conversation.

use std::collections::HashSet;

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};
use fieldsync_core::policy::{Audience, Profile, can_read, delivered};
use fieldsync_core::protocol::{PushOutcome, PushResult, SyncMessage};
use fieldsync_core::{DocId, model};

use super::batch::{KEEP_NEW_DOCS, Pending, Slot, WorkingSet};
use super::{Documents, DocumentsError, refusals};
use crate::ingest::Loaded;
use crate::ingest::{self, Author, Refusal, code};
use crate::isolate::isolate;

/// What the server answers a reconcile request with.
#[derive(Debug)]
pub(crate) struct Reconciled {
    /// The server's message for each document asked about, in request order (empty when it has
    /// nothing to say).
    pub(crate) docs: Vec<SyncMessage>,
    /// The documents whose changes were refused.
    pub(crate) results: Vec<PushResult>,
    /// Readable documents the device does not have (when it said which it has).
    pub(crate) missing: Vec<DocId>,
}

/// A client's message with its changes taken out.
pub(crate) fn split(m: &SyncMessage) -> Result<(sync::Message, Vec<u8>), Refusal> {
    let bad = |e: String| {
        Refusal::rejected(
            code::MALFORMED_CHANGES,
            format!("the sync message for {} is malformed: {e}", m.doc),
        )
    };
    let mut msg = match isolate(|| sync::Message::decode(&m.message)) {
        Ok(Ok(msg)) => msg,
        Ok(Err(e)) => return Err(bad(e.to_string())),
        Err(p) => return Err(bad(format!("decoding it panicked: {p}"))),
    };
    let changes: Vec<u8> = msg.changes.iter().flat_map(|c| c.iter().copied()).collect();
    msg.changes = sync::ChunkList::empty();
    Ok((msg, changes))
}

/// The server's message for one document, from a fresh state (empty when it has nothing), to
/// a device of `profile` enrolled at `enrolled_at`.
pub(crate) fn answer_for(
    id: DocId,
    slot: &mut Slot,
    msg: sync::Message,
    profile: &Profile,
    enrolled_at: i64,
) -> Vec<u8> {
    let mut empty = AutoCommit::new();
    let doc = match slot.ready(id) {
        // A document this device may not read is answered for exactly like one not stored.
        Ok(Some(l)) if readable(id, l, profile, enrolled_at) => &mut l.doc,
        Ok(_) => &mut empty,
        Err(_) => return Vec::new(),
    };
    let generated = isolate(|| {
        let mut state = sync::State::new();
        doc.sync().receive_sync_message(&mut state, msg).map_err(|e| e.to_string())?;
        Ok::<_, String>(doc.sync().generate_sync_message(&mut state).map(sync::Message::encode))
    });
    match generated {
        Ok(Ok(m)) => m.unwrap_or_default(),
        Ok(Err(e)) => {
            tracing::info!(doc = %id, "sync message not understood: {e}");
            Vec::new()
        }
        Err(p) => {
            tracing::warn!(doc = %id, "Automerge panicked on a sync message: {p}");
            *slot = Slot::Broken(Refusal::retry(code::INTERNAL_ERROR, "sync failed"));
            Vec::new()
        }
    }
}

/// Whether the loaded document goes to a device of `profile` enrolled at `enrolled_at`: its
/// user may read it, and it is not a bulletin that had expired when the device enrolled.
fn readable(id: DocId, l: &Loaded, profile: &Profile, enrolled_at: i64) -> bool {
    let reads = |a: Audience| can_read(profile, &a) && delivered(&a, enrolled_at);
    match &l.record {
        Some(r) => reads(Audience::of(r)),
        None => isolate(|| model::read_record(&l.doc, id))
            .ok()
            .and_then(Result::ok)
            .is_some_and(|r| reads(Audience::of(&r))),
    }
}

/// Reconciles `messages` (one per document, no document twice) from `author`'s device,
/// enrolled at `enrolled_at`: their changes ingested and committed, then the server's answer to
/// each; `have`, when given, lists the documents the device holds, and the answer names the
/// ones it lacks that it may read and is sent (no bulletin that expired before it enrolled).
pub(crate) async fn reconcile(
    docs: &Documents,
    author: Author,
    enrolled_at: i64,
    messages: Vec<SyncMessage>,
    have: Option<Vec<DocId>>,
) -> Result<Reconciled, DocumentsError> {
    let mut ids: Vec<DocId> = messages.iter().map(|m| m.doc).collect();
    ids.sort();
    let mut ws = WorkingSet::open(docs, ids).await?;
    let mut slots = std::mem::take(&mut ws.slots);
    let keep_new = messages.len() <= KEEP_NEW_DOCS;
    let max_bytes = docs.doc_bytes;
    let rules = docs.rules.clone();
    let ingest_author = author.clone();
    let (slots, messages, mut results, split_msgs, pending, owners, stale) =
        tokio::task::spawn_blocking(move || {
            let author = ingest_author;
            let mut stale = Vec::new();
            let mut results = Vec::new();
            let mut split_msgs = Vec::with_capacity(messages.len());
            let mut pending: Vec<Pending> = Vec::new();
            let mut owners: Vec<DocId> = Vec::new();
            let mut inflation = ingest::REQUEST_INFLATED_BYTES;
            for m in &messages {
                if m.message.is_empty() {
                    split_msgs.push(None);
                    continue;
                }
                let (msg, changes) = match split(m) {
                    Ok(s) => s,
                    Err(r) => {
                        results.push(PushResult { doc: m.doc, outcome: r.outcome() });
                        split_msgs.push(None);
                        continue;
                    }
                };
                if !changes.is_empty()
                    && let Some(slot) = slots.get_mut(&m.doc)
                {
                    let ingested = ingest::reserve_inflation(m.doc, &changes, &mut inflation)
                        .and_then(|()| {
                            slot.ingest(
                                m.doc,
                                &changes,
                                Some(&author),
                                Default::default(),
                                keep_new,
                                max_bytes,
                                &rules,
                            )
                        });
                    match ingested {
                        Ok(Some(p)) => {
                            pending.push(p);
                            owners.push(m.doc);
                        }
                        Ok(None) => {}
                        Err(r) => {
                            stale.extend(refusals::listed(m.doc, &r, Some(&author)));
                            results.push(PushResult { doc: m.doc, outcome: r.outcome() });
                        }
                    }
                }
                split_msgs.push(Some(msg));
            }
            (slots, messages, results, split_msgs, pending, owners, stale)
        })
        .await
        .map_err(|e| DocumentsError::Task(format!("reconcile task failed: {e}")))?;
    ws.slots = slots;
    let (pending, owners) = match super::registered::check(docs, &mut ws, pending).await {
        Ok((kept, fate)) => {
            let mut kept_owners = Vec::with_capacity(kept.len());
            for (doc, f) in owners.into_iter().zip(fate) {
                match f {
                    None => kept_owners.push(doc),
                    Some(r) => results.push(PushResult { doc, outcome: r.outcome() }),
                }
            }
            (kept, kept_owners)
        }
        Err(e) => {
            ws.finish(docs);
            return Err(e);
        }
    };
    let committed = match ws.commit(docs, pending).await {
        Ok(c) => c,
        Err(e) => {
            ws.finish(docs);
            return Err(e);
        }
    };
    refusals::record(docs, stale).await;
    for (doc, c) in owners.into_iter().zip(committed) {
        if let Err(r) = c {
            results.push(PushResult { doc, outcome: r.outcome() });
        }
    }

    let mut slots = std::mem::take(&mut ws.slots);
    let profile = author.profile.clone();
    let (slots, answers) = tokio::task::spawn_blocking(move || {
        let mut answers = Vec::with_capacity(messages.len());
        for (m, msg) in messages.iter().zip(split_msgs) {
            let message = match (msg, slots.get_mut(&m.doc)) {
                (Some(msg), Some(slot)) => answer_for(m.doc, slot, msg, &profile, enrolled_at),
                _ => Vec::new(),
            };
            answers.push(SyncMessage { doc: m.doc, message });
        }
        (slots, answers)
    })
    .await
    .map_err(|e| DocumentsError::Task(format!("reconcile task failed: {e}")))?;
    ws.slots = slots;
    ws.finish(docs);

    let missing = match have {
        None => Vec::new(),
        Some(have) => {
            let have: HashSet<DocId> = have.into_iter().collect();
            docs.storage
                .audiences()
                .await?
                .into_iter()
                .filter(|(d, a)| {
                    !have.contains(d) && can_read(&author.profile, a) && delivered(a, enrolled_at)
                })
                .map(|(d, _)| d)
                .collect()
        }
    };
    for r in &results {
        if let PushOutcome::Rejected { code, .. } | PushOutcome::Retry { code, .. } = &r.outcome {
            docs.counters.refused(code);
        }
    }
    Ok(Reconciled { docs: answers, results, missing })
}
