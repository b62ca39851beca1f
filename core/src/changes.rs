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
use sha2::Digest;

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
                // A document that loads can still panic Automerge when its change graph is
                // rebuilt (a resealed, mutated chunk: "MissingDep" in `get_changes`).
                changes.extend(guarded(|| Ok(doc.get_changes(&[])))?);
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

/// The heads of Automerge bytes (a saved document, optionally followed by change chunks, or
/// change chunks alone), read from their layout without loading them: the heads a document
/// chunk records, moved on by each change chunk after it (a change replaces the heads it depends
/// on). Each chunk's checksum is checked; `max_inflated` bounds what a compressed change may
/// inflate to.
///
/// What a merge needs to know before paying for one: a whole document pulled back that holds
/// nothing beyond the heads this store has is a document it holds already. Every hash returned
/// is a change the bytes hold, so a set of heads all among them is held by whoever holds the
/// bytes.
pub fn heads_of_saved(
    bytes: &[u8],
    max_inflated: usize,
) -> Result<Vec<automerge::ChangeHash>, ParseError> {
    let mut heads = std::collections::BTreeSet::new();
    for (chunk_type, chunk) in split_chunks(bytes)? {
        match chunk_type {
            DOCUMENT => {
                let hash = automerge::ChangeHash(sha2::Sha256::digest(&chunk[8..]).into());
                if hash.0[..4] != chunk[4..8] {
                    return Err(err("a document chunk fails its checksum"));
                }
                heads.extend(document_heads(chunk_data(chunk)?)?);
            }
            CHANGE | COMPRESSED => {
                if chunk_type == COMPRESSED {
                    check_inflated_size(chunk, max_inflated)?;
                }
                let change = parse_change(chunk)?;
                for dep in change.deps() {
                    heads.remove(dep);
                }
                heads.insert(change.hash());
            }
            other => return Err(err(format!("chunk type {other} is not accepted"))),
        }
    }
    Ok(heads.into_iter().collect())
}

/// The heads a document chunk's data records (after its actors).
fn document_heads(data: &[u8]) -> Result<Vec<automerge::ChangeHash>, ParseError> {
    let mut at = 0usize;
    let uleb = |at: &mut usize| -> Result<u64, ParseError> {
        let (value, n) = read_uleb(data.get(*at..).unwrap_or_default())
            .ok_or_else(|| err(format!("bad number at byte {at} of a document")))?;
        *at += n;
        Ok(value)
    };
    let past_end = || err("a document runs past its end");
    for _ in 0..uleb(&mut at)? {
        let len = usize::try_from(uleb(&mut at)?).map_err(|_| past_end())?;
        at = at.checked_add(len).filter(|end| *end <= data.len()).ok_or_else(past_end)?;
    }
    let count = usize::try_from(uleb(&mut at)?).map_err(|_| past_end())?;
    // Each head takes 32 bytes: the count cannot outrun the data.
    let end = count
        .checked_mul(32)
        .and_then(|n| at.checked_add(n))
        .filter(|end| *end <= data.len())
        .ok_or_else(past_end)?;
    Ok(data[at..end]
        .chunks_exact(32)
        .filter_map(|h| <[u8; 32]>::try_from(h).ok())
        .map(automerge::ChangeHash)
        .collect())
}

/// Whether `bytes` start with a whole saved document (rather than bare changes).
pub fn starts_with_document(bytes: &[u8]) -> bool {
    bytes.len() > 9 && bytes[..4] == MAGIC && bytes[8] == DOCUMENT
}

/// Parses one change chunk and checks its checksum (the first four bytes of its hash), which
/// `Change::try_from` does not: a flipped bit would otherwise pass as a different change. Its
/// time must be within [`MAX_CHANGE_TIME`].
fn parse_change(chunk: &[u8]) -> Result<Change, ParseError> {
    let change = guarded(|| Change::try_from(chunk).map_err(|e| err(e.to_string())))?;
    if change.hash().0[..4] != chunk[4..8] {
        return Err(err(format!("change {} fails its checksum", change.hash())));
    }
    check_time(&change.hash(), change.timestamp())?;
    Ok(change)
}

/// The latest time a change may carry, in ms since 1970 (the last millisecond of the year
/// 9999); the earliest is 0.
///
/// Automerge keeps the times of a document's changes delta-encoded and panics when two
/// neighbouring times differ by more than an `i64` holds. A change at `i64::MIN` plus the time
/// of the latest change still applies (its own difference is exactly `i64::MIN`), but every
/// change after it then fails: the server would refuse every later push to the document as
/// malformed, and a phone's next command on it would panic. Between 0 and this bound any two
/// times differ by less than 2^48.
pub const MAX_CHANGE_TIME: i64 = 253_402_300_799_999;

