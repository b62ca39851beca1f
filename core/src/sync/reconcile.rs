//! Recovery after the server's epoch changed (it was restored from a backup and may have lost
//! changes): every document is reconciled with Automerge's own sync protocol, so only what the
//! server lacks travels; then the feed continues from the cursor of the first answer.

use std::collections::HashMap;

use automerge::sync::State;

use super::client::{SyncClient, Totals, blocking};
use super::transport::Transport;
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::protocol::{
    self, PushOutcome, ReconcileRequest, ReconcileResponse, SyncMessage, limits,
};

/// Rounds of messages per batch before giving up (Automerge converges in a handful).
const MAX_ROUNDS: usize = 32;
/// Documents per reconcile request.
const BATCH: usize = 100;

impl<T: Transport> SyncClient<T> {
    /// Reconciles every local document with the server, then resets the feed position.
    pub(crate) async fn reconcile(&self, t: &mut Totals) -> Result<()> {
        let actor = self.store.identity().actor.to_bytes().to_vec();
        let store = self.store.clone();
        let ids = blocking(move || store.doc_ids()).await?;
        tracing::warn!(docs = ids.len(), "server epoch changed: reconciling every document");
        let mut first: Option<(String, String)> = None;
        let mut settled: Vec<(DocId, Vec<automerge::ChangeHash>)> = Vec::new();
        for batch in ids.chunks(BATCH.min(limits::RECONCILE_DOCS)) {
            let mut states: HashMap<DocId, State> =
                batch.iter().map(|id| (*id, State::new())).collect();
            let mut round = 0;
            loop {
                round += 1;
                if round > MAX_ROUNDS {
                    return Err(CoreError::Protocol(format!(
                        "reconciliation did not settle in {MAX_ROUNDS} rounds"
                    )));
                }
                let store = self.store.clone();
                let mut moved = std::mem::take(&mut states);
                let (messages, back) = blocking(move || {
                    let mut out = Vec::new();
                    for (id, state) in moved.iter_mut() {
                        if let Some(m) = store.sync_generate(*id, state)? {
                            out.push(SyncMessage { doc: *id, message: m });
                        }
                    }
                    Ok((out, moved))
                })
                .await?;
                states = back;
                if messages.is_empty() {
                    break;
                }
                let request = ReconcileRequest {
                    v: protocol::VERSION,
                    actor: actor.clone(),
                    docs: messages,
                    have: None,
                };
                let answer = self.post(t, "/v1/reconcile", protocol::encode(&request)).await?;
                let response: ReconcileResponse =
                    protocol::decode(&answer).map_err(|e| CoreError::Protocol(e.to_string()))?;
                first.get_or_insert((response.epoch.clone(), response.cursor.clone()));
                for r in &response.results {
                    if let PushOutcome::Rejected { code, message } = &r.outcome {
                        tracing::warn!(doc = %r.doc, code, "server refused changes while reconciling: {message}");
                        t.summary.docs_rejected += 1;
                        states.remove(&r.doc);
                    }
                }
                let store = self.store.clone();
                let mut moved = std::mem::take(&mut states);
                states = blocking(move || {
                    for m in &response.docs {
                        if let Some(state) = moved.get_mut(&m.doc) {
                            store.sync_receive(m.doc, state, &m.message)?;
                        }
                    }
                    Ok(moved)
                })
                .await?;
            }
            settled.extend(states.into_iter().filter_map(|(id, s)| s.their_heads.map(|h| (id, h))));
        }
        // Last: name every document held, to learn of the ones the server has and this store lacks.
        let request =
            ReconcileRequest { v: protocol::VERSION, actor, docs: Vec::new(), have: Some(ids) };
        let answer = self.post(t, "/v1/reconcile", protocol::encode(&request)).await?;
        let response: ReconcileResponse =
            protocol::decode(&answer).map_err(|e| CoreError::Protocol(e.to_string()))?;
        let (epoch, cursor) = first.unwrap_or((response.epoch.clone(), response.cursor.clone()));
        let store = self.store.clone();
        let missing = response.missing;
        blocking(move || store.finish_reconcile(&epoch, &cursor, &settled, &missing)).await
    }
}
