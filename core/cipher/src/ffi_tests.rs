//! The C entry points as SQLCipher calls them: set up, run on any buffers it hands over, and
//! refuse what they cannot take.

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

#[test]
fn random_and_kdf_refuse_null_outputs_and_negative_lengths() {
    let p = provider();
    let (random, kdf) = (p.random.unwrap(), p.kdf.unwrap());
    let null = std::ptr::null_mut();
    let mut out = [0u8; 16];
    // SAFETY: `out` holds 16 writable bytes; the other calls hand null or a negative length,
    // which are to be refused before anything is written.
    unsafe {
        assert_eq!(random(null, out.as_mut_ptr().cast(), 16), SQLITE_OK);
        assert_eq!(random(null, null, 16), SQLITE_ERROR);
        assert_eq!(random(null, out.as_mut_ptr().cast(), -1), SQLITE_ERROR);
        let pass = b"password";
        assert_eq!(
            kdf(null, 2, pass.as_ptr(), 8, pass.as_ptr(), 8, 2, 32, null.cast()),
            SQLITE_ERROR
        );
        assert_eq!(
            kdf(null, 2, pass.as_ptr(), -8, pass.as_ptr(), 8, 2, 16, out.as_mut_ptr()),
            SQLITE_ERROR
        );
    }
    assert_ne!(out, [0u8; 16], "the accepted call filled its buffer");
}
