//! Tools a test needs beyond a Rust toolchain (kotlinc, a JVM, JNA, python3, Chromium and its
//! WebDriver, a PostgreSQL server). A newcomer's `cargo test --workspace` must pass on a machine with only
//! rustup's toolchain: a test whose tool is missing is skipped with one line that names the
//! tool and the script that installs it. CI sets `FIELDSYNC_REQUIRE_ALL_TESTS=1`, and there a
//! missing tool fails the test instead: CI never skips.

use std::env;
use std::ffi::OsString;
use std::io::Write as _;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The variable that turns a missing tool from a skip into a failure.
pub const REQUIRE_ALL: &str = "FIELDSYNC_REQUIRE_ALL_TESTS";
/// The script that installs every tool the tests use.
pub const INSTALL: &str = "scripts/install-test-tools.sh";
/// The variable that names the PostgreSQL server the tests use (a `postgres://` URL).
pub const POSTGRES_URL: &str = "FIELDSYNC_POSTGRES_URL";
/// The PostgreSQL server the tests use when [`POSTGRES_URL`] is not set: the project's
/// machines run PostgreSQL 15 there, with trust authentication.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A tool a test needs, and how to tell it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The Kotlin compiler, on `PATH`.
    Kotlinc,
    /// A Java runtime, on `PATH`.
    Java,
    /// JNA's jar, on `CLASSPATH`.
    Jna,
    /// kotlinx-coroutines' jar, on `CLASSPATH`.
    Coroutines,
    /// Python 3, on `PATH`.
    Python3,
    /// Chromium (Debian's `chromium`), on `PATH`.
    Chromium,
    /// ChromeDriver (Debian's `chromium-driver`), on `PATH`.
    Chromedriver,
    /// A PostgreSQL server accepting connections at [`postgres_url`].
    Postgres,
}

impl Tool {
    /// What people call it.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Kotlinc => "kotlinc",
            Tool::Java => "java",
            Tool::Jna => "JNA (jna.jar on CLASSPATH)",
            Tool::Coroutines => "kotlinx-coroutines (kotlinx-coroutines-core-jvm.jar on CLASSPATH)",
            Tool::Python3 => "python3",
            Tool::Chromium => "chromium",
            Tool::Chromedriver => "chromedriver",
            Tool::Postgres => "PostgreSQL (a server at $FIELDSYNC_POSTGRES_URL or 127.0.0.1:5432)",
        }
    }

    /// Everything the Kotlin binding tests need.
    pub const KOTLIN: [Tool; 4] = [Tool::Kotlinc, Tool::Java, Tool::Jna, Tool::Coroutines];

    /// Everything the board's browser tests need.
    pub const BROWSER: [Tool; 2] = [Tool::Chromium, Tool::Chromedriver];

    /// Whether it is there, in an environment with this `PATH` and `CLASSPATH`.
    fn present(self, path: &OsString, classpath: &str) -> bool {
        let on_path = |exe: &str| find_in(path, exe).is_some();
        let on_classpath =
            |jar: &str| classpath.split(':').any(|p| p.contains(jar) && Path::new(p).is_file());
        match self {
            Tool::Kotlinc => on_path("kotlinc"),
            Tool::Java => on_path("java"),
            Tool::Jna => on_classpath("jna"),
            Tool::Coroutines => on_classpath("kotlinx-coroutines-core"),
            Tool::Python3 => on_path("python3"),
            Tool::Chromium => on_path("chromium"),
            Tool::Chromedriver => on_path("chromedriver"),
            Tool::Postgres => postgres_listens(&postgres_url()),
        }
    }
}

/// The URL of the PostgreSQL server the tests use: [`POSTGRES_URL`], or
/// [`DEFAULT_POSTGRES_URL`].
pub fn postgres_url() -> String {
    env::var(POSTGRES_URL).ok().filter(|u| !u.is_empty()).unwrap_or(DEFAULT_POSTGRES_URL.into())
}

/// The `host:port` of a `postgres://` URL (port 5432 when it names none), if it has one.
fn postgres_addr(url: &str) -> Option<String> {
    let rest = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://"))?;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit('@').next()?;
    if host_port.is_empty() {
        return None;
    }
    let has_port = host_port.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !host_port.ends_with(']');
    Some(if has_port { host_port.to_string() } else { format!("{host_port}:5432") })
}

/// Whether something accepts TCP connections where `url` points, within a short wait.
fn postgres_listens(url: &str) -> bool {
    let Some(addr) = postgres_addr(url) else { return false };
    let Ok(addrs) = addr.to_socket_addrs() else { return false };
    addrs.into_iter().any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok())
}

/// Where `exe` is in the folders of `path` (a `PATH` value), the first one holding it.
fn find_in(path: &OsString, exe: &str) -> Option<PathBuf> {
    env::split_paths(path).map(|dir| dir.join(exe)).find(|p| p.is_file())
}

