//! The desk session's cookie: what the sign-in sets and the sign-out clears (`HttpOnly`, so
//! page scripts never see it; `SameSite=Strict`, so no other site's page sends it; `Secure`
//! when the server is reached over TLS), and finding it in a request's `Cookie` headers.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::accounts::secret;
use crate::http::error::ServerError;

/// The cookie's name.
pub(crate) const NAME: &str = "fieldsync_session";

fn attributes(secure: bool) -> &'static str {
    if secure {
        "; HttpOnly; SameSite=Strict; Path=/; Secure"
    } else {
        "; HttpOnly; SameSite=Strict; Path=/"
    }
}

/// The `Set-Cookie` value that hands the browser `token`.
pub(crate) fn set(token: &str, secure: bool) -> Result<HeaderValue, ServerError> {
    let value = format!("{NAME}={token}{}", attributes(secure));
    HeaderValue::try_from(value)
        .map_err(|e| ServerError::Internal(format!("a session cookie is not a header: {e}")))
}

/// The `Set-Cookie` value that makes the browser forget the session.
pub(crate) fn clear(secure: bool) -> HeaderValue {
    let value = if secure {
        "fieldsync_session=; HttpOnly; SameSite=Strict; Path=/; Secure; Max-Age=0"
    } else {
        "fieldsync_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    };
    HeaderValue::from_static(value)
}

/// The values of every cookie named `name` in the request's `Cookie` headers, in order,
/// trimmed and unquoted.
pub(crate) fn values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// The session token the request's cookies carry, if one has a token's form.
pub(crate) fn token(headers: &HeaderMap) -> Option<&str> {
    values(headers, NAME).find(|value| secret::is_token(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others_and_only_with_a_tokens_form() {
        let t = secret::new_token();
        let mut h = HeaderMap::new();
        assert_eq!(token(&h), None);
        h.append(header::COOKIE, "theme=dark; fieldsync_session=abc".parse().unwrap());
        assert_eq!(token(&h), None, "not a token's form");
        h.append(header::COOKIE, format!("a=1;  {NAME}={t} ; b=2").parse().unwrap());
        assert_eq!(token(&h), Some(t.as_str()));
        let set = set(&t, true).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with(&format!("{NAME}={t};")) && set.ends_with("; Secure"), "{set}");
        assert!(!super::set(&t, false).unwrap().to_str().unwrap().contains("Secure"));
        assert!(clear(false).to_str().unwrap().contains("Max-Age=0"));
    }
}
