//! The messages of `POST /v1/sync` and `POST /v1/reconcile`.

use serde::{Deserialize, Serialize};

use crate::authorship::ChangeSig;
use crate::id::DocId;
use crate::peer::{Credential, SignedRevocations};

/// A change hash on the wire: 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl From<automerge::ChangeHash> for Hash {
    fn from(h: automerge::ChangeHash) -> Self {
        Hash(h.0)
    }
}

impl From<Hash> for automerge::ChangeHash {
    fn from(h: Hash) -> Self {
        automerge::ChangeHash(h.0)
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes::ByteBuf = Deserialize::deserialize(d)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("a change hash is 32 bytes"))?;
        Ok(Hash(arr))
    }
}

/// Converts heads for the wire.
pub fn to_wire(heads: &[automerge::ChangeHash]) -> Vec<Hash> {
    heads.iter().map(|h| Hash::from(*h)).collect()
}

/// Converts heads from the wire.
pub fn from_wire(heads: &[Hash]) -> Vec<automerge::ChangeHash> {
    heads.iter().map(|h| automerge::ChangeHash::from(*h)).collect()
}

/// `POST /v1/sync`: push this device's unacknowledged changes and pull one page after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Protocol version ([`super::VERSION`]).
    pub v: u32,
    /// The server epoch `cursor` belongs to; `None` on first contact.
    pub epoch: Option<String>,
    /// Opaque position in the server's feed, as last answered; empty to start from nothing.
    pub cursor: String,
    /// The Automerge actor id this device writes with (its own changes are not echoed back).
    #[serde(with = "serde_bytes")]
    pub actor: Vec<u8>,
    /// Per document, the changes the server has not acknowledged yet.
    pub push: Vec<PushDoc>,
    /// Documents the device wants whole (it lacks them, or could not apply what it got).
    pub want: Vec<DocId>,
    /// How many bytes of pulled data the device wants at most in this answer.
    pub page_bytes: u32,
}

/// The changes of one document that the server has not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDoc {
    /// The document.
    pub doc: DocId,
    /// Automerge change chunks, concatenated, in causal order.
    #[serde(with = "serde_bytes")]
    pub changes: Vec<u8>,
    /// The document's heads once these changes are applied (what the server acknowledges).
    pub heads: Vec<Hash>,
    /// Version 2: signatures of the pushed changes, grouped by their authors' actors: this
    /// device's own, and those of other devices' changes that reached it from peers (relayed).
    /// A relayed change is taken only with its author's signature (docs/protocol.md, "Relayed
    /// changes"). Absent in version 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<SignedBy>,
}

/// Signatures of one author's changes in a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBy {
    /// The Automerge actor of the changes (the server finds the device it belongs to).
    #[serde(with = "serde_bytes")]
    pub actor: Vec<u8>,
    /// A signature per change, by that device's key.
    pub sigs: Vec<ChangeSig>,
    /// A relayed author's peer credential as the pushing phone holds it (docs/protocol.md,
    /// "Relayed changes"): the rights the server last told the phones the author had, so that
    /// a change its author was entitled to then but is not now is `stale_rights`, not
    /// `forbidden`. Absent for the pusher's own changes and when the phone holds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
}

/// The answer to a [`SyncRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Protocol version.
    pub v: u32,
    /// The server's epoch; a change means the server lost data and the device must reconcile.
    pub epoch: String,
    /// One result per pushed document, in the order pushed.
    pub results: Vec<PushResult>,
    /// Pulled data, grouped by document.
    pub docs: Vec<PullDoc>,
    /// Send this next time.
    pub cursor: String,
    /// More data waits after `cursor`: ask again at once.
    pub more: bool,
    /// Estimate of the feed entries still waiting after this page (for progress).
    pub remaining: u64,
    /// The user's role or scopes changed since the cursor was issued: the feed restarted with a
    /// catch-up of everything the user may read now, and once it is done the device asks which
    /// of the documents it holds it may no longer read (`POST /v1/visible`).
    #[serde(default)]
    pub rescoped: bool,
    /// With `rescoped`: the rights only grew (the same role, every former scope kept), so
    /// everything the device holds it may still read, and the restarted catch-up left out what
    /// it held already. Once the catch-up is done the device asks `POST /v1/visible` for its
    /// new profile alone, with no ids. Absent means false: ask about every document held.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub widened: bool,
    /// A fresh peer credential for this device (`docs/peer.md`), from a server that issues them.
    #[serde(default)]
    pub credential: Option<Credential>,
    /// The server's revocation list, signed, handed out with the credential.
    #[serde(default)]
    pub revocations: Option<SignedRevocations>,
    /// Version 2: peer credentials of the other authors whose signed changes this page carries
    /// (their devices' keys and their users' rights now), so that the phone can pass those
    /// changes on to peers as their authors' (`docs/peer.md`, "Signed changes"). Absent when
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<Credential>,
}

