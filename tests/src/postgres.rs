//! A schema of its own in the PostgreSQL server the tests use ([`crate::tools::postgres_url`]),
//! for a test of the PostgreSQL storage: made empty, dropped with everything in it when the
//! guard goes (passed or not). Check first that the server is there
//! (`tools::available(…, &[Tool::Postgres])`).

use tokio_postgres::NoTls;

use crate::tools::postgres_url;

/// A schema of the test server, dropped when this goes.
#[derive(Debug)]
pub struct Schema {
    name: String,
}

/// Runs `sql` on a connection of its own to the test server.
async fn run(sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(&postgres_url(), NoTls).await?;
    let task = tokio::spawn(conn);
    let done = client.batch_execute(sql).await;
    drop(client);
    let _ = task.await;
    done
}

impl Schema {
    /// Makes a fresh, empty schema.
    ///
    /// # Panics
    /// When the test server cannot be reached or refuses (a test's failure).
    pub async fn new() -> Schema {
        let name = format!("fieldsync_test_{:012x}", rand::random::<u64>() >> 16);
        #[allow(clippy::expect_used)]
        run(&format!("SET synchronous_commit = off; CREATE SCHEMA {name}"))
            .await
            .expect("the test PostgreSQL server makes a schema");
        Schema { name }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of a storage in this schema: the test server's, with the schema as the search
    /// path, and commits that do not wait for the disk (the tests check behaviour, not
    /// durability).
    pub fn url(&self) -> String {
        let url = postgres_url();
        let sep = if url.contains('?') { '&' } else { '?' };
        format!(
            "{url}{sep}options=-c%20search_path%3D{}%20-c%20synchronous_commit%3Doff",
            self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql =
            format!("SET synchronous_commit = off; DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop cannot await: a thread of its own with a runtime of its own, joined, so the
        // schema is gone when the guard is.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(run(&sql)).ok()
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test schema {}", self.name);
        }
    }
}
