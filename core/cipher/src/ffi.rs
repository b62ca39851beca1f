//! SQLCipher's provider interface (`struct sqlcipher_provider` in its `sqlcipher.h`): the
//! functions it calls through, each a thin check of its pointers and sizes around
//! [`crate::crypto`]. No panic crosses into C: each call catches one and answers
//! `SQLITE_ERROR`, as it does for any refused request.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::slice;

use crate::crypto::{self, BLOCK_SIZE, Hmac, KEY_SIZE, Kdf, Mode, Refused};

const SQLITE_OK: c_int = 0;
const SQLITE_ERROR: c_int = 1;
/// SQLCipher's `CIPHER_ENCRYPT` (its `CIPHER_DECRYPT` is 0).
const CIPHER_ENCRYPT: c_int = 1;

/// `PROVIDER_NAME`, `NUL`-terminated for C.
const NAME: &[u8] = b"fieldsync-rustcrypto\0";
/// What `PRAGMA cipher_provider_version` answers.
const VERSION: &[u8] = concat!("fieldsync-cipher ", env!("CARGO_PKG_VERSION"), "\0").as_bytes();
/// What `PRAGMA cipher` answers, as OpenSSL's provider names the same cipher.
const CIPHER_NAME: &[u8] = b"aes-256-cbc\0";

/// SQLCipher's `struct sqlcipher_provider`, field for field.
#[repr(C)]
pub struct SqlcipherProvider {
    init: Option<unsafe extern "C" fn() -> c_int>,
    shutdown: Option<unsafe extern "C" fn()>,
    get_provider_name: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    add_random: Option<unsafe extern "C" fn(*mut c_void, *const c_void, c_int) -> c_int>,
    random: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int>,
    hmac: Option<HmacFn>,
    kdf: Option<KdfFn>,
    cipher: Option<CipherFn>,
    get_cipher: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    get_key_sz: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_iv_sz: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_block_sz: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_hmac_sz: Option<unsafe extern "C" fn(*mut c_void, c_int) -> c_int>,
    ctx_init: Option<unsafe extern "C" fn(*mut *mut c_void) -> c_int>,
    ctx_free: Option<unsafe extern "C" fn(*mut *mut c_void) -> c_int>,
    fips_status: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_provider_version: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    next: *mut SqlcipherProvider,
}

type HmacFn = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    *const u8,
    c_int,
    *const u8,
    c_int,
    *const u8,
    c_int,
    *mut u8,
) -> c_int;
type KdfFn = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    *const u8,
    c_int,
    *const u8,
    c_int,
    c_int,
    c_int,
    *mut u8,
) -> c_int;
type CipherFn = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    *const u8,
    c_int,
    *const u8,
    *const u8,
    c_int,
    *mut u8,
) -> c_int;

/// Fills SQLCipher's provider with this crate's functions. SQLCipher calls it once, when SQLite
/// initialises, if it was built with `-DSQLCIPHER_CRYPTO_CUSTOM=fieldsync_sqlcipher_setup`.
///
/// # Safety
/// `provider` is null or points to a writable `struct sqlcipher_provider`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fieldsync_sqlcipher_setup(provider: *mut SqlcipherProvider) -> c_int {
    // SAFETY: the caller hands a valid provider or null, which `as_mut` refuses.
    let Some(p) = (unsafe { provider.as_mut() }) else {
        return SQLITE_ERROR;
    };
    p.init = None;
    p.shutdown = None;
    p.get_provider_name = Some(provider_name);
    p.add_random = Some(add_random);
    p.random = Some(random);
    p.hmac = Some(hmac);
    p.kdf = Some(kdf);
    p.cipher = Some(cipher);
    p.get_cipher = Some(cipher_name);
    p.get_key_sz = Some(key_size);
    p.get_iv_sz = Some(block_size);
    p.get_block_sz = Some(block_size);
    p.get_hmac_sz = Some(hmac_size);
    p.ctx_init = Some(ctx_init);
    p.ctx_free = Some(ctx_free);
    p.fips_status = Some(fips_status);
    p.get_provider_version = Some(provider_version);
    SQLITE_OK
}

/// `SQLITE_OK` when `f` succeeds, `SQLITE_ERROR` when it refuses or panics.
fn status(f: impl FnOnce() -> Result<(), Refused>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => SQLITE_OK,
        Ok(Err(Refused)) | Err(_) => SQLITE_ERROR,
    }
}

/// The `len` bytes at `ptr`: empty for a length of 0 (whatever the pointer), refused for a
/// negative length or a null pointer.
///
/// # Safety
/// A non-null `ptr` is valid for reads of `len` bytes for `'a`.
unsafe fn input<'a>(ptr: *const u8, len: c_int) -> Result<&'a [u8], Refused> {
    let len = usize::try_from(len).map_err(|_| Refused)?;
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Refused);
    }
    // SAFETY: non-null, and valid for `len` bytes by the caller's contract.
    Ok(unsafe { slice::from_raw_parts(ptr, len) })
}

/// The `len` writable bytes at `ptr`, refused for a negative length or a null pointer.
///
/// # Safety
/// A non-null `ptr` is valid for writes of `len` bytes for `'a`, and nothing else reads or
/// writes them meanwhile.
unsafe fn output<'a>(ptr: *mut u8, len: usize) -> Result<&'a mut [u8], Refused> {
    if ptr.is_null() {
        return Err(Refused);
    }
    // SAFETY: non-null, valid and exclusive for `len` bytes by the caller's contract.
    Ok(unsafe { slice::from_raw_parts_mut(ptr, len) })
}

unsafe extern "C" fn provider_name(_ctx: *mut c_void) -> *const c_char {
    NAME.as_ptr().cast()
}

