//! Sealed segments of the feed, encoded and compressed once and spliced into every answer that
//! reads them.
//!
//! The log is cut into segments of [`SEGMENT_ENTRIES`] seqs. Once the log has passed a segment's
//! end, the segment never changes, and every device that pulls through it would get the same
//! bytes: the segment is encoded as one gzip member ([`encode_docs_member`]) and kept in a cache
//! bounded by bytes. An answer is then mostly copies of cached members, so the cost of a pull no
//! longer grows with how many devices read the same changes. Entries written by the device that
//! asks are never echoed back: a segment holding some is encoded afresh for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fieldsync_core::DocId;
use fieldsync_core::protocol::{PullDoc, encode_docs_member};
use lru::LruCache;

use crate::storage::{Audience, LogRecord};
use fieldsync_core::poison::Recover;

/// Seqs per segment.
pub(crate) const SEGMENT_ENTRIES: u64 = 64;

/// One sealed segment, ready to splice.
#[derive(Debug)]
pub(crate) struct Segment {
    /// The segment's documents as a gzip member of CBOR items.
    pub(crate) member: Vec<u8>,
    /// The same documents, each with who may read it (as when the segment was built), for a
    /// device that may read only some of them.
    pub(crate) readers: Vec<(PullDoc, Audience)>,
    /// Bytes of change data in it (what the page budget counts).
    pub(crate) data_bytes: usize,
    /// The actors whose changes it holds.
    actors: Vec<Vec<u8>>,
}

impl Segment {
    /// Encodes the entries of one segment (in seq order).
    pub(crate) fn build(entries: &[LogRecord]) -> Segment {
        let docs = group(entries.iter().map(|e| (e.doc, &e.bytes[..])));
        // Each document's audience as its latest entry in the segment read it.
        let audiences: HashMap<DocId, &Audience> =
            entries.iter().map(|e| (e.doc, &e.audience)).collect();
        let readers: Vec<(PullDoc, Audience)> = docs
            .iter()
            .filter_map(|d| audiences.get(&d.doc).map(|a| (d.clone(), (*a).clone())))
            .collect();
        let mut actors: Vec<Vec<u8>> = Vec::new();
        for e in entries {
            if !actors.contains(&e.actor) {
                actors.push(e.actor.clone());
            }
        }
        Segment {
            member: encode_docs_member(&docs),
            readers,
            data_bytes: entries.iter().map(|e| e.bytes.len()).sum(),
            actors,
        }
    }

    /// Documents in it.
    pub(crate) fn docs(&self) -> usize {
        self.readers.len()
    }

    /// Memory it holds, compressed and not.
    pub(crate) fn size(&self) -> usize {
        self.member.len()
            + self.readers.iter().map(|(d, a)| d.bytes.len() + a.scope.len() + 64).sum::<usize>()
    }

    /// What `profile` may read of it: `All` (splice the member), `None`, or some documents.
    pub(crate) fn readable_by(&self, reads: impl Fn(&Audience) -> bool) -> Readable {
        let readable: Vec<bool> = self.readers.iter().map(|(_, a)| reads(a)).collect();
        let count = readable.iter().filter(|r| **r).count();
        if count == self.readers.len() {
            Readable::All
        } else if count == 0 {
            Readable::Nothing
        } else {
            // Only a partly readable segment is copied, and only what may be read.
            Readable::Some(
                self.readers
                    .iter()
                    .zip(readable)
                    .filter(|(_, r)| *r)
                    .map(|((d, _), _)| d.clone())
                    .collect(),
            )
        }
    }

    /// Whether it holds changes written by `actor`.
    pub(crate) fn has_actor(&self, actor: &[u8]) -> bool {
        self.actors.iter().any(|a| a == actor)
    }
}

/// What one device may read of a segment.
#[derive(Debug)]
pub(crate) enum Readable {
    /// Every document: the compressed member serves.
    All,
    /// None of them.
    Nothing,
    /// These documents only.
    Some(Vec<PullDoc>),
}

