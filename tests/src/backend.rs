//! The storage a test server runs on: the tests that must hold on both backends are written
//! once, as `async fn name(backend: Backend)`, and [`on_both!`](crate::on_both) makes them two
//! tests, `name::sqlite` and `name::postgres`.

use fieldsync_server::StorageChoice;

use crate::postgres::Schema;
use crate::tools::{Tool, available};

/// Where a test server keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in the server's data directory (the default).
    Sqlite,
    /// A PostgreSQL schema of the test's own (docs/storage-postgres.md).
    Postgres,
}

impl Backend {
    /// Whether `test` can run on this backend: PostgreSQL only where a server listens (a skip
    /// with one line otherwise; a failure under `FIELDSYNC_REQUIRE_ALL_TESTS=1`).
    pub fn available(self, test: &str) -> bool {
        self == Backend::Sqlite || available(test, &[Tool::Postgres])
    }
}

/// A test server's storage on a [`Backend`]: on PostgreSQL a schema of its own, dropped when
/// this goes (keep it until the servers on it have stopped).
#[derive(Debug)]
pub struct TestStorage {
    schema: Option<Schema>,
}

impl TestStorage {
    /// A new, empty storage on `backend` (SQLite's is made by the server in its data directory).
    pub async fn new(backend: Backend) -> TestStorage {
        let schema = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Schema::new().await),
        };
        TestStorage { schema }
    }

    /// SQLite's: the server's data directory.
    pub fn sqlite() -> TestStorage {
        TestStorage { schema: None }
    }

    /// What a server's configuration names (`ServerConfig::storage`).
    pub fn choice(&self) -> StorageChoice {
        match &self.schema {
            None => StorageChoice::Sqlite,
            Some(s) => StorageChoice::Postgres(s.url()),
        }
    }

    /// Which backend it is on.
    pub fn backend(&self) -> Backend {
        if self.schema.is_some() { Backend::Postgres } else { Backend::Sqlite }
    }
}

/// Runs the test `async fn name(backend: Backend)` written above it once per backend, as
/// `name::sqlite` and `name::postgres` (skipped with one line where no PostgreSQL server
/// listens): `on_both!(name);`. Both run on a two-thread runtime (the server's synchronous
/// account calls wait on another thread while the runtime drives PostgreSQL's connections).
#[macro_export]
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            use $crate::backend::Backend;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if Backend::Postgres.available(concat!(module_path!(), "::postgres")) {
                    super::$name(Backend::Postgres).await
                }
            }
        }
    };
}
