//! The PostgreSQL database of a run: a schema of its own in the database the user names, made
//! before the servers start and dropped, with everything in it, when the run ends, so that a
//! run neither meets nor leaves anything of another.

use tokio_postgres::NoTls;

use crate::bench::Result;

/// A schema made for one run, dropped when this goes.
#[derive(Debug)]
pub struct BenchSchema {
    /// The database's URL, as the user gave it.
    base: String,
    /// The schema's name.
    name: String,
}

impl BenchSchema {
    /// Makes a fresh schema in the database at `url` (a `postgres://…` URL without an
    /// `options` parameter: the schema is set through it).
    pub fn create(url: &str) -> Result<BenchSchema> {
        if url.contains("options=") {
            return Err(format!(
                "{url}: the benchmark sets the connection's options (a schema of its own); \
                 give a URL without `options=`"
            )
            .into());
        }
        let name = format!("fieldsync_bench_{:012x}", rand::random::<u64>() >> 16);
        run(url, &format!("CREATE SCHEMA {name}"))
            .map_err(|e| format!("cannot make a schema in {}: {e}", redact(url)))?;
        Ok(BenchSchema { base: url.to_string(), name })
    }

    /// The URL of a storage in this schema: the database's, with the schema as search path
    /// and the schema's name as the connections' `application_name` (how
    /// [`BenchSchema::backends`] finds them).
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}application_name={1}&options=-c%20search_path%3D{1}", self.base, self.name)
    }

    /// The bytes the schema's tables take, their indexes and out-of-line values included
    /// (`pg_total_relation_size`), as the database counts them.
    pub fn bytes(&self) -> Result<u64> {
        let sql = "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
                   JOIN pg_namespace n ON n.oid = c.relnamespace \
                   WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')";
        let rows = query(&self.base, sql, self.name.clone())?;
        Ok(rows.first().map_or(0, |n| u64::try_from(*n).unwrap_or(0)))
    }

    /// The process ids of the database's backends serving this schema's connections now.
    pub fn backends(&self) -> Result<Vec<u32>> {
        let sql = "SELECT pid::bigint FROM pg_stat_activity WHERE application_name = $1";
        let pids = query(&self.base, sql, self.name.clone())?;
        Ok(pids.into_iter().filter_map(|p| u32::try_from(p).ok()).collect())
    }

    /// Whether the database runs on this machine (loopback or a Unix socket), so that its
    /// backends' process ids are this machine's.
    pub fn is_local(&self) -> bool {
        use tokio_postgres::config::Host;
        let Ok(config) = self.base.parse::<tokio_postgres::Config>() else { return false };
        let hosts = config.get_hosts();
        !hosts.is_empty()
            && hosts.iter().all(|h| match h {
                Host::Tcp(name) => {
                    ["localhost", "127.0.0.1", "::1", "[::1]"].contains(&name.as_str())
                }
                Host::Unix(_) => true,
            })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for BenchSchema {
    fn drop(&mut self) {
        if let Err(e) = run(&self.base, &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)) {
            eprintln!("[bench] could not drop the schema {}: {e}", self.name);
        }
    }
}

/// Runs `sql` on a connection of its own (see [`on_connection`]).
fn run(url: &str, sql: &str) -> Result<()> {
    let sql = sql.to_string();
    on_connection(url, move |client| Box::pin(async move { Ok(client.batch_execute(&sql).await?) }))
}

/// Runs `sql` with one text parameter; the first column of each row, a `bigint`.
fn query(url: &str, sql: &'static str, param: String) -> Result<Vec<i64>> {
    on_connection(url, move |client| {
        Box::pin(async move {
            let rows = client.query(sql, &[&param]).await?;
            Ok(rows.iter().map(|r| r.try_get(0)).collect::<std::result::Result<_, _>>()?)
        })
    })
}

/// What a statement on a connection gives back.
type Work<T> = std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send>>;

/// Runs `f` on a connection of its own to `url`, on a thread and runtime of its own (so that
/// it may be called from inside another runtime, or from a `Drop`).
fn on_connection<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(std::sync::Arc<tokio_postgres::Client>) -> Work<T> + Send + 'static,
) -> Result<T> {
    let url = url.to_string();
    std::thread::spawn(move || -> Result<T> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, NoTls).await?;
            let task = tokio::spawn(conn);
            let client = std::sync::Arc::new(client);
            let done = f(client.clone()).await;
            drop(client);
            let _ = task.await;
            done
        })
    })
    .join()
    .map_err(|_| "the PostgreSQL statement's thread panicked")?
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_keeps_its_parameters_and_loses_its_password_in_messages() {
        let s =
            BenchSchema { base: "postgres://u@h/db?connect_timeout=5".into(), name: "x".into() };
        assert_eq!(
            s.url(),
            "postgres://u@h/db?connect_timeout=5&application_name=x&options=-c%20search_path%3Dx"
        );
        std::mem::forget(s);
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert!(BenchSchema::create("postgres://h/db?options=-c%20x").is_err());
        let at = |base: &str| BenchSchema { base: base.into(), name: "x".into() };
        for (base, local) in [
            ("postgres://u@127.0.0.1:5432/db", true),
            ("postgres://u@localhost/db", true),
            ("postgres://u@db.internal/db", false),
        ] {
            let s = at(base);
            assert_eq!(s.is_local(), local, "{base}");
            std::mem::forget(s);
        }
    }
}
