//! The nonces of possession challenges (`docs/blobs.md`, "Proving a photo is here"), and the
//! ranges each one asks for.
//!
//! A nonce is stateless: the server keeps no list of the challenges it issued. It is sealed
//! instead — random bytes, the issue time and the blob's size under an HMAC-SHA256 with a key
//! only the server knows, over the device and the blob too — so that the proof that comes back
//! carries everything the check needs, a device cannot forge one, use another device's or one
//! for another blob, and an old one expires. The ranges are derived from the nonce, so the
//! checker recomputes the same ones; they are spread at random over the blob, and a device
//! that knows only a hash and a size cannot answer.
//!
//! Layout: `random (16) ‖ issued at, ms since the Unix epoch (8, big-endian) ‖ size (8,
//! big-endian) ‖ HMAC-SHA256 (32)`. Clients treat it as opaque bytes; it is public here for
//! the server's own tests, which seal nonces of a chosen age with the key of a test server.

use sha2::{Digest, Sha256};

/// How long a challenge may be answered, in ms.
pub const LIFETIME_MS: i64 = 10 * 60 * 1000;
/// How far in the future an issue time may be (clocks of several server instances), in ms.
const SKEW_MS: i64 = 60 * 1000;
/// Random bytes of a nonce.
pub const RANDOM_BYTES: usize = 16;
/// Bytes of a nonce.
pub const NONCE_BYTES: usize = RANDOM_BYTES + 8 + 8 + 32;
/// A blob of at most this many bytes is asked for whole.
pub const WHOLE_BYTES: u64 = 64 * 1024;
/// Ranges asked of a larger blob.
pub const RANGES: u8 = 16;
/// Bytes of each of those ranges.
pub const RANGE_BYTES: u64 = 4 * 1024;

