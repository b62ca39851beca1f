//! API keys of Open311 apps: issued by the admin CLI for a named app and the scopes it may read
//! and file into, shown once, kept only as a SHA-256 hash (as device tokens are, see
//! `accounts::secret`), revoked at once.

use rand::RngCore;

use super::Open311Error;
use crate::accounts::secret;
use crate::storage::{NewKey, Storage, StoredKey};

/// Longest app name, in characters.
pub const NAME_CHARS: usize = 100;

/// Most scopes one key holds.
pub const MAX_SCOPES: usize = 32;

/// A key that authenticated a request: its id, app and scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id.
    pub id: String,
    /// The app that holds it.
    pub name: String,
    /// Scopes whose reports it may read and file into.
    pub scopes: Vec<String>,
    /// SHA-256 of the key (what the key's Automerge actor is derived from).
    pub hash: Vec<u8>,
}

/// A key just issued: the only time the key itself is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The key's id.
    pub id: String,
    /// The key, for the app's `api_key` parameter.
    pub key: String,
    /// The app.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

fn check(name: &str, scopes: &[String]) -> Result<(), Open311Error> {
    let n = name.chars().count();
    if name.trim().is_empty() || n > NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Open311Error::bad(
            "name",
            format!("an app's name is 1 to {NAME_CHARS} characters, no control characters"),
        ));
    }
    if scopes.is_empty() || scopes.len() > MAX_SCOPES {
        return Err(Open311Error::bad("scope", format!("a key has 1 to {MAX_SCOPES} scopes")));
    }
    for s in scopes {
        fieldsync_core::limits::scope(s).map_err(|e| Open311Error::bad("scope", e.to_string()))?;
    }
    Ok(())
}

/// Issues a key for the app `name`, reading and filing into `scopes`.
pub async fn issue(
    storage: &dyn Storage,
    name: &str,
    scopes: &[String],
) -> Result<IssuedKey, Open311Error> {
    check(name, scopes)?;
    let mut id = [0u8; 6];
    rand::rng().fill_bytes(&mut id);
    let id = format!("key-{}", hex::encode(id));
    let key = secret::new_token();
    let new = NewKey {
        id: id.clone(),
        name: name.to_string(),
        scopes: scopes.to_vec(),
        hash: secret::hash(&key),
        at: fieldsync_core::time::now_ms(),
    };
    if !storage.add_key(new).await? {
        // 48 random bits of id and 256 of key: a collision is a broken random source.
        return Err(Open311Error::Unavailable("a new key's id or hash is taken".into()));
    }
    Ok(IssuedKey { id, key, name: name.to_string(), scopes: scopes.to_vec() })
}

/// The key `key` names, if it is one this server issued and did not revoke.
pub async fn authenticate(
    storage: &dyn Storage,
    key: Option<&str>,
) -> Result<ApiKey, Open311Error> {
    let key = key.filter(|k| !k.is_empty()).ok_or(Open311Error::MissingKey)?;
    if !secret::is_token(key) {
        return Err(Open311Error::UnknownKey);
    }
    let hash = secret::hash(key);
    let stored = storage.key_by_hash(hash.clone()).await?.ok_or(Open311Error::UnknownKey)?;
    if stored.revoked_at.is_some() {
        return Err(Open311Error::RevokedKey { id: stored.id });
    }
    Ok(ApiKey { id: stored.id, name: stored.name, scopes: stored.scopes, hash })
}

/// Every key, oldest first.
pub async fn list(storage: &dyn Storage) -> Result<Vec<StoredKey>, Open311Error> {
    Ok(storage.keys().await?)
}

/// Revokes the key with this id; requests with it are refused from now on.
pub async fn revoke(storage: &dyn Storage, id: &str) -> Result<(), Open311Error> {
    if storage.revoke_key(id.to_string(), fieldsync_core::time::now_ms()).await? {
        Ok(())
    } else {
        Err(Open311Error::bad("id", format!("no API key {id:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_scopes_are_checked() {
        let grid = vec!["jl/cc/grid-01".to_string()];
        assert!(check("Civic app", &grid).is_ok());
        assert!(check(" ", &grid).is_err());
        assert!(check(&"x".repeat(NAME_CHARS + 1), &grid).is_err());
        assert!(check("a\u{7}b", &grid).is_err());
        assert!(check("app", &[]).is_err());
        assert!(check("app", &["jl//x".to_string()]).is_err());
        assert!(check("app", &["jl/%".to_string()]).is_err());
    }
}
