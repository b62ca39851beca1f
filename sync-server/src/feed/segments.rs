//! Sealed segments of the feed, encoded and compressed once and spliced into every answer that
//! reads them.
//!
//! The log is cut into segments of [`SEGMENT_ENTRIES`] seqs. Once the log has passed a segment's
//! end, the segment never changes, and every device that pulls through it would get the same
//! bytes: the segment is encoded as one gzip member ([`encode_docs_member`]) and kept in a cache
//! bounded by bytes. An answer is then mostly copies of cached members, so the cost of a pull no
//! longer grows with how many devices read the same changes. Entries written by the device that
//! asks are never echoed back. A page that starts inside a sealed segment, or meets one holding
//! the asking device's own changes, takes the cached documents it should get
//! ([`Segment::after`]), encoded for it; only a document with changes on both sides of its
//! cursor, or its own beside others', sends it to the log, to be read and encoded afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fieldsync_core::DocId;
use fieldsync_core::authorship::{ChangeSig, Signature};
use fieldsync_core::protocol::{Hash, PullDoc, encode_docs_member};
use lru::LruCache;

use crate::storage::{Audience, LogRecord};
use fieldsync_core::poison::Recover;

/// Seqs per segment.
pub(crate) const SEGMENT_ENTRIES: u64 = 64;

/// One sealed segment, ready to splice.
#[derive(Debug)]
pub(crate) struct Segment {
    /// The segment's documents as a gzip member of CBOR items, with their changes' signatures
    /// (protocol version 2).
    member: Vec<u8>,
    /// The same without signatures, for a version-1 answer; `None` when the segment holds no
    /// signature (then `member` serves both).
    member_v1: Option<Vec<u8>>,
    /// The same documents (with signatures), each with who may read it (as when the segment
    /// was built), for a device that may read only some of them.
    pub(crate) readers: Vec<(PullDoc, Audience)>,
    /// Beside each of `readers`, the actors of its signed changes (whose credentials a
    /// version-2 answer hands out with them).
    signers: Vec<Vec<Vec<u8>>>,
    /// Beside each of `readers`, what [`Segment::after`] needs of its changes.
    spans: Vec<Span>,
    /// Bytes of change data in it (what the page budget counts).
    pub(crate) data_bytes: usize,
    /// The actors whose changes it holds.
    actors: Vec<Vec<u8>>,
}

impl Segment {
    /// Encodes the entries of one segment (in seq order).
    pub(crate) fn build(entries: &[LogRecord]) -> Segment {
        let docs = group(entries.iter().map(|e| (e.doc, &e.bytes[..], change_sig(e))));
        let member_v1 = docs
            .iter()
            .any(|d| !d.sigs.is_empty())
            .then(|| encode_docs_member(&unsigned(docs.clone())));
        // Each document's audience as its latest entry in the segment read it.
        let audiences: HashMap<DocId, &Audience> =
            entries.iter().map(|e| (e.doc, &e.audience)).collect();
        let readers: Vec<(PullDoc, Audience)> = docs
            .iter()
            .filter_map(|d| audiences.get(&d.doc).map(|a| (d.clone(), (*a).clone())))
            .collect();
        let actors_of = |doc: Option<DocId>, signed_only: bool| {
            let mut actors: Vec<Vec<u8>> = Vec::new();
            let of_doc = |e: &&LogRecord| doc.is_none_or(|d| e.doc == d);
            for e in entries.iter().filter(of_doc).filter(|e| !signed_only || e.sig.is_some()) {
                if !actors.contains(&e.actor) {
                    actors.push(e.actor.clone());
                }
            }
            actors
        };
        let signers = readers.iter().map(|(d, _)| actors_of(Some(d.doc), true)).collect();
        let spans = readers
            .iter()
            .map(|(d, _)| {
                let seqs = entries.iter().filter(|e| e.doc == d.doc).map(|e| e.seq);
                Span {
                    first: seqs.clone().min().unwrap_or(0),
                    last: seqs.max().unwrap_or(0),
                    writers: actors_of(Some(d.doc), false),
                }
            })
            .collect();
        Segment {
            member: encode_docs_member(&docs),
            member_v1,
            readers,
            signers,
            spans,
            data_bytes: entries.iter().map(|e| e.bytes.len()).sum(),
            actors: actors_of(None, false),
        }
    }

