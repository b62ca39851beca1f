//! Mutations of bytes, resealed chunks, and the document mutated bytes are pushed for.

use super::*;

/// One edit of a byte string; every one changes it (on a non-empty input).
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    Flip(Index, u8),
    Xor(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
}

pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        1 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| Mutation::Xor(i, x)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..24))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1usize..48).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

pub(crate) fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..4)
}

pub(crate) fn mutate(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for m in mutations {
        let len = b.len();
        match m {
            Mutation::Insert(i, more) => {
                let at = i.index(len + 1);
                b.splice(at..at, more.iter().copied());
            }
            _ if len == 0 => {}
            Mutation::Flip(i, bit) => b[i.index(len)] ^= 1 << bit,
            Mutation::Xor(i, x) => b[i.index(len)] ^= x,
            Mutation::Truncate(i) => b.truncate(i.index(len)),
            Mutation::Delete(i, n) => {
                let at = i.index(len);
                b.drain(at..(at + n).min(len));
            }
        }
    }
    b
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

pub(crate) fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// Which document mutated bytes are pushed for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Own,
    Stored(usize),
    Unknown,
}

pub(crate) fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => Just(Target::Own),
        1 => (0usize..3).prop_map(Target::Stored),
        1 => Just(Target::Unknown),
    ]
}

/// `chunk` (one Automerge chunk) with its body edited by `mutations`, then its length and
/// checksum made right again: it passes the checks of the chunk and reaches Automerge's decoder,
/// and what decodes is a change the author could have made.
pub(crate) fn reseal(chunk: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let chunk_type = chunk[8];
    let mut at = 9;
    while chunk[at] & 0x80 != 0 {
        at += 1;
    }
    let body = mutate(&chunk[at + 1..], mutations);
    let mut header = vec![chunk_type];
    write_uleb(&mut header, body.len() as u64);
    let digest = Sha256::new().chain_update(&header).chain_update(&body).finalize();
    [&chunk[..4], &digest[..4], &header[..], &body[..]].concat()
}

pub(crate) fn read_uleb(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[*at];
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

pub(crate) fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
