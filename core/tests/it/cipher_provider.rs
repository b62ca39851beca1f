//! SQLCipher's crypto provider (fieldsync-cipher) in place of OpenSSL's: what it writes is
//! SQLCipher's format, and files OpenSSL's provider wrote, as every encrypted store before it
//! was, open and take writes.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// Two files written by SQLCipher 4.20 with its OpenSSL provider (`PRAGMA cipher_provider`
/// answered `openssl`), with the raw key 00 01 … 1f: SQLCipher's defaults (HMAC-SHA512 pages)
/// and the store's settings (HMAC-SHA256 pages). Each has a table `t` of 24 rows, row `i`
/// holding `"row {i} "` forty times, and an index on it.
const FIXTURES: [(&str, &str); 2] = [
    ("sqlcipher4-default.db", ""),
    ("sqlcipher4-hmac-sha256.db", "PRAGMA cipher_hmac_algorithm = HMAC_SHA256;"),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn raw_key() -> String {
    (0u8..32).map(|b| format!("{b:02x}")).collect()
}

/// A connection to `path` keyed with [`raw_key`]: SQLCipher's set-up finished first, as the
/// store does (`fieldsync_cipher::ready`; the tests here open connections at once).
fn open(path: &Path, settings: &str) -> Connection {
    let conn = Connection::open(path).unwrap();
    assert!(fieldsync_cipher::ready());
    conn.execute_batch(&format!(
        "PRAGMA cipher_log_level = NONE; PRAGMA key = \"x'{}'\"; {settings}",
        raw_key()
    ))
    .unwrap();
    conn
}

fn body(i: i64) -> String {
    format!("row {i} ").repeat(40)
}

fn rows(conn: &Connection) -> Vec<(i64, String)> {
    let mut stmt = conn.prepare("SELECT id, body FROM t ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn provider(conn: &Connection) -> String {
    conn.query_row("PRAGMA cipher_provider", [], |r| r.get(0)).unwrap()
}

/// `PRAGMA cipher_integrity_check` checks every page's HMAC; it answers a row per bad page.
fn bad_pages(conn: &Connection) -> Vec<String> {
    let mut stmt = conn.prepare("PRAGMA cipher_integrity_check").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn sqlcipher_runs_on_fieldsync_cipher() {
    let dir = tempfile::tempdir().unwrap();
    let conn = open(&dir.path().join("new.db"), "");
    assert_eq!(provider(&conn), fieldsync_cipher::PROVIDER_NAME);
}

#[test]
fn files_openssls_provider_wrote_open_read_and_take_writes() {
    for (name, settings) in FIXTURES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::copy(fixture(name), &path).unwrap();

        let conn = open(&path, settings);
        let expected: Vec<(i64, String)> = (0..24).map(|i| (i, body(i))).collect();
        assert_eq!(rows(&conn), expected, "{name}");
        assert_eq!(bad_pages(&conn), Vec::<String>::new(), "{name}");
        let found: i64 = conn
            .query_row("SELECT id FROM t INDEXED BY t_body WHERE body = ?1", [body(17)], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(found, 17, "{name}");

        // Written through this provider, then read back by a new connection.
        conn.execute("INSERT INTO t (id, body) VALUES (24, ?1)", [body(24)]).unwrap();
        conn.execute("UPDATE t SET body = ?1 WHERE id = 3", ["changed"]).unwrap();
        drop(conn);
        let conn = open(&path, settings);
        let all = rows(&conn);
        assert_eq!(all.len(), 25, "{name}");
        assert_eq!(all[3].1, "changed", "{name}");
        assert_eq!(all[24], (24, body(24)), "{name}");
        assert_eq!(bad_pages(&conn), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn a_wrong_key_and_a_damaged_page_are_refused() {
    let (name, settings) = FIXTURES[1];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(fixture(name), &path).unwrap();

    let wrong = Connection::open(&path).unwrap();
    assert!(fieldsync_cipher::ready());
    wrong
        .execute_batch(&format!(
            "PRAGMA cipher_log_level = NONE; PRAGMA key = \"x'{}'\"; {settings}",
            "ab".repeat(32)
        ))
        .unwrap();
    let err = wrong.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap_err();
    assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::NotADatabase), "{err}");
    drop(wrong);

    // One byte flipped in any page but the first: its HMAC no longer holds, and reading every
    // page (SQLite's own check of the table and its index) reports it instead of taking what the
    // page decrypts to.
    let pristine = std::fs::read(&path).unwrap();
    for page in 1..pristine.len() / 4096 {
        let mut bytes = pristine.clone();
        bytes[page * 4096 + 100] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let conn = open(&path, settings);
        assert_eq!(bad_pages(&conn).len(), 1, "page {}: {:?}", page + 1, bad_pages(&conn));
        let check = conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0));
        assert!(!matches!(check.as_deref(), Ok("ok")), "page {} damaged, yet {check:?}", page + 1);
    }
}
