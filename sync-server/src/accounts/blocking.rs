//! [`Accounts`]: the account operations, blocking, for the admin CLI, tests and tools, over the
//! same storage the server uses (`Server::accounts`) or over a database file of its own
//! (`Accounts::open`, beside a running server).
//!
//! Each call runs the async operation to completion. Called from inside a tokio runtime (a
//! test's, the testbed's), it waits on a thread of its own while the operation runs on the
//! runtime the façade was made with, so it never blocks that runtime's own driver; called from
//! a plain thread, it runs the operation there.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::policy::{PatrolKind, Profile, Role};
use tokio::runtime::{Handle, Runtime};

use super::enroll::{EnrollAsk, enroll};
use super::{
    AccountError, Authenticated, CodeInfo, DeskSession, Device, Disabled, Enrolled, IssuedCode,
    SessionEnd, SessionInfo, SignedIn, User, codes, devices, first_admin, sessions, users,
};
use crate::config::Durability;
use crate::storage::{SqliteStorage, Storage};

/// Where the operations run.
enum Runner {
    /// On the runtime of the server whose storage this is.
    Handle(Handle),
    /// On a runtime of its own (an `Accounts` opened on a file).
    Owned(Option<Runtime>),
}

impl Runner {
    fn handle(&self) -> Result<Handle, AccountError> {
        match self {
            Runner::Handle(h) => Ok(h.clone()),
            Runner::Owned(Some(rt)) => Ok(rt.handle().clone()),
            Runner::Owned(None) => Err(AccountError::Internal("the accounts were closed".into())),
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // Without waiting: dropping a runtime inside another one's task would panic.
        if let Runner::Owned(rt) = self
            && let Some(rt) = rt.take()
        {
            rt.shutdown_background();
        }
    }
}

/// Users, devices and codes, with blocking calls.
pub struct Accounts {
    storage: Arc<dyn Storage>,
    runner: Runner,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

impl Accounts {
    /// The accounts of `storage`, whose operations run on the current tokio runtime (the
    /// server's), or on one of their own when there is none.
    pub fn new(storage: Arc<dyn Storage>) -> Result<Accounts, AccountError> {
        let runner = match Handle::try_current() {
            Ok(handle) => Runner::Handle(handle),
            Err(_) => Runner::Owned(Some(own_runtime()?)),
        };
        Ok(Accounts { storage, runner })
    }

    /// Opens the accounts of the database at `path`, creating or upgrading its schema (a
    /// storage of its own, beside a server that may be running on the same file).
    pub fn open(path: &Path) -> Result<Accounts, AccountError> {
        let storage = SqliteStorage::open(path, Durability::Normal)?;
        Ok(Accounts { storage: Arc::new(storage), runner: Runner::Owned(Some(own_runtime()?)) })
    }

