//! Desk sessions: a desk user (dispatcher, grid leader, supervisor, admin) signs in at a
//! browser with an enrollment code, exactly as a phone enrolls, and gets a desk device (a
//! device row of its own, with its own random Automerge actor, that no bearer token opens)
//! and a session bound to it. The browser holds the session's token in a cookie; only its hash
//! is stored, and its CSRF token is derived from it (`secret::csrf_token`).
//!
//! A session ends once, and its desk device with it: signed out, revoked by an operator, idle
//! for longer than the server's limit, its device revoked, or its user disabled. Its last use
//! is written at most about once a minute ([`touch_interval`]), so reading with a session
//! costs no write most of the time.

use std::time::Duration;

use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::time::now_ms;

use super::enroll::check_code;
use super::{AccountError, Device, invalid, profile_of, secret};
use crate::storage::{
    DeskSignIn, DeviceKind, Enrollment, SessionEnd, Storage, StorageError, StoredSession,
};

/// How many times a sign-in is decided again when what it was decided on changed.
const ATTEMPTS: usize = 3;

/// Longest a session's last use is left unwritten.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Whether people of `role` work at a desk.
pub fn is_desk_role(role: Role) -> bool {
    matches!(role, Role::Dispatcher | Role::GridLeader | Role::Supervisor | Role::Admin)
}

/// How often a session's last use is written under the idle limit `idle`: once a minute, or
/// a quarter of a limit shorter than four minutes (so a session in use never expires).
pub fn touch_interval(idle: Duration) -> Duration {
    TOUCH_EVERY.min(idle / 4)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A signed-in desk, as every request with its session sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskSession {
    /// The session's id (what operators see and revoke).
    pub id: String,
    /// The desk device the session is bound to; its actor authors the desk's changes.
    pub device: Device,
    /// The signed-in user's current profile.
    pub profile: Profile,
    /// The token a state-changing request must carry in `X-CSRF-Token`.
    pub csrf_token: String,
}

/// A sign-in: the session and its token (for the cookie; never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The session.
    pub session: DeskSession,
    /// The session's token.
    pub token: String,
}

/// A session as an operator sees it (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its id.
    pub id: String,
    /// The user signed in.
    pub user: String,
    /// Its desk device.
    pub device: String,
    /// When it was opened, ms since the Unix epoch.
    pub created_at: i64,
    /// When it was last used (to about a minute).
    pub last_seen_at: i64,
    /// When it ended, and why, if it did.
    pub ended: Option<(i64, SessionEnd)>,
}

impl From<StoredSession> for SessionInfo {
    fn from(s: StoredSession) -> Self {
        SessionInfo {
            id: s.id,
            user: s.user,
            device: s.device,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            ended: s.ended,
        }
    }
}

/// Signs a desk in with `code`: a working enrollment code of a desk user opens a session on a
/// new desk device named `device_name`. A code of anyone else is refused (`not_a_desk_role`)
/// and stays unused. Sessions idle past `idle` are ended on the way.
pub(crate) async fn sign_in(
    storage: &dyn Storage,
    code: &str,
    device_name: &str,
    idle: Duration,
) -> Result<SignedIn, AccountError> {
    let canonical = secret::normalize_code(code).map_err(AccountError::MalformedCode)?;
    let name: String = device_name.chars().filter(|c| !c.is_control()).take(64).collect();
    let hash = secret::hash(&canonical);
    for _ in 0..ATTEMPTS {
        let code = storage.code(hash.clone()).await?.ok_or(AccountError::CodeUnknown)?;
        let user = storage.user(code.user.clone()).await?.ok_or(AccountError::CodeUnknown)?;
        let now = now_ms();
        check_code(&code, &user, now)?;
        let profile = profile_of(&user);
        if !is_desk_role(profile.role) {
            return Err(AccountError::NotADeskRole { user: user.id, role: user.role });
        }
        storage.end_idle_sessions(now.saturating_sub(ms(idle)), now).await?;
        let device = Device {
            id: secret::new_device_id(),
            user: user.id.clone(),
            name: name.clone(),
            actor: secret::new_actor(),
            enrolled_at: now,
            revoked_at: None,
            kind: DeviceKind::Desk,
            wipe: false,
            key: None,
        };
        let token = secret::new_token();
        let session = secret::new_session_id();
        let sign_in = DeskSignIn {
            enrollment: Enrollment {
                code: hash.clone(),
                device: device.clone(),
                // No bearer token opens a desk device: the hash of a secret nobody keeps.
                token_hash: secret::hash(&secret::new_token()),
                takeover: None,
            },
            session: session.clone(),
            token_hash: secret::hash(&token),
        };
        match storage.sign_in(sign_in).await {
            Ok(()) => {
                let csrf_token = secret::csrf_token(&token);
                let session = DeskSession { id: session, device, profile, csrf_token };
                return Ok(SignedIn { session, token });
            }
            Err(StorageError::Changed(what)) => tracing::debug!("sign-in decided again: {what}"),
            Err(e) => return Err(e.into()),
        }
    }
    Err(AccountError::Internal(format!("the code's sign-in was raced {ATTEMPTS} times; try again")))
}

/// The open session whose token is `token`, with its user's current profile. A session idle
/// for `idle` or longer is ended here (`session_expired`); its last use is written when it is
/// older than [`touch_interval`].
pub(crate) async fn session(
    storage: &dyn Storage,
    token: &str,
    idle: Duration,
) -> Result<DeskSession, AccountError> {
    let found = storage.session_by_token(secret::hash(token)).await?;
    let (session, device, user) = found.ok_or(AccountError::SessionUnknown)?;
    if let Some((_, why)) = session.ended {
        return Err(AccountError::SessionEnded(why));
    }
    // Ending either ends the session in the same transaction; this holds whatever a backend
    // raced.
    if device.revoked_at.is_some() {
        return Err(AccountError::SessionEnded(SessionEnd::DeviceRevoked));
    }
    if user.disabled_at.is_some() {
        return Err(AccountError::UserDisabled);
    }
    let now = now_ms();
    let since = now.saturating_sub(session.last_seen_at);
    if since >= ms(idle) {
        storage.end_session(session.id, now, SessionEnd::Idle).await?;
        return Err(AccountError::SessionExpired { idle_secs: idle.as_secs() });
    }
    if since >= ms(touch_interval(idle)) {
        storage.touch_session(session.id.clone(), now).await?;
    }
    let csrf_token = secret::csrf_token(token);
    Ok(DeskSession { id: session.id, device, profile: profile_of(&user), csrf_token })
}

/// Ends a session at once for `why` (its desk device too). Ending twice is harmless.
pub(crate) async fn end_session(
    storage: &dyn Storage,
    id: &str,
    why: SessionEnd,
) -> Result<(), AccountError> {
    if !storage.end_session(id.to_string(), now_ms(), why).await? {
        return Err(invalid(format!("no desk session {id:?}")));
    }
    Ok(())
}

/// Desk sessions, newest first: open ones only unless `all`.
pub(crate) async fn sessions(
    storage: &dyn Storage,
    all: bool,
) -> Result<Vec<SessionInfo>, AccountError> {
    let stored = storage.sessions().await?;
    Ok(stored.into_iter().filter(|s| all || s.ended.is_none()).map(SessionInfo::from).collect())
}
