//! Checks of the strings foreign code hands over (ids, paths, URLs), each failing with a typed
//! error before anything reaches the store.

use std::path::PathBuf;

use fieldsync_core::DocId;
use fieldsync_core::limits::BLOB_BYTES;
use fieldsync_core::model::PhotoRef;
use fieldsync_core::protocol::is_blob_hash;
use fieldsync_core::store::PhotoSource;

use crate::error::{FieldError, invalid};

/// Longest path accepted, in bytes.
const PATH_BYTES: usize = 4096;

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

/// A photo's hash: 64 lower-case hex digits (as in a `PhotoRef`).
pub(crate) fn photo_hash(hash: &str) -> Result<&str, FieldError> {
    if is_blob_hash(hash) {
        Ok(hash)
    } else {
        let shown: String = hash.chars().take(80).collect();
        Err(invalid("hash", format!("{shown:?} is not 64 lower-case hex digits (a SHA-256)")))
    }
}

/// The bytes or file of a photo to add: not empty, at most `BLOB_BYTES`; a file must exist
/// and be a regular file.
pub(crate) fn photo_source(source: &PhotoSource) -> Result<(), FieldError> {
    let too_large = |n: u64| format!("{n} bytes; a photo has at most {BLOB_BYTES}");
    match source {
        PhotoSource::Bytes { bytes } if bytes.is_empty() => {
            Err(invalid("bytes", "a photo has at least one byte"))
        }
        PhotoSource::Bytes { bytes } if bytes.len() as u64 > BLOB_BYTES => {
            Err(invalid("bytes", too_large(bytes.len() as u64)))
        }
        PhotoSource::Bytes { .. } => Ok(()),
        PhotoSource::File { path } => {
            if path.trim().is_empty() || path.len() > PATH_BYTES || path.contains('\0') {
                return Err(invalid(
                    "path",
                    format!("not empty, at most {PATH_BYTES} bytes, no NUL character"),
                ));
            }
            let meta = std::fs::metadata(path)
                .map_err(|e| invalid("path", format!("cannot read {path}: {e}")))?;
            if !meta.is_file() {
                return Err(invalid("path", format!("{path} is not a file")));
            }
            match meta.len() {
                0 => Err(invalid("path", format!("{path} is empty"))),
                n if n > BLOB_BYTES => Err(invalid("path", too_large(n))),
                _ => Ok(()),
            }
        }
    }
}

/// A patrol entry's key: 1..=64 printable characters.
pub(crate) fn entry_key(entry: Option<&str>) -> Result<(), FieldError> {
    match entry {
        Some(e) if e.is_empty() || e.chars().count() > 64 || e.chars().any(char::is_control) => {
            Err(invalid("entry", "an entry's key (1..=64 printable characters)"))
        }
        _ => Ok(()),
    }
}

/// Photos a new record or a command references must be on this phone (added with `addPhoto`,
/// or downloaded), at the size stored: a reference to bytes that are nowhere could never be
/// uploaded, and every device would wait for it.
pub(crate) fn photos_here(
    store: &fieldsync_core::Store,
    photos: &[PhotoRef],
) -> Result<(), FieldError> {
    for p in photos {
        photo_hash(&p.hash)?;
        let here = store.photo(&p.hash)?.filter(|info| info.state.is_here());
        match here {
            Some(info) if info.size == p.size => {}
            Some(info) => {
                return Err(invalid(
                    "photos",
                    format!("photo {} has {} bytes, not {}", p.hash, info.size, p.size),
                ));
            }
            None => {
                return Err(invalid(
                    "photos",
                    format!(
                        "photo {} is not on this phone; add it with addPhoto (add_photo in Python)",
                        p.hash
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A server base URL: `http://` or `https://`, a host, no user, query or fragment (core's
/// check, the one the transport applies too).
pub(crate) fn server_url(url: &str) -> Result<String, FieldError> {
    Ok(fieldsync_core::sync::server_url(url)?)
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
