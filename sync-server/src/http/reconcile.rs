//! `POST /v1/reconcile`: Automerge's own sync protocol for a batch of documents, after an epoch
//! change. The changes inside a client's message go through the same verified ingestion as a
//! push (and are stored and logged); the rest of the message then updates a fresh sync state
//! on the server's document, from which the server's answer is generated. No state is kept
//! between requests: the client's state carries the conversation.

use std::collections::HashSet;
use std::sync::Arc;

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use fieldsync_core::policy::{Audience, Profile, can_read};
use fieldsync_core::protocol::{
    PushResult, ReconcileRequest, ReconcileResponse, SyncMessage, VERSION, limits,
};
use fieldsync_core::{DocId, model};

use crate::documents::batch::{KEEP_NEW_DOCS, Pending, Slot, WorkingSet};
use crate::documents::cache::Loaded;
use crate::documents::push::static_code;
use crate::feed::cursor::Cursor;
use crate::http::App;
use crate::http::auth::Caller;
use crate::http::envelope;
use crate::http::error::ServerError;
use crate::http::refusals;
use crate::http::sync::check_actor;
use crate::ingest::{self, Refusal, code};
use crate::isolate::isolate;

pub(crate) fn check(req: &ReconcileRequest) -> Result<(), ServerError> {
    envelope::check_version(req.v)?;
    check_actor(&req.actor)?;
    if req.docs.len() > limits::RECONCILE_DOCS {
        return Err(ServerError::TooLarge(format!(
            "{} documents in one reconcile request; at most {}",
            req.docs.len(),
            limits::RECONCILE_DOCS
        )));
    }
    let mut seen = HashSet::with_capacity(req.docs.len());
    for m in &req.docs {
        if !seen.insert(m.doc) {
            return Err(ServerError::InvalidRequest(format!(
                "document {} appears twice in one reconcile request",
                m.doc
            )));
        }
    }
    Ok(())
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

/// The server's message for one document, from a fresh state (empty when it has nothing).
pub(crate) fn answer_for(
    id: DocId,
    slot: &mut Slot,
    msg: sync::Message,
    profile: &Profile,
) -> Vec<u8> {
    let mut empty = AutoCommit::new();
    let doc = match slot.ready(id) {
        // A document this device may not read is answered for exactly like one not stored.
        Ok(Some(l)) if readable(id, l, profile) => &mut l.doc,
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

/// Whether `profile` may read the loaded document.
fn readable(id: DocId, l: &Loaded, profile: &Profile) -> bool {
    match &l.record {
        Some(r) => can_read(profile, &Audience::of(r)),
        None => isolate(|| model::read_record(&l.doc, id))
            .ok()
            .and_then(Result::ok)
            .is_some_and(|r| can_read(profile, &Audience::of(&r))),
    }
}

/// `POST /v1/reconcile`.
pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let (_turn, req): (_, ReconcileRequest) = envelope::admitted(&app, &headers, body).await?;
    check(&req)?;
    let author = caller.author(&req.actor)?;
    // The feed position before anything of this request is logged, so nothing is skipped.
    let cursor = Cursor::Log { seq: app.storage.log_end().await? };

    let mut ids: Vec<DocId> = req.docs.iter().map(|m| m.doc).collect();
    ids.sort();
    let mut ws = WorkingSet::open(&app, ids).await?;
    let mut slots = std::mem::take(&mut ws.slots);
    let messages = req.docs;
    let keep_new = messages.len() <= KEEP_NEW_DOCS;
    let max_bytes = app.doc_bytes;
    let (slots, messages, mut results, split_msgs, pending, owners, stale) =
        tokio::task::spawn_blocking(move || {
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
                            slot.ingest(m.doc, &changes, Some(&author), keep_new, max_bytes)
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
        .map_err(|e| ServerError::Internal(format!("reconcile task failed: {e}")))?;
    ws.slots = slots;
    let committed = match ws.commit(&app, pending).await {
        Ok(c) => c,
        Err(e) => {
            ws.finish(&app);
            return Err(e);
        }
    };
    refusals::record(&app, stale).await;
    for (doc, c) in owners.into_iter().zip(committed) {
        if let Err(r) = c {
            results.push(PushResult { doc, outcome: r.outcome() });
        }
    }

    let mut slots = std::mem::take(&mut ws.slots);
    let profile = caller.profile.clone();
    let (slots, docs) = tokio::task::spawn_blocking(move || {
        let mut docs = Vec::with_capacity(messages.len());
        for (m, msg) in messages.iter().zip(split_msgs) {
            let message = match (msg, slots.get_mut(&m.doc)) {
                (Some(msg), Some(slot)) => answer_for(m.doc, slot, msg, &profile),
                _ => Vec::new(),
            };
            docs.push(SyncMessage { doc: m.doc, message });
        }
        (slots, docs)
    })
    .await
    .map_err(|e| ServerError::Internal(format!("reconcile task failed: {e}")))?;
    ws.slots = slots;
    ws.finish(&app);

    let missing = match req.have {
        None => Vec::new(),
        Some(have) => {
            let have: HashSet<DocId> = have.into_iter().collect();
            app.storage
                .audiences()
                .await?
                .into_iter()
                .filter(|(d, a)| !have.contains(d) && can_read(&caller.profile, a))
                .map(|(d, _)| d)
                .collect()
        }
    };
    for r in &results {
        if let fieldsync_core::protocol::PushOutcome::Rejected { code, .. }
        | fieldsync_core::protocol::PushOutcome::Retry { code, .. } = &r.outcome
        {
            app.metrics.refused(static_code(code));
        }
    }
    let bytes = docs.iter().map(|d| d.message.len()).sum::<usize>() + missing.len() * 20;
    tracing::debug!(
        docs = docs.len(),
        refused = results.len(),
        missing = missing.len(),
        "reconcile"
    );
    let answer = ReconcileResponse {
        v: VERSION,
        epoch: app.epoch().to_string(),
        cursor: cursor.to_string(),
        docs,
        results,
        missing,
    };
    envelope::answer(answer, bytes).await
}
