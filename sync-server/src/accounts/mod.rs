//! Users, their enrolled devices and enrollment codes: what the admin CLI manages and what every
//! request is authenticated against. The rules are here (ids and scopes checked, who may issue
//! a code, what makes a code work, which actor a device gets, only hashes of codes and tokens
//! kept); what is stored, and atomically, is the storage's (`storage::AccountStorage`).
//!
//! A code is single-use and expires; exchanging it creates a device with a bearer token (only
//! its hash is kept) and the Automerge actor id the device must write with. A token does not
//! expire; a device is revoked instead.
//!
//! A desk user signs in at a browser with a code the same way (`sessions`): a desk device of
//! its own and a session bound to it, which ends after inactivity or at once when revoked.
//! On a server with no users the first admin is made with a code (`first_admin`).
//!
//! The operations are async functions over the storage, which the HTTP layer awaits;
//! [`Accounts`] is the same operations, blocking, for the admin CLI and tests.

mod blocking;
mod codes;
mod credentials;
mod devices;
mod enroll;
mod error;
mod first_admin;
mod relayed;
pub(crate) mod secret;
mod sessions;
mod users;

pub use crate::storage::{Device, DeviceKind, Disabled, SessionEnd};
pub use blocking::Accounts;
pub(crate) use codes::issue_code;
pub use codes::{CodeInfo, CodeState};
pub use credentials::PeerCredentials;
pub(crate) use devices::authenticate;
pub(crate) use enroll::{EnrollAsk, enroll};
pub use error::AccountError;
pub(crate) use first_admin::first_admin;
pub use first_admin::{FIRST_ADMIN, FIRST_CODE_VALID};
pub(crate) use relayed::{author_credentials, relayed_authors};
pub use sessions::{DeskSession, SessionInfo, SignedIn, is_desk_role, touch_interval};
pub(crate) use sessions::{end_session, session, sign_in};
pub(crate) use users::{add_user, users};

use fieldsync_core::policy::{Profile, Role};

use crate::storage::StoredUser;

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
    /// refused and their codes do not enroll.
    pub disabled_at: Option<i64>,
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

fn invalid(message: impl Into<String>) -> AccountError {
    AccountError::Invalid(message.into())
}

/// The profile of a stored user. Stored values were checked when written; an unknown role reads
/// as the least privileged, an unknown patrol kind as none.
fn profile_of(u: &StoredUser) -> Profile {
    Profile {
        user: u.id.clone(),
        role: u.role.parse().unwrap_or(Role::Resident),
        patrol: u.patrol.as_deref().and_then(|p| p.parse().ok()),
        scopes: u.scopes.clone(),
    }
}

impl From<StoredUser> for User {
    fn from(u: StoredUser) -> Self {
        let profile = profile_of(&u);
        User { id: u.id, profile, created_at: u.created_at, disabled_at: u.disabled_at }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fieldsync_core::policy::PatrolKind;

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
    fn a_code_enrolls_once_and_the_token_finds_the_device() {
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
