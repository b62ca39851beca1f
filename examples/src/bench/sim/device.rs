//! A simulated device: its documents held in memory and the sync protocol spoken directly, so
//! that a thousand of them fit in one process. A request pushes every document with changes the
//! server has not acknowledged (`get_changes(acknowledged heads)`, as a phone does) and pulls one
//! page after the device's cursor; the answer's acknowledgements and cursor are kept, and the
//! pulled documents are either applied ([`Pulled::Apply`]) or only counted ([`Pulled::Skip`]).

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ActorId, AutoCommit, ChangeHash};
use fieldsync_core::DocId;
use fieldsync_core::model::command::{self, Command, NewRecord};
use fieldsync_core::model::{Applied, Stamp};
use fieldsync_core::protocol::{
    self, PullDoc, PushDoc, PushOutcome, PushResult, SyncRequest, SyncResponse, limits,
};
use fieldsync_core::sync::{HttpTransport, Transport};
use fieldsync_core::time::now_ms;

use super::head::read_head;
use crate::bench::Result;

/// What a device does with the documents an answer brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulled {
    /// Reads only the answer's head (acknowledgements, cursor): a load generator that must not
    /// spend the CPU the server is measured with.
    Skip,
    /// Applies them, asking whole for a document whose history it lacks (as a phone does), so
    /// that what it holds can be compared with the server.
    Apply,
}

/// One document a device holds.
pub(super) struct Held {
    pub(super) doc: AutoCommit,
    /// Heads the server is known to hold.
    pub(super) acked: Vec<ChangeHash>,
    /// Changed here since the last acknowledgement.
    pub(super) dirty: bool,
}

impl Held {
    /// After data from the server was applied: the server holds everything the document now
    /// holds, unless the device changed it since its last acknowledgement.
    pub(super) fn received(&mut self) {
        if !self.dirty {
            self.acked = self.doc.get_heads();
        }
    }
}

/// A request ready to be sent: its body, and the heads each pushed document had.
#[derive(Debug)]
pub struct Outgoing {
    /// The envelope (taken to be sent).
    pub body: Vec<u8>,
    bytes_up: usize,
    pushed: Vec<(DocId, Vec<ChangeHash>)>,
}

impl Outgoing {
    /// Documents pushed.
    pub fn pushed(&self) -> usize {
        self.pushed.len()
    }
}

/// What one answered sync request did.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// Request body bytes.
    pub bytes_up: usize,
    /// Answer body bytes.
    pub bytes_down: usize,
    /// Documents acknowledged.
    pub acked: usize,
    /// Pieces of pulled data applied (0 with [`Pulled::Skip`]).
    pub pulled: usize,
    /// More feed data waits after the new cursor.
    pub more: bool,
    /// Pushed documents the server did not acknowledge, each said as `doc: outcome`.
    pub refused: Vec<String>,
}

/// A simulated phone.
pub struct SimDevice {
    pub(super) transport: HttpTransport,
    pub(super) user: String,
    pub(super) actor: ActorId,
    pub(super) docs: BTreeMap<DocId, Held>,
    pub(super) epoch: Option<String>,
    pub(super) cursor: String,
    pub(super) page_bytes: u32,
    pub(super) pulled: Pulled,
    pub(super) want: BTreeSet<DocId>,
}

impl SimDevice {
    /// A device of `user` writing as `actor`, positioned at `cursor` of `epoch`, asking for
    /// pages of `page_bytes`, holding nothing yet.
    pub fn new(
        transport: HttpTransport,
        user: String,
        actor: ActorId,
        (epoch, cursor): (Option<String>, String),
        page_bytes: u32,
        pulled: Pulled,
    ) -> SimDevice {
        SimDevice {
            transport,
            user,
            actor,
            docs: BTreeMap::new(),
            epoch,
            cursor,
            page_bytes,
            pulled,
            want: BTreeSet::new(),
        }
    }

    /// Its user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The transport carrying its token.
    pub fn transport(&self) -> &HttpTransport {
        &self.transport
    }

