//! The provider's work on byte slices: what SQLCipher asks for, in safe Rust.

use std::num::NonZeroU32;

use aes::Aes256;
use cbc::cipher::consts::U16;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, InOutBuf, KeyIvInit};
use rand::RngCore;
use ring::{hmac as ring_hmac, pbkdf2};

/// What `PRAGMA cipher_provider` answers when this provider is SQLCipher's.
pub const PROVIDER_NAME: &str = "fieldsync-rustcrypto";

/// AES-256's key size in bytes.
pub(crate) const KEY_SIZE: usize = 32;
/// AES's block size, and so CBC's IV size, in bytes.
pub(crate) const BLOCK_SIZE: usize = 16;

/// Which way [`cipher`] runs (SQLCipher's `CIPHER_ENCRYPT` is 1, `CIPHER_DECRYPT` 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Plaintext to ciphertext.
    Encrypt,
    /// Ciphertext to plaintext.
    Decrypt,
}

/// The HMACs SQLCipher authenticates pages with (its `SQLCIPHER_HMAC_*`, in their order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hmac {
    /// HMAC-SHA1 (SQLCipher 3's pages).
    Sha1,
    /// HMAC-SHA256 (the store's pages, `store::key::HMAC` in fieldsync-core).
    Sha256,
    /// HMAC-SHA512 (SQLCipher 4's default).
    Sha512,
}

impl Hmac {
    /// The algorithm SQLCipher numbers `n`.
    pub(crate) fn from_sqlcipher(n: i32) -> Option<Hmac> {
        match n {
            0 => Some(Hmac::Sha1),
            1 => Some(Hmac::Sha256),
            2 => Some(Hmac::Sha512),
            _ => None,
        }
    }

    /// The size of its tag in bytes.
    pub(crate) fn size(self) -> usize {
        self.ring().digest_algorithm().output_len()
    }

    fn ring(self) -> ring_hmac::Algorithm {
        match self {
            Hmac::Sha1 => ring_hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Hmac::Sha256 => ring_hmac::HMAC_SHA256,
            Hmac::Sha512 => ring_hmac::HMAC_SHA512,
        }
    }
}

/// The key derivations SQLCipher uses (its `SQLCIPHER_PBKDF2_HMAC_*`, in their order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kdf {
    /// PBKDF2 with HMAC-SHA1.
    Sha1,
    /// PBKDF2 with HMAC-SHA256.
    Sha256,
    /// PBKDF2 with HMAC-SHA512 (SQLCipher 4's default).
    Sha512,
}

impl Kdf {
    /// The derivation SQLCipher numbers `n`.
    pub(crate) fn from_sqlcipher(n: i32) -> Option<Kdf> {
        match n {
            0 => Some(Kdf::Sha1),
            1 => Some(Kdf::Sha256),
            2 => Some(Kdf::Sha512),
            _ => None,
        }
    }

    fn ring(self) -> pbkdf2::Algorithm {
        match self {
            Kdf::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            Kdf::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Kdf::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }
}

/// Why the provider refused a request; SQLCipher sees `SQLITE_ERROR` and fails the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused;

/// AES-256-CBC without padding from `input` into `output` (same length, a whole number of
/// blocks), with a 32-byte `key` and 16-byte `iv`.
pub(crate) fn cipher(
    mode: Mode,
    key: &[u8],
    iv: &[u8],
    input: &[u8],
    output: &mut [u8],
) -> Result<(), Refused> {
    run_cbc(mode, key, iv, InOutBuf::new(input, output).map_err(|_| Refused)?)
}

/// [`cipher`] in place: `data` becomes its encryption or decryption.
pub(crate) fn cipher_in_place(
    mode: Mode,
    key: &[u8],
    iv: &[u8],
    data: &mut [u8],
) -> Result<(), Refused> {
    run_cbc(mode, key, iv, InOutBuf::from(data))
}

fn run_cbc(mode: Mode, key: &[u8], iv: &[u8], buf: InOutBuf<'_, '_, u8>) -> Result<(), Refused> {
    if key.len() != KEY_SIZE || iv.len() != BLOCK_SIZE || !buf.len().is_multiple_of(BLOCK_SIZE) {
        return Err(Refused);
    }
    let (blocks, _no_tail) = buf.into_chunks::<U16>();
    match mode {
        Mode::Encrypt => cbc::Encryptor::<Aes256>::new_from_slices(key, iv)
            .map_err(|_| Refused)?
            .encrypt_blocks_inout(blocks),
        Mode::Decrypt => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
            .map_err(|_| Refused)?
            .decrypt_blocks_inout(blocks),
    }
    Ok(())
}

/// The HMAC of `input` followed by `more` under `key`, written to the start of `out` (which
/// must hold [`Hmac::size`] bytes).
pub(crate) fn hmac(
    algorithm: Hmac,
    key: &[u8],
    input: &[u8],
    more: &[u8],
    out: &mut [u8],
) -> Result<(), Refused> {
    let out = out.get_mut(..algorithm.size()).ok_or(Refused)?;
    let key = ring_hmac::Key::new(algorithm.ring(), key);
    let mut context = ring_hmac::Context::with_key(&key);
    context.update(input);
    context.update(more);
    out.copy_from_slice(context.sign().as_ref());
    Ok(())
}

/// PBKDF2 of `secret` with `salt` and `iterations`, filling `out`.
pub(crate) fn kdf(
    algorithm: Kdf,
    secret: &[u8],
    salt: &[u8],
    iterations: u32,
    out: &mut [u8],
) -> Result<(), Refused> {
    let iterations = NonZeroU32::new(iterations).ok_or(Refused)?;
    if out.is_empty() {
        return Err(Refused);
    }
    pbkdf2::derive(algorithm.ring(), iterations, salt, secret, out);
    Ok(())
}

/// Fills `out` from the thread's cryptographically secure generator (rand's `ThreadRng`:
/// ChaCha12, seeded and periodically reseeded from the operating system's generator). SQLCipher
/// asks for a page's IV with every page it writes.
pub(crate) fn random(out: &mut [u8]) {
    rand::rng().fill_bytes(out);
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
