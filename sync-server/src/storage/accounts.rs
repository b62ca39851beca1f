//! Users, their devices, enrollment codes and desk sessions as storage keeps them, and the
//! [`AccountStorage`] part of the storage trait. What a role or a code means is the accounts
//! domain's (`crate::accounts`): storage keeps roles as their names and codes and tokens as
//! their hashes, and makes atomic what must be (an enrollment, a desk sign-in, disabling a
//! user, revoking a device with its sessions).

use super::{BoxFuture, StorageResult};

/// How many of a user's former scope sets are kept ([`AccountStorage::former_scopes`]).
pub const FORMER_SCOPES_KEPT: i64 = 8;

/// A user as stored; the role and patrol kind are their names, which the accounts domain
/// reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// The user id.
    pub id: String,
    /// The role's name (`resident`, `grid_leader`, …).
    pub role: String,
    /// The patrol kind's name, for patrol members.
    pub patrol: Option<String>,
    /// Scope paths.
    pub scopes: Vec<String>,
    /// When the user was added, ms since the Unix epoch.
    pub created_at: i64,
    /// When an operator disabled the user, if they are disabled now.
    pub disabled_at: Option<i64>,
}

/// A user to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The user id.
    pub id: String,
    /// The role's name.
    pub role: String,
    /// The patrol kind's name, for patrol members.
    pub patrol: Option<String>,
    /// Scope paths (at least one).
    pub scopes: Vec<String>,
    /// When, ms since the Unix epoch.
    pub at: i64,
}

/// What kind of client a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceKind {
    /// A phone: authenticated by its bearer token.
    #[default]
    Phone,
    /// A browser at the command centre: authenticated by its one desk session; no bearer
    /// token opens it.
    Desk,
}

impl DeviceKind {
    /// The name storage keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Phone => "phone",
            DeviceKind::Desk => "desk",
        }
    }

    /// The kind of a stored name; an unknown name reads as a phone's (no session opens it).
    pub fn from_stored(name: &str) -> DeviceKind {
        if name == "desk" { DeviceKind::Desk } else { DeviceKind::Phone }
    }
}

/// An enrolled device as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its id.
    pub id: String,
    /// The user it acts for.
    pub user: String,
    /// The name the phone gave.
    pub name: String,
    /// The actor id its changes carry.
    pub actor: Vec<u8>,
    /// When it enrolled.
    pub enrolled_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// A phone or a desk.
    pub kind: DeviceKind,
    /// Revoked with a wipe: the phone erases its store and files at its next contact.
    pub wipe: bool,
    /// The public key (ed25519) the phone made at enrolment: its changes relayed by other
    /// devices are taken only signed with it. `None` for desks, and phones enrolled before
    /// devices had keys.
    pub key: Option<Vec<u8>>,
}

impl Device {
    /// What delivery to this device is measured against (`policy::delivered`): a phone's
    /// enrolment, so a bulletin that expired before it does not reach it on any path; none for
    /// a desk session, which reads what its user's role reads.
    pub fn enrolled_phone(&self) -> Option<i64> {
        (self.kind == DeviceKind::Phone).then_some(self.enrolled_at)
    }
}

/// An enrollment code as stored (only its hash; the code itself is never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// SHA-256 of the code in its canonical form.
    pub hash: Vec<u8>,
    /// The user it enrolls a device for.
    pub user: String,
    /// Who issued it.
    pub issued_by: String,
    /// When it was issued, ms since the Unix epoch.
    pub issued_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// When it was used.
    pub used_at: Option<i64>,
    /// The device it enrolled.
    pub device: Option<String>,
    /// When it was withdrawn.
    pub revoked_at: Option<i64>,
}

/// A code to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// SHA-256 of the code in its canonical form.
    pub hash: Vec<u8>,
    /// The user it enrolls a device for.
    pub user: String,
    /// Who issued it.
    pub issued_by: String,
    /// When, ms since the Unix epoch.
    pub issued_at: i64,
    /// When it stops working.
    pub expires_at: i64,
}

/// What disabling a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disabled {
    /// When the user was disabled (earlier, if they were disabled already).
    pub at: i64,
    /// Their devices that were active (not revoked), now refused.
    pub devices: usize,
    /// Their unused, unexpired codes, now withdrawn.
    pub codes_withdrawn: usize,
    /// Their desk sessions that were open, now ended.
    pub sessions_ended: usize,
}