/// Groups log entries by document, in order of first appearance, each document's changes in
/// seq (hence causal) order.
pub(crate) fn group<'a>(entries: impl Iterator<Item = (DocId, &'a [u8])>) -> Vec<PullDoc> {
    let mut at: HashMap<DocId, usize> = HashMap::new();
    let mut docs: Vec<PullDoc> = Vec::new();
    for (doc, bytes) in entries {
        match at.get(&doc) {
            Some(&i) => docs[i].bytes.extend_from_slice(bytes),
            None => {
                at.insert(doc, docs.len());
                docs.push(PullDoc { doc, bytes: bytes.to_vec(), whole: false });
            }
        }
    }
    docs
}

/// The cache of sealed segments, bounded by the bytes of their members.
pub(crate) struct FeedCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

struct Inner {
    lru: LruCache<u64, Arc<Segment>>,
    bytes: usize,
}

impl FeedCache {
    /// A cache holding at most `max_bytes` of compressed segments.
    pub(crate) fn new(max_bytes: usize) -> Self {
        FeedCache { inner: Mutex::new(Inner { lru: LruCache::unbounded(), bytes: 0 }), max_bytes }
    }

    /// Segment `index` (seqs `index * SEGMENT_ENTRIES + 1 ..= (index + 1) * SEGMENT_ENTRIES`),
    /// if cached.
    pub(crate) fn get(&self, index: u64) -> Option<Arc<Segment>> {
        self.inner.lock().recover().lru.get(&index).cloned()
    }

    /// Keeps segment `index`, evicting the least recently used beyond the bound.
    pub(crate) fn put(&self, index: u64, segment: Arc<Segment>) {
        let mut inner = self.inner.lock().recover();
        let size = segment.size();
        if size > self.max_bytes {
            return;
        }
        if let Some(old) = inner.lru.put(index, segment) {
            inner.bytes = inner.bytes.saturating_sub(old.size());
        }
        inner.bytes += size;
        while inner.bytes > self.max_bytes {
            match inner.lru.pop_lru() {
                Some((_, s)) => inner.bytes = inner.bytes.saturating_sub(s.size()),
                None => break,
            }
        }
    }

    /// Segments cached and their bytes.
    pub(crate) fn stats(&self) -> (usize, usize) {
        let inner = self.inner.lock().recover();
        (inner.lru.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, doc: DocId, actor: u8) -> LogRecord {
        LogRecord {
            seq,
            doc,
            hash: [seq as u8; 32],
            actor: vec![actor; 16],
            device: None,
            received_at: 0,
            bytes: vec![seq as u8; 10],
            sig: None,
            audience: Audience::plain(fieldsync_core::model::Kind::Report, "jl/a", "u"),
        }
    }

    #[test]
    fn groups_by_document_and_knows_its_actors() {
        let (a, b) = (DocId::random(), DocId::random());
        let seg = Segment::build(&[record(1, a, 1), record(2, b, 2), record(3, a, 1)]);
        assert_eq!(seg.docs(), 2);
        assert_eq!(seg.data_bytes, 30);
        assert!(seg.has_actor(&[1; 16]) && seg.has_actor(&[2; 16]) && !seg.has_actor(&[3; 16]));
        let docs = group([(a, &[1u8][..]), (b, &[2][..]), (a, &[3][..])].into_iter());
        assert_eq!(docs[0].bytes, vec![1, 3]);
        assert_eq!(docs[1].bytes, vec![2]);
    }

    #[test]
    fn stays_within_its_bytes() {
        let cache = FeedCache::new(1000);
        for i in 0..50 {
            let seg = Segment::build(&[record(i + 1, DocId::random(), 1)]);
            cache.put(i, Arc::new(seg));
        }
        let (n, bytes) = cache.stats();
        assert!(bytes <= 1000 && n > 0, "{n} segments, {bytes} bytes");
        assert!(cache.get(49).is_some(), "the newest stays");
        assert!(cache.get(0).is_none(), "the oldest went");
    }
}