/// What became of one pushed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    /// The document.
    pub doc: DocId,
    /// Acknowledged or rejected.
    pub outcome: PushOutcome,
}

/// Acknowledged, rejected for good, or failed for now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum PushOutcome {
    /// The server holds everything up to `heads`, stored and logged.
    Acked {
        /// The heads acknowledged (those the device pushed).
        heads: Vec<Hash>,
    },
    /// The server refuses these changes; retrying the same changes will not help.
    Rejected {
        /// Machine-readable reason, e.g. `malformed_changes`, `forbidden`.
        code: String,
        /// The rule that failed, for people.
        message: String,
    },
    /// The server could not take them now (e.g. dependencies it lacks); try again later.
    Retry {
        /// Machine-readable reason, e.g. `missing_dependencies`.
        code: String,
        /// For people.
        message: String,
    },
}

/// Pulled data of one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullDoc {
    /// The document.
    pub doc: DocId,
    /// Automerge bytes: change chunks in causal order, or (when `whole`) the stored document.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    /// `bytes` is the whole stored document (snapshot and chunks), not just new changes.
    pub whole: bool,
    /// Version 2: the signatures the server holds of the changes in `bytes`, by their authors'
    /// device keys, as they were pushed (`docs/protocol.md`, "PullDoc"), so that the phone can
    /// pass the changes on as their authors'. Absent when none, and always in version 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sigs: Vec<ChangeSig>,
}

/// `POST /v1/reconcile`: after an epoch change, Automerge sync messages for a batch of documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileRequest {
    /// Protocol version.
    pub v: u32,
    /// The device's actor id.
    #[serde(with = "serde_bytes")]
    pub actor: Vec<u8>,
    /// One Automerge sync message per document (at most [`super::limits::RECONCILE_DOCS`]).
    pub docs: Vec<SyncMessage>,
    /// On the last request of a reconciliation: every document id the device holds, so the
    /// server can name the ones it has and the device lacks (`missing`).
    pub have: Option<Vec<DocId>>,
}

/// An Automerge sync message about one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMessage {
    /// The document.
    pub doc: DocId,
    /// `automerge::sync::Message::encode()`; empty when the sender has nothing to say.
    #[serde(with = "serde_bytes")]
    pub message: Vec<u8>,
}

/// The answer to a [`ReconcileRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileResponse {
    /// Protocol version.
    pub v: u32,
    /// The server's epoch.
    pub epoch: String,
    /// The feed position at the time of this answer; after reconciling, the device continues
    /// from the cursor of its first reconcile answer.
    pub cursor: String,
    /// The server's sync message per document (empty when it has nothing to say).
    pub docs: Vec<SyncMessage>,
    /// Changes the device sent (inside its sync messages) that the server refused.
    pub results: Vec<PushResult>,
    /// With `have`: documents the device may read that the server has and the device lacks;
    /// the device asks for them whole (`want`) in its next sync.
    pub missing: Vec<DocId>,
}

/// The body of every error answer (JSON), with an HTTP status of 4xx or 5xx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `malformed_body`, `unsupported_version`, `too_large`.
    pub code: String,
    /// For people.
    pub message: String,
    /// With `device_revoked`: the administrator asked this device to erase its store and
    /// files. Absent (false) otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wipe: bool,
}