/// A device of the same user that hands its actor over to the device enrolling: its
/// registration ends (revoked) and a tombstone takes the actor's place in its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    /// The device that holds the actor now.
    pub device: String,
    /// The actor, as that device holds it (the takeover is refused if it moved meanwhile).
    pub actor: Vec<u8>,
    /// What the old row holds in place of the actor (an actor is unique).
    pub tombstone: Vec<u8>,
}

/// An enrollment: a code exchanged for a new device, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The hash of the code used.
    pub code: Vec<u8>,
    /// The new device (`enrolled_at` is when; `revoked_at` is `None`).
    pub device: Device,
    /// SHA-256 of its bearer token.
    pub token_hash: Vec<u8>,
    /// The device of the same user whose actor the new one takes over, if any.
    pub takeover: Option<Takeover>,
}

/// Why a desk session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Its user signed out.
    SignedOut,
    /// An operator revoked it.
    Revoked,
    /// Nothing was asked with it for longer than the idle limit.
    Idle,
    /// Its desk device was revoked.
    DeviceRevoked,
    /// Its user was disabled.
    UserDisabled,
}

impl SessionEnd {
    /// The name storage keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::SignedOut => "signed_out",
            SessionEnd::Revoked => "revoked",
            SessionEnd::Idle => "idle",
            SessionEnd::DeviceRevoked => "device_revoked",
            SessionEnd::UserDisabled => "user_disabled",
        }
    }

    /// The reason of a stored name; an unknown one reads as revoked.
    pub fn from_stored(name: &str) -> SessionEnd {
        match name {
            "signed_out" => SessionEnd::SignedOut,
            "idle" => SessionEnd::Idle,
            "device_revoked" => SessionEnd::DeviceRevoked,
            "user_disabled" => SessionEnd::UserDisabled,
            _ => SessionEnd::Revoked,
        }
    }
}

impl std::fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A desk session as stored (its token only as a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// Its id, shown to operators (`session list`, `session revoke <id>`).
    pub id: String,
    /// The desk device it is bound to.
    pub device: String,
    /// The user signed in.
    pub user: String,
    /// When it was opened, ms since the Unix epoch.
    pub created_at: i64,
    /// When it was last used (written at most about once a minute).
    pub last_seen_at: i64,
    /// When it ended, and why, if it did.
    pub ended: Option<(i64, SessionEnd)>,
}

/// A desk sign-in: an enrollment code exchanged for a desk device and its session, in one
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskSignIn {
    /// The code used and the desk device made (`device.kind` is [`DeviceKind::Desk`]; its
    /// `token_hash` is of a secret nobody keeps; no takeover).
    pub enrollment: Enrollment,
    /// The session's id.
    pub session: String,
    /// SHA-256 of the session's token (the cookie).
    pub token_hash: Vec<u8>,
}

