//! One peer session, the same on both sides: hellos (credentials checked), offers (what the
//! other may read, with heads), then rounds in lockstep until neither side has anything to send.
//! Every round each side sends one message and waits for the other's, so the session needs no
//! turn-taking and ends on both sides in the same round.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, Change, ChangeHash};
use serde_bytes::ByteBuf;

use super::judge::{Authors, judge};
use super::link::PeerLink;
use super::progress::{PeerProgress, PeerProgressListener, PeerStage};
use super::wire::{self, Hello, Item, Message, Offer, Offered, Refusal};
use super::{Credential, CredentialRefusal, PeerError, Verified};
use crate::changes::{self, ParseError};
use crate::error::CoreError;
use crate::id::DocId;
use crate::limits;
use crate::model;
use crate::policy::{self, Audience, Denied, Profile};
use crate::store::Store;
use crate::time::now_ms;

/// Most documents an offer may hold.
const MAX_OFFERED: usize = 200_000;
/// Most heads an offered document may have.
const MAX_HEADS: usize = 64;
/// Most credentials an offer may carry.
const MAX_CREDENTIALS: usize = 2 * crate::store::MAX_KNOWN_CREDENTIALS;

/// How a session runs.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// Rounds after which a session that has not settled fails.
    pub max_rounds: u32,
    /// Bytes of document data a round carries, about (a document larger than this goes alone).
    pub round_bytes: usize,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions { max_rounds: 200, round_bytes: 256 * 1024 }
    }
}

/// A document whose changes were refused in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DocRefusal {
    /// The document.
    pub doc: DocId,
    /// The rule that failed.
    pub rule: String,
    /// What was not allowed.
    pub message: String,
    /// The peer refused what this phone sent (else this phone refused what the peer sent).
    pub by_peer: bool,
}

/// What a session did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerOutcome {
    /// The peer's device id.
    pub peer_device: String,
    /// The peer's user.
    pub peer_user: String,
    /// Documents this phone offered.
    pub offered: usize,
    /// Documents the peer offered.
    pub peer_offered: usize,
    /// Documents this phone sent whole (the peer did not have them).
    pub sent_whole: usize,
    /// Documents that changed here.
    pub received: usize,
    /// Refused documents, both ways.
    pub refused: Vec<DocRefusal>,
    /// Rounds the session took.
    pub rounds: u32,
    /// Frame bytes sent.
    pub bytes_sent: u64,
    /// Frame bytes received.
    pub bytes_received: u64,
}

/// A document being synced with Automerge's protocol.
struct Syncing {
    doc: AutoCommit,
    state: sync::State,
}

struct Session<'a, L> {
    store: &'a Store,
    link: &'a mut L,
    out: PeerOutcome,
    listener: Option<&'a dyn PeerProgressListener>,
    /// Documents the peer offered that differ from this phone's copy.
    expected: usize,
}

fn name(msg: &Message) -> &'static str {
    match msg {
        Message::Hello(_) => "hello",
        Message::Refuse(_) => "refuse",
        Message::Offer(_) => "offer",
        Message::Round(_) => "round",
        Message::Done => "done",
    }
}

impl<L: PeerLink> Session<'_, L> {
    async fn send(&mut self, msg: &Message) -> Result<(), PeerError> {
        let frame = wire::encode(msg);
        self.out.bytes_sent += frame.len() as u64;
        Ok(self.link.send(frame).await?)
    }

    async fn receive(&mut self) -> Result<Message, PeerError> {
        let frame = self.link.receive().await?;
        self.out.bytes_received += frame.len() as u64;
        let msg = wire::decode(&frame)?;
        if let Message::Refuse(r) = msg {
            return Err(PeerError::RefusedByPeer { code: r.code, message: r.message });
        }
        Ok(msg)
    }

    /// Tells the listener, if any, where the session is.
    fn report(&self, stage: PeerStage, received: usize) {
        let Some(listener) = self.listener else { return };
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let bytes = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        listener.peer_progress(&PeerProgress {
            stage,
            peer_device: self.out.peer_device.clone(),
            peer_user: self.out.peer_user.clone(),
            rounds: self.out.rounds.into(),
            docs_expected: count(self.expected),
            docs_received: count(received),
            docs_sent_whole: count(self.out.sent_whole),
            bytes_sent: bytes(self.out.bytes_sent),
            bytes_received: bytes(self.out.bytes_received),
        });
    }

    async fn refuse(&mut self, why: CredentialRefusal) -> PeerError {
        let msg = Message::Refuse(Refusal { code: why.code().into(), message: why.to_string() });
        // The session ends with the refusal whether or not the peer hears of it.
        let _ = self.send(&msg).await;
        PeerError::Refused(why)
    }
}