    /// The member to splice into an answer with signatures (`signed`, version 2) or without.
    pub(crate) fn member(&self, signed: bool) -> &[u8] {
        match &self.member_v1 {
            Some(v1) if !signed => v1,
            _ => &self.member,
        }
    }

    /// Documents in it.
    pub(crate) fn docs(&self) -> usize {
        self.readers.len()
    }

    /// Memory it holds, compressed and not.
    pub(crate) fn size(&self) -> usize {
        self.member.len()
            + self.member_v1.as_ref().map_or(0, Vec::len)
            + self
                .readers
                .iter()
                .map(|(d, a)| d.bytes.len() + d.sigs.len() * SIG_BYTES + a.scope.len() + 64)
                .sum::<usize>()
            + self.spans.iter().map(Span::size).sum::<usize>()
    }

    /// The actors of the signed changes of its documents at `indices` (of `readers`), or of
    /// all of them.
    pub(crate) fn signers(&self, indices: Option<&[usize]>) -> impl Iterator<Item = &Vec<u8>> {
        let all: Vec<usize>;
        let indices = match indices {
            Some(i) => i,
            None => {
                all = (0..self.signers.len()).collect();
                &all
            }
        };
        indices.iter().flat_map(|i| self.signers.get(*i)).flatten().collect::<Vec<_>>().into_iter()
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
                readable.iter().enumerate().filter(|(_, r)| **r).map(|(i, _)| i).collect(),
            )
        }
    }

    /// Whether it holds changes written by `actor`.
    pub(crate) fn has_actor(&self, actor: &[u8]) -> bool {
        self.actors.iter().any(|a| a == actor)
    }

    /// What the device writing as `actor` gets of the segment's entries after seq `after`, its
    /// own changes left out (as [`Segment::readable_by`] says it of a whole segment): the
    /// documents it may read whose changes here all come after `after` and hold none of its
    /// own; a document holding only its own changes has nothing left for it. `None` when a
    /// document it may read has changes on both sides of `after`, or its own beside others':
    /// those entries are read from the log and encoded apart.
    pub(crate) fn after(
        &self,
        after: u64,
        actor: &[u8],
        reads: impl Fn(&Audience) -> bool,
    ) -> Option<Readable> {
        let mut indices = Vec::with_capacity(self.readers.len());
        for (i, ((_, audience), span)) in self.readers.iter().zip(&self.spans).enumerate() {
            if span.last <= after || !reads(audience) {
                continue;
            }
            if span.first <= after {
                return None;
            }
            match span.writers.iter().any(|w| w == actor) {
                false => indices.push(i),
                true if span.writers.len() == 1 => {}
                true => return None,
            }
        }
        Some(if indices.is_empty() { Readable::Nothing } else { Readable::Some(indices) })
    }
}

/// Where one document's changes in a segment lie, and who wrote them.
#[derive(Debug)]
struct Span {
    /// The seq of its first change in the segment.
    first: u64,
    /// The seq of its last.
    last: u64,
    /// The actors of all its changes there, signed or not.
    writers: Vec<Vec<u8>>,
}

impl Span {
    /// Memory it holds.
    fn size(&self) -> usize {
        16 + self.writers.iter().map(Vec::len).sum::<usize>()
    }
}

/// What one device may read of a segment.
#[derive(Debug)]
pub(crate) enum Readable {
    /// Every document: the compressed member serves.
    All,
    /// None of them.
    Nothing,
    /// These documents only (indices into `readers`).
    Some(Vec<usize>),
}

/// Memory a signature takes beside its change (hash and signature).
const SIG_BYTES: usize = 32 + 64;

/// A log entry's signature as a pull carries it; `None` when the change came unsigned (or the
/// stored signature is not 64 bytes, which the server never writes).
pub(crate) fn change_sig(e: &LogRecord) -> Option<ChangeSig> {
    let sig: [u8; 64] = e.sig.as_deref()?.try_into().ok()?;
    Some(ChangeSig { hash: Hash(e.hash), sig: Signature(sig) })
}

/// `docs` without their signatures, as a version-1 answer carries them.
pub(crate) fn unsigned(mut docs: Vec<PullDoc>) -> Vec<PullDoc> {
    for d in &mut docs {
        d.sigs = Vec::new();
    }
    docs
}