    /// Runs `op` on the storage to completion.
    fn run<'a, T, F>(&'a self, op: impl FnOnce(&'a dyn Storage) -> F) -> Result<T, AccountError>
    where
        T: Send,
        F: Future<Output = Result<T, AccountError>> + Send + 'a,
    {
        let handle = self.runner.handle()?;
        let fut = op(self.storage.as_ref());
        if Handle::try_current().is_err() {
            return handle.block_on(fut);
        }
        // Inside a runtime, whose thread must not block on itself: wait on another thread.
        std::thread::scope(|s| {
            s.spawn(|| handle.block_on(fut))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Adds a user.
    pub fn add_user(
        &self,
        id: &str,
        role: Role,
        patrol: Option<PatrolKind>,
        scopes: &[String],
    ) -> Result<User, AccountError> {
        self.run(|s| users::add_user(s, id, role, patrol, scopes))
    }

    /// Replaces a user's scopes; their devices see the change at their next sync.
    pub fn set_scopes(&self, id: &str, scopes: &[String]) -> Result<(), AccountError> {
        self.run(|s| users::set_scopes(s, id, scopes))
    }

    /// Every user, by id.
    pub fn users(&self) -> Result<Vec<User>, AccountError> {
        self.run(users)
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Result<Option<User>, AccountError> {
        self.run(|s| users::user(s, id))
    }

    /// Disables a user: their devices are refused and their unused codes withdrawn, at once.
    /// Disabling twice is harmless (the first time counts).
    pub fn disable_user(&self, id: &str) -> Result<Disabled, AccountError> {
        self.run(|s| users::disable_user(s, id))
    }

    /// Enables a disabled user again: their devices that were not revoked work again.
    /// Enabling a user who is not disabled is harmless.
    pub fn enable_user(&self, id: &str) -> Result<(), AccountError> {
        self.run(|s| users::enable_user(s, id))
    }

    /// Issues a code for `user`, valid for `valid`. `issued_by` names who asked (for the
    /// audit); a grid leader may issue codes only for residents inside their own scopes.
    pub fn issue_code(
        &self,
        user: &str,
        issued_by: &Profile,
        valid: Duration,
    ) -> Result<IssuedCode, AccountError> {
        self.run(|s| codes::issue_code(s, user, issued_by, valid))
    }

    /// Enrollment codes, newest first: of `user` only if given; unused ones only unless `all`.
    pub fn codes(&self, user: Option<&str>, all: bool) -> Result<Vec<CodeInfo>, AccountError> {
        self.run(|s| codes::codes(s, user, all))
    }

    /// Withdraws an unused code, named by its id (from [`Accounts::codes`]) or by the code
    /// itself; returns it as it is now. Withdrawing twice is harmless; a used code cannot be
    /// withdrawn (revoke its device instead).
    pub fn revoke_code(&self, id_or_code: &str) -> Result<CodeInfo, AccountError> {
        self.run(|s| codes::revoke_code(s, id_or_code))
    }

    /// Exchanges a code for a new device, once. The device keeps the actor it proposes when
    /// that is 1 to 32 bytes and no other user's device has it; otherwise it gets a new one.
    pub fn enroll(
        &self,
        code: &str,
        device_name: &str,
        proposed_actor: Option<&[u8]>,
    ) -> Result<Enrolled, AccountError> {
        self.enroll_keeping(code, device_name, proposed_actor, None)
    }

    /// [`Accounts::enroll`] for a phone that holds unsynced work of `keep_user`: a good code of
    /// another user is refused (`other_user`) and stays unused.
    pub fn enroll_keeping(
        &self,
        code: &str,
        device_name: &str,
        proposed_actor: Option<&[u8]>,
        keep_user: Option<&str>,
    ) -> Result<Enrolled, AccountError> {
        let ask =
            EnrollAsk { code, device_name, actor: proposed_actor, keep_user, device_key: None };
        self.run(|s| enroll(s, ask))
    }

    /// The device a bearer token belongs to, with its user's current profile; `None` for a
    /// token no device has.
    pub fn authenticate(&self, token: &str) -> Result<Option<Authenticated>, AccountError> {
        self.run(|s| devices::authenticate(s, token))
    }

    /// Every device, newest first.
    pub fn devices(&self) -> Result<Vec<Device>, AccountError> {
        self.run(devices::devices)
    }

    /// Revokes a device: its token, or its desk session, stops working at once. Revoking
    /// twice is harmless.
    pub fn revoke(&self, device_id: &str) -> Result<(), AccountError> {
        self.run(|s| devices::revoke(s, device_id, false))
    }

    /// Revokes a device and asks the phone to erase its store and files at its next contact
    /// (a lost phone).
    pub fn revoke_and_wipe(&self, device_id: &str) -> Result<(), AccountError> {
        self.run(|s| devices::revoke(s, device_id, true))
    }

    /// Signs a desk in with an enrollment code of a desk user: a new desk device and its
    /// session. Sessions idle for `idle` are ended on the way.
    pub fn sign_in(
        &self,
        code: &str,
        device_name: &str,
        idle: Duration,
    ) -> Result<SignedIn, AccountError> {
        self.run(|s| sessions::sign_in(s, code, device_name, idle))
    }

    /// The open desk session of `token`; one idle for `idle` is ended instead.
    pub fn session(&self, token: &str, idle: Duration) -> Result<DeskSession, AccountError> {
        self.run(|s| sessions::session(s, token, idle))
    }

    /// Desk sessions, newest first: open ones only unless `all`.
    pub fn sessions(&self, all: bool) -> Result<Vec<SessionInfo>, AccountError> {
        self.run(|s| sessions::sessions(s, all))
    }

    /// Revokes a desk session at once (its desk device too). Revoking twice is harmless.
    pub fn revoke_session(&self, id: &str) -> Result<(), AccountError> {
        self.run(|s| sessions::end_session(s, id, SessionEnd::Revoked))
    }

    /// On a server with no users, makes the first admin (scoped to `root_scope`) and a code
    /// for them; `None` when any user exists.
    pub fn first_admin(&self, root_scope: &str) -> Result<Option<IssuedCode>, AccountError> {
        self.run(|s| first_admin(s, root_scope))
    }
}

/// A small runtime for accounts opened outside any: one worker, which also drives what a
/// waiting thread needs.
fn own_runtime() -> Result<Runtime, AccountError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fieldsync-accounts")
        .enable_all()
        .build()
        .map_err(|e| AccountError::Internal(format!("cannot start a runtime for accounts: {e}")))
}