/// Syncs `store` with the peer at the other end of `link`; both sides run this same function.
pub async fn sync_with_peer<L: PeerLink>(
    store: &Store,
    link: &mut L,
    options: &PeerOptions,
) -> Result<PeerOutcome, PeerError> {
    sync_with_peer_reporting(store, link, options, None).await
}

/// [`sync_with_peer`], telling `listener` after the hellos, the offers and every round.
pub async fn sync_with_peer_reporting<L: PeerLink>(
    store: &Store,
    link: &mut L,
    options: &PeerOptions,
    listener: Option<&dyn PeerProgressListener>,
) -> Result<PeerOutcome, PeerError> {
    let trust = store.peer_trust()?.ok_or(PeerError::NotEnrolled)?;
    let mut s = Session { store, link, out: PeerOutcome::default(), listener, expected: 0 };
    let me = trust.credential.open(&trust.server_key).map_err(PeerError::Refused)?;

    // Hellos.
    let hello = Hello { credential: trust.credential.clone(), revocations: trust.revocations };
    s.send(&Message::Hello(hello)).await?;
    let theirs = match s.receive().await? {
        Message::Hello(h) => h,
        other => return Err(PeerError::Unexpected { expected: "hello", got: name(&other) }),
    };
    let mut revoked = trust.revoked;
    // A newer list the peer got from the same server is taken; one that does not check is not.
    if let Some(list) = &theirs.revocations
        && let Ok(true) = store.save_revocations(list)
        && let Ok(newer) = list.open(&trust.server_key)
    {
        revoked = newer;
    }
    let peer = match theirs.credential.verify(&trust.server_key, now_ms(), &revoked) {
        Ok(v) => v,
        Err(why) => return Err(s.refuse(why).await),
    };
    s.out.peer_device = peer.device.clone();
    s.out.peer_user = peer.profile.user.clone();
    s.report(PeerStage::Greeted, 0);

    // Offers.
    let mine = offer(store, &peer.profile)?;
    s.out.offered = mine.len();
    let credentials = store.known_credentials()?;
    let docs = mine
        .iter()
        .map(|(id, heads)| Offered {
            id: ByteBuf::from(id.as_bytes().to_vec()),
            heads: heads.iter().map(|h| ByteBuf::from(h.0.to_vec())).collect(),
        })
        .collect();
    s.send(&Message::Offer(Offer { docs, credentials })).await?;
    let their_offer = match s.receive().await? {
        Message::Offer(o) => o,
        other => return Err(PeerError::Unexpected { expected: "offer", got: name(&other) }),
    };
    let authors = authors(store, &trust.server_key, &revoked, [&me, &peer], &their_offer)?;
    let theirs = read_offer(&their_offer.docs)?;
    s.out.peer_offered = theirs.len();
    s.expected = theirs.iter().filter(|(id, heads)| mine.get(id) != Some(heads)).count();
    s.report(PeerStage::Offered, 0);

    // The plan: documents both hold and differ on are synced; what only this side offered is
    // sent whole.
    let mut syncing = BTreeMap::new();
    let mut wholes = VecDeque::new();
    for (id, heads) in &mine {
        match theirs.get(id) {
            Some(their_heads) if their_heads == heads => {}
            Some(_) => {
                let doc = store.load(*id)?;
                syncing.insert(*id, Syncing { doc, state: sync::State::new() });
            }
            None => wholes.push_back(*id),
        }
    }
    rounds(&mut s, options, &me.profile, &authors, syncing, wholes).await?;
    Ok(s.out)
}

/// The documents of `store` that `peer` may read, with their heads (sorted).
fn offer(store: &Store, peer: &Profile) -> Result<BTreeMap<DocId, Vec<ChangeHash>>, CoreError> {
    let mut out = BTreeMap::new();
    for id in store.doc_ids()? {
        let mut doc = store.load(id)?;
        // A document that does not read as a record is not offered (nor opened here).
        let Ok(record) = model::read_record(&doc, id) else { continue };
        if policy::can_read(peer, &Audience::of(&record)) {
            let mut heads = doc.get_heads();
            heads.sort();
            out.insert(id, heads);
        }
    }
    Ok(out)
}

