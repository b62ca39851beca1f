//! Users, their enrolled devices and enrolment codes, in the server's SQLite database: what the
//! admin CLI manages and what every request is authenticated against.
//!
//! A code is single-use and expires; exchanging it creates a device with a bearer token (only its
//! hash is kept) and the Automerge actor id the device must write with. A token does not expire;
//! a device is revoked instead.

mod codes;
mod error;
pub(crate) mod secret;
mod users;

pub use codes::{CodeInfo, CodeState};
pub use error::AccountError;
pub use users::Disabled;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_core::time::now_ms;
use rusqlite::{Connection, OptionalExtension, params};

use crate::config::Durability;
use crate::storage::StorageError;
use fieldsync_core::poison::Recover;

/// Most scopes one user may have.
const MAX_SCOPES: usize = 32;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user id (written into records as `created_by` / `by`).
    pub id: String,
    /// Role, patrol kind and scopes.
    pub profile: Profile,
    /// When the user was added, ms since the Unix epoch.
    pub created_at: i64,
    /// When an operator disabled the user, if they are disabled now: their devices are
    /// refused and their codes do not enrol.
    pub disabled_at: Option<i64>,
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

/// A code just issued: shown once to whoever hands it to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// The code, as people type it (`ABCDE-FGHJK`).
    pub code: String,
    /// When it stops working.
    pub expires_at: i64,
}

/// What a phone gets for a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The new device.
    pub device: Device,
    /// Its bearer token (not stored).
    pub token: String,
    /// Who it acts for.
    pub profile: Profile,
}

/// The device behind a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The device.
    pub device: Device,
    /// Its user's current profile.
    pub profile: Profile,
    /// When its user was disabled, if they are disabled now.
    pub user_disabled_at: Option<i64>,
}

