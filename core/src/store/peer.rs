//! What phone-to-phone sync keeps (docs/peer.md): the server's public key pinned at enrolment,
//! this device's credential and the revocation list as of the last sync (in `meta`), and the
//! credentials of the authors whose changes this phone holds (`peer_credentials`).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Store;
use crate::error::{CoreError, Result};
use crate::peer::{Credential, Revocations, SignedRevocations, Verified};

const SERVER_KEY: &str = "peer_server_key";
const CREDENTIAL: &str = "peer_credential";
const REVOCATIONS: &str = "peer_revocations";
/// Most relayed credentials kept and offered (the newest by expiry).
pub(crate) const MAX_KNOWN: usize = 256;

/// What a peer session starts from.
#[derive(Debug, Clone)]
pub(crate) struct PeerTrust {
    /// The pinned server key.
    pub(crate) server_key: Vec<u8>,
    /// This device's credential.
    pub(crate) credential: Credential,
    /// The revocation list as signed, if the server handed one out.
    pub(crate) revocations: Option<SignedRevocations>,
    /// That list, read.
    pub(crate) revoked: Revocations,
}

fn get_blob(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

fn put_blob(conn: &Connection, key: &str, value: &[u8]) -> Result<()> {
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![key, value])?;
    Ok(())
}

fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and these values have no maps with non-string keys.
    if let Err(e) = ciborium::into_writer(value, &mut out) {
        tracing::error!("CBOR encoding failed: {e}");
    }
    out
}

fn uncbor<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    ciborium::from_reader(bytes).map_err(|e| CoreError::invalid("database", format!("{key}: {e}")))
}

fn refused(field: &'static str, e: impl std::fmt::Display) -> CoreError {
    CoreError::invalid(field, e.to_string())
}

impl Store {
    /// Pins the server's public key, as enrolment gives it: peers' credentials are checked with
    /// it. A key other than the one pinned (the phone enrolled with another server) replaces
    /// it, and what the old key signed (this device's credential, the revocation list, the
    /// credentials of other authors) is dropped with it.
    pub fn pin_server_key(&self, key: &[u8]) -> Result<()> {
        if key.len() != 32 {
            return Err(CoreError::invalid("server_key", "an ed25519 public key is 32 bytes"));
        }
        let mut w = self.writer();
        w.in_tx(|tx| {
            if get_blob(tx, SERVER_KEY)?.is_some_and(|pinned| pinned != key) {
                tx.execute("DELETE FROM meta WHERE key IN (?1, ?2)", [CREDENTIAL, REVOCATIONS])?;
                tx.execute("DELETE FROM peer_credentials", [])?;
            }
            put_blob(tx, SERVER_KEY, key)
        })
    }

    /// Keeps the credential the server handed this device (at enrolment or a sync); it must
    /// be signed by the pinned key and name this device's actor.
    pub fn save_credential(&self, credential: &Credential) -> Result<()> {
        let mut w = self.writer();
        let key = get_blob(&w.conn, SERVER_KEY)?
            .ok_or_else(|| CoreError::invalid("credential", "no server key is pinned"))?;
        let v = credential.open(&key).map_err(|e| refused("credential", e))?;
        if v.actor != w.identity.actor {
            return Err(CoreError::invalid("credential", "it names another actor"));
        }
        w.in_tx(|tx| {
            put_blob(tx, CREDENTIAL, &cbor(credential))?;
            remember(tx, &v, credential)
        })
    }

    /// Keeps a revocation list signed by the pinned key, unless the one held is newer; returns
    /// whether it was kept.
    pub fn save_revocations(&self, list: &SignedRevocations) -> Result<bool> {
        let w = self.writer();
        let key = get_blob(&w.conn, SERVER_KEY)?
            .ok_or_else(|| CoreError::invalid("revocations", "no server key is pinned"))?;
        let new = list.open(&key).map_err(|e| refused("revocations", e))?;
        if let Some(held) = get_blob(&w.conn, REVOCATIONS)? {
            let held: SignedRevocations = uncbor(REVOCATIONS, &held)?;
            if held.open(&key).is_ok_and(|h| h.issued_at >= new.issued_at) {
                return Ok(false);
            }
        }
        put_blob(&w.conn, REVOCATIONS, &cbor(list))?;
        Ok(true)
    }