/// The authors whose changes may come in this session: this phone, the peer, and every
/// credential the peer passed on that checks (not revoked; an expired one still names who wrote
/// a change while it was valid). The ones that check are kept, to be passed on in turn.
fn authors<'v>(
    store: &Store,
    server_key: &[u8],
    revoked: &super::Revocations,
    sides: impl IntoIterator<Item = &'v Verified>,
    offer: &Offer,
) -> Result<Authors, PeerError> {
    if offer.credentials.len() > MAX_CREDENTIALS {
        return Err(PeerError::Malformed(format!(
            "{} credentials; at most {MAX_CREDENTIALS}",
            offer.credentials.len()
        )));
    }
    let mut authors = Authors::default();
    for v in sides {
        authors.insert(v.actor.clone(), v.profile.clone());
    }
    let mut kept: Vec<(Verified, Credential)> = Vec::new();
    for c in &offer.credentials {
        match c.open(server_key) {
            Ok(v) if !revoked.devices.contains(&v.device) => {
                authors.insert(v.actor.clone(), v.profile.clone());
                kept.push((v, c.clone()));
            }
            Ok(v) => tracing::info!(device = v.device, "a relayed credential is revoked"),
            Err(e) => tracing::warn!("a relayed credential does not check: {e}"),
        }
    }
    store.remember_credentials(&kept)?;
    Ok(authors)
}

fn doc_id(bytes: &[u8]) -> Result<DocId, PeerError> {
    DocId::from_slice(bytes).map_err(|e| PeerError::Malformed(e.to_string()))
}

