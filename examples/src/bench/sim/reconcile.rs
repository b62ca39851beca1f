//! `POST /v1/reconcile` and `POST /v1/visible` from a simulated device: the read-style requests.
//!
//! A reconcile exchange here is one request: for each document named, the device's first
//! Automerge sync message from a fresh state (its heads and a summary of what it has, never
//! changes); the server answers with its own message per document, whose heads are the
//! server's heads, and which carries the changes the device's summary lacks. The device applies
//! those; a change its summary wrongly claims (a Bloom filter's false positive, about one in a
//! hundred) is left for the feed to bring, as the exchange is not continued. Asked with `have`,
//! the answer also lists the documents the device may read and lacks.

use automerge::ChangeHash;
use automerge::sync::{self, SyncDoc};
use fieldsync_core::DocId;
use fieldsync_core::protocol::{
    self, ReconcileRequest, ReconcileResponse, SyncMessage, VisibleRequest, VisibleResponse, limits,
};

use super::device::SimDevice;
use crate::bench::Result;

/// A reconcile request ready to be sent, with the sync states its answer continues.
pub struct ReconcileAsk {
    /// The envelope (taken to be sent).
    pub body: Vec<u8>,
    states: Vec<(DocId, sync::State)>,
}

/// What a reconcile answer said about one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compared {
    /// The document.
    pub doc: DocId,
    /// The server's heads, from its message (empty: it said nothing, as for a document it does
    /// not hold or the device may not read).
    pub server: Vec<ChangeHash>,
    /// The device's heads when it asked (before the server's message was applied).
    pub device: Vec<ChangeHash>,
}

impl Compared {
    /// Whether the device and the server hold the same heads.
    pub fn same(&self) -> bool {
        let (mut a, mut b) = (self.server.clone(), self.device.clone());
        a.sort();
        b.sort();
        a == b
    }
}

/// What one reconcile answer said.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    /// Per document asked about, in request order.
    pub docs: Vec<Compared>,
    /// Refusals of changes the request carried (it never carries any: each is unexpected).
    pub refused: Vec<String>,
    /// With `have`: documents the device may read and does not hold.
    pub missing: Vec<DocId>,
}

impl SimDevice {
    /// A reconcile request about `ids` (at most [`limits::RECONCILE_DOCS`], ids it does not hold
    /// are passed over); with `have`, it names every document the device holds.
    pub fn reconcile_ask(&mut self, ids: &[DocId], have: bool) -> ReconcileAsk {
        let mut states = Vec::new();
        let mut docs = Vec::new();
        for id in ids.iter().take(limits::RECONCILE_DOCS) {
            let Some(held) = self.docs.get_mut(id) else { continue };
            let mut state = sync::State::new();
            let message = held
                .doc
                .sync()
                .generate_sync_message(&mut state)
                .map(sync::Message::encode)
                .unwrap_or_default();
            docs.push(SyncMessage { doc: *id, message });
            states.push((*id, state));
        }
        let request = ReconcileRequest {
            v: protocol::VERSION,
            actor: self.actor.to_bytes().to_vec(),
            docs,
            have: have.then(|| self.docs.keys().copied().collect()),
        };
        ReconcileAsk { body: protocol::encode(&request), states }
    }

    /// Applies the server's messages in the answer to `ask` and compares heads.
    pub fn reconcile_absorb(&mut self, ask: ReconcileAsk, answer: &[u8]) -> Result<Reconciled> {
        let r: ReconcileResponse = protocol::decode(answer)?;
        let mut out = Reconciled {
            refused: r.results.iter().map(|p| format!("{}: {:?}", p.doc, p.outcome)).collect(),
            missing: r.missing,
            ..Reconciled::default()
        };
        for (id, mut state) in ask.states {
            let message = r.docs.iter().find(|m| m.doc == id).map(|m| &m.message[..]);
            let Some(held) = self.docs.get_mut(&id) else { continue };
            let device = held.doc.get_heads();
            let server = match message {
                Some(m) if !m.is_empty() => {
                    let msg = sync::Message::decode(m)
                        .map_err(|e| format!("the server's sync message for {id}: {e}"))?;
                    let heads = msg.heads.clone();
                    held.doc
                        .sync()
                        .receive_sync_message(&mut state, msg)
                        .map_err(|e| format!("the server's sync message for {id}: {e}"))?;
                    held.received();
                    heads
                }
                _ => Vec::new(),
            };
            out.docs.push(Compared { doc: id, server, device });
        }
        Ok(out)
    }

    /// A `/v1/visible` request about the documents it holds (at most [`limits::WANT_DOCS`]).
    pub fn visible_ask(&self) -> Vec<u8> {
        let ids = self.docs.keys().take(limits::WANT_DOCS).copied().collect();
        protocol::encode(&VisibleRequest { v: protocol::VERSION, ids })
    }

    /// The documents the answer to [`SimDevice::visible_ask`] says it may no longer read.
    pub fn visible_hidden(&self, answer: &[u8]) -> Result<Vec<DocId>> {
        let r: VisibleResponse = protocol::decode(answer)?;
        if r.user != self.user {
            return Err(format!("/v1/visible answered for {}, not {}", r.user, self.user).into());
        }
        Ok(r.hidden)
    }
}