/// Users, devices and codes over one SQLite connection.
pub struct Accounts {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> AccountError {
    AccountError::Invalid(message.into())
}

fn storage(e: rusqlite::Error) -> AccountError {
    AccountError::Storage(StorageError::from(e))
}

/// Checks a user id: 1 to 64 characters, no control characters.
fn check_user_id(id: &str) -> Result<(), AccountError> {
    if id.is_empty() || id.chars().count() > 64 || id.chars().any(char::is_control) {
        return Err(invalid(format!(
            "user id {id:?} must be 1 to 64 characters without control characters"
        )));
    }
    Ok(())
}

/// Checks scopes: 1 to [`MAX_SCOPES`] paths of non-empty `/`-separated segments.
fn check_scopes(scopes: &[String]) -> Result<(), AccountError> {
    if scopes.is_empty() || scopes.len() > MAX_SCOPES {
        return Err(invalid(format!("a user has 1 to {MAX_SCOPES} scopes")));
    }
    for s in scopes {
        fieldsync_core::limits::scope(s).map_err(|e| invalid(e.to_string()))?;
    }
    Ok(())
}

fn profile_of(user: String, role: &str, patrol: Option<String>, scopes: &str) -> Profile {
    Profile {
        user,
        // Stored values were checked when written; an unknown one reads as the least privileged.
        role: role.parse().unwrap_or(Role::Resident),
        patrol: patrol.and_then(|p| p.parse().ok()),
        scopes: scopes.lines().map(str::to_string).collect(),
    }
}

/// A code as enrolment reads it: its user, expiry, use, withdrawal, and when its user was
/// disabled.
type CodeRow = (String, i64, Option<i64>, Option<i64>, Option<i64>);

impl Accounts {
    /// Opens the accounts of the database at `path`, creating or upgrading its schema.
    pub fn open(path: &Path) -> Result<Accounts, AccountError> {
        let (conn, _epoch) = crate::storage::sqlite::schema::open_writer(path, Durability::Normal)?;
        Ok(Accounts { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, AccountError> {
        Ok(self.conn.lock().recover())
    }

    /// Adds a user.
    pub fn add_user(
        &self,
        id: &str,
        role: Role,
        patrol: Option<PatrolKind>,
        scopes: &[String],
    ) -> Result<User, AccountError> {
        check_user_id(id)?;
        check_scopes(scopes)?;
        match (role, patrol) {
            (Role::Patrol, None) => {
                return Err(invalid("a patrol member is police, cadre or volunteer (--patrol)"));
            }
            (r, Some(_)) if r != Role::Patrol => {
                return Err(invalid("only patrol members have a patrol kind"));
            }
            _ => {}
        }
        let now = now_ms();
        let conn = self.conn()?;
        let added = conn
            .execute(
                "INSERT OR IGNORE INTO users (user_id, role, patrol, scopes, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, role.as_str(), patrol.map(|p| p.as_str()), scopes.join("\n"), now],
            )
            .map_err(storage)?;
        if added == 0 {
            return Err(invalid(format!("user {id:?} exists already")));
        }
        let profile = Profile { user: id.to_string(), role, patrol, scopes: scopes.to_vec() };
        Ok(User { id: id.to_string(), profile, created_at: now, disabled_at: None })
    }

    /// Replaces a user's scopes; their devices see the change at their next sync.
    pub fn set_scopes(&self, id: &str, scopes: &[String]) -> Result<(), AccountError> {
        check_scopes(scopes)?;
        let n = self
            .conn()?
            .execute(
                "UPDATE users SET scopes = ?2, updated_at = ?3 WHERE user_id = ?1",
                params![id, scopes.join("\n"), now_ms()],
            )
            .map_err(storage)?;
        if n == 0 {
            return Err(invalid(format!("no user {id:?}")));
        }
        Ok(())
    }

    /// Every user, by id.
    pub fn users(&self) -> Result<Vec<User>, AccountError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT user_id, role, patrol, scopes, created_at, disabled_at FROM users \
                 ORDER BY user_id",
            )
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |r| {
                let id: String = r.get(0)?;
                let role: String = r.get(1)?;
                let profile = profile_of(id.clone(), &role, r.get(2)?, &r.get::<_, String>(3)?);
                Ok(User { id, profile, created_at: r.get(4)?, disabled_at: r.get(5)? })
            })
            .map_err(storage)?;
        rows.collect::<Result<_, _>>().map_err(storage)
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Result<Option<User>, AccountError> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT role, patrol, scopes, created_at, disabled_at FROM users WHERE user_id = ?1",
            [id],
            |r| {
                let role: String = r.get(0)?;
                let profile = profile_of(id.to_string(), &role, r.get(1)?, &r.get::<_, String>(2)?);
                Ok(User {
                    id: id.to_string(),
                    profile,
                    created_at: r.get(3)?,
                    disabled_at: r.get(4)?,
                })
            },
        )
        .optional()
        .map_err(storage)
    }

    /// Issues a code for `user`, valid for `valid`. `issued_by` names who asked (for the
    /// audit); a grid leader may issue codes only for residents inside their own scopes.
    pub fn issue_code(
        &self,
        user: &str,
        issued_by: &Profile,
        valid: Duration,
    ) -> Result<IssuedCode, AccountError> {
        let target = self.user(user)?.ok_or_else(|| invalid(format!("no user {user:?}")))?;
        if target.disabled_at.is_some() {
            return Err(invalid(format!(
                "user {user:?} is disabled: enable them (`user enable`) before issuing a code"
            )));
        }
        match issued_by.role {
            Role::Admin => {}
            Role::GridLeader
                if target.profile.role == Role::Resident
                    && target.profile.scopes.iter().all(|s| issued_by.covers(s)) => {}
            _ => {
                return Err(AccountError::Forbidden(format!(
                    "{} may not issue codes for {user:?}: admins issue codes for anyone, grid \
                     leaders for residents of their grids",
                    issued_by.user
                )));
            }
        }
        let code = secret::new_code();
        let canonical = secret::normalize_code(&code).map_err(AccountError::Internal)?;
        let now = now_ms();
        let expires_at = now.saturating_add(i64::try_from(valid.as_millis()).unwrap_or(i64::MAX));
        self.conn()?
            .execute(
                "INSERT INTO enrol_codes (code_hash, user_id, issued_by, issued_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![secret::hash(&canonical), user, issued_by.user, now, expires_at],
            )
            .map_err(storage)?;
        Ok(IssuedCode { code, expires_at })
    }

