//! Users, their devices and enrollment codes as storage keeps them, and the
//! [`AccountStorage`] part of the storage trait. What a role or a code means is the accounts
//! domain's (`crate::accounts`): storage keeps roles as their names and codes and tokens as
//! their hashes, and makes atomic what must be (an enrollment, disabling a user).

use super::{BoxFuture, StorageResult};

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

/// Users, devices and enrollment codes.
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

    /// Replaces a user's scopes; `false` when there is no such user.
    fn set_scopes(
        &self,
        user: String,
        scopes: Vec<String>,
        at: i64,
    ) -> BoxFuture<'_, StorageResult<bool>>;

    /// Every user, by id.
    fn users(&self) -> BoxFuture<'_, StorageResult<Vec<StoredUser>>>;

    /// A user by id.
    fn user(&self, id: String) -> BoxFuture<'_, StorageResult<Option<StoredUser>>>;

    /// Disables a user at `at` (or keeps the earlier time) and withdraws their unused,
    /// unexpired codes; `None` when there is no such user.
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

    /// The device whose bearer token hashes to `token_hash`, with its user.
    fn device_by_token(
        &self,
        token_hash: Vec<u8>,
    ) -> BoxFuture<'_, StorageResult<Option<(Device, StoredUser)>>>;

    /// Every device, newest first (then by id).
    fn devices(&self) -> BoxFuture<'_, StorageResult<Vec<Device>>>;

    /// Revokes a device at `at` (a revoked device keeps its time); `false` when there is no
    /// such device.
    fn revoke_device(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>>;

    /// Enrolls a device (see the rules above).
    fn enroll(&self, enrollment: Enrollment) -> BoxFuture<'_, StorageResult<()>>;
}
