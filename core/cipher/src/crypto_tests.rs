//! Known answers from the standards: a provider that writes what OpenSSL's writes and reads
//! what it reads.

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// NIST SP 800-38A, F.2.5 and F.2.6 (CBC-AES256).
const CBC_KEY: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const CBC_IV: &str = "000102030405060708090a0b0c0d0e0f";
const CBC_PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                         30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const CBC_CIPHER: &str = "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
                          39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b";

#[test]
fn aes_256_cbc_gives_nist_answers_both_ways() {
    let (key, iv) = (unhex(CBC_KEY), unhex(CBC_IV));
    let (plain, sealed) = (unhex(CBC_PLAIN), unhex(CBC_CIPHER));
    let mut out = vec![0; plain.len()];
    cipher(Mode::Encrypt, &key, &iv, &plain, &mut out).unwrap();
    assert_eq!(out, sealed);
    cipher(Mode::Decrypt, &key, &iv, &sealed, &mut out).unwrap();
    assert_eq!(out, plain);

    let mut data = plain.clone();
    cipher_in_place(Mode::Encrypt, &key, &iv, &mut data).unwrap();
    assert_eq!(data, sealed);
    cipher_in_place(Mode::Decrypt, &key, &iv, &mut data).unwrap();
    assert_eq!(data, plain);
}

#[test]
fn the_cipher_refuses_partial_blocks_and_wrong_sizes() {
    let (key, iv) = (unhex(CBC_KEY), unhex(CBC_IV));
    let mut out = [0u8; 64];
    assert_eq!(cipher(Mode::Encrypt, &key, &iv, &[0; 15], &mut out[..15]), Err(Refused));
    assert_eq!(cipher(Mode::Encrypt, &key, &iv, &[0; 16], &mut out[..32]), Err(Refused));
    assert_eq!(cipher(Mode::Encrypt, &key[..16], &iv, &[0; 16], &mut out[..16]), Err(Refused));
    assert_eq!(cipher(Mode::Encrypt, &key, &iv[..8], &[0; 16], &mut out[..16]), Err(Refused));
    assert_eq!(cipher_in_place(Mode::Decrypt, &key, &iv, &mut out[..17]), Err(Refused));
}

#[test]
fn hmacs_give_rfc_answers_over_two_inputs() {
    // RFC 2202 and RFC 4231, test case 2, the data split where SQLCipher splits a page from
    // its page number.
    let cases = [
        (Hmac::Sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (Hmac::Sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (
            Hmac::Sha512,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
    ];
    for (algorithm, expected) in cases {
        let mut out = [0u8; 64];
        hmac(algorithm, b"Jefe", b"what do ya ", b"want for nothing?", &mut out).unwrap();
        assert_eq!(hex::encode(&out[..algorithm.size()]), expected, "{algorithm:?}");
        assert!(
            out[algorithm.size()..].iter().all(|&b| b == 0),
            "{algorithm:?} wrote past its tag"
        );
    }
    assert_eq!(hmac(Hmac::Sha512, b"k", b"x", b"", &mut [0u8; 63]), Err(Refused));
}

#[test]
fn pbkdf2_gives_rfc_answers() {
    // RFC 6070 (SHA-1); the SHA-256 and SHA-512 answers as Python's hashlib gives them.
    let cases = [
        (Kdf::Sha1, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
        (Kdf::Sha256, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"),
        (
            Kdf::Sha512,
            "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c\
             f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e",
        ),
    ];
    for (algorithm, expected) in cases {
        let mut out = vec![0u8; expected.len() / 2];
        kdf(algorithm, b"password", b"salt", 2, &mut out).unwrap();
        assert_eq!(hex::encode(&out), expected, "{algorithm:?}");
    }
    assert_eq!(kdf(Kdf::Sha512, b"password", b"salt", 0, &mut [0u8; 32]), Err(Refused));
}

#[test]
fn sqlcipher_numbers_map_to_its_algorithms() {
    assert_eq!(Hmac::from_sqlcipher(0), Some(Hmac::Sha1));
    assert_eq!(Hmac::from_sqlcipher(1), Some(Hmac::Sha256));
    assert_eq!(Hmac::from_sqlcipher(2), Some(Hmac::Sha512));
    assert_eq!(Hmac::from_sqlcipher(3), None);
    assert_eq!(Kdf::from_sqlcipher(2), Some(Kdf::Sha512));
    assert_eq!(Kdf::from_sqlcipher(-1), None);
    assert_eq!([Hmac::Sha1.size(), Hmac::Sha256.size(), Hmac::Sha512.size()], [20, 32, 64]);
}

#[test]
fn random_fills_and_differs() {
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    random(&mut a);
    random(&mut b);
    assert_ne!(a, b);
    assert_ne!(a, [0u8; 32]);
}