    /// Keeps what a sync answer carried for peers. A credential or list that does not check
    /// (a server that changed its key, say) is logged and left: the sync itself succeeded.
    pub(crate) fn keep_for_peers(
        &self,
        credential: Option<&Credential>,
        revocations: Option<&SignedRevocations>,
        authors: &[Credential],
    ) {
        if let Some(c) = credential
            && let Err(e) = self.save_credential(c)
        {
            tracing::warn!("the peer credential from the server is not kept: {e}");
        }
        if let Some(r) = revocations
            && let Err(e) = self.save_revocations(r)
        {
            tracing::warn!("the revocation list from the server is not kept: {e}");
        }
        if let Err(e) = self.keep_authors(authors) {
            tracing::warn!("the authors' credentials from the server are not kept: {e}");
        }
    }

    /// Keeps the credentials of other authors a pull named (signed by the pinned key, not
    /// revoked by the list held, not this device's), to offer them to peers with those
    /// authors' changes; one that does not check is left out.
    fn keep_authors(&self, authors: &[Credential]) -> Result<()> {
        if authors.is_empty() {
            return Ok(());
        }
        let mut w = self.writer();
        let Some(key) = get_blob(&w.conn, SERVER_KEY)? else { return Ok(()) };
        let revoked = match get_blob(&w.conn, REVOCATIONS)? {
            Some(b) => uncbor::<SignedRevocations>(REVOCATIONS, &b)?.open(&key).unwrap_or_default(),
            None => Revocations::default(),
        };
        let me = w.identity.actor.clone();
        let kept: Vec<(Verified, &Credential)> = authors
            .iter()
            .filter_map(|c| match c.open(&key) {
                Ok(v) if v.actor != me && !revoked.devices.contains(&v.device) => Some((v, c)),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!("an author's credential from the server does not check: {e}");
                    None
                }
            })
            .collect();
        w.in_tx(|tx| kept.iter().try_for_each(|(v, c)| remember(tx, v, c)))
    }

    /// The pinned key, this device's credential and the revocation list; `None` until the
    /// server handed out a credential.
    pub(crate) fn peer_trust(&self) -> Result<Option<PeerTrust>> {
        let w = self.writer();
        let (Some(server_key), Some(cred)) =
            (get_blob(&w.conn, SERVER_KEY)?, get_blob(&w.conn, CREDENTIAL)?)
        else {
            return Ok(None);
        };
        let revocations: Option<SignedRevocations> = match get_blob(&w.conn, REVOCATIONS)? {
            Some(b) => Some(uncbor(REVOCATIONS, &b)?),
            None => None,
        };
        let revoked = match &revocations {
            Some(r) => r.open(&server_key).map_err(|e| refused("revocations", e))?,
            None => Revocations::default(),
        };
        Ok(Some(PeerTrust {
            server_key,
            credential: uncbor(CREDENTIAL, &cred)?,
            revocations,
            revoked,
        }))
    }

    /// The credentials of other authors this phone holds, newest expiry first.
    pub(crate) fn known_credentials(&self) -> Result<Vec<Credential>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT credential FROM peer_credentials ORDER BY expires_at DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([MAX_KNOWN as i64], |r| r.get::<_, Vec<u8>>(0))?;
            rows.map(|b| uncbor("peer_credentials", &b?)).collect()
        })
    }

    /// Keeps credentials that checked (a later one of the same actor replaces an earlier).
    pub(crate) fn remember_credentials(&self, creds: &[(Verified, Credential)]) -> Result<()> {
        if creds.is_empty() {
            return Ok(());
        }
        self.writer().in_tx(|tx| creds.iter().try_for_each(|(v, c)| remember(tx, v, c)))
    }
}

/// The credential this phone holds of the author whose actor is `actor` (one a peer passed on,
/// or the server handed out with the author's changes), as a push carries it with the author's
/// relayed changes.
pub(crate) fn held_credential(conn: &Connection, actor: &[u8]) -> Result<Option<Credential>> {
    let mut stmt =
        conn.prepare_cached("SELECT credential FROM peer_credentials WHERE actor = ?1")?;
    let bytes: Option<Vec<u8>> = stmt.query_row([actor], |r| r.get(0)).optional()?;
    bytes.map(|b| uncbor("peer_credentials", &b)).transpose()
}

fn remember(tx: &Connection, v: &Verified, c: &Credential) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO peer_credentials (actor, device, expires_at, credential)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (actor) DO UPDATE SET device = excluded.device,
             expires_at = excluded.expires_at, credential = excluded.credential
         WHERE excluded.expires_at > peer_credentials.expires_at",
    )?
    .execute(params![v.actor.to_bytes(), v.device, v.expires_at, cbor(c)])?;
    Ok(())
}
