//! The server's base URL as a person or an app gives it, checked with the `url` crate (the
//! parser reqwest uses) rather than by prefix: `http` or `https`, a host, no user name or
//! password, no query or fragment.

use crate::error::{CoreError, Result};

/// Longest server URL accepted, in bytes.
const URL_BYTES: usize = 2048;

fn invalid(reason: impl Into<String>) -> CoreError {
    CoreError::InvalidInput { field: "server_url", reason: reason.into() }
}

/// The server base URL `input` names, normalised (scheme and host lower-case, no default port,
/// no trailing `/`), or `InvalidInput` on `server_url` saying what is wrong.
pub fn server_url(input: &str) -> Result<String> {
    let text = input.trim();
    // The URL parser drops tabs and newlines silently; a URL that holds any is refused.
    if text.len() > URL_BYTES || text.chars().any(char::is_control) {
        return Err(invalid(format!("at most {URL_BYTES} bytes, no control characters")));
    }
    let url = match url::Url::parse(text) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(invalid(format!("{text:?} does not start with https://")));
        }
        Err(e) => return Err(invalid(format!("{text:?} is not a server URL: {e}"))),
    };
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid(format!("{text:?} does not start with https://")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(format!("{text:?} has no valid host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(format!("{text:?} carries a user name or password; give the host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("give the server's base URL, without ? or #"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised_and_the_rest_refused_on_server_url() {
        let ok = |s: &str| server_url(s).unwrap();
        assert_eq!(ok(" https://sync.example.org/ "), "https://sync.example.org");
        assert_eq!(ok("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            ok("HTTPS://Sync.Example.org:443/fieldsync/"),
            "https://sync.example.org/fieldsync"
        );
        assert_eq!(ok("http://[::1]:8080"), "http://[::1]:8080");
        for bad in [
            "",
            "ftp://x",
            "https://",
            "sync.example.org",
            "https://a b",
            "https://x/?q=1",
            "https://x/#top",
            "https://u@x",
            "https://u:p@x",
            "https://x:99999",
            "https://x\n/",
            "file:///etc/passwd",
        ] {
            match server_url(bad) {
                Err(CoreError::InvalidInput { field: "server_url", .. }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(server_url(&format!("https://x/{}", "a".repeat(URL_BYTES))).is_err());
    }
}