/// `POST /v1/enroll`: a phone exchanges a single-use enrollment code for its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// Protocol version.
    pub v: u32,
    /// The code an admin or grid leader issued (letters and digits; dashes and case ignored).
    pub code: String,
    /// A name for the device, shown in `device list` (e.g. the phone's model).
    pub device_name: String,
    /// The Automerge actor the phone already writes with (1 to 32 bytes), so that what it
    /// recorded before enrolling keeps its authorship; the server assigns a new one when this
    /// is absent or belongs to another device. The answer's `actor` is the one to use.
    #[serde(default, with = "serde_bytes")]
    pub actor: Option<Vec<u8>>,
    /// Set while the phone holds unsynced work of this user: a code of another user is then
    /// refused (`409 other_user`) and stays unused, so the work is not lost to a hand-over the
    /// app did not ask for.
    #[serde(default)]
    pub keep_user: Option<String>,
    /// The public key (ed25519, 32 bytes) of the key the phone made for this device: the
    /// server records it, signs it into the device's peer credentials, and checks the device's
    /// changes relayed by others against it (docs/peer.md, "Signed changes"). Absent from
    /// phones that do not sign; their changes reach the server only from themselves.
    #[serde(default, with = "serde_bytes", skip_serializing_if = "Option::is_none")]
    pub device_key: Option<Vec<u8>>,
}

/// The answer to an [`EnrollRequest`]: who the device is and acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// Protocol version.
    pub v: u32,
    /// The device's id.
    pub device: String,
    /// The bearer token for every later request (shown once; the server keeps only its hash).
    pub token: String,
    /// The Automerge actor id every change of this device must carry.
    #[serde(with = "serde_bytes")]
    pub actor: Vec<u8>,
    /// The user the device acts for.
    pub user: String,
    /// The user's role (`resident`, `grid_leader`, `patrol`, `mediator`, `dispatcher`, `admin`,
    /// `supervisor`, `business_operator`).
    pub role: String,
    /// For patrol members: `police`, `cadre` or `volunteer`.
    pub patrol: Option<String>,
    /// The user's scopes.
    pub scopes: Vec<String>,
    /// The server's ed25519 public key, which the phone pins to check peers' credentials
    /// (`docs/peer.md`); absent from a server that issues none.
    #[serde(default, with = "serde_bytes")]
    pub server_key: Option<Vec<u8>>,
    /// The device's first peer credential.
    #[serde(default)]
    pub credential: Option<Credential>,
}

/// `GET /v1/me`: the device and the profile it acts with now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Protocol version.
    pub v: u32,
    /// The device's id.
    pub device: String,
    /// The Automerge actor id its changes must carry.
    #[serde(with = "serde_bytes")]
    pub actor: Vec<u8>,
    /// The user it acts for.
    pub user: String,
    /// The user's role.
    pub role: String,
    /// For patrol members: `police`, `cadre` or `volunteer`.
    pub patrol: Option<String>,
    /// The user's scopes.
    pub scopes: Vec<String>,
}

/// `POST /v1/visible`: which of these documents may this device no longer read (after its
/// user's role or scopes changed)?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisibleRequest {
    /// Protocol version.
    pub v: u32,
    /// Documents the device holds (at most [`super::limits::WANT_DOCS`]).
    pub ids: Vec<DocId>,
}

/// The answer to a [`VisibleRequest`], with the profile the device acts with now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisibleResponse {
    /// Protocol version.
    pub v: u32,
    /// The documents asked about that the device may not read (or that do not exist).
    pub hidden: Vec<DocId>,
    /// The user.
    pub user: String,
    /// The user's role now.
    pub role: String,
    /// For patrol members: `police`, `cadre` or `volunteer`.
    pub patrol: Option<String>,
    /// The user's scopes now.
    pub scopes: Vec<String>,
}

/// `GET /v1/refusals?after=N`: pushes the server refused as `stale_rights` (right when they were
/// made offline, not when they arrived), listed for the dispatchers of the records' scopes so
/// that honest offline work is never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalsResponse {
    /// Protocol version.
    pub v: u32,
    /// Oldest first, at most [`super::limits::REFUSALS_PAGE`]; ask again with the last `id` as
    /// `after` for more.
    pub refusals: Vec<RefusalEntry>,
}

/// One listed refusal: one per document, device and code (a repeat updates it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalEntry {
    /// Its position in the list.
    pub id: i64,
    /// The document.
    pub doc: DocId,
    /// Its kind (`report`, `patrol_log`, `mediation_case`).
    pub kind: String,
    /// Its scope.
    pub scope: String,
    /// The device that pushed.
    pub device: String,
    /// Its user.
    pub user: String,
    /// The refusal's code.
    pub code: String,
    /// The rule and why.
    pub message: String,
    /// First refused, ms since the Unix epoch.
    pub first_at: i64,
    /// Last refused.
    pub last_at: i64,
    /// How many times.
    pub times: u64,
}
