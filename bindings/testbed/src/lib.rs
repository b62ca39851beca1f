//! `Testbed`: a real fieldsync server on a loopback port and its administration (users,
//! enrollment codes, revocation), so the Kotlin and Python tests start from an empty folder and
//! need nothing running beforehand. A crate of its own: the library an app ships
//! (`fieldsync-bindings`) has no path to the server; the tests load this one, which holds the
//! bindings and the testbed together (uniffi's library mode generates all three crates' code
//! from it).

uniffi::setup_scaffolding!("fieldsync_testbed");

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_server::{RunningServer, Server, ServerConfig};

use fieldsync_bindings::FieldError;

/// A fieldsync server running in this process for tests.
#[derive(uniffi::Object)]
pub struct Testbed {
    runtime: tokio::runtime::Runtime,
    server: Mutex<Option<RunningServer>>,
    url: String,
}

fn failed(e: impl std::fmt::Display) -> FieldError {
    FieldError::Server { status: 500, code: "testbed".into(), detail: e.to_string() }
}

impl Testbed {
    fn with_server<T>(
        &self,
        f: impl FnOnce(&RunningServer) -> Result<T, FieldError>,
    ) -> Result<T, FieldError> {
        let guard = self.server.lock().unwrap_or_else(|e| e.into_inner());
        let server = guard.as_ref().ok_or_else(|| failed("the testbed server was stopped"))?;
        f(server)
    }
}

#[uniffi::export]
impl Testbed {
    /// Starts a server keeping its data in folder `dataDir`, on a free loopback port.
    #[uniffi::constructor]
    pub fn start(data_dir: String) -> Result<Arc<Testbed>, FieldError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(failed)?;
        let listen = "127.0.0.1:0".parse().map_err(failed)?;
        let config = ServerConfig::new(data_dir).with_listen(listen);
        let server = runtime.block_on(Server::start(&config)).map_err(failed)?;
        let url = server.url();
        Ok(Arc::new(Testbed { runtime, server: Mutex::new(Some(server)), url }))
    }

    /// The server's base URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Adds a user and returns a single-use enrollment code for them (valid one hour).
    pub fn add_user(
        &self,
        user: String,
        role: Role,
        patrol: Option<PatrolKind>,
        scopes: Vec<String>,
    ) -> Result<String, FieldError> {
        self.with_server(|s| {
            s.server().accounts().add_user(&user, role, patrol, &scopes).map_err(failed)?;
            Ok(())
        })?;
        self.issue_code(user)
    }

    /// Issues another enrollment code for an existing user.
    pub fn issue_code(&self, user: String) -> Result<String, FieldError> {
        let admin =
            Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
        self.with_server(|s| {
            let issued = s
                .server()
                .accounts()
                .issue_code(&user, &admin, Duration::from_secs(3600))
                .map_err(failed)?;
            Ok(issued.code)
        })
    }

    /// Replaces a user's scopes; their devices see the change at their next sync.
    pub fn set_scopes(&self, user: String, scopes: Vec<String>) -> Result<(), FieldError> {
        self.with_server(|s| s.server().accounts().set_scopes(&user, &scopes).map_err(failed))
    }

    /// Revokes a device: its next request is refused with `device_revoked`.
    pub fn revoke_device(&self, device: String) -> Result<(), FieldError> {
        self.with_server(|s| s.server().accounts().revoke(&device).map_err(failed))
    }

    /// Revokes a device and asks for a wipe: at its next request the phone erases its store.
    pub fn wipe_device(&self, device: String) -> Result<(), FieldError> {
        self.with_server(|s| s.server().accounts().revoke_and_wipe(&device).map_err(failed))
    }

    /// Stops the server (finishing requests in flight).
    pub fn stop(&self) -> Result<(), FieldError> {
        let taken = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(server) = taken {
            self.runtime.block_on(server.shutdown()).map_err(failed)?;
        }
        Ok(())
    }
}