/// Why a nonce is refused. None of it depends on the blob: only on the nonce, the device that
/// sent it and the clock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    /// Not the length of a nonce.
    #[error("a challenge's nonce has {NONCE_BYTES} bytes, not {0}: send it back unchanged")]
    Length(usize),
    /// The seal does not match: forged, altered, or issued to another device or for another
    /// blob.
    #[error(
        "this nonce was not issued to this device for this blob: ask for a challenge \
         (GET /v1/blobs/{{hash}}/challenge) and answer that one"
    )]
    Forged,
    /// Issued too long ago (or, by a clock far ahead, in the future).
    #[error(
        "this challenge was issued {age_s} s ago; a challenge is answered within {} s: ask for \
         a new one",
        LIFETIME_MS / 1000
    )]
    Expired {
        /// Seconds since it was issued (negative: in the future).
        age_s: i64,
    },
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts`, with a 32-byte key.
fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let mut inner = Sha256::new();
    inner.update(ipad);
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(opad);
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The seal of a nonce's fields, bound to `device` and blob `hash`.
fn seal(key: &[u8; 32], device: &str, hash: &str, fields: &[u8]) -> [u8; 32] {
    let device_len = (device.len() as u64).to_be_bytes();
    hmac(
        key,
        &[
            b"fieldsync blob challenge v1\0",
            &device_len,
            device.as_bytes(),
            hash.as_bytes(),
            fields,
        ],
    )
}

/// A new nonce for `device`'s challenge of blob `hash` at `size`, issued at `now_ms`.
pub fn issue(
    key: &[u8; 32],
    device: &str,
    hash: &str,
    size: u64,
    now_ms: i64,
    random: [u8; RANDOM_BYTES],
) -> Vec<u8> {
    let mut nonce = Vec::with_capacity(NONCE_BYTES);
    nonce.extend_from_slice(&random);
    nonce.extend_from_slice(&now_ms.to_be_bytes());
    nonce.extend_from_slice(&size.to_be_bytes());
    let mac = seal(key, device, hash, &nonce);
    nonce.extend_from_slice(&mac);
    nonce
}

/// Opens a nonce that `device` sends back for blob `hash` at `now_ms`: the size its challenge
/// was for, if the seal holds and it has not expired.
pub fn open(
    key: &[u8; 32],
    device: &str,
    hash: &str,
    nonce: &[u8],
    now_ms: i64,
) -> Result<u64, NonceError> {
    if nonce.len() != NONCE_BYTES {
        return Err(NonceError::Length(nonce.len()));
    }
    let (fields, mac) = nonce.split_at(NONCE_BYTES - 32);
    if !same(&seal(key, device, hash, fields), mac) {
        return Err(NonceError::Forged);
    }
    let number = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&fields[at..at + 8]);
        b
    };
    let issued = i64::from_be_bytes(number(RANDOM_BYTES));
    let size = u64::from_be_bytes(number(RANDOM_BYTES + 8));
    let age = now_ms.saturating_sub(issued);
    if !(-SKEW_MS..=LIFETIME_MS).contains(&age) {
        return Err(NonceError::Expired { age_s: age / 1000 });
    }
    Ok(size)
}

/// The inclusive ranges a challenge with `nonce` asks of a blob of `size` bytes: the whole
/// blob when it is small, else [`RANGES`] ranges of [`RANGE_BYTES`] at offsets drawn from the
/// nonce, in offset order.
pub fn ranges(nonce: &[u8], size: u64) -> Vec<[u64; 2]> {
    if size == 0 {
        return Vec::new();
    }
    if size <= WHOLE_BYTES {
        return vec![[0, size - 1]];
    }
    let starts = size - RANGE_BYTES + 1;
    let mut out: Vec<[u64; 2]> = (0..RANGES)
        .map(|i| {
            let d = Sha256::new()
                .chain_update(b"fieldsync blob challenge ranges\0")
                .chain_update(nonce)
                .chain_update([i])
                .finalize();
            let mut x = [0u8; 8];
            x.copy_from_slice(&d[..8]);
            let first = u64::from_be_bytes(x) % starts;
            [first, first + RANGE_BYTES - 1]
        })
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldsync_core::protocol::{BlobChallenge, VERSION};

    const KEY: [u8; 32] = [9; 32];
    const NOW: i64 = 1_800_000_000_000;

    fn hash() -> String {
        "ab".repeat(32)
    }

    #[test]
    fn hmac_is_rfc_4231() {
        // RFC 4231, test case 1. Its 20-byte key padded with zeros to 32 is the same key to
        // HMAC, which pads every key shorter than a block with zeros.
        let mut key = [0u8; 32];
        key[..20].copy_from_slice(&[0x0b; 20]);
        let mac = hmac(&key, &[b"Hi ", b"There"]);
        assert_eq!(
            hex::encode(mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn a_nonce_opens_for_its_device_and_blob_within_its_lifetime_only() {
        let nonce = issue(&KEY, "dev-a", &hash(), 123_456, NOW, [1; 16]);
        assert_eq!(nonce.len(), NONCE_BYTES);
        assert_eq!(open(&KEY, "dev-a", &hash(), &nonce, NOW), Ok(123_456));
        assert_eq!(open(&KEY, "dev-a", &hash(), &nonce, NOW + LIFETIME_MS), Ok(123_456));
        assert_eq!(open(&KEY, "dev-b", &hash(), &nonce, NOW), Err(NonceError::Forged));
        assert_eq!(open(&KEY, "dev-a", &"cd".repeat(32), &nonce, NOW), Err(NonceError::Forged));
        assert_eq!(open(&[8; 32], "dev-a", &hash(), &nonce, NOW), Err(NonceError::Forged));
        // A device id that is a prefix of another's, and the hash moved into it, seal apart.
        assert_eq!(open(&KEY, "dev-ab", &hash()[2..], &nonce, NOW), Err(NonceError::Forged));
        assert!(matches!(
            open(&KEY, "dev-a", &hash(), &nonce, NOW + LIFETIME_MS + 1),
            Err(NonceError::Expired { age_s: 600 })
        ));
        assert!(matches!(
            open(&KEY, "dev-a", &hash(), &nonce, NOW - SKEW_MS - 1),
            Err(NonceError::Expired { .. })
        ));
        assert_eq!(open(&KEY, "dev-a", &hash(), &nonce[1..], NOW), Err(NonceError::Length(63)));
        // The size is sealed: a device cannot make a challenge of its own choosing.
        let mut resized = nonce;
        resized[RANDOM_BYTES + 15] ^= 1;
        assert_eq!(open(&KEY, "dev-a", &hash(), &resized, NOW), Err(NonceError::Forged));
    }

    #[test]
    fn ranges_cover_a_small_blob_whole_and_spread_over_a_large_one() {
        let nonce = issue(&KEY, "dev-a", &hash(), 0, NOW, [2; 16]);
        assert_eq!(ranges(&nonce, 1), vec![[0, 0]]);
        assert_eq!(ranges(&nonce, WHOLE_BYTES), vec![[0, WHOLE_BYTES - 1]]);
        let size = 5_000_000;
        let r = ranges(&nonce, size);
        assert_eq!(r.len(), usize::from(RANGES));
        assert!(r.windows(2).all(|w| w[0][0] <= w[1][0]), "in offset order");
        assert!(r.iter().all(|&[a, b]| b - a + 1 == RANGE_BYTES && b < size));
        assert_eq!(ranges(&nonce, size), r, "the same nonce asks the same ranges");
        let other = issue(&KEY, "dev-a", &hash(), 0, NOW, [3; 16]);
        assert_ne!(ranges(&other, size), r, "another nonce, other ranges");
        // Spread over the blob, not bunched at its start.
        assert!(r.last().unwrap()[0] > size / 2 && r[0][0] < size / 2, "{r:?}");
    }

    proptest::proptest! {
        /// Whatever the size, the ranges are a challenge a phone accepts.
        #[test]
        fn every_challenge_is_one_a_phone_answers(size in 1u64..=u64::MAX / 2, seed: [u8; 16]) {
            let nonce = issue(&KEY, "dev", &hash(), size, NOW, seed);
            let c = BlobChallenge { v: VERSION, hash: hash(), size, nonce: nonce.clone(), ranges: ranges(&nonce, size) };
            proptest::prop_assert_eq!(c.check(&hash(), size), Ok(()));
        }

        /// Any change to a nonce, any bytes of any length, is refused with a typed error.
        #[test]
        fn any_altered_nonce_is_refused(at in 0usize..NONCE_BYTES, bit in 0u8..8, junk: Vec<u8>) {
            let nonce = issue(&KEY, "dev", &hash(), 1000, NOW, [4; 16]);
            let mut altered = nonce.clone();
            altered[at] ^= 1 << bit;
            proptest::prop_assert!(open(&KEY, "dev", &hash(), &altered, NOW).is_err());
            if junk != nonce {
                proptest::prop_assert!(open(&KEY, "dev", &hash(), &junk, NOW).is_err());
            }
        }
    }
}