    /// The documents it holds, in id order.
    pub fn ids(&self) -> impl Iterator<Item = DocId> + '_ {
        self.docs.keys().copied()
    }

    /// How many documents it holds.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// A document it holds.
    pub fn doc(&self, id: DocId) -> Option<&AutoCommit> {
        self.docs.get(&id).map(|h| &h.doc)
    }

    /// How many devices (actors) wrote the changes of `id` it holds; 0 if it holds none.
    pub fn writers(&mut self, id: DocId) -> usize {
        let Some(held) = self.docs.get_mut(&id) else { return 0 };
        let actors: BTreeSet<ActorId> =
            held.doc.get_changes_meta(&[]).into_iter().map(|c| c.actor.into_owned()).collect();
        actors.len()
    }

    /// Documents it asks for whole next time (it lacks part of their history).
    pub fn wanted(&self) -> usize {
        self.want.len()
    }

    /// Whether it lacks part of the history of `id` (and asks for it whole).
    pub fn partial(&self, id: DocId) -> bool {
        self.want.contains(&id)
    }

    /// Moves the device's feed position (a device that caught up elsewhere).
    pub fn reposition(&mut self, (epoch, cursor): (Option<String>, String)) {
        self.epoch = epoch;
        self.cursor = cursor;
    }

    fn stamp(&self) -> Stamp {
        Stamp { by: self.user.clone(), at: now_ms() }
    }

    /// Creates a record as its user; it is pushed with the next request.
    pub fn create(&mut self, new: &NewRecord) -> Result<DocId> {
        let (id, doc) = command::create(new, &self.stamp(), self.actor.clone())?;
        self.docs.insert(id, Held { doc, acked: Vec::new(), dirty: true });
        Ok(id)
    }

    /// Applies `cmd` to a document it holds, as its user; a refused command leaves it as it was.
    pub fn edit(&mut self, id: DocId, cmd: &Command) -> Result<Applied> {
        let stamp = self.stamp();
        let held = self.docs.get_mut(&id).ok_or_else(|| format!("{} holds no {id}", self.user))?;
        match command::apply(&mut held.doc, id, &stamp, cmd) {
            Ok(applied) => {
                held.dirty = true;
                Ok(applied)
            }
            Err(e) => {
                held.doc.rollback();
                Err(format!("{} on {id} by {}: {e}", cmd.name(), self.user).into())
            }
        }
    }

    /// The next request: every unacknowledged change, the documents wanted whole, one page.
    pub fn outgoing(&mut self) -> Outgoing {
        let mut push = Vec::new();
        let mut pushed = Vec::new();
        for (id, held) in self.docs.iter_mut().filter(|(_, h)| h.dirty) {
            if push.len() == limits::PUSH_DOCS {
                break;
            }
            let changes: Vec<u8> = held
                .doc
                .get_changes(&held.acked)
                .iter()
                .flat_map(|c| c.raw_bytes())
                .copied()
                .collect();
            let heads = held.doc.get_heads();
            push.push(PushDoc {
                doc: *id,
                changes,
                heads: protocol::to_wire(&heads),
                signed: vec![],
            });
            pushed.push((*id, heads));
        }
        let request = SyncRequest {
            v: protocol::VERSION,
            epoch: self.epoch.clone(),
            cursor: self.cursor.clone(),
            actor: self.actor.to_bytes().to_vec(),
            push,
            want: self.want.iter().take(limits::WANT_DOCS).copied().collect(),
            page_bytes: self.page_bytes,
        };
        let body = protocol::encode(&request);
        Outgoing { bytes_up: body.len(), body, pushed }
    }

    /// Takes in the answer to `out`: acknowledgements, the new position, and (with
    /// [`Pulled::Apply`]) the pulled documents.
    pub fn absorb(&mut self, out: &Outgoing, answer: &[u8]) -> Result<Exchange> {
        let (epoch, results, cursor, more, docs) = match self.pulled {
            Pulled::Skip => {
                let h = read_head(answer)?;
                (h.epoch, h.results, h.cursor, h.more, Vec::new())
            }
            Pulled::Apply => {
                let r: SyncResponse = protocol::decode(answer)?;
                (r.epoch, r.results, r.cursor, r.more, r.docs)
            }
        };
        let mut ex = Exchange {
            bytes_up: out.bytes_up,
            bytes_down: answer.len(),
            more,
            ..Exchange::default()
        };
        self.acknowledge(out, &results, &mut ex);
        ex.pulled = self.apply(docs)?;
        self.epoch = Some(epoch);
        self.cursor = cursor;
        Ok(ex)
    }

    fn acknowledge(&mut self, out: &Outgoing, results: &[PushResult], ex: &mut Exchange) {
        for r in results {
            let pushed = out.pushed.iter().find(|(d, _)| *d == r.doc);
            match (&r.outcome, pushed, self.docs.get_mut(&r.doc)) {
                (PushOutcome::Acked { .. }, Some((_, heads)), Some(held)) => {
                    held.acked = heads.clone();
                    held.dirty = held.doc.get_heads() != *heads;
                    ex.acked += 1;
                }
                (outcome, _, _) => ex.refused.push(format!("{}: {outcome:?}", r.doc)),
            }
        }
    }

    /// Applies pulled pieces, all pieces of one document together in answer order; returns how
    /// many pieces there were.
    fn apply(&mut self, docs: Vec<PullDoc>) -> Result<usize> {
        let pieces = docs.len();
        let mut by_doc: Vec<(DocId, Vec<u8>)> = Vec::new();
        for d in docs {
            match by_doc.iter_mut().find(|(id, _)| *id == d.doc) {
                Some((_, bytes)) => bytes.extend_from_slice(&d.bytes),
                None => by_doc.push((d.doc, d.bytes)),
            }
        }
        for (id, bytes) in by_doc {
            let actor = self.actor.clone();
            let held = self.docs.entry(id).or_insert_with(|| Held {
                doc: AutoCommit::new().with_actor(actor),
                acked: Vec::new(),
                dirty: false,
            });
            held.doc
                .load_incremental(&bytes)
                .map_err(|e| format!("{}: pulled data of {id} does not load: {e}", self.user))?;
            // A document that became readable in the middle of its history: ask for it whole.
            if held.doc.get_missing_deps(&[]).is_empty() {
                self.want.remove(&id);
            } else {
                self.want.insert(id);
            }
            held.received();
        }
        Ok(pieces)
    }

    /// One request (push and one page), sent and taken in; fails unless every pushed document
    /// is acknowledged.
    pub async fn round(&mut self) -> Result<Exchange> {
        let mut out = self.outgoing();
        let answer = self.transport.post("/v1/sync", std::mem::take(&mut out.body)).await?;
        let ex = self.absorb(&out, &answer)?;
        if let Some(first) = ex.refused.first() {
            return Err(format!("push not acknowledged: {first}").into());
        }
        Ok(ex)
    }
}