/// Groups log entries by document, in order of first appearance, each document's changes in
/// seq (hence causal) order, with the signatures of those that have one.
pub(crate) fn group<'a>(
    entries: impl Iterator<Item = (DocId, &'a [u8], Option<ChangeSig>)>,
) -> Vec<PullDoc> {
    let mut at: HashMap<DocId, usize> = HashMap::new();
    let mut docs: Vec<PullDoc> = Vec::new();
    for (doc, bytes, sig) in entries {
        let i = *at.entry(doc).or_insert_with(|| {
            docs.push(PullDoc { doc, bytes: Vec::new(), whole: false, sigs: Vec::new() });
            docs.len() - 1
        });
        docs[i].bytes.extend_from_slice(bytes);
        docs[i].sigs.extend(sig);
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
        let docs =
            group([(a, &[1u8][..], None), (b, &[2][..], None), (a, &[3][..], None)].into_iter());
        assert_eq!(docs[0].bytes, vec![1, 3]);
        assert_eq!(docs[1].bytes, vec![2]);
    }

    #[test]
    fn after_a_position_it_gives_what_lies_past_it_without_the_askers_changes() {
        let [a, b, c, d, e] = [(); 5].map(|_| DocId::random());
        let seg = Segment::build(&[
            record(1, a, 1),
            record(2, b, 2),
            record(3, a, 1),
            record(4, c, 1),
            record(5, d, 2),
            record(6, e, 3),
        ]);
        let all = |_: &Audience| true;
        let docs = |r: Option<Readable>| match r {
            Some(Readable::Some(i)) => Some(i.iter().map(|i| seg.readers[*i].0.doc).collect()),
            Some(Readable::Nothing) => Some(Vec::new()),
            Some(Readable::All) => panic!("a part is never all of it"),
            None => None,
        };
        assert_eq!(docs(seg.after(3, &[9; 16], all)), Some(vec![c, d, e]), "a and b lie before");
        assert_eq!(docs(seg.after(2, &[9; 16], all)), None, "a has changes on both sides");
        assert_eq!(docs(seg.after(0, &[1; 16], all)), Some(vec![b, d, e]), "its own a and c left");
        assert_eq!(docs(seg.after(6, &[9; 16], all)), Some(Vec::new()));
        assert_eq!(docs(seg.after(0, &[9; 16], |_: &Audience| false)), Some(Vec::new()));

        let f = DocId::random();
        let mixed = Segment::build(&[record(7, f, 1), record(8, f, 2)]);
        assert!(mixed.after(6, &[1; 16], all).is_none(), "its change beside another's");
        assert!(matches!(mixed.after(6, &[3; 16], all), Some(Readable::Some(i)) if i == [0]));
    }

    #[test]
    fn signed_entries_give_a_member_for_each_version() {
        let a = DocId::random();
        let unsigned_seg = Segment::build(&[record(1, a, 1)]);
        assert_eq!(unsigned_seg.member(true), unsigned_seg.member(false), "one member serves");
        let mut signed = record(2, a, 2);
        signed.sig = Some(vec![7; 64]);
        let seg = Segment::build(&[record(1, a, 1), signed]);
        assert_eq!(
            seg.readers[0].0.sigs,
            vec![ChangeSig { hash: Hash([2; 32]), sig: Signature([7; 64]) }]
        );
        let decode = |member: &[u8]| -> Vec<PullDoc> {
            use fieldsync_core::protocol::{self, DocsPart, SyncResponse};
            let head = SyncResponse {
                v: 2,
                epoch: "e".into(),
                results: vec![],
                docs: vec![],
                cursor: String::new(),
                more: false,
                remaining: 0,
                rescoped: false,
                widened: false,
                credential: None,
                revocations: None,
                authors: vec![],
            };
            let body = protocol::encode_sync_response(&head, &[DocsPart::Member(member)]);
            protocol::decode::<SyncResponse>(&body).unwrap().docs
        };
        assert_eq!(decode(seg.member(true))[0].sigs.len(), 1, "version 2 carries it");
        assert!(decode(seg.member(false))[0].sigs.is_empty(), "version 1 does not");
        assert_eq!(decode(seg.member(false))[0].bytes, decode(seg.member(true))[0].bytes);
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