    /// Exchanges a code for a new device, once. The device keeps the actor it proposes when
    /// that is 1 to 32 bytes and no other device's; otherwise it gets a new one.
    pub fn enroll(
        &self,
        code: &str,
        device_name: &str,
        proposed_actor: Option<&[u8]>,
    ) -> Result<Enrolled, AccountError> {
        self.enroll_keeping(code, device_name, proposed_actor, None)
    }

    /// [`Accounts::enroll`] for a phone that holds unsynced work of `keep_user`: a good code of
    /// another user is refused (`409 other_user`) and stays unused.
    pub fn enroll_keeping(
        &self,
        code: &str,
        device_name: &str,
        proposed_actor: Option<&[u8]>,
        keep_user: Option<&str>,
    ) -> Result<Enrolled, AccountError> {
        let canonical = secret::normalize_code(code).map_err(AccountError::MalformedCode)?;
        let name: String = device_name.chars().filter(|c| !c.is_control()).take(64).collect();
        let mut conn = self.conn()?;
        // IMMEDIATE: the code is read and then written in one transaction; a deferred one would
        // fail at once (SQLITE_BUSY_SNAPSHOT) if the server committed between the two.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(storage)?;
        let found: Option<CodeRow> = tx
            .query_row(
                "SELECT c.user_id, c.expires_at, c.used_at, c.revoked_at, u.disabled_at \
                 FROM enrol_codes c JOIN users u ON u.user_id = c.user_id \
                 WHERE c.code_hash = ?1",
                [secret::hash(&canonical)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(storage)?;
        let now = now_ms();
        let (user, expires_at, used_at, revoked_at, disabled_at) =
            found.ok_or(AccountError::CodeUnknown)?;
        if disabled_at.is_some() {
            return Err(AccountError::UserDisabled);
        }
        if revoked_at.is_some() {
            return Err(AccountError::CodeRevoked);
        }
        if used_at.is_some() {
            return Err(AccountError::CodeUsed);
        }
        if now >= expires_at {
            return Err(AccountError::CodeExpired);
        }
        if let Some(keep) = keep_user
            && keep != user
        {
            return Err(AccountError::OtherUser { keep: keep.to_string() });
        }
        let (role, patrol, scopes): (String, Option<String>, String) = tx
            .query_row("SELECT role, patrol, scopes FROM users WHERE user_id = ?1", [&user], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(storage)?;
        let actor = match proposed_actor {
            Some(a) if (1..=32).contains(&a.len()) => {
                let holder: Option<(String, String)> = tx
                    .query_row(
                        "SELECT device_id, user_id FROM devices WHERE actor = ?1",
                        [a],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(storage)?;
                match holder {
                    None => a.to_vec(),
                    // The same user's phone enrolling again (its token lost, or the app asked):
                    // it keeps its actor, so its unsynced changes stay its own, and its old
                    // registration ends. The old row keeps a tombstone in place of the actor
                    // (the log still names the actor and the device of each change).
                    Some((old, holder_user)) if holder_user == user => {
                        let tombstone = secret::hash(&format!("moved {} {old}", hex::encode(a)));
                        tx.execute(
                            "UPDATE devices SET actor = ?2, revoked_at = coalesce(revoked_at, ?3) \
                             WHERE device_id = ?1",
                            params![old, tombstone, now],
                        )
                        .map_err(storage)?;
                        a.to_vec()
                    }
                    Some(_) => secret::new_actor(),
                }
            }
            _ => secret::new_actor(),
        };
        let device = Device {
            id: secret::new_device_id(),
            user: user.clone(),
            name,
            actor,
            enrolled_at: now,
            revoked_at: None,
        };
        let token = secret::new_token();
        tx.execute(
            "INSERT INTO devices (device_id, user_id, name, token_hash, actor, enrolled_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![device.id, user, device.name, secret::hash(&token), device.actor, now],
        )
        .map_err(storage)?;
        tx.execute(
            "UPDATE enrol_codes SET used_at = ?2, device_id = ?3 WHERE code_hash = ?1",
            params![secret::hash(&canonical), now, device.id],
        )
        .map_err(storage)?;
        tx.commit().map_err(storage)?;
        let profile = profile_of(user, &role, patrol, &scopes);
        Ok(Enrolled { device, token, profile })
    }

    /// The device a bearer token belongs to, with its user's current profile; `None` for a
    /// token no device has.
    pub fn authenticate(&self, token: &str) -> Result<Option<Authenticated>, AccountError> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT d.device_id, d.user_id, d.name, d.actor, d.enrolled_at, d.revoked_at, \
                    u.role, u.patrol, u.scopes, u.disabled_at \
             FROM devices d JOIN users u ON u.user_id = d.user_id WHERE d.token_hash = ?1",
            [secret::hash(token)],
            |r| {
                let user: String = r.get(1)?;
                let device = Device {
                    id: r.get(0)?,
                    user: user.clone(),
                    name: r.get(2)?,
                    actor: r.get(3)?,
                    enrolled_at: r.get(4)?,
                    revoked_at: r.get(5)?,
                };
                let role: String = r.get(6)?;
                let profile = profile_of(user, &role, r.get(7)?, &r.get::<_, String>(8)?);
                Ok(Authenticated { device, profile, user_disabled_at: r.get(9)? })
            },
        )
        .optional()
        .map_err(storage)
    }

    /// Every device, newest first.
    pub fn devices(&self) -> Result<Vec<Device>, AccountError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT device_id, user_id, name, actor, enrolled_at, revoked_at FROM devices \
                 ORDER BY enrolled_at DESC, device_id",
            )
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Device {
                    id: r.get(0)?,
                    user: r.get(1)?,
                    name: r.get(2)?,
                    actor: r.get(3)?,
                    enrolled_at: r.get(4)?,
                    revoked_at: r.get(5)?,
                })
            })
            .map_err(storage)?;
        rows.collect::<Result<_, _>>().map_err(storage)
    }

    /// Revokes a device: its token stops working at once. Revoking twice is harmless.
    pub fn revoke(&self, device_id: &str) -> Result<(), AccountError> {
        let conn = self.conn()?;
        let n = conn
            .execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE device_id = ?1",
                params![device_id, now_ms()],
            )
            .map_err(storage)?;
        if n == 0 {
            return Err(invalid(format!("no device {device_id:?}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Profile {
        Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec!["jl".into()] }
    }

    fn open() -> (tempfile::TempDir, Accounts) {
        let dir = tempfile::tempdir().unwrap();
        let a = Accounts::open(&dir.path().join("server.db")).unwrap();
        (dir, a)
    }

    #[test]
    fn a_code_enrols_once_and_the_token_finds_the_device() {
        let (_dir, a) = open();
        a.add_user("res-1", Role::Resident, None, &["jl/cc/grid-01".into()]).unwrap();
        let issued = a.issue_code("res-1", &admin(), Duration::from_secs(60)).unwrap();
        let e = a.enroll(&issued.code.to_lowercase(), "Pixel 7", None).unwrap();
        assert_eq!(e.profile.role, Role::Resident);
        assert_eq!(e.device.actor.len(), 16);
        let auth = a.authenticate(&e.token).unwrap().unwrap();
        assert_eq!(auth.device.id, e.device.id);
        assert_eq!(auth.profile.scopes, vec!["jl/cc/grid-01".to_string()]);
        assert!(a.authenticate(&secret::new_token()).unwrap().is_none());
        let again = a.enroll(&issued.code, "Pixel 7", None).unwrap_err();
        assert_eq!(again.code(), "code_used");
        a.revoke(&e.device.id).unwrap();
        assert!(a.authenticate(&e.token).unwrap().unwrap().device.revoked_at.is_some());

        // A proposed actor is kept unless another user's device has it; the same user's phone
        // enrolling again takes it over and its old registration ends.
        a.add_user("res-2", Role::Resident, None, &["jl/cc/grid-01".into()]).unwrap();
        let code = |user: &str| a.issue_code(user, &admin(), Duration::from_secs(60)).unwrap().code;
        let mine = vec![7u8; 16];
        let first = a.enroll(&code("res-1"), "a", Some(&mine)).unwrap();
        assert_eq!(first.device.actor, mine);
        assert_ne!(a.enroll(&code("res-2"), "b", Some(&mine)).unwrap().device.actor, mine, "taken");
        let again = a.enroll(&code("res-1"), "a again", Some(&mine)).unwrap();
        assert_eq!(again.device.actor, mine, "the same user keeps it");
        let old = a.authenticate(&first.token).unwrap().unwrap().device;
        assert!(old.revoked_at.is_some() && old.actor != mine, "the old registration ended");
    }

    #[test]
    fn codes_expire_and_malformed_ones_are_told_apart() {
        let (_dir, a) = open();
        a.add_user("res-1", Role::Resident, None, &["jl/cc/grid-01".into()]).unwrap();
        let issued = a.issue_code("res-1", &admin(), Duration::ZERO).unwrap();
        assert_eq!(a.enroll(&issued.code, "x", None).unwrap_err().code(), "code_expired");
        assert_eq!(a.enroll("ABCDE-FGHJK", "x", None).unwrap_err().code(), "code_unknown");
        assert_eq!(a.enroll("nope", "x", None).unwrap_err().code(), "malformed_code");
        assert!(a.devices().unwrap().is_empty(), "no failed attempt made a device");
    }

    #[test]
    fn users_are_checked_and_grid_leaders_issue_only_for_their_residents() {
        let (_dir, a) = open();
        assert!(a.add_user("", Role::Resident, None, &["jl".into()]).is_err());
        assert!(a.add_user("p", Role::Patrol, None, &["jl".into()]).is_err());
        assert!(a.add_user("r", Role::Resident, Some(PatrolKind::Cadre), &["jl".into()]).is_err());
        assert!(a.add_user("r", Role::Resident, None, &[]).is_err());
        a.add_user("lead", Role::GridLeader, None, &["jl/cc/grid-01".into()]).unwrap();
        a.add_user("in", Role::Resident, None, &["jl/cc/grid-01".into()]).unwrap();
        a.add_user("out", Role::Resident, None, &["jl/cc/grid-02".into()]).unwrap();
        a.add_user("cop", Role::Patrol, Some(PatrolKind::Police), &["jl/cc".into()]).unwrap();
        assert!(a.add_user("in", Role::Resident, None, &["jl".into()]).is_err(), "exists");
        let lead = a.user("lead").unwrap().unwrap().profile;
        assert!(a.issue_code("in", &lead, Duration::from_secs(60)).is_ok());
        for other in ["out", "cop"] {
            let e = a.issue_code(other, &lead, Duration::from_secs(60)).unwrap_err();
            assert_eq!(e.code(), "forbidden", "{other}");
        }
        assert_eq!(a.users().unwrap().len(), 4);
        assert_eq!(a.user("cop").unwrap().unwrap().profile.patrol, Some(PatrolKind::Police));
    }
}
