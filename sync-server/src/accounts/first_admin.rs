//! The first start: on a server with no users at all, a first admin (`admin`, scoped to the
//! root of the jurisdiction) and one sign-in code for them, so the command centre can be
//! opened with no other step. Once any user exists, nothing is made.

use std::time::Duration;

use fieldsync_core::policy::Role;

use super::codes::issue_code;
use super::users::add_user;
use super::{AccountError, IssuedCode};
use crate::storage::Storage;

/// The first admin's user id.
pub const FIRST_ADMIN: &str = "admin";

/// How long the first admin's code works.
pub const FIRST_CODE_VALID: Duration = Duration::from_secs(24 * 3600);

/// Makes the first admin, scoped to `root_scope`, and a code for them, when there are no
/// users; `None` when there are (or another start made them meanwhile).
pub(crate) async fn first_admin(
    storage: &dyn Storage,
    root_scope: &str,
) -> Result<Option<IssuedCode>, AccountError> {
    if !storage.users().await?.is_empty() {
        return Ok(None);
    }
    let admin = match add_user(storage, FIRST_ADMIN, Role::Admin, None, &[root_scope.into()]).await
    {
        Ok(u) => u,
        // Made by another start in between: that start shows the code.
        Err(AccountError::Invalid(_)) if storage.user(FIRST_ADMIN.into()).await?.is_some() => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    issue_code(storage, FIRST_ADMIN, &admin.profile, FIRST_CODE_VALID).await.map(Some)
}
