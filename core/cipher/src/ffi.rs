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
mod tests {
    use super::*;

    fn provider() -> SqlcipherProvider {
        let mut p = SqlcipherProvider {
            init: None,
            shutdown: None,
            get_provider_name: None,
            add_random: None,
            random: None,
            hmac: None,
            kdf: None,
            cipher: None,
            get_cipher: None,
            get_key_sz: None,
            get_iv_sz: None,
            get_block_sz: None,
            get_hmac_sz: None,
            ctx_init: None,
            ctx_free: None,
            fips_status: None,
            get_provider_version: None,
            next: std::ptr::null_mut(),
        };
        // SAFETY: a valid, writable provider.
        assert_eq!(unsafe { fieldsync_sqlcipher_setup(&mut p) }, SQLITE_OK);
        p
    }

    #[test]
    fn names_are_nul_terminated_and_the_provider_says_its_own() {
        for name in [NAME, VERSION, CIPHER_NAME] {
            assert_eq!(name.iter().position(|&b| b == 0), Some(name.len() - 1));
        }
        assert_eq!(&NAME[..NAME.len() - 1], crypto::PROVIDER_NAME.as_bytes());
    }

    #[test]
    fn a_null_provider_is_refused() {
        // SAFETY: null is what is being tested.
        assert_eq!(unsafe { fieldsync_sqlcipher_setup(std::ptr::null_mut()) }, SQLITE_ERROR);
    }

    #[test]
    fn the_cipher_runs_in_place_apart_and_overlapped_alike() {
        let cipher = provider().cipher.unwrap();
        let (key, iv) = ([7u8; 32], [9u8; 16]);
        // SAFETY: every call below hands 64 readable bytes at `input` and 64 writable at `out`.
        let run = |mode: c_int, input: *const u8, out: *mut u8| unsafe {
            cipher(std::ptr::null_mut(), mode, key.as_ptr(), 32, iv.as_ptr(), input, 64, out)
        };
        let plain: Vec<u8> = (0..64u8).collect();
        let mut apart = vec![0u8; 64];
        assert_eq!(run(CIPHER_ENCRYPT, plain.as_ptr(), apart.as_mut_ptr()), SQLITE_OK);
        assert_ne!(apart, plain);

        let mut in_place = plain.clone();
        let ptr = in_place.as_mut_ptr();
        assert_eq!(run(CIPHER_ENCRYPT, ptr, ptr), SQLITE_OK);
        assert_eq!(in_place, apart);

        // Input at +16 and output at +0 of one buffer of 80 bytes.
        let mut overlapped = vec![0u8; 80];
        overlapped[16..].copy_from_slice(&plain);
        let base = overlapped.as_mut_ptr();
        assert_eq!(run(CIPHER_ENCRYPT, base.wrapping_add(16), base), SQLITE_OK);
        assert_eq!(&overlapped[..64], &apart[..]);

        let mut back = vec![0u8; 64];
        assert_eq!(run(0, apart.as_ptr(), back.as_mut_ptr()), SQLITE_OK);
        assert_eq!(back, plain);
    }

    #[test]
    fn bad_sizes_and_null_buffers_are_errors_not_crashes() {
        let p = provider();
        let (cipher, hmac, kdf) = (p.cipher.unwrap(), p.hmac.unwrap(), p.kdf.unwrap());
        let (key, iv, data) = ([1u8; 32], [2u8; 16], [3u8; 48]);
        let mut out = [0u8; 64];
        let (null, none) = (std::ptr::null_mut(), std::ptr::null());
        let out = out.as_mut_ptr();
        // SAFETY: every non-null buffer is valid for 48 bytes read or 64 written, more than any
        // call may touch; the calls are to refuse the lengths and nulls given.
        let ciphers = |key_len: c_int, input: *const u8, len: c_int| unsafe {
            cipher(null, CIPHER_ENCRYPT, key.as_ptr(), key_len, iv.as_ptr(), input, len, out)
        };
        // A 31-byte key, a length that is not whole blocks, a negative length, null input.
        assert_eq!(ciphers(31, data.as_ptr(), 48), SQLITE_ERROR);
        assert_eq!(ciphers(32, data.as_ptr(), 47), SQLITE_ERROR);
        assert_eq!(ciphers(32, data.as_ptr(), -16), SQLITE_ERROR);
        assert_eq!(ciphers(32, none, 48), SQLITE_ERROR);
        // SAFETY: as above.
        let hmacs = |algorithm: c_int, input: *const u8, len: c_int| unsafe {
            hmac(null, algorithm, key.as_ptr(), 32, input, len, none, 0, out)
        };
        // An unknown HMAC, a null input.
        assert_eq!(hmacs(3, data.as_ptr(), 48), SQLITE_ERROR);
        assert_eq!(hmacs(2, none, 0), SQLITE_ERROR);
        // SAFETY: as above.
        let derives = |algorithm: c_int, iterations: c_int| unsafe {
            kdf(null, algorithm, key.as_ptr(), 32, data.as_ptr(), 16, iterations, 32, out)
        };
        // Zero iterations, an unknown derivation.
        assert_eq!(derives(2, 0), SQLITE_ERROR);
        assert_eq!(derives(7, 2), SQLITE_ERROR);
        // SAFETY: no pointer is read.
        assert_eq!(unsafe { (p.get_hmac_sz.unwrap())(null, 9) }, 0);
    }
}
