//! Users: added with a role and scopes (checked here), listed, given other scopes; and stopped.
//! An operator disables a user, and every device of theirs is refused (`403 user_disabled`)
//! from its next request on — authentication reads the user's state on every request, nothing
//! is cached — and their unused enrollment codes are withdrawn. Enabling the user lets their
//! devices in again (a device revoked on its own stays revoked); codes withdrawn stay
//! withdrawn, so a code handed out before the user was stopped cannot come back to life: the
//! operator issues a new one.

use fieldsync_core::model::{business_of_scope, business_scope};
use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_core::time::now_ms;

use super::{AccountError, Disabled, User, invalid};
use crate::storage::{NewUser, Storage};

/// Most scopes one user may have.
const MAX_SCOPES: usize = 32;

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

/// Checks a business operator's scopes: exactly one, the own scope of a business of the
/// registry (`{scope}/business:{id}`, core's `model::business_scope`): what ties the operator
/// to their business, and all they may read by.
async fn check_operator_scopes(
    storage: &dyn Storage,
    scopes: &[String],
) -> Result<(), AccountError> {
    let [scope] = scopes else {
        return Err(invalid(
            "a business operator has one scope: their business's own ({scope}/business:{id})",
        ));
    };
    let Some(id) = business_of_scope(scope) else {
        return Err(invalid(format!(
            "{scope:?} is not a business's own scope ({{scope}}/business:{{id}})"
        )));
    };
    match storage.business(id.to_string()).await? {
        Some(b) if business_scope(&b.scope, &b.id) == *scope => Ok(()),
        _ => Err(invalid(format!("{scope:?} names no business of the registry"))),
    }
}

/// Adds a user.
pub(crate) async fn add_user(
    storage: &dyn Storage,
    id: &str,
    role: Role,
    patrol: Option<PatrolKind>,
    scopes: &[String],
) -> Result<User, AccountError> {
    check_user_id(id)?;
    check_scopes(scopes)?;
    match (role, patrol) {
        (Role::System, _) => {
            return Err(AccountError::ReservedRole(format!(
                "{id:?} cannot be a system user: the system role is the server's own device, \
                 no person has it"
            )));
        }
        (Role::Patrol, None) => {
            return Err(invalid("a patrol member is police, cadre or volunteer (--patrol)"));
        }
        (r, Some(_)) if r != Role::Patrol => {
            return Err(invalid("only patrol members have a patrol kind"));
        }
        (Role::BusinessOperator, None) => check_operator_scopes(storage, scopes).await?,
        _ => {}
    }
    let now = now_ms();
    let new = NewUser {
        id: id.to_string(),
        role: role.as_str().to_string(),
        patrol: patrol.map(|p| p.as_str().to_string()),
        scopes: scopes.to_vec(),
        at: now,
    };
    if !storage.add_user(new).await? {
        return Err(invalid(format!("user {id:?} exists already")));
    }
    let profile = Profile { user: id.to_string(), role, patrol, scopes: scopes.to_vec() };
    Ok(User { id: id.to_string(), profile, created_at: now, disabled_at: None })
}

/// Replaces a user's scopes; their devices see the change at their next sync.
pub(crate) async fn set_scopes(
    storage: &dyn Storage,
    id: &str,
    scopes: &[String],
) -> Result<(), AccountError> {
    check_scopes(scopes)?;
    if let Some(u) = storage.user(id.to_string()).await?
        && u.role == Role::BusinessOperator.as_str()
    {
        check_operator_scopes(storage, scopes).await?;
    }
    if !storage.set_scopes(id.to_string(), scopes.to_vec(), now_ms()).await? {
        return Err(invalid(format!("no user {id:?}")));
    }
    Ok(())
}

/// Every user, by id.
pub(crate) async fn users(storage: &dyn Storage) -> Result<Vec<User>, AccountError> {
    Ok(storage.users().await?.into_iter().map(User::from).collect())
}

/// A user by id.
pub(crate) async fn user(storage: &dyn Storage, id: &str) -> Result<Option<User>, AccountError> {
    Ok(storage.user(id.to_string()).await?.map(User::from))
}

/// Disables a user: their devices are refused and their unused codes withdrawn, at once.
/// Disabling twice is harmless (the first time counts).
pub(crate) async fn disable_user(
    storage: &dyn Storage,
    id: &str,
) -> Result<Disabled, AccountError> {
    storage
        .disable_user(id.to_string(), now_ms())
        .await?
        .ok_or_else(|| invalid(format!("no user {id:?}")))
}

/// Enables a disabled user again: their devices that were not revoked work again. Enabling a
/// user who is not disabled is harmless.
pub(crate) async fn enable_user(storage: &dyn Storage, id: &str) -> Result<(), AccountError> {
    if !storage.enable_user(id.to_string(), now_ms()).await? {
        return Err(invalid(format!("no user {id:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fieldsync_core::policy::{Profile, Role};

    use crate::accounts::Accounts;

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

    #[test]
    fn no_user_has_the_system_role() {
        let dir = tempfile::tempdir().unwrap();
        let a = Accounts::open(&dir.path().join("server.db")).unwrap();
        let e = a.add_user("sys", Role::System, None, &["jl".into()]).unwrap_err();
        assert!(matches!(e, crate::accounts::AccountError::ReservedRole(_)), "{e:?}");
        assert_eq!(e.code(), "reserved_role");
        assert!(a.user("sys").unwrap().is_none(), "nothing was stored");
    }
}