/// Users, devices, enrollment codes and desk sessions.
///
/// Rules every backend keeps (the conformance suite checks them):
/// - an enrollment commits whole or not at all, and only while its code is unused, not
///   withdrawn, not expired at `device.enrolled_at`, and of a user who is not disabled; a
///   takeover only while the old device still holds the actor; the new device's actor is no
///   other device's. Otherwise it fails with [`StorageError::Changed`](super::StorageError)
///   and changes nothing: a code enrolls one device, whoever races for it;
/// - disabling a user withdraws their unused, unexpired codes in the same transaction;
///   disabling or revoking twice keeps the first time.
pub trait AccountStorage: Send + Sync + 'static {
    /// Adds a user; `false` when the id is taken (nothing changes).
    fn add_user(&self, user: NewUser) -> BoxFuture<'_, StorageResult<bool>>;

    /// Replaces a user's scopes; `false` when there is no such user. The scopes replaced, when
    /// they differ, become the newest of the user's [former scopes](Self::former_scopes), in
    /// the same transaction; only the newest [`FORMER_SCOPES_KEPT`] are kept.
    fn set_scopes(
        &self,
        user: String,
        scopes: Vec<String>,
        at: i64,
    ) -> BoxFuture<'_, StorageResult<bool>>;

    /// The scopes a user had before, newest first: a device whose feed was read under one of
    /// them already holds what that set let it read.
    fn former_scopes(&self, user: String) -> BoxFuture<'_, StorageResult<Vec<Vec<String>>>>;

    /// Every user, by id.
    fn users(&self) -> BoxFuture<'_, StorageResult<Vec<StoredUser>>>;

    /// A user by id.
    fn user(&self, id: String) -> BoxFuture<'_, StorageResult<Option<StoredUser>>>;

    /// Disables a user at `at` (or keeps the earlier time), withdraws their unused,
    /// unexpired codes and ends their open desk sessions; `None` when there is no such user.
    fn disable_user(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<Option<Disabled>>>;

    /// Enables a user; `false` when there is no such user.
    fn enable_user(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>>;

    /// Records an issued code.
    fn add_code(&self, code: NewCode) -> BoxFuture<'_, StorageResult<()>>;

    /// The code with this hash.
    fn code(&self, hash: Vec<u8>) -> BoxFuture<'_, StorageResult<Option<StoredCode>>>;

    /// Codes, newest first (then by hash): of `user` only if given.
    fn codes(&self, user: Option<String>) -> BoxFuture<'_, StorageResult<Vec<StoredCode>>>;

    /// The codes whose hash starts with `prefix`.
    fn codes_with_prefix(&self, prefix: Vec<u8>) -> BoxFuture<'_, StorageResult<Vec<StoredCode>>>;

    /// Withdraws a code at `at` (a code withdrawn already keeps its time); `false` when there
    /// is no such code.
    fn revoke_code(&self, hash: Vec<u8>, at: i64) -> BoxFuture<'_, StorageResult<bool>>;

    /// The device whose changes carry `actor`, revoked or not.
    fn device_by_actor(&self, actor: Vec<u8>) -> BoxFuture<'_, StorageResult<Option<Device>>>;

    /// The devices whose changes carry `actors`, each with its user, revoked or disabled or
    /// not, in one read (the authors a pulled page names); actors of no device are left out.
    fn devices_by_actors(
        &self,
        actors: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, StorageResult<Vec<(Device, StoredUser)>>>;

    /// The device whose bearer token hashes to `token_hash`, with its user.
    fn device_by_token(
        &self,
        token_hash: Vec<u8>,
    ) -> BoxFuture<'_, StorageResult<Option<(Device, StoredUser)>>>;

    /// Every device, newest first (then by id).
    fn devices(&self) -> BoxFuture<'_, StorageResult<Vec<Device>>>;

    /// Revokes a device at `at` (a revoked device keeps its time) and ends its open desk
    /// sessions; `false` when there is no such device.
    fn revoke_device(&self, id: String, at: i64, wipe: bool) -> BoxFuture<'_, StorageResult<bool>>;

    /// The devices revoked at or after `since`, and those of users disabled at or after it,
    /// by id: what peers must refuse while credentials issued before are still valid.
    fn revoked_since(&self, since: i64) -> BoxFuture<'_, StorageResult<Vec<String>>>;

    /// The seed of the key peer credentials are signed with (`docs/peer.md`), in hex:
    /// `candidate` is kept when none is stored yet, and the stored one is returned either way,
    /// so that every instance on one database signs with the same key.
    fn peer_key(&self, candidate: String) -> BoxFuture<'_, StorageResult<String>>;

    /// Enrolls a device (see the rules above).
    fn enroll(&self, enrollment: Enrollment) -> BoxFuture<'_, StorageResult<()>>;

    /// Signs a desk in (see the rules above): like [`AccountStorage::enroll`], and the
    /// session too.
    fn sign_in(&self, sign_in: DeskSignIn) -> BoxFuture<'_, StorageResult<()>>;

    /// The session whose token hashes to `token_hash`, with its device and user.
    fn session_by_token(
        &self,
        token_hash: Vec<u8>,
    ) -> BoxFuture<'_, StorageResult<Option<(StoredSession, Device, StoredUser)>>>;

    /// Records that an open session was used at `at` (an earlier time never replaces a later
    /// one); `false` when there is no such open session.
    fn touch_session(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>>;

    /// Ends a session at `at` for `why` and revokes its desk device; a session ended already
    /// keeps its first end. `false` when there is no such session.
    fn end_session(
        &self,
        id: String,
        at: i64,
        why: SessionEnd,
    ) -> BoxFuture<'_, StorageResult<bool>>;

    /// Ends, as idle at `at`, every open session last used before `seen_before`, revoking
    /// their desk devices; returns how many.
    fn end_idle_sessions(&self, seen_before: i64, at: i64) -> BoxFuture<'_, StorageResult<usize>>;

    /// Every session, newest first (then by id).
    fn sessions(&self) -> BoxFuture<'_, StorageResult<Vec<StoredSession>>>;
}
