//! Enrollment codes: issuing one (who may, for whom), and what operators see of them and how
//! they withdraw one. Codes are stored only as hashes, so a code is shown by a short id: the
//! first 8 hex digits of its stored hash. That is enough to tell an operator's codes apart and
//! to name one, and too little to find the code from it (2^18 codes share each id, far more
//! than the failure budget lets anyone try).

use std::fmt;
use std::time::Duration;

use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::time::now_ms;

use super::users::user;
use super::{AccountError, IssuedCode, invalid, secret};
use crate::storage::{NewCode, Storage, StoredCode};

/// Hex digits of a code's id.
const ID_HEX: usize = 8;

/// Where a code is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    /// It would enroll a device now.
    Unused,
    /// It enrolled a device.
    Used,
    /// Its time ran out unused.
    Expired,
    /// An operator withdrew it (or disabled its user) before it was used.
    Revoked,
}

impl fmt::Display for CodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodeState::Unused => "unused",
            CodeState::Used => "used",
            CodeState::Expired => "expired",
            CodeState::Revoked => "revoked",
        })
    }
}

/// An enrollment code as an operator sees it (never the code itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    /// Its short id (8 hex digits of its stored hash).
    pub id: String,
    /// The user it enrolls a device for.
    pub user: String,
    /// Who issued it.
    pub issued_by: String,
    /// When it was issued, ms since the Unix epoch.
    pub issued_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// When it was used, and the device it enrolled.
    pub used: Option<(i64, String)>,
    /// When it was withdrawn.
    pub revoked_at: Option<i64>,
}

impl CodeInfo {
    /// Its state at `now` (ms since the Unix epoch).
    pub fn state(&self, now: i64) -> CodeState {
        if self.used.is_some() {
            CodeState::Used
        } else if self.revoked_at.is_some() {
            CodeState::Revoked
        } else if now >= self.expires_at {
            CodeState::Expired
        } else {
            CodeState::Unused
        }
    }
}

impl From<StoredCode> for CodeInfo {
    fn from(c: StoredCode) -> Self {
        CodeInfo {
            id: hex::encode(&c.hash[..c.hash.len().min(ID_HEX / 2)]),
            user: c.user,
            issued_by: c.issued_by,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            used: c.used_at.map(|t| (t, c.device.unwrap_or_default())),
            revoked_at: c.revoked_at,
        }
    }
}

/// Issues a code for `user`, valid for `valid`. `issued_by` names who asked (for the audit); a
/// grid leader may issue codes only for residents inside their own scopes.
pub(crate) async fn issue_code(
    storage: &dyn Storage,
    user_id: &str,
    issued_by: &Profile,
    valid: Duration,
) -> Result<IssuedCode, AccountError> {
    let target =
        user(storage, user_id).await?.ok_or_else(|| invalid(format!("no user {user_id:?}")))?;
    if target.disabled_at.is_some() {
        return Err(invalid(format!(
            "user {user_id:?} is disabled: enable them (`user enable`) before issuing a code"
        )));
    }
    match issued_by.role {
        Role::Admin => {}
        Role::GridLeader
            if target.profile.role == Role::Resident
                && target.profile.scopes.iter().all(|s| issued_by.covers(s)) => {}
        _ => {
            return Err(AccountError::Forbidden(format!(
                "{} may not issue codes for {user_id:?}: admins issue codes for anyone, grid \
                 leaders for residents of their grids",
                issued_by.user
            )));
        }
    }
    let code = secret::new_code();
    let canonical = secret::normalize_code(&code).map_err(AccountError::Internal)?;
    let now = now_ms();
    let expires_at = now.saturating_add(i64::try_from(valid.as_millis()).unwrap_or(i64::MAX));
    storage
        .add_code(NewCode {
            hash: secret::hash(&canonical),
            user: user_id.to_string(),
            issued_by: issued_by.user.clone(),
            issued_at: now,
            expires_at,
        })
        .await?;
    Ok(IssuedCode { code, expires_at })
}

/// Enrollment codes, newest first: of `user` only if given; unused ones only unless `all`.
pub(crate) async fn codes(
    storage: &dyn Storage,
    user: Option<&str>,
    all: bool,
) -> Result<Vec<CodeInfo>, AccountError> {
    let now = now_ms();
    let stored = storage.codes(user.map(str::to_string)).await?;
    Ok(stored
        .into_iter()
        .map(CodeInfo::from)
        .filter(|c| all || c.state(now) == CodeState::Unused)
        .collect())
}

