//! One peer session, the same on both sides: hellos (credentials checked), offers (what the
//! other may read, with heads), then rounds in lockstep until neither side has anything to send.
//! Every round each side sends one message and waits for the other's, so the session needs no
//! turn-taking and ends on both sides in the same round.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use serde_bytes::ByteBuf;

use super::judge::Authors;
use super::link::PeerLink;
use super::progress::{PeerProgress, PeerProgressListener, PeerStage};
use super::proof::{self, Nonce};
use super::take::{Took, take_sync, take_whole};
use super::wire::{self, Hello, Item, Message, Offer, Offered, Proof, Refusal};
use super::{Credential, CredentialRefusal, PeerError, Verified};
use crate::authorship::{self, ChangeSig, SIGNATURE_BYTES, Signature};
use crate::error::CoreError;
use crate::id::DocId;
use crate::model;
use crate::policy::{self, Audience, Denied, Profile};
use crate::store::Store;
use crate::time::now_ms;

/// Most documents an offer may hold.
const MAX_OFFERED: usize = 200_000;
/// Most heads an offered document may have.
const MAX_HEADS: usize = 64;
/// What a signature adds to a round, about (its hash, the signature, CBOR's framing).
const SIG_BYTES: usize = 32 + SIGNATURE_BYTES + 8;
/// Most signatures a session keeps for one synced document: a peer cannot make this phone hold
/// more than that, round after round.
const MAX_SIGNATURES: usize = 65_536;
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
pub(super) struct Syncing {
    pub(super) doc: AutoCommit,
    pub(super) state: sync::State,
    /// Signatures of the changes the peer may lack, sent with the first message.
    sigs_out: Vec<ChangeSig>,
    /// Signatures the peer sent for this document so far.
    pub(super) sigs_in: HashMap<ChangeHash, Signature>,
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
        Message::Proof(_) => "proof",
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
    // This phone proves the key its credential names; a credential naming none (or another
    // key than the one held) proves nothing, and a new one comes with the next sync.
    let key = store.device_key()?;
    if me.key != Some(key.public_key()) {
        return Err(PeerError::NotEnrolled);
    }

    // Hellos.
    let nonce = Nonce::random();
    let hello =
        Hello { credential: trust.credential.clone(), revocations: trust.revocations, nonce };
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
    // Proofs: each side shows it holds its credential's key before anything is shared.
    if theirs.nonce == nonce || peer.device == me.device {
        let why = "the peer answered with this phone's own nonce or credential".to_string();
        return Err(s.refuse(CredentialRefusal::Unproven { device: peer.device, why }).await);
    }
    let sig = proof::prove(&key, &theirs.nonce, &nonce, &trust.credential, &theirs.credential);
    s.send(&Message::Proof(Proof { sig })).await?;
    let their_proof = match s.receive().await? {
        Message::Proof(p) => p,
        other => return Err(PeerError::Unexpected { expected: "proof", got: name(&other) }),
    };
    let proven = peer.key.is_some_and(|k| {
        proof::check(
            &k,
            &their_proof.sig,
            &nonce,
            &theirs.nonce,
            &theirs.credential,
            &trust.credential,
        )
    });
    if !proven {
        let why = match peer.key {
            None => "its credential names no device key",
            Some(_) => "the proof is not by its credential's key over this session",
        };
        let why = why.to_string();
        return Err(s.refuse(CredentialRefusal::Unproven { device: peer.device, why }).await);
    }
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
            Some(their_heads) => {
                let mut doc = store.load(*id)?;
                // What the peer lacks is at most what follows the heads of theirs known here.
                let known: Vec<ChangeHash> = their_heads
                    .iter()
                    .copied()
                    .filter(|h| doc.get_change_by_hash(h).is_some())
                    .collect();
                let sigs_out = store.signatures_for(&doc.get_changes(&known))?;
                let state = sync::State::new();
                syncing.insert(*id, Syncing { doc, state, sigs_out, sigs_in: HashMap::new() });
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
        authors.insert(v.actor.clone(), v.profile.clone(), v.key);
    }
    let mut kept: Vec<(Verified, Credential)> = Vec::new();
    for c in &offer.credentials {
        match c.open(server_key) {
            Ok(v) if !revoked.devices.contains(&v.device) => {
                authors.insert(v.actor.clone(), v.profile.clone(), v.key);
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
            let sigs = s.store.signatures_for(&s.store.load(id)?.get_changes(&[]))?;
            size += bytes.len() + sigs.len() * SIG_BYTES;
            s.out.sent_whole += 1;
            items.push(Item::Whole {
                doc: ByteBuf::from(id.as_bytes().to_vec()),
                bytes: ByteBuf::from(bytes),
                sigs,
            });
        }
        for (id, d) in syncing.iter_mut() {
            if size >= options.round_bytes {
                break;
            }
            if let Some(m) = d.doc.sync().generate_sync_message(&mut d.state) {
                let msg = m.encode();
                let sigs = std::mem::take(&mut d.sigs_out);
                size += msg.len() + sigs.len() * SIG_BYTES;
                items.push(Item::Sync {
                    doc: ByteBuf::from(id.as_bytes().to_vec()),
                    msg: ByteBuf::from(msg),
                    sigs,
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
                Item::Sync { doc, msg, sigs } => {
                    let id = doc_id(&doc)?;
                    if closed.contains(&id) {
                        continue;
                    }
                    let took = match syncing.get_mut(&id) {
                        Some(d) if d.sigs_in.len() + sigs.len() > MAX_SIGNATURES => {
                            Err(Denied::new(
                                "peer.signature",
                                format!("more than {MAX_SIGNATURES} signatures for one document"),
                            ))
                        }
                        Some(d) => {
                            d.sigs_in.extend(authorship::by_hash(&sigs));
                            take_sync(s.store, id, d, &msg, authors, me)
                        }
                        None => {
                            Err(Denied::new("peer.unexpected", "not a document of this session"))
                        }
                    };
                    (id, took)
                }
                Item::Whole { doc, bytes, sigs } => {
                    let id = doc_id(&doc)?;
                    if closed.contains(&id) {
                        continue;
                    }
                    let sigs = authorship::by_hash(&sigs);
                    let took =
                        take_whole(s.store, id, &bytes, &sigs, syncing.get_mut(&id), authors, me);
                    (id, took)
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
