//! The pull half of a sync: one page of at most `page_bytes` — wanted documents whole first,
//! then the catch-up (stored documents whole, no Automerge parsing) or the log after the cursor,
//! grouped by document, leaving out the requesting device's own changes.
//!
//! The log is read in segments ([`segments`]): a sealed segment without the device's own
//! changes is spliced from the cache as it was compressed once; the rest is encoded for this
//! answer. A document can therefore appear more than once in a page (once per segment, or whole
//! and then in the feed); its pieces come in causal order.

pub mod cursor;
pub(crate) mod rescope;
pub(crate) mod segments;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use fieldsync_core::DocId;
use fieldsync_core::authorship::ChangeSig;
use fieldsync_core::policy::{Audience, Profile, can_read, delivered};
use fieldsync_core::protocol::{PullDoc, limits};

use self::cursor::{Cursor, InvalidCursor};
use self::segments::{FeedCache, Readable, SEGMENT_ENTRIES, Segment};
use crate::documents::Documents;
use crate::storage::{CatchUpPage, CatchUpReader, DocSignatures, StorageError};

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FeedError {
    /// The cursor is not one this server wrote.
    #[error(transparent)]
    InvalidCursor(#[from] InvalidCursor),
    /// The cursor points past the end of the log.
    #[error("cursor {cursor:?} is ahead of the log, which ends at {end}")]
    CursorAhead {
        /// The cursor sent.
        cursor: String,
        /// The last seq of the log.
        end: u64,
    },
    /// The storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// The feed: pages of the log (or of the catch-up) as each device may read them, with the
/// sealed segments of the log compressed once for every device.
pub(crate) struct Feed {
    segments: FeedCache,
}

/// Who reads a page: the device writing as `actor` (its own changes are left out) on behalf of
/// `profile` (only what it may read is in the page), enrolled at `enrolled_at`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    /// The device's actor.
    pub(crate) actor: &'a [u8],
    /// Its user's profile now.
    pub(crate) profile: &'a Profile,
    /// When the device enrolled (ms): a bulletin whose validity ended before is not sent.
    pub(crate) enrolled_at: i64,
    /// The answer carries the changes' signatures (protocol version 2).
    pub(crate) signed: bool,
}

impl Reader<'_> {
    /// Whether a document with audience `a` goes to this device: its user may read it
    /// (`policy::can_read`), and it is not a bulletin that had expired when the device
    /// enrolled (`policy::delivered`).
    pub(crate) fn reads(&self, a: &Audience) -> bool {
        can_read(self.profile, a) && delivered(a, self.enrolled_at)
    }
}

/// Refuses a cursor past the end of the log.
pub(crate) async fn check_not_ahead(
    docs: &Documents,
    cursor: &Cursor,
    text: &str,
) -> Result<(), FeedError> {
    let seq = cursor.seq();
    if seq <= docs.log_seq.load(Ordering::Acquire) {
        return Ok(());
    }
    // The counter may lag a commit by an instant: ask the storage before refusing.
    let end = docs.log_end().await?;
    if seq > end {
        return Err(FeedError::CursorAhead { cursor: text.to_string(), end });
    }
    Ok(())
}

/// Pulled feed data after the whole documents of a page, in order.
#[derive(Debug)]
pub(crate) enum Part {
    /// Encoded for this answer.
    Fresh(Vec<PullDoc>),
    /// A cached segment, spliced as it is.
    Segment(Arc<Segment>),
}

/// One page of pulled data.
#[derive(Debug)]
pub(crate) struct Page {
    /// Whole documents (wanted, or the catch-up's).
    pub(crate) docs: Vec<PullDoc>,
    /// Feed data after them.
    pub(crate) parts: Vec<Part>,
    /// Where the next page starts.
    pub(crate) cursor: Cursor,
    /// More data waits after `cursor`.
    pub(crate) more: bool,
    /// Estimate of the feed entries (or catch-up documents) still waiting.
    pub(crate) remaining: u64,
    /// Version 2: the actors of the other devices whose signed changes the page carries.
    pub(crate) signers: HashSet<Vec<u8>>,
}