unsafe extern "C" fn provider_version(_ctx: *mut c_void) -> *const c_char {
    VERSION.as_ptr().cast()
}

unsafe extern "C" fn cipher_name(_ctx: *mut c_void) -> *const c_char {
    CIPHER_NAME.as_ptr().cast()
}

/// Entropy SQLCipher offers (`PRAGMA cipher_add_random`): the system's generator needs none, so
/// it is accepted and not used.
unsafe extern "C" fn add_random(_ctx: *mut c_void, _buffer: *const c_void, _len: c_int) -> c_int {
    SQLITE_OK
}

unsafe extern "C" fn random(_ctx: *mut c_void, buffer: *mut c_void, len: c_int) -> c_int {
    status(|| {
        let len = usize::try_from(len).map_err(|_| Refused)?;
        // SAFETY: SQLCipher hands a buffer of `len` bytes that it does not touch meanwhile.
        let out = unsafe { output(buffer.cast(), len) }?;
        crypto::random(out);
        Ok(())
    })
}

unsafe extern "C" fn hmac(
    _ctx: *mut c_void,
    algorithm: c_int,
    key: *const u8,
    key_len: c_int,
    input: *const u8,
    input_len: c_int,
    more: *const u8,
    more_len: c_int,
    out: *mut u8,
) -> c_int {
    status(|| {
        let algorithm = Hmac::from_sqlcipher(algorithm).ok_or(Refused)?;
        if input.is_null() {
            return Err(Refused);
        }
        // SAFETY: SQLCipher hands each buffer with its length; `more` is null or
        // `more_len` bytes; `out` holds the algorithm's tag size (`get_hmac_sz`).
        let (key, input, more, out) = unsafe {
            (
                self::input(key, key_len)?,
                self::input(input, input_len)?,
                if more.is_null() { &[][..] } else { self::input(more, more_len)? },
                output(out, algorithm.size())?,
            )
        };
        crypto::hmac(algorithm, key, input, more, out)
    })
}

unsafe extern "C" fn kdf(
    _ctx: *mut c_void,
    algorithm: c_int,
    pass: *const u8,
    pass_len: c_int,
    salt: *const u8,
    salt_len: c_int,
    iterations: c_int,
    key_len: c_int,
    key: *mut u8,
) -> c_int {
    status(|| {
        let algorithm = Kdf::from_sqlcipher(algorithm).ok_or(Refused)?;
        let iterations = u32::try_from(iterations).map_err(|_| Refused)?;
        let key_len = usize::try_from(key_len).map_err(|_| Refused)?;
        // SAFETY: SQLCipher hands each buffer with its length, and `key` holds `key_len` bytes.
        let (pass, salt, key) =
            unsafe { (input(pass, pass_len)?, input(salt, salt_len)?, output(key, key_len)?) };
        crypto::kdf(algorithm, pass, salt, iterations, key)
    })
}

unsafe extern "C" fn cipher(
    _ctx: *mut c_void,
    mode: c_int,
    key: *const u8,
    key_len: c_int,
    iv: *const u8,
    input: *const u8,
    len: c_int,
    out: *mut u8,
) -> c_int {
    status(|| {
        let mode = if mode == CIPHER_ENCRYPT { Mode::Encrypt } else { Mode::Decrypt };
        let len_bytes = usize::try_from(len).map_err(|_| Refused)?;
        if input.is_null() || out.is_null() {
            return Err(Refused);
        }
        // SAFETY: SQLCipher hands the key with its length and an IV of `get_iv_sz` bytes.
        let (key, iv) =
            unsafe { (self::input(key, key_len)?, self::input(iv, BLOCK_SIZE as c_int)?) };
        let (start, end) = (input as usize, input as usize + len_bytes);
        let (out_start, out_end) = (out as usize, out as usize + len_bytes);
        if start == out_start {
            // SAFETY: one buffer of `len` bytes, read and written in place.
            let data = unsafe { output(out, len_bytes)? };
            crypto::cipher_in_place(mode, key, iv, data)
        } else if end <= out_start || out_end <= start {
            // SAFETY: two disjoint buffers of `len` bytes each.
            let (input, out) = unsafe { (self::input(input, len)?, output(out, len_bytes)?) };
            crypto::cipher(mode, key, iv, input, out)
        } else {
            // Overlapping but not the same: moved into place first, then run in place.
            // SAFETY: both are valid for `len` bytes; `copy` allows the overlap.
            let data = unsafe {
                std::ptr::copy(input, out, len_bytes);
                output(out, len_bytes)?
            };
            crypto::cipher_in_place(mode, key, iv, data)
        }
    })
}

unsafe extern "C" fn key_size(_ctx: *mut c_void) -> c_int {
    KEY_SIZE as c_int
}

unsafe extern "C" fn block_size(_ctx: *mut c_void) -> c_int {
    BLOCK_SIZE as c_int
}

unsafe extern "C" fn hmac_size(_ctx: *mut c_void, algorithm: c_int) -> c_int {
    Hmac::from_sqlcipher(algorithm).map_or(0, |a| a.size() as c_int)
}

/// The provider keeps no state per codec: the context stays null, as OpenSSL's provider leaves it.
unsafe extern "C" fn ctx_init(_ctx: *mut *mut c_void) -> c_int {
    SQLITE_OK
}

unsafe extern "C" fn ctx_free(_ctx: *mut *mut c_void) -> c_int {
    SQLITE_OK
}

unsafe extern "C" fn fips_status(_ctx: *mut c_void) -> c_int {
    0
}

#[cfg(test)]
#[path = "ffi_tests.rs"]
mod tests;