/// Where `exe` is on this process's `PATH`, if it is.
pub fn on_path(exe: &str) -> Option<PathBuf> {
    find_in(&env::var_os("PATH").unwrap_or_default(), exe)
}

/// What to do about the tools `test` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// All there: run the test.
    Run,
    /// Some missing: skip, printing this line.
    Skip(String),
    /// Some missing where none may be (CI): fail with this message.
    Fail(String),
}

/// The verdict for `test`, which needs `tools`, in an environment with this `PATH`,
/// `CLASSPATH` and [`REQUIRE_ALL`] setting.
pub fn verdict(
    test: &str,
    tools: &[Tool],
    path: &OsString,
    classpath: &str,
    require_all: bool,
) -> Verdict {
    let missing: Vec<&str> =
        tools.iter().filter(|t| !t.present(path, classpath)).map(|t| t.name()).collect();
    if missing.is_empty() {
        return Verdict::Run;
    }
    let what = missing.join(", ");
    if require_all {
        Verdict::Fail(format!(
            "{test}: {what} missing, and {REQUIRE_ALL}=1 says no test may skip; install with {INSTALL}"
        ))
    } else {
        Verdict::Skip(format!("skipped {test}: {what} missing; install with {INSTALL}"))
    }
}

/// Whether `test` may run: `true` when every tool is there; `false` (after printing the skip
/// line) when some is missing; a panic naming the tool when [`REQUIRE_ALL`] is `1`.
pub fn available(test: &str, tools: &[Tool]) -> bool {
    let path = env::var_os("PATH").unwrap_or_default();
    let classpath = env::var("CLASSPATH").unwrap_or_default();
    let require_all = env::var(REQUIRE_ALL).is_ok_and(|v| v == "1");
    match verdict(test, tools, &path, &classpath, require_all) {
        Verdict::Run => true,
        Verdict::Skip(line) => {
            // One line, written to the process's stderr itself rather than through
            // `eprintln!`, which the test harness captures and hides for a passing test: the
            // newcomer running `cargo test --workspace` sees what was skipped and why.
            let _ = writeln!(std::io::stderr().lock(), "{line}");
            false
        }
        Verdict::Fail(message) => panic!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_skips_with_one_line_or_fails_when_all_are_required() {
        let empty = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        std::fs::write(bin.path().join("python3"), b"").unwrap();
        let jar = bin.path().join("jna-5.12.jar");
        std::fs::write(&jar, b"").unwrap();
        let nothing = OsString::from(empty.path());
        let python = OsString::from(bin.path());

        assert_eq!(verdict("py", &[Tool::Python3], &python, "", false), Verdict::Run);
        let Verdict::Skip(line) = verdict("py", &[Tool::Python3], &nothing, "", false) else {
            panic!("expected a skip")
        };
        assert_eq!(line, format!("skipped py: python3 missing; install with {INSTALL}"));
        assert!(!line.contains('\n'));
        let Verdict::Fail(message) = verdict("kt", &Tool::KOTLIN, &python, "", true) else {
            panic!("expected a failure")
        };
        assert!(message.contains("kotlinc") && message.contains(REQUIRE_ALL), "{message}");
        // A jar named on CLASSPATH counts only if it is there.
        let classpath = format!("/no/such/jna.jar:{}", jar.display());
        assert_eq!(verdict("jna", &[Tool::Jna], &python, &classpath, true), Verdict::Run);
        assert!(matches!(
            verdict("jna", &[Tool::Jna], &python, "/no/jna.jar", false),
            Verdict::Skip(_)
        ));
        let Verdict::Skip(line) = verdict("board", &Tool::BROWSER, &python, "", false) else {
            panic!("expected a skip")
        };
        assert_eq!(
            line,
            format!("skipped board: chromium, chromedriver missing; install with {INSTALL}")
        );
        assert_eq!(
            postgres_addr("postgres://postgres@127.0.0.1:5432/postgres").as_deref(),
            Some("127.0.0.1:5432")
        );
        assert_eq!(
            postgres_addr("postgresql://db.internal/fieldsync").as_deref(),
            Some("db.internal:5432")
        );
        assert_eq!(
            postgres_addr("postgres://u:p@[::1]:6543/x?sslmode=disable").as_deref(),
            Some("[::1]:6543")
        );
        assert_eq!(postgres_addr("mysql://localhost"), None);
        assert!(!postgres_listens("postgres://127.0.0.1:1/none"), "nothing listens on port 1");
        std::fs::write(bin.path().join("chromium"), b"").unwrap();
        std::fs::write(bin.path().join("chromedriver"), b"").unwrap();
        assert_eq!(verdict("board", &Tool::BROWSER, &python, "", true), Verdict::Run);
    }
}