/// The page size a client asked for, clamped to the protocol's bounds.
pub(crate) fn budget(page_bytes: u32) -> usize {
    let b = if page_bytes == 0 {
        limits::PAGE_BYTES_DEFAULT
    } else {
        page_bytes.clamp(limits::PAGE_BYTES_MIN, limits::PAGE_BYTES_MAX)
    };
    b as usize
}

/// Where a page's feed data comes from.
enum Source {
    Log {
        after: u64,
    },
    /// `held`: the tag of the rights whose documents the catch-up leaves out
    /// ([`Cursor::Rescope`]).
    CatchUp {
        seq: u64,
        after: i64,
        page: CatchUpPage,
        held: Option<u64>,
    },
}

impl Page {
    /// Documents in the page, counting each piece.
    pub(crate) fn doc_count(&self) -> usize {
        self.docs.len()
            + self
                .parts
                .iter()
                .map(|p| match p {
                    Part::Fresh(d) => d.len(),
                    Part::Segment(s) => s.docs(),
                })
                .sum::<usize>()
    }

    /// Bytes of Automerge data in the page.
    pub(crate) fn data_bytes(&self) -> usize {
        self.docs.iter().map(|d| d.bytes.len()).sum::<usize>()
            + self
                .parts
                .iter()
                .map(|p| match p {
                    Part::Fresh(d) => d.iter().map(|d| d.bytes.len()).sum(),
                    Part::Segment(s) => s.data_bytes,
                })
                .sum::<usize>()
    }
}

/// Most feed entries in one page, whatever their size.
const MAX_PAGE_ENTRIES: usize = 50_000;

impl Feed {
    /// A feed keeping at most `cache_bytes` of compressed segments.
    pub(crate) fn new(cache_bytes: usize) -> Self {
        Feed { segments: FeedCache::new(cache_bytes) }
    }

    /// Segments cached and their bytes.
    pub(crate) fn stats(&self) -> (usize, usize) {
        self.segments.stats()
    }