fn check_time(hash: &automerge::ChangeHash, time: i64) -> Result<(), ParseError> {
    if !(0..=MAX_CHANGE_TIME).contains(&time) {
        return Err(err(format!(
            "change {hash} carries the time {time}, outside 0..={MAX_CHANGE_TIME} ms since 1970"
        )));
    }
    Ok(())
}

/// Checks the time of every change in a loaded document (see [`MAX_CHANGE_TIME`]); reads only
/// the changes' metadata.
pub fn check_times(doc: &Automerge) -> Result<(), ParseError> {
    guarded(|| doc.get_changes_meta(&[]).iter().try_for_each(|m| check_time(&m.hash, m.timestamp)))
}

/// Loads a whole saved document (snapshot, optionally followed by change chunks), verified,
/// with its changes' times checked ([`check_times`]).
pub fn load_document(bytes: &[u8]) -> Result<Automerge, ParseError> {
    let doc = guarded(|| {
        Automerge::load_with_options(
            bytes,
            LoadOptions::new()
                .on_partial_load(OnPartialLoad::Error)
                .verification_mode(VerificationMode::Check),
        )
        .map_err(|e| err(e.to_string()))
    })?;
    check_times(&doc)?;
    Ok(doc)
}

/// Runs Automerge's decoder, turning a panic into an error.
pub fn guarded<T>(f: impl FnOnce() -> Result<T, ParseError>) -> Result<T, ParseError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(err("the Automerge decoder panicked")))
}

fn check_inflated_size(chunk: &[u8], max: usize) -> Result<(), ParseError> {
    if inflated_size(chunk, max)? > max {
        return Err(err(format!("a compressed change inflates past {max} bytes")));
    }
    Ok(())
}

/// The bit of a column specification that says its data is deflated.
const DEFLATED_COLUMN: u64 = 0b1000;

/// What one chunk inflates to when Automerge reads it — a compressed change its body, a
/// document the columns it keeps deflated; 0 for anything else — counted without keeping any
/// of it, and only up to `max`: a result over `max` means the chunk inflates past it.
///
/// Automerge inflates both without a bound, so a chunk of a few megabytes (a deflated column of
/// zeros, say) would otherwise take gigabytes of memory before anything else is checked. Only
/// the layout is read here (lengths, column specifications); the content is left to Automerge.
pub fn inflated_size(chunk: &[u8], max: usize) -> Result<usize, ParseError> {
    let data = chunk_data(chunk)?;
    match chunk[8] {
        COMPRESSED => inflate(data, max),
        DOCUMENT => document_inflated_size(data, max),
        _ => Ok(0),
    }
}

/// The data of a chunk (after its header).
fn chunk_data(chunk: &[u8]) -> Result<&[u8], ParseError> {
    if chunk.len() < 10 || chunk[..4] != MAGIC {
        return Err(err("not an Automerge chunk"));
    }
    let (len, len_bytes) = read_uleb(&chunk[9..]).ok_or_else(|| err("bad chunk length"))?;
    let start = 9 + len_bytes;
    usize::try_from(len)
        .ok()
        .and_then(|len| chunk.get(start..start.checked_add(len)?))
        .ok_or_else(|| err("short chunk"))
}