/// Withdraws an unused code, named by its id (from [`codes`]) or by the code itself; returns it
/// as it is now. Withdrawing twice is harmless; a used code cannot be withdrawn (revoke its
/// device instead).
pub(crate) async fn revoke_code(
    storage: &dyn Storage,
    id_or_code: &str,
) -> Result<CodeInfo, AccountError> {
    let code = find(storage, id_or_code.trim()).await?;
    if let Some(at) = code.used_at {
        let code = CodeInfo::from(code);
        return Err(invalid(format!(
            "code {} enrolled device {} on {}; revoke the device instead",
            code.id,
            code.used.map(|(_, d)| d).unwrap_or_default(),
            fieldsync_core::time::format_ms(at)
        )));
    }
    let hash = code.hash;
    storage.revoke_code(hash.clone(), now_ms()).await?;
    let now = storage.code(hash).await?.ok_or(AccountError::CodeUnknown)?;
    Ok(CodeInfo::from(now))
}

/// The code `id_or_code` names: a code as typed, or a code's id.
async fn find(storage: &dyn Storage, id_or_code: &str) -> Result<StoredCode, AccountError> {
    if let Ok(canonical) = secret::normalize_code(id_or_code) {
        let found = storage.code(secret::hash(&canonical)).await?;
        return found.ok_or_else(|| invalid("no such enrollment code"));
    }
    let mut prefix = [0u8; ID_HEX / 2];
    if id_or_code.len() != ID_HEX || hex::decode_to_slice(id_or_code, &mut prefix).is_err() {
        return Err(invalid(format!(
            "{id_or_code:?} is neither a code (10 letters and digits) nor a code's id \
             ({ID_HEX} hex digits, from `enroll-code list`)"
        )));
    }
    let mut found = storage.codes_with_prefix(prefix.to_vec()).await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(invalid(format!("no enrollment code has the id {id_or_code}"))),
        n => Err(invalid(format!("{n} codes have the id {id_or_code}; name the code itself"))),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fieldsync_core::policy::{Profile, Role};

    use super::*;
    use crate::accounts::Accounts;

    #[test]
    fn codes_are_listed_by_id_and_state_and_withdrawn_by_id_or_code() {
        let dir = tempfile::tempdir().unwrap();
        let a = Accounts::open(&dir.path().join("server.db")).unwrap();
        let admin =
            Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
        for u in ["res-1", "res-2"] {
            a.add_user(u, Role::Resident, None, &["jl/cc/grid-01".into()]).unwrap();
        }
        let hour = Duration::from_secs(3600);
        let used = a.issue_code("res-1", &admin, hour).unwrap().code;
        let device = a.enroll(&used, "phone", None).unwrap().device.id;
        let expired = a.issue_code("res-1", &admin, Duration::ZERO).unwrap().code;
        let by_id = a.issue_code("res-1", &admin, hour).unwrap().code;
        let by_code = a.issue_code("res-2", &admin, hour).unwrap().code;

        let unused = a.codes(None, false).unwrap();
        assert_eq!(unused.len(), 2);
        assert!(unused.iter().all(|c| c.id.len() == 8 && !by_id.contains(&c.id)));
        let all = a.codes(Some("res-1"), true).unwrap();
        let now = now_ms();
        let mut states: Vec<String> = all.iter().map(|c| c.state(now).to_string()).collect();
        states.sort();
        assert_eq!(states, ["expired", "unused", "used"]);
        let used_info = all.iter().find(|c| c.state(now) == CodeState::Used).unwrap();
        assert_eq!(used_info.used.as_ref().map(|u| u.1.as_str()), Some(device.as_str()));

        let target = a.codes(Some("res-1"), false).unwrap().remove(0);
        let revoked = a.revoke_code(&target.id.to_uppercase()).unwrap();
        assert_eq!(revoked.state(now_ms()), CodeState::Revoked);
        assert_eq!(a.revoke_code(&target.id).unwrap().revoked_at, revoked.revoked_at);
        assert_eq!(a.enroll(&by_id, "x", None).unwrap_err().code(), "code_revoked");
        assert_eq!(a.revoke_code(&by_code.to_lowercase()).unwrap().user, "res-2");
        assert_eq!(a.enroll(&by_code, "x", None).unwrap_err().code(), "code_revoked");
        assert!(a.codes(None, false).unwrap().is_empty());

        let e = a.revoke_code(&used).unwrap_err();
        assert!(e.to_string().contains(&device), "{e}");
        assert_eq!(a.enroll(&expired, "x", None).unwrap_err().code(), "code_expired");
        let ids: Vec<String> = a.codes(None, true).unwrap().into_iter().map(|c| c.id).collect();
        let absent = ["00000000", "11111111"].into_iter().find(|i| !ids.iter().any(|x| x == i));
        assert!(a.revoke_code(absent.unwrap()).unwrap_err().to_string().contains("no enrollment"));
        assert!(a.revoke_code("zz").unwrap_err().to_string().contains("neither"));
        assert!(a.revoke_code("ABCDE-FGHJK").unwrap_err().to_string().contains("no such"));
    }
}
