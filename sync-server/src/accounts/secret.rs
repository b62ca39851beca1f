//! Enrollment codes, bearer tokens and ids: how they are made, written, checked and hashed.
//!
//! Codes are for people to type: ten characters of Crockford's base32 (50 random bits), shown as
//! `ABCDE-FGHJK`; case, dashes and spaces are ignored and the look-alikes O, I and L read as 0, 1
//! and 1. Tokens are for machines: 256 random bits as 64 hex digits. Only SHA-256 hashes of
//! either are stored.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Crockford's base32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a code, dashes left out.
pub(crate) const CODE_CHARS: usize = 10;

/// Hex digits in a token.
pub(crate) const TOKEN_HEX: usize = 64;

/// A new enrollment code, as shown to people.
pub(crate) fn new_code() -> String {
    let mut bytes = [0u8; CODE_CHARS];
    rand::rng().fill_bytes(&mut bytes);
    let chars: String = bytes.iter().map(|b| ALPHABET[usize::from(b % 32)] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A code as typed, in its canonical form, or why it cannot be one.
pub(crate) fn normalize_code(input: &str) -> Result<String, String> {
    if input.len() > 64 {
        return Err("a code is 10 letters and digits".into());
    }
    let mut out = String::with_capacity(CODE_CHARS);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return Err(format!("{c:?} is not a letter or digit of a code"));
        }
        out.push(c);
    }
    if out.len() != CODE_CHARS {
        return Err(format!("a code is {CODE_CHARS} letters and digits; this has {}", out.len()));
    }
    Ok(out)
}

/// A new bearer token.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether `token` has a token's form (64 lowercase or uppercase hex digits).
pub(crate) fn is_token(token: &str) -> bool {
    token.len() == TOKEN_HEX && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A new device id.
pub(crate) fn new_device_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("dev-{}", hex::encode(bytes))
}

/// A new desk session id (shown to operators; not a secret).
pub(crate) fn new_session_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("ses-{}", hex::encode(bytes))
}

/// The CSRF token of the desk session whose token is `session_token`: derived from it, so it
/// is never stored, differs for every session, and dies with it; it does not reveal the
/// session's token (SHA-256 is one-way).
pub(crate) fn csrf_token(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"fieldsync desk csrf\n");
    h.update(session_token.to_ascii_lowercase().as_bytes());
    hex::encode(h.finalize())
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new Automerge actor id for a device.
pub(crate) fn new_actor() -> Vec<u8> {
    let mut bytes = vec![0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// SHA-256 of a secret in its canonical form (tokens lowercased).
pub(crate) fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.to_ascii_lowercase().as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_forgivingly_and_refuse_garbage() {
        let code = new_code();
        assert_eq!(code.len(), 11);
        let canonical = normalize_code(&code).unwrap();
        assert_eq!(normalize_code(&code.to_lowercase()).unwrap(), canonical);
        assert_eq!(normalize_code("o1l2i-3456 7").unwrap(), "0112134567");
        assert!(normalize_code("12345").is_err());
        assert!(normalize_code("12345-6789U").is_err(), "U is not in the alphabet");
        assert!(normalize_code("12345-6789é").is_err());
        assert!(normalize_code(&"1".repeat(100)).is_err());
    }

    #[test]
    fn tokens_have_one_form() {
        let t = new_token();
        assert!(is_token(&t) && is_token(&t.to_uppercase()));
        assert_eq!(hash(&t), hash(&t.to_uppercase()));
        assert!(!is_token(&t[1..]) && !is_token(&format!("{}g", &t[1..])));
        assert_ne!(new_token(), t);
    }

    #[test]
    fn csrf_tokens_belong_to_one_session_and_compare_whole() {
        let (a, b) = (new_token(), new_token());
        let csrf = csrf_token(&a);
        assert_eq!(csrf, csrf_token(&a.to_uppercase()));
        assert_ne!(csrf, csrf_token(&b));
        assert_ne!(csrf, a, "not the session's token");
        assert!(same_secret(&csrf, &csrf_token(&a)));
        assert!(!same_secret(&csrf, &csrf_token(&b)));
        assert!(!same_secret(&csrf, &csrf[1..]) && !same_secret(&csrf, ""));
        assert!(new_session_id().starts_with("ses-") && new_session_id().len() == 20);
    }
}
