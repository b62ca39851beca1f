//! Checks of the strings foreign code hands over (ids, paths, URLs), each failing with a typed
//! error before anything reaches the store.

use std::path::PathBuf;

use fieldsync_core::DocId;

use crate::error::{FieldError, invalid};

/// Longest path accepted, in bytes.
const PATH_BYTES: usize = 4096;
/// Longest server URL accepted, in bytes.
const URL_BYTES: usize = 2048;

/// A record id from its string form (`automerge:` prefix allowed).
pub(crate) fn doc_id(id: &str) -> Result<DocId, FieldError> {
    id.parse::<DocId>().map_err(FieldError::from)
}

/// The path of a store's database file: absolute or relative, no NUL, its folder existing.
pub(crate) fn store_path(path: &str) -> Result<PathBuf, FieldError> {
    if path.trim().is_empty() {
        return Err(invalid("path", "must not be empty"));
    }
    if path.len() > PATH_BYTES || path.contains('\0') {
        return Err(invalid("path", format!("at most {PATH_BYTES} bytes, no NUL character")));
    }
    let path = PathBuf::from(path);
    if path.is_dir() {
        return Err(invalid(
            "path",
            format!("{} is a folder; give a file inside it", path.display()),
        ));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(invalid(
            "path",
            format!("folder {} does not exist; create it first", dir.display()),
        )),
        _ => Ok(path),
    }
}

/// A server base URL: `http://` or `https://`, a host, no query or fragment.
pub(crate) fn server_url(url: &str) -> Result<String, FieldError> {
    let url = url.trim();
    if url.len() > URL_BYTES || url.chars().any(char::is_control) {
        return Err(invalid(
            "server_url",
            format!("at most {URL_BYTES} bytes, no control characters"),
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("server_url", format!("{url:?} does not start with https://")))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
        return Err(invalid("server_url", format!("{url:?} has no valid host")));
    }
    if rest.contains(['?', '#']) {
        return Err(invalid("server_url", "give the server's base URL, without ? or #"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(server_url(" https://sync.example.org/ ").unwrap(), "https://sync.example.org");
        assert_eq!(server_url("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        for bad in [
            "",
            "ftp://x",
            "https://",
            "sync.example.org",
            "https://a b",
            "https://x/?q=1",
            "https://u@x",
        ] {
            assert!(matches!(server_url(bad), Err(FieldError::InvalidInput { .. })), "{bad:?}");
        }
    }

    #[test]
    fn paths() {
        let dir = std::env::temp_dir();
        assert!(store_path(dir.join("a.db").to_str().unwrap()).is_ok());
        assert!(store_path("plain.db").is_ok());
        for bad in ["", "  ", "a\0b", "/no/such/folder/x.db"] {
            assert!(matches!(store_path(bad), Err(FieldError::InvalidInput { .. })), "{bad:?}");
        }
        assert!(store_path(dir.to_str().unwrap()).is_err());
    }

    #[test]
    fn ids() {
        assert!(matches!(doc_id("nope"), Err(FieldError::InvalidId { .. })));
        let id = DocId::random();
        assert_eq!(doc_id(&id.to_string()).unwrap(), id);
        assert_eq!(doc_id(&format!("automerge:{id}")).unwrap(), id);
    }
}
