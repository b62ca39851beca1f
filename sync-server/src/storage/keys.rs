//! Open311 API keys as storage keeps them, and the [`KeyStorage`] part of the storage trait.
//! What a key may do is the Open311 domain's (`crate::open311`): storage keeps a key's id, the
//! name of the app that holds it, its scopes, its times, and only the SHA-256 of the key itself.

use super::{BoxFuture, StorageResult};

/// An API key as stored (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key's id, shown in listings and used to revoke it.
    pub id: String,
    /// The third-party app that holds it.
    pub name: String,
    /// Scope paths whose reports the app may read and file into.
    pub scopes: Vec<String>,
    /// When it was issued, ms since the Unix epoch.
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// An API key to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The key's id.
    pub id: String,
    /// The third-party app that holds it.
    pub name: String,
    /// Scope paths (at least one).
    pub scopes: Vec<String>,
    /// SHA-256 of the key.
    pub hash: Vec<u8>,
    /// When, ms since the Unix epoch.
    pub at: i64,
}

/// Open311 API keys.
///
/// Rules every backend keeps (the conformance suite checks them): ids and hashes are unique
/// (adding a key whose id or hash is taken changes nothing); revoking twice keeps the first
/// time; a revoked key is still found by its hash (so that it is refused as revoked, not as
/// unknown).
pub trait KeyStorage: Send + Sync + 'static {
    /// Records a key; `false` when its id or hash is taken (nothing changes).
    fn add_key(&self, key: NewKey) -> BoxFuture<'_, StorageResult<bool>>;

    /// The key whose hash is `hash`, revoked or not.
    fn key_by_hash(&self, hash: Vec<u8>) -> BoxFuture<'_, StorageResult<Option<StoredKey>>>;

    /// Every key, oldest first (then by id).
    fn keys(&self) -> BoxFuture<'_, StorageResult<Vec<StoredKey>>>;

    /// Revokes a key at `at` (a revoked key keeps its time); `false` when there is no such key.
    fn revoke_key(&self, id: String, at: i64) -> BoxFuture<'_, StorageResult<bool>>;
}