    /// The log after `after`, within what is left of the budget: segments spliced from the cache
    /// where they can be, the rest read and encoded now (leaving out the device's own changes and
    /// those of documents in `whole`), adding the actors of the signed changes it takes to
    /// `signers` (version 2). Returns the parts, the new position and the log's end.
    #[allow(clippy::too_many_arguments)]
    async fn log_parts(
        &self,
        docs: &Documents,
        after: u64,
        reader: Reader<'_>,
        whole: &HashSet<DocId>,
        budget: usize,
        used: &mut usize,
        signers: &mut HashSet<Vec<u8>>,
    ) -> Result<(Vec<Part>, u64, u64), FeedError> {
        let actor = reader.actor;
        // A commit finishing this instant is simply left for the next page.
        let end = docs.pull_end().await?.max(after);
        let mut parts: Vec<Part> = Vec::new();
        let mut fresh: Vec<(DocId, Vec<u8>, Option<ChangeSig>)> = Vec::new();
        let flush = |fresh: &mut Vec<(DocId, Vec<u8>, Option<ChangeSig>)>,
                     parts: &mut Vec<Part>| {
            if !fresh.is_empty() {
                let docs = segments::group(fresh.iter().map(|(d, b, s)| (*d, &b[..], *s)));
                parts.push(Part::Fresh(docs));
                fresh.clear();
            }
        };
        let mut pos = after;
        let mut entries = 0usize;
        'segments: while pos < end && entries < MAX_PAGE_ENTRIES {
            let index = pos / SEGMENT_ENTRIES;
            let (seg_start, seg_end) = (index * SEGMENT_ENTRIES, (index + 1) * SEGMENT_ENTRIES);
            if seg_end <= end {
                let segment = match self.segments.get(index) {
                    Some(s) => s,
                    None => {
                        let records =
                            docs.storage.audit(seg_start, SEGMENT_ENTRIES as usize).await?;
                        let records: Vec<_> =
                            records.into_iter().filter(|r| r.seq <= seg_end).collect();
                        let s = Arc::new(Segment::build(&records));
                        self.segments.put(index, s.clone());
                        s
                    }
                };
                // Spliced whole from its start without this device's changes; from inside it
                // or with them, its documents that this device gets, unless one straddles the
                // position or mixes its changes with others' (then read and encoded below).
                let readable = if pos == seg_start && !segment.has_actor(actor) {
                    Some(segment.readable_by(|a| reader.reads(a)))
                } else {
                    segment.after(pos, actor, |a| reader.reads(a))
                };
                if let Some(readable) = readable {
                    match readable {
                        Readable::All => {
                            if *used > 0 && *used + segment.data_bytes > budget {
                                break;
                            }
                            *used += segment.data_bytes;
                            if reader.signed {
                                signers.extend(segment.signers(None).cloned());
                            }
                            flush(&mut fresh, &mut parts);
                            parts.push(Part::Segment(segment));
                        }
                        Readable::Nothing => {}
                        Readable::Some(indices) => {
                            let docs: Vec<PullDoc> =
                                indices.iter().map(|i| segment.readers[*i].0.clone()).collect();
                            let bytes: usize = docs.iter().map(|d| d.bytes.len()).sum();
                            if *used > 0 && *used + bytes > budget {
                                break;
                            }
                            *used += bytes;
                            flush(&mut fresh, &mut parts);
                            let docs = if reader.signed {
                                signers.extend(segment.signers(Some(&indices)).cloned());
                                docs
                            } else {
                                segments::unsigned(docs)
                            };
                            parts.push(Part::Fresh(docs));
                        }
                    }
                    entries += (seg_end - pos) as usize;
                    pos = seg_end;
                    continue;
                }
            }
            // The open tail of the log, or a sealed segment with a document that straddles the
            // position or holds this device's changes beside others': read and encode for
            // this answer.
            let upto = seg_end.min(end);
            let records = docs.storage.audit(pos, (upto - pos) as usize).await?;
            for r in records.into_iter().take_while(|r| r.seq <= upto) {
                // Entries of a document sent whole in this page are in its bytes already; a
                // document this device may not read is passed over as if it did not exist.
                if r.actor != actor && !whole.contains(&r.doc) && reader.reads(&r.audience) {
                    if *used > 0 && *used + r.bytes.len() > budget {
                        break 'segments;
                    }
                    *used += r.bytes.len();
                    entries += 1;
                    let sig = if reader.signed { segments::change_sig(&r) } else { None };
                    if sig.is_some() {
                        signers.insert(r.actor.clone());
                    }
                    fresh.push((r.doc, r.bytes, sig));
                }
                pos = r.seq;
            }
            pos = upto;
        }
        flush(&mut fresh, &mut parts);
        Ok((parts, pos, end))
    }

    /// Reads one page for `reader`: only documents its profile may read; any other is left out
    /// exactly as if it did not exist. `held`: with a [`Cursor::Rescope`], the former rights
    /// whose documents its catch-up leaves out ([`rescope::resume`]).
    pub(crate) async fn pull(
        &self,
        documents: &Documents,
        cursor: Cursor,
        held: Option<Profile>,
        reader: Reader<'_>,
        want: &[DocId],
        budget: usize,
    ) -> Result<Page, FeedError> {
        let profile = reader.profile;
        let whole = |held: Option<Profile>| CatchUpReader { profile: profile.clone(), held };
        let storage = &documents.storage;
        let feed = match (cursor, held) {
            (Cursor::Log { seq }, _) => Source::Log { after: seq },
            (Cursor::CatchUp { seq, row }, _) => {
                let page = storage.catch_up(row, budget, Some(whole(None))).await?;
                Source::CatchUp { seq, after: row, page, held: None }
            }
            (Cursor::Rescope { seq, row, held: tag }, Some(former)) => {
                let page = storage.catch_up(row, budget, Some(whole(Some(former)))).await?;
                Source::CatchUp { seq, after: row, page, held: Some(tag) }
            }
            // A catch-up from the start; also of a rescoped one without its former rights.
            (Cursor::Start | Cursor::Rescope { .. }, _) => {
                let page = storage.catch_up(0, budget, Some(whole(None))).await?;
                Source::CatchUp { seq: page.log_end, after: 0, page, held: None }
            }
        };
        let mut seen = HashSet::new();
        let want: Vec<DocId> = want.iter().copied().filter(|d| seen.insert(*d)).collect();
        // Who may read them first (one indexed lookup per id, stored or not): a document this
        // device may not read then costs what a missing one costs, and none of its bytes is read.
        let want: Vec<DocId> = if want.is_empty() {
            want
        } else {
            let readable: HashSet<DocId> = documents
                .storage
                .readers(want.clone())
                .await?
                .into_iter()
                .filter(|(_, a)| reader.reads(a))
                .map(|(d, _)| d)
                .collect();
            want.into_iter().filter(|d| readable.contains(d)).collect()
        };
        let (wanted, looked) = if want.is_empty() {
            (Vec::new(), 0)
        } else {
            documents.storage.whole(want.clone(), budget).await?
        };

        let mut docs: Vec<PullDoc> = Vec::new();
        let mut signers: HashSet<Vec<u8>> = HashSet::new();
        let mut used = 0usize;
        let mut more = looked < want.len();
        let mut whole: HashSet<DocId> = HashSet::new();
        let mut parts: Vec<Part> = Vec::new();
        for w in wanted.into_iter().filter(|w| reader.reads(&w.audience)) {
            if !docs.is_empty() && used + w.bytes.len() > budget {
                more = true;
                break;
            }
            used += w.bytes.len();
            whole.insert(w.doc);
            docs.push(PullDoc { doc: w.doc, bytes: w.bytes, whole: true, sigs: Vec::new() });
        }

        let fits =
            |docs: &Vec<PullDoc>, used: usize, len: usize| docs.is_empty() || used + len <= budget;
        let (cursor, remaining) = match feed {
            Source::Log { after } => {
                let (log, at, end) = self
                    .log_parts(documents, after, reader, &whole, budget, &mut used, &mut signers)
                    .await?;
                parts = log;
                more |= at < end;
                (Cursor::Log { seq: at }, end.saturating_sub(at))
            }
            Source::CatchUp { seq, after, page, held } => {
                let mut row = after;
                let mut left = 0u64;
                for d in page.docs {
                    if left > 0 || (!whole.contains(&d.doc) && !fits(&docs, used, d.bytes.len())) {
                        left += 1;
                        continue;
                    }
                    row = d.pos;
                    if !reader.reads(&d.audience) {
                        continue;
                    }
                    if whole.insert(d.doc) {
                        used += d.bytes.len();
                        docs.push(PullDoc {
                            doc: d.doc,
                            bytes: d.bytes,
                            whole: true,
                            sigs: Vec::new(),
                        });
                    }
                }
                if left == 0 {
                    // Every document of the page was taken: continue after what was examined,
                    // including the documents passed over as unreadable.
                    row = row.max(page.scanned_to);
                }
                let log_waiting = page.log_end.saturating_sub(seq);
                if left == 0 && page.done {
                    more |= log_waiting > 0;
                    (Cursor::Log { seq }, log_waiting)
                } else {
                    more = true;
                    let cursor = match held {
                        Some(held) => Cursor::Rescope { seq, row, held },
                        None => Cursor::CatchUp { seq, row },
                    };
                    (cursor, page.docs_after + left + log_waiting)
                }
            }
        };
        if reader.signed && !docs.is_empty() {
            // Whole documents carry the signatures of every logged change they hold.
            let ids: Vec<DocId> = docs.iter().map(|d| d.doc).collect();
            let mut sigs: HashMap<DocId, DocSignatures> =
                documents.storage.signatures(ids).await?.into_iter().map(|s| (s.doc, s)).collect();
            for d in &mut docs {
                if let Some(s) = sigs.remove(&d.doc) {
                    d.sigs = s.sigs;
                    signers.extend(s.signers);
                }
            }
        }
        // The requesting device's credential comes on its own.
        signers.remove(reader.actor);
        Ok(Page { docs, parts, cursor, more, remaining, signers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_the_page_size() {
        assert_eq!(budget(0), limits::PAGE_BYTES_DEFAULT as usize);
        assert_eq!(budget(1), limits::PAGE_BYTES_MIN as usize);
        assert_eq!(budget(u32::MAX), limits::PAGE_BYTES_MAX as usize);
        assert_eq!(budget(100_000), 100_000);
    }
}