/// How many bytes deflated `data` inflates to, counting up to `max + 1`.
fn inflate(data: &[u8], max: usize) -> Result<usize, ParseError> {
    let mut inflated = flate2::read::DeflateDecoder::new(data).take(max as u64 + 1);
    let n = std::io::copy(&mut inflated, &mut std::io::sink())
        .map_err(|e| err(format!("deflated data: {e}")))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Reads a document chunk's layout (actors, heads, the change and op column specifications)
/// and inflates its deflated columns, all together up to `max + 1` bytes.
fn document_inflated_size(data: &[u8], max: usize) -> Result<usize, ParseError> {
    let mut at = 0usize;
    let uleb = |at: &mut usize| -> Result<u64, ParseError> {
        let (value, n) = read_uleb(data.get(*at..).unwrap_or_default())
            .ok_or_else(|| err(format!("bad number at byte {at} of a document")))?;
        *at += n;
        Ok(value)
    };
    let skip = |at: &mut usize, n: u64| -> Result<(), ParseError> {
        *at = usize::try_from(n)
            .ok()
            .and_then(|n| at.checked_add(n))
            .filter(|end| *end <= data.len())
            .ok_or_else(|| err("a document runs past its end"))?;
        Ok(())
    };
    // Each actor, head and column takes at least one byte: the counts cannot outrun the data.
    for _ in 0..uleb(&mut at)? {
        let len = uleb(&mut at)?;
        skip(&mut at, len)?;
    }
    let heads = uleb(&mut at)?;
    skip(&mut at, heads.checked_mul(32).ok_or_else(|| err("too many heads"))?)?;
    let mut columns = Vec::new();
    for _ in 0..2 {
        for _ in 0..uleb(&mut at)? {
            columns.push((uleb(&mut at)?, uleb(&mut at)?));
        }
    }
    let mut total = 0usize;
    for (spec, len) in columns {
        let start = at;
        skip(&mut at, len)?;
        if spec & DEFLATED_COLUMN != 0 {
            total = total.saturating_add(inflate(&data[start..at], max - total)?);
            if total > max {
                break;
            }
        }
    }
    Ok(total)
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
    fn reads_heads_from_the_layout() {
        let (mut doc, snapshot, incremental) = sample();
        let mut all = snapshot.clone();
        all.extend(&incremental);
        assert_eq!(heads_of_saved(&all, 1 << 20).expect("reads"), doc.get_heads());
        let mut earlier = AutoCommit::load(&snapshot).expect("loads");
        assert_eq!(heads_of_saved(&snapshot, 1 << 20).expect("reads"), earlier.get_heads());
        // Changes alone: the last one's hash.
        assert_eq!(heads_of_saved(&incremental, 1 << 20).expect("reads"), doc.get_heads());
        // Two concurrent changes after the snapshot: both are heads.
        let mut a = earlier.fork();
        let mut b = earlier.fork();
        a.put(ROOT, "x", 1i64).expect("put");
        b.put(ROOT, "y", 2i64).expect("put");
        let mut both = snapshot.clone();
        both.extend(a.save_incremental());
        both.extend(b.save_incremental());
        let mut expected = vec![a.get_heads()[0], b.get_heads()[0]];
        expected.sort();
        assert_eq!(heads_of_saved(&both, 1 << 20).expect("reads"), expected);
        // A flipped bit in a document's body fails its checksum.
        let mut bad = snapshot;
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(heads_of_saved(&bad, 1 << 20).is_err());
        assert!(heads_of_saved(b"nothing", 1 << 20).is_err());
    }

    /// A document chunk whose op columns are stored deflated (`save` deflates columns over
    /// 256 bytes).
    fn deflating_document() -> Vec<u8> {
        let mut doc = AutoCommit::new();
        let text: String = (0..4000).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
        doc.put(ROOT, "text", text).expect("put");
        doc.save()
    }

    #[test]
    fn counts_what_chunks_inflate_to_up_to_a_bound() {
        let saved = deflating_document();
        let doc_size = inflated_size(&saved, 1 << 20).expect("a document");
        assert!(doc_size >= 4000, "{doc_size}");
        assert_eq!(inflated_size(&saved, 100).expect("bounded"), 101);
        let (_, _, incremental) = sample();
        assert_eq!(inflated_size(&incremental, 1 << 20).expect("a change"), 0);
        let mut compressed = AutoCommit::new();
        compressed.put(ROOT, "text", "z".repeat(10_000)).expect("put");
        let mut change = compressed.get_last_local_change().expect("a change");
        let bytes = change.bytes().to_vec();
        assert_eq!(bytes[8], COMPRESSED);
        let inflated = inflated_size(&bytes, 1 << 20).expect("inflates");
        assert!(inflated >= 10_000, "{inflated}");
        assert_eq!(inflated_size(&bytes, 1000).expect("bounded"), 1001);
        // A document cut short (with a length that says so) does not read past its end.
        let data = chunk_data(&saved).expect("a chunk");
        for cut in [0, 1, 5, data.len() / 2] {
            let mut cut_doc = saved[..9].to_vec();
            cut_doc.push(cut as u8 | 0x80);
            cut_doc.push((cut >> 7) as u8);
            cut_doc.extend_from_slice(&data[..cut]);
            assert!(inflated_size(&cut_doc, 1 << 20).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn refuses_change_times_that_would_overflow_automerge() {
        let (mut doc, _, _) = sample();
        let last = doc.get_changes(&[]).last().expect("a change").clone();
        let at = |time: i64| {
            let mut e = last.decode();
            e.time = time;
            Change::from(e)
        };
        for (time, ok) in [
            (0, true),
            (1_795_965_122_210, true),
            (MAX_CHANGE_TIME, true),
            (-1, false),
            (MAX_CHANGE_TIME + 1, false),
            (i64::MIN + 1_795_965_122_210, false),
            (i64::MAX, false),
        ] {
            assert_eq!(parse_changes(at(time).raw_bytes(), 1 << 20).is_ok(), ok, "time {time}");
        }
        // Inside a saved document: Automerge applies such a change (its own difference to the
        // one before is exactly i64::MIN) and saves it, and any change after it would fail.
        let mut bad = AutoCommit::new();
        bad.put(ROOT, "a", 1i64).expect("put");
        bad.commit_with(automerge::transaction::CommitOptions::default().with_time(1000));
        bad.put(ROOT, "b", 2i64).expect("put");
        bad.commit_with(
            automerge::transaction::CommitOptions::default().with_time(i64::MIN + 1000),
        );
        let saved = bad.save();
        assert!(load_document(&saved).is_err());
        assert!(parse_changes(&saved, 1 << 20).is_err());
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
