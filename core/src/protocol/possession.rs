//! Proof of possession (`docs/blobs.md`, "Proving a photo is here"): a device that references a
//! photo the server may already hold shows that it has the bytes — not only their hash and
//! size, which anyone who saw the record knows — by hashing ranges of them that the server
//! picked at random, with a nonce the server sealed. Phone and server compute the answer with
//! the same function, [`possession_digest`], so the two sides cannot read the ranges
//! differently.

use std::io::{self, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::limits;

/// `GET /v1/blobs/{hash}/challenge`: ranges of the blob to hash, with the nonce to put first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobChallenge {
    /// Protocol version.
    pub v: u32,
    /// Lower-case hex SHA-256 of the blob.
    pub hash: String,
    /// The size the challenge is for: that of the device's reference.
    pub size: u64,
    /// Opaque bytes sealed by the server; sent back unchanged in the [`BlobProof`], and hashed
    /// first.
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// Inclusive byte ranges `[first, last]` of the blob, to hash in this order.
    pub ranges: Vec<[u64; 2]>,
}

impl BlobChallenge {
    /// Checks a challenge received for blob `hash` of `size` bytes: this version, this blob, a
    /// nonce, and at most [`limits::CHALLENGE_RANGES`] ranges inside the blob holding at most
    /// [`limits::CHALLENGE_BYTES`] in all (a server cannot make a phone read its photo over
    /// and over). Returns what is wrong.
    pub fn check(&self, hash: &str, size: u64) -> Result<(), String> {
        if self.v != super::VERSION || self.hash != hash || self.size != size {
            return Err(format!(
                "a challenge for {} of {} bytes (v {}), not for {hash} of {size}",
                self.hash, self.size, self.v
            ));
        }
        if self.nonce.is_empty() || self.nonce.len() > limits::NONCE_BYTES {
            return Err(format!("a nonce of {} bytes", self.nonce.len()));
        }
        if self.ranges.is_empty() || self.ranges.len() > limits::CHALLENGE_RANGES {
            return Err(format!("{} ranges", self.ranges.len()));
        }
        let mut total = 0u64;
        for &[first, last] in &self.ranges {
            if first > last || last >= size {
                return Err(format!("the range {first}-{last} is not inside {size} bytes"));
            }
            total = total.saturating_add(last - first + 1);
        }
        if total > limits::CHALLENGE_BYTES {
            return Err(format!("{total} bytes to read; at most {}", limits::CHALLENGE_BYTES));
        }
        Ok(())
    }
}

/// `POST /v1/blobs/{hash}/proof`: the answer to a [`BlobChallenge`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobProof {
    /// Protocol version.
    pub v: u32,
    /// The challenge's nonce, unchanged.
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// [`possession_digest`] of the challenge's nonce and ranges over the blob: 32 bytes.
    #[serde(with = "serde_bytes")]
    pub digest: Vec<u8>,
}

/// `SHA-256(nonce ‖ bytes of each range, in order)`, the ranges read from `source` (the blob's
/// bytes). A source shorter than a range is an `UnexpectedEof` error.
pub fn possession_digest<R: Read + Seek>(
    nonce: &[u8],
    ranges: &[[u64; 2]],
    source: &mut R,
) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    hasher.update(nonce);
    let mut buf = vec![0u8; 64 * 1024];
    for &[first, last] in ranges {
        if last < first {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the range {first}-{last} ends before it starts"),
            ));
        }
        source.seek(SeekFrom::Start(first))?;
        let mut left = last - first + 1;
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            source.read_exact(&mut buf[..n])?;
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn challenge(size: u64, ranges: Vec<[u64; 2]>) -> BlobChallenge {
        BlobChallenge {
            v: super::super::VERSION,
            hash: "ab".repeat(32),
            size,
            nonce: vec![7; 16],
            ranges,
        }
    }

    #[test]
    fn the_digest_is_the_nonce_then_the_ranges_in_order() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
        let ranges = [[100_000, 100_009], [5, 7], [199_999, 199_999]];
        let got = possession_digest(b"nonce", &ranges, &mut Cursor::new(&bytes)).unwrap();
        let mut expected = Sha256::new();
        expected.update(b"nonce");
        expected.update(&bytes[100_000..=100_009]);
        expected.update(&bytes[5..=7]);
        expected.update(&bytes[199_999..]);
        assert_eq!(got, <[u8; 32]>::from(expected.finalize()));
        // A range past the end of the bytes is an error, not a digest of fewer bytes.
        let short = possession_digest(b"n", &[[0, 200_000]], &mut Cursor::new(&bytes));
        assert_eq!(short.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        let backwards = possession_digest(b"n", &[[5, 4]], &mut Cursor::new(&bytes));
        assert_eq!(backwards.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_phone_answers_only_challenges_inside_its_photo_and_its_limits() {
        let hash = "ab".repeat(32);
        assert_eq!(challenge(100, vec![[0, 99]]).check(&hash, 100), Ok(()));
        let bad = [
            challenge(100, vec![[0, 100]]),
            challenge(100, vec![[5, 4]]),
            challenge(100, vec![]),
            challenge(100, vec![[0, 0]; limits::CHALLENGE_RANGES + 1]),
            challenge(101, vec![[0, 99]]),
            BlobChallenge { nonce: vec![], ..challenge(100, vec![[0, 1]]) },
            BlobChallenge {
                nonce: vec![1; limits::NONCE_BYTES + 1],
                ..challenge(100, vec![[0, 1]])
            },
            BlobChallenge { hash: "cd".repeat(32), ..challenge(100, vec![[0, 1]]) },
            BlobChallenge { v: 0, ..challenge(100, vec![[0, 1]]) },
        ];
        for c in bad {
            assert!(c.check(&hash, 100).is_err(), "{c:?}");
        }
        let size = 100 * 1024 * 1024;
        let greedy = challenge(size, vec![[0, limits::CHALLENGE_BYTES]]);
        assert!(greedy.check(&hash, size).is_err(), "more than the limit to read");
        let edges = challenge(size, vec![[0, u64::MAX]]);
        assert!(edges.check(&hash, size).is_err());
    }
}
