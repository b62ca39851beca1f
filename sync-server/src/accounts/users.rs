//! Stopping a person: an operator disables a user, and every device of theirs is refused
//! (`403 user_disabled`) from its next request on — authentication reads the user's state on
//! every request, nothing is cached — and their unused enrolment codes are withdrawn. Enabling
//! the user lets their devices in again (a device revoked on its own stays revoked); codes
//! withdrawn stay withdrawn, so a code handed out before the user was stopped cannot come back
//! to life: the operator issues a new one.

use fieldsync_core::time::now_ms;
use rusqlite::params;

use super::{AccountError, Accounts, invalid, storage};

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

impl Accounts {
    /// Disables a user: their devices are refused and their unused codes withdrawn, at once.
    /// Disabling twice is harmless (the first time counts).
    pub fn disable_user(&self, id: &str) -> Result<Disabled, AccountError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(storage)?;
        let now = now_ms();
        let n = tx
            .execute(
                "UPDATE users SET disabled_at = coalesce(disabled_at, ?2), updated_at = ?2 \
                 WHERE user_id = ?1",
                params![id, now],
            )
            .map_err(storage)?;
        if n == 0 {
            return Err(invalid(format!("no user {id:?}")));
        }
        let codes_withdrawn = tx
            .execute(
                "UPDATE enrol_codes SET revoked_at = ?2 WHERE user_id = ?1 AND used_at IS NULL \
                 AND revoked_at IS NULL AND expires_at > ?2",
                params![id, now],
            )
            .map_err(storage)?;
        let devices: i64 = tx
            .query_row(
                "SELECT count(*) FROM devices WHERE user_id = ?1 AND revoked_at IS NULL",
                [id],
                |r| r.get(0),
            )
            .map_err(storage)?;
        let at: i64 = tx
            .query_row("SELECT disabled_at FROM users WHERE user_id = ?1", [id], |r| r.get(0))
            .map_err(storage)?;
        tx.commit().map_err(storage)?;
        Ok(Disabled { at, devices: usize::try_from(devices).unwrap_or(0), codes_withdrawn })
    }

    /// Enables a disabled user again: their devices that were not revoked work again. Enabling
    /// a user who is not disabled is harmless.
    pub fn enable_user(&self, id: &str) -> Result<(), AccountError> {
        let n = self
            .conn()?
            .execute(
                "UPDATE users SET disabled_at = NULL, updated_at = ?2 WHERE user_id = ?1",
                params![id, now_ms()],
            )
            .map_err(storage)?;
        if n == 0 {
            return Err(invalid(format!("no user {id:?}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fieldsync_core::policy::{Profile, Role};

    use super::*;

    fn admin() -> Profile {
        Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] }
    }

    #[test]
    fn a_disabled_user_is_refused_everywhere_until_enabled() {
        let dir = tempfile::tempdir().unwrap();
        let a = Accounts::open(&dir.path().join("server.db")).unwrap();
        a.add_user("res-1", Role::Resident, None, &["jl/cc/grid-01".into()]).unwrap();
        let c1 = a.issue_code("res-1", &admin(), Duration::from_secs(60)).unwrap().code;
        let phone = a.enroll(&c1, "phone", None).unwrap();
        let other = a.issue_code("res-1", &admin(), Duration::from_secs(60)).unwrap().code;
        let revoked = a.enroll(&other, "old phone", None).unwrap();
        a.revoke(&revoked.device.id).unwrap();
        let unused = a.issue_code("res-1", &admin(), Duration::from_secs(60)).unwrap().code;

        let d = a.disable_user("res-1").unwrap();
        assert_eq!((d.devices, d.codes_withdrawn), (1, 1));
        assert_eq!(a.disable_user("res-1").unwrap().at, d.at, "twice is harmless");
        assert!(a.authenticate(&phone.token).unwrap().unwrap().user_disabled_at.is_some());
        assert_eq!(a.user("res-1").unwrap().unwrap().disabled_at, Some(d.at));
        let e = a.enroll(&unused, "x", None).unwrap_err();
        assert_eq!(e.code(), "user_disabled");
        let e = a.issue_code("res-1", &admin(), Duration::from_secs(60)).unwrap_err();
        assert!(e.to_string().contains("disabled"), "{e}");

        a.enable_user("res-1").unwrap();
        let auth = a.authenticate(&phone.token).unwrap().unwrap();
        assert_eq!((auth.user_disabled_at, auth.device.revoked_at), (None, None));
        let old = a.authenticate(&revoked.token).unwrap().unwrap();
        assert!(old.device.revoked_at.is_some(), "a revoked device stays revoked");
        let e = a.enroll(&unused, "x", None).unwrap_err();
        assert_eq!(e.code(), "code_revoked", "withdrawn codes stay withdrawn");
        assert!(a.disable_user("nobody").is_err() && a.enable_user("nobody").is_err());
    }
}
