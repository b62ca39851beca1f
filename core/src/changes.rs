//! Strict parsing of Automerge bytes that came from elsewhere.
//!
//! `AutoCommit::load_incremental` keeps whatever prefix of a corrupt input it could parse and only
//! logs the rest; a store must instead refuse the whole input and change nothing. So bytes are
//! split into chunks here and each chunk is parsed and verified on its own, before anything is
//! applied. Compressed chunks are measured before Automerge inflates them, and a panic inside
//! Automerge's decoder is turned into an error.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::{Automerge, Change, LoadOptions, OnPartialLoad, VerificationMode};

/// Magic bytes that start every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const COMPRESSED: u8 = 2;

/// Why bytes could not be parsed as Automerge changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn err(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

/// Splits a concatenation of Automerge chunks (documents, changes) into one slice per chunk.
pub fn split_chunks(bytes: &[u8]) -> Result<Vec<(u8, &[u8])>, ParseError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < 10 || rest[..4] != MAGIC {
            return Err(err(format!("no Automerge chunk at byte {pos}")));
        }
        let chunk_type = rest[8];
        let (len, len_bytes) = read_uleb(&rest[9..])
            .ok_or_else(|| err(format!("bad chunk length at byte {}", pos + 9)))?;
        let header = 9 + len_bytes;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| header.checked_add(l))
            .filter(|&end| end <= rest.len())
            .ok_or_else(|| err(format!("chunk at byte {pos} runs past the end of the input")))?;
        out.push((chunk_type, &rest[..end]));
        pos += end;
    }
    if out.is_empty() {
        return Err(err("no bytes"));
    }
    Ok(out)
}

fn read_uleb(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        let shifted = part.checked_shl(7 * i as u32)?;
        if i == 9 && part > 1 {
            return None;
        }
        value |= shifted;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Parses and verifies every change in `bytes` (change chunks and whole saved documents).
///
/// `max_inflated` bounds what one compressed chunk may inflate to.
pub fn parse_changes(bytes: &[u8], max_inflated: usize) -> Result<Vec<Change>, ParseError> {
    let chunks = split_chunks(bytes)?;
    let mut changes = Vec::new();
    for (chunk_type, chunk) in chunks {
        match chunk_type {
            CHANGE => changes.push(parse_change(chunk)?),
            COMPRESSED => {
                check_inflated_size(chunk, max_inflated)?;
                changes.push(parse_change(chunk)?);
            }
            DOCUMENT => {
                let doc = load_document(chunk)?;
                changes.extend(doc.get_changes(&[]));
            }
            other => return Err(err(format!("chunk type {other} is not accepted"))),
        }
    }
    Ok(changes)
}

/// The heads of a set of changes: those no other change in the set depends on, sorted.
pub fn heads_of(changes: &[Change]) -> Vec<automerge::ChangeHash> {
    let deps: std::collections::HashSet<automerge::ChangeHash> =
        changes.iter().flat_map(|c| c.deps().iter().copied()).collect();
    let mut heads: Vec<automerge::ChangeHash> =
        changes.iter().map(|c| c.hash()).filter(|h| !deps.contains(h)).collect();
    heads.sort();
    heads.dedup();
    heads
}

/// Whether `bytes` start with a whole saved document (rather than bare changes).
pub fn starts_with_document(bytes: &[u8]) -> bool {
    bytes.len() > 9 && bytes[..4] == MAGIC && bytes[8] == DOCUMENT
}

/// Parses one change chunk and checks its checksum (the first four bytes of its hash), which
/// `Change::try_from` does not: a flipped bit would otherwise pass as a different change.
fn parse_change(chunk: &[u8]) -> Result<Change, ParseError> {
    let change = guarded(|| Change::try_from(chunk).map_err(|e| err(e.to_string())))?;
    if change.hash().0[..4] != chunk[4..8] {
        return Err(err(format!("change {} fails its checksum", change.hash())));
    }
    Ok(change)
}

/// Loads a whole saved document (snapshot, optionally followed by change chunks), verified.
pub fn load_document(bytes: &[u8]) -> Result<Automerge, ParseError> {
    guarded(|| {
        Automerge::load_with_options(
            bytes,
            LoadOptions::new()
                .on_partial_load(OnPartialLoad::Error)
                .verification_mode(VerificationMode::Check),
        )
        .map_err(|e| err(e.to_string()))
    })
}

/// Runs Automerge's decoder, turning a panic into an error.
pub fn guarded<T>(f: impl FnOnce() -> Result<T, ParseError>) -> Result<T, ParseError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(err("the Automerge decoder panicked")))
}

fn check_inflated_size(chunk: &[u8], max: usize) -> Result<(), ParseError> {
    let (len, len_bytes) = read_uleb(&chunk[9..]).ok_or_else(|| err("bad chunk length"))?;
    let start = 9 + len_bytes;
    let data = chunk.get(start..start + len as usize).ok_or_else(|| err("short chunk"))?;
    let mut sink = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .take(max as u64 + 1)
        .read_to_end(&mut sink)
        .map_err(|e| err(format!("compressed change: {e}")))?;
    if sink.len() > max {
        return Err(err(format!("a compressed change inflates past {max} bytes")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    fn sample() -> (AutoCommit, Vec<u8>, Vec<u8>) {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "a", 1i64).expect("put");
        let snapshot = doc.save();
        doc.put(ROOT, "b", "two").expect("put");
        doc.put(ROOT, "c", 3.5).expect("put");
        let incremental = doc.save_incremental();
        (doc, snapshot, incremental)
    }

    #[test]
    fn parses_documents_and_changes() {
        let (mut doc, snapshot, incremental) = sample();
        let mut all = snapshot;
        all.extend(&incremental);
        let changes = parse_changes(&all, 1 << 20).expect("parses");
        assert_eq!(changes.len(), doc.get_changes(&[]).len());
        assert_eq!(parse_changes(&incremental, 1 << 20).expect("parses").len(), 1);
    }

    #[test]
    fn refuses_truncated_and_garbage() {
        let (_, snapshot, incremental) = sample();
        let mut all = snapshot;
        all.extend(&incremental);
        for cut in [1, 5, 9, 10, all.len() / 2, all.len() - 1] {
            assert!(parse_changes(&all[..cut], 1 << 20).is_err(), "cut at {cut}");
        }
        let mut flipped = all.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x55;
        assert!(parse_changes(&flipped, 1 << 20).is_err());
        assert!(parse_changes(b"hello world, not automerge", 1 << 20).is_err());
        assert!(parse_changes(&[], 1 << 20).is_err());
    }
}