fn read_offer(docs: &[Offered]) -> Result<HashMap<DocId, Vec<ChangeHash>>, PeerError> {
    if docs.len() > MAX_OFFERED {
        return Err(PeerError::Malformed(format!("{} documents offered", docs.len())));
    }
    let mut out = HashMap::with_capacity(docs.len());
    for d in docs {
        if d.heads.len() > MAX_HEADS {
            return Err(PeerError::Malformed(format!("{} heads", d.heads.len())));
        }
        let mut heads = d
            .heads
            .iter()
            .map(|h| {
                ChangeHash::try_from(h.as_slice())
                    .map_err(|_| PeerError::Malformed(format!("a head of {} bytes", h.len())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        heads.sort();
        out.insert(doc_id(&d.id)?, heads);
    }
    Ok(out)
}

/// What one round brought for a document: changes stored, nothing new, or a refusal.
enum Took {
    Stored,
    Nothing,
}

async fn rounds<L: PeerLink>(
    s: &mut Session<'_, L>,
    options: &PeerOptions,
    me: &Profile,
    authors: &Authors,
    mut syncing: BTreeMap<DocId, Syncing>,
    mut wholes: VecDeque<DocId>,
) -> Result<(), PeerError> {
    let mut refusals: Vec<Item> = Vec::new();
    let mut closed: HashSet<DocId> = HashSet::new();
    let mut changed: HashSet<DocId> = HashSet::new();
    loop {
        if s.out.rounds >= options.max_rounds {
            return Err(PeerError::TooManyRounds(options.max_rounds));
        }
        s.out.rounds += 1;
        let mut items = std::mem::take(&mut refusals);
        let mut size = 0;
        while size < options.round_bytes
            && let Some(id) = wholes.pop_front()
        {
            let bytes = s.store.saved_bytes(id)?;
            size += bytes.len();
            s.out.sent_whole += 1;
            items.push(Item::Whole {
                doc: ByteBuf::from(id.as_bytes().to_vec()),
                bytes: ByteBuf::from(bytes),
            });
        }
        for (id, d) in syncing.iter_mut() {
            if size >= options.round_bytes {
                break;
            }
            if let Some(m) = d.doc.sync().generate_sync_message(&mut d.state) {
                let msg = m.encode();
                size += msg.len();
                items.push(Item::Sync {
                    doc: ByteBuf::from(id.as_bytes().to_vec()),
                    msg: ByteBuf::from(msg),
                });
            }
        }
        let quiet = items.is_empty();
        s.send(&if quiet { Message::Done } else { Message::Round(items) }).await?;
        let theirs = match s.receive().await? {
            Message::Done if quiet => break,
            Message::Done => Vec::new(),
            Message::Round(items) => items,
            other => return Err(PeerError::Unexpected { expected: "round", got: name(&other) }),
        };
        for item in theirs {
            let (id, took) = match item {
                Item::Refused { doc, rule, message } => {
                    let id = doc_id(&doc)?;
                    syncing.remove(&id);
                    wholes.retain(|w| *w != id);
                    closed.insert(id);
                    s.out.refused.push(DocRefusal { doc: id, rule, message, by_peer: true });
                    continue;
                }
                Item::Sync { doc, msg } => {
                    let id = doc_id(&doc)?;
                    if closed.contains(&id) {
                        continue;
                    }
                    let took = match syncing.get_mut(&id) {
                        Some(d) => take_sync(s.store, id, d, &msg, authors, me),
                        None => {
                            Err(Denied::new("peer.unexpected", "not a document of this session"))
                        }
                    };
                    (id, took)
                }
                Item::Whole { doc, bytes } => {
                    let id = doc_id(&doc)?;
                    if closed.contains(&id) {
                        continue;
                    }
                    (id, take_whole(s.store, id, &bytes, syncing.get_mut(&id), authors, me))
                }
            };
            match took {
                Ok(Took::Stored) => {
                    changed.insert(id);
                }
                Ok(Took::Nothing) => {}
                Err(d) => {
                    syncing.remove(&id);
                    closed.insert(id);
                    tracing::info!(doc = %id, rule = d.rule, "refused changes from a peer: {}", d.message);
                    refusals.push(Item::Refused {
                        doc: ByteBuf::from(id.as_bytes().to_vec()),
                        rule: d.rule.into(),
                        message: d.message.clone(),
                    });
                    s.out.refused.push(DocRefusal {
                        doc: id,
                        rule: d.rule.into(),
                        message: d.message,
                        by_peer: false,
                    });
                }
            }
        }
        s.report(PeerStage::Round, changed.len());
    }
    s.out.received = changed.len();
    Ok(())
}

fn malformed(e: ParseError) -> Denied {
    Denied::new("peer.changes", e.0)
}

/// The bytes of `fresh` changes, as a merge takes them.
fn bytes_of(fresh: &[Change]) -> Vec<u8> {
    fresh.iter().flat_map(|c| c.raw_bytes().iter().copied()).collect()
}

/// Stores what was judged; a store failure other than the database's is this document's
/// refusal (a database failure is too, but is logged as one).
fn store_merge(store: &Store, id: DocId, bytes: &[u8]) -> Result<Took, Denied> {
    match store.merge_remote(id, bytes) {
        Ok(o) if o.changed => Ok(Took::Stored),
        Ok(_) => Ok(Took::Nothing),
        Err(e) => {
            if matches!(e, CoreError::Storage(_) | CoreError::Io(_)) {
                tracing::error!(doc = %id, "storing a peer's changes failed: {e}");
            }
            Err(Denied::new("peer.store", e.to_string()))
        }
    }
}

/// Takes one Automerge sync message for a document being synced: the changes it carries are
/// parsed strictly, applied to a copy, judged, and only then stored.
fn take_sync(
    store: &Store,
    id: DocId,
    d: &mut Syncing,
    msg: &[u8],
    authors: &Authors,
    me: &Profile,
) -> Result<Took, Denied> {
    let msg = changes::guarded(|| {
        sync::Message::decode(msg).map_err(|e| ParseError(format!("sync message: {e}")))
    })
    .map_err(malformed)?;
    let mut carried = 0;
    for chunk in msg.changes.iter() {
        carried += chunk.len();
        if carried > limits::MERGE_BYTES {
            return Err(Denied::new("peer.changes", "a sync message over the merge limit"));
        }
        changes::parse_changes(chunk, limits::MERGE_BYTES).map_err(malformed)?;
    }
    let before = d.doc.get_heads();
    let mut trial = d.doc.clone();
    let mut state = d.state.clone();
    changes::guarded(|| {
        trial
            .sync()
            .receive_sync_message(&mut state, msg)
            .map_err(|e| ParseError(format!("sync message: {e}")))
    })
    .map_err(malformed)?;
    let fresh = trial.get_changes(&before);
    let took = if fresh.is_empty() {
        Took::Nothing
    } else {
        judge(id, Some(&d.doc), &mut trial, &fresh, authors, me)?;
        store_merge(store, id, &bytes_of(&fresh))?
    };
    d.doc = trial;
    d.state = state;
    Ok(took)
}

/// Takes a whole document the peer sent (new here, or one this phone did not offer).
fn take_whole(
    store: &Store,
    id: DocId,
    bytes: &[u8],
    syncing: Option<&mut Syncing>,
    authors: &Authors,
    me: &Profile,
) -> Result<Took, Denied> {
    let incoming = changes::parse_changes(bytes, limits::MERGE_BYTES).map_err(malformed)?;
    let base = match store.load(id) {
        Ok(doc) => Some(doc),
        Err(CoreError::NotFound { .. }) => None,
        Err(e) => return Err(Denied::new("peer.store", e.to_string())),
    };
    let mut merged = base.clone().unwrap_or_default();
    let before = merged.get_heads();
    changes::guarded(|| merged.apply_changes(incoming).map_err(|e| ParseError(e.to_string())))
        .map_err(malformed)?;
    if !merged.get_missing_deps(&[]).is_empty() {
        return Err(Denied::new("peer.changes", "changes whose dependencies are missing"));
    }
    let fresh = merged.get_changes(&before);
    if fresh.is_empty() {
        return Ok(Took::Nothing);
    }
    judge(id, base.as_ref(), &mut merged, &fresh, authors, me)?;
    let took = match base {
        // A new document is stored as its sender saved it.
        None => store_merge(store, id, bytes)?,
        Some(_) => store_merge(store, id, &bytes_of(&fresh))?,
    };
    if let Some(d) = syncing {
        d.doc = merged;
    }
    Ok(took)
}
