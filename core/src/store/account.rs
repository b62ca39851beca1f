//! This device's enrollment, kept in the store's `meta` table: the device id and bearer token the
//! server issued, and the profile (user, role, scopes) it acts with. Once enrolled, every
//! command is checked against the access policy before it is committed, so the server never has
//! to refuse an honest user's change.

use automerge::ActorId;
use rusqlite::{Connection, params};

use super::Store;
use super::meta::Meta;
use crate::error::Result;
use crate::policy::Profile;

/// What the server gave this device at enrollment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The device's id on the server.
    pub device: String,
    /// The bearer token every request carries.
    pub token: String,
    /// Who the device acts for, and with which role and scopes.
    pub profile: Profile,
    /// The server's base URL, when the transport that enrolled the device has one.
    pub server: Option<String>,
}

fn put(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![key, value])?;
    Ok(())
}

/// The profile in `meta` as read, if the device is enrolled.
pub(crate) fn profile_from(meta: &Meta) -> Result<Option<Profile>> {
    let get = |key| meta.get::<String>(key);
    let (Some(user), Some(role)) = (get("user")?, get("role")?) else {
        return Ok(None);
    };
    let scopes = get("scopes")?.unwrap_or_default().lines().map(str::to_string).collect();
    Ok(Some(Profile::parse(user, &role, get("patrol")?.as_deref(), scopes)?))
}

fn put_profile(conn: &Connection, p: &Profile) -> Result<()> {
    put(conn, "user", &p.user)?;
    put(conn, "role", p.role.as_str())?;
    match p.patrol {
        Some(k) => put(conn, "patrol", k.as_str())?,
        None => {
            conn.execute("DELETE FROM meta WHERE key = 'patrol'", [])?;
        }
    }
    put(conn, "scopes", &p.scopes.join("\n"))
}

/// Writes what enrollment gave this device into the open transaction `tx`.
pub(crate) fn put_enrollment(
    tx: &Connection,
    enrollment: &Enrollment,
    actor: &ActorId,
) -> Result<()> {
    put(tx, "device", &enrollment.device)?;
    put(tx, "token", &enrollment.token)?;
    match &enrollment.server {
        Some(url) => put(tx, "server", url)?,
        None => {
            tx.execute("DELETE FROM meta WHERE key = 'server'", [])?;
        }
    }
    put_profile(tx, &enrollment.profile)?;
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('actor', ?1)",
        [actor.to_bytes()],
    )?;
    Ok(())
}

impl Store {
    /// The enrollment of this device, if it has one.
    pub fn enrollment(&self) -> Result<Option<Enrollment>> {
        let meta = Meta::read(&self.writer().conn)?;
        let (Some(device), Some(token)) = (meta.get("device")?, meta.get("token")?) else {
            return Ok(None);
        };
        let Some(profile) = profile_from(&meta)? else { return Ok(None) };
        let server = meta.get("server")?;
        Ok(Some(Enrollment { device, token, profile, server }))
    }

    /// Keeps what enrollment gave this device, in one transaction: from now on its changes
    /// carry `actor` and its commands are checked against `profile`.
    pub fn save_enrollment(&self, enrollment: &Enrollment, actor: ActorId) -> Result<()> {
        crate::limits::user_id("user", &enrollment.profile.user)?;
        let mut w = self.writer();
        w.in_tx(|tx| put_enrollment(tx, enrollment, &actor))?;
        // Loaded documents carry the old actor; drop them so new changes use the new one.
        w.clear_cache();
        w.identity.actor = actor;
        w.identity.user = enrollment.profile.user.clone();
        w.profile = Some(enrollment.profile.clone());
        Ok(())
    }

    /// Replaces the profile (the server said the user's role or scopes changed).
    pub fn set_profile(&self, profile: &Profile) -> Result<()> {
        let mut w = self.writer();
        w.in_tx(|tx| put_profile(tx, profile))?;
        w.identity.user = profile.user.clone();
        w.profile = Some(profile.clone());
        Ok(())
    }

    /// The profile commands are checked against; `None` on a device that was never enrolled
    /// (a store used alone, without a server).
    pub fn profile(&self) -> Option<Profile> {
        self.writer().profile.clone()
    }
}
