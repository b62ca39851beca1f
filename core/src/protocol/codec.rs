//! The envelope: a message is CBOR (the encoding automerge-repo uses), then gzip.
//!
//! A body may hold several gzip members one after the other (RFC 1952, section 2.2); what they
//! inflate to, together, is the CBOR message. The server uses this to answer from feed segments
//! it compressed once for every device that reads them ([`encode_sync_response`]).

use std::io::Read;

use std::cell::RefCell;

use flate2::read::MultiGzDecoder;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::limits;
use super::{PullDoc, SyncResponse};

/// Why an envelope could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is larger than the limit, compressed or inflated.
    #[error("body too large: over {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// The body is not valid gzip.
    #[error("not gzip: {0}")]
    Gzip(String),
    /// The inflated body is not the expected CBOR message.
    #[error("not a valid message: {0}")]
    Cbor(String),
}

/// Encodes a message: CBOR, then gzip.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut cbor = Vec::new();
    // Writing into a Vec cannot fail, and our messages have no maps with non-string keys.
    if let Err(e) = ciborium::into_writer(msg, &mut cbor) {
        tracing::error!("CBOR encoding failed: {e}");
    }
    gzip_member(&cbor)
}

/// The header of every gzip member written here (RFC 1952): deflate, no flags, no time, the
/// fastest level (`XFL` 4), operating system unknown (255).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

thread_local! {
    /// This thread's raw deflate stream, reset for each member. A new stream allocates and
    /// zeroes some 300 KB of tables: on a server answering small syncs that was a fifth of
    /// its instructions (callgrind, `bench sync`'s load phase).
    static DEFLATE: RefCell<Option<Compress>> = const { RefCell::new(None) };
}

/// Compresses `bytes` as one gzip member.
fn gzip_member(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    DEFLATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let deflate = slot.get_or_insert_with(|| Compress::new(Compression::fast(), false));
        deflate.reset();
        deflate_all(deflate, bytes, &mut out);
    });
    let mut crc = Crc::new();
    crc.update(bytes);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE: the input's length modulo 2^32.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out
}

/// Deflates all of `input` into `out` and ends the stream.
fn deflate_all(deflate: &mut Compress, input: &[u8], out: &mut Vec<u8>) {
    let start = deflate.total_in();
    loop {
        let read = usize::try_from(deflate.total_in() - start).unwrap_or(input.len());
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        match deflate.compress_vec(&input[read.min(input.len())..], out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return,
            Ok(Status::Ok | Status::BufError) => {}
            // Deflating into memory with a valid stream cannot fail; leave the member cut
            // short (a reader refuses it) rather than panic.
            Err(e) => return tracing::error!("deflate failed: {e}"),
        }
    }
}

fn cbor_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    if let Err(e) = ciborium::into_writer(value, &mut *out) {
        tracing::error!("CBOR encoding failed: {e}");
    }
}

/// One gzip member holding pulled documents as CBOR items (no array around them): the form a
/// server keeps a feed segment in, to splice into many answers with [`encode_sync_response`].
pub fn encode_docs_member(docs: &[PullDoc]) -> Vec<u8> {
    let mut cbor = Vec::with_capacity(docs.iter().map(|d| d.bytes.len() + 40).sum());
    for d in docs {
        cbor_into(d, &mut cbor);
    }
    gzip_member(&cbor)
}

/// Pulled documents of an answer: encoded now, or spliced from [`encode_docs_member`].
#[derive(Debug, Clone, Copy)]
pub enum DocsPart<'a> {
    /// Documents to encode now.
    Fresh(&'a [PullDoc]),
    /// A gzip member made by [`encode_docs_member`].
    Member(&'a [u8]),
}

/// Encodes a [`SyncResponse`] whose `docs` (left empty in `head`) are `parts`, in order. Fresh
/// parts next to each other share a gzip member; a spliced member is copied as it is. The CBOR
/// is the same map [`encode`] writes, except that `docs` comes last as an indefinite-length
/// array; decoding it gives back `head` with the documents of every part.
pub fn encode_sync_response(head: &SyncResponse, parts: &[DocsPart<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut cbor = Vec::with_capacity(256);
    // A map of ten fields, and `authors` when not empty and `widened` when true (both left out
    // otherwise); `docs` last, as an array of unknown length (0x9f … 0xff).
    let fields = 10 + u8::from(!head.authors.is_empty()) + u8::from(head.widened);
    cbor.push(0xa0 + fields);
    cbor_into("v", &mut cbor);
    cbor_into(&head.v, &mut cbor);
    cbor_into("epoch", &mut cbor);
    cbor_into(&head.epoch, &mut cbor);
    cbor_into("results", &mut cbor);
    cbor_into(&head.results, &mut cbor);
    cbor_into("cursor", &mut cbor);
    cbor_into(&head.cursor, &mut cbor);
    cbor_into("more", &mut cbor);
    cbor_into(&head.more, &mut cbor);
    cbor_into("remaining", &mut cbor);
    cbor_into(&head.remaining, &mut cbor);
    cbor_into("rescoped", &mut cbor);
    cbor_into(&head.rescoped, &mut cbor);
    if head.widened {
        cbor_into("widened", &mut cbor);
        cbor_into(&head.widened, &mut cbor);
    }
    cbor_into("credential", &mut cbor);
    cbor_into(&head.credential, &mut cbor);
    cbor_into("revocations", &mut cbor);
    cbor_into(&head.revocations, &mut cbor);
    if !head.authors.is_empty() {
        cbor_into("authors", &mut cbor);
        cbor_into(&head.authors, &mut cbor);
    }
    cbor_into("docs", &mut cbor);
    cbor.push(0x9f);
    for d in &head.docs {
        cbor_into(d, &mut cbor);
    }
    for part in parts {
        match part {
            DocsPart::Fresh(docs) => {
                for d in *docs {
                    cbor_into(d, &mut cbor);
                }
            }
            DocsPart::Member(member) => {
                if !cbor.is_empty() {
                    body.extend_from_slice(&gzip_member(&cbor));
                    cbor.clear();
                }
                body.extend_from_slice(member);
            }
        }
    }
    cbor.push(0xff);
    body.extend_from_slice(&gzip_member(&cbor));
    body
}

/// Decodes a message, refusing bodies over the limits before inflating or parsing them.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    decode_within(body, limits::INFLATED_BYTES)
}

/// Like [`decode`], for a message that inflates to at most `inflated_limit` bytes (at most
/// [`limits::INFLATED_BYTES`]): a small message (an enrollment) has no business inflating to
/// megabytes.
pub fn decode_within<T: DeserializeOwned>(
    body: &[u8],
    inflated_limit: usize,
) -> Result<T, DecodeError> {
    let inflated_limit = inflated_limit.min(limits::INFLATED_BYTES);
    if body.len() > limits::BODY_BYTES {
        return Err(DecodeError::TooLarge { limit: limits::BODY_BYTES });
    }
    let mut inflated = Vec::new();
    MultiGzDecoder::new(body)
        .take(inflated_limit as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| DecodeError::Gzip(e.to_string()))?;
    if inflated.len() > inflated_limit {
        return Err(DecodeError::TooLarge { limit: inflated_limit });
    }
    ciborium::from_reader(inflated.as_slice()).map_err(|e| DecodeError::Cbor(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::DocId;
    use crate::protocol::{PushDoc, SyncRequest, SyncResponse, VERSION};

    fn request() -> SyncRequest {
        SyncRequest {
            v: VERSION,
            epoch: Some("e1".into()),
            cursor: "l.42".into(),
            actor: vec![1; 16],
            push: vec![PushDoc {
                doc: DocId::random(),
                changes: vec![1, 2, 3],
                heads: vec![],
                signed: vec![],
            }],
            want: vec![DocId::random()],
            page_bytes: 65536,
        }
    }

    #[test]
    fn round_trips() {
        let req = request();
        let back: SyncRequest = decode(&encode(&req)).expect("decodes");
        assert_eq!(back, req);
    }

    #[test]
    fn empty_exchange_is_small() {
        let req = SyncRequest { push: vec![], want: vec![], ..request() };
        let resp = SyncResponse {
            v: VERSION,
            epoch: "0123456789abcdef".into(),
            results: vec![],
            docs: vec![],
            cursor: "l.123456".into(),
            more: false,
            remaining: 0,
            rescoped: false,
            widened: false,
            credential: None,
            revocations: None,
            authors: vec![],
        };
        let total = encode(&req).len() + encode(&resp).len();
        assert!(total < 300, "{total} bytes");
    }

    fn pulled(n: u8) -> PullDoc {
        PullDoc {
            doc: DocId::random(),
            bytes: vec![n; 40 + n as usize],
            whole: n.is_multiple_of(2),
            sigs: (0..n % 3)
                .map(|i| crate::authorship::ChangeSig {
                    hash: crate::protocol::Hash([n.wrapping_add(i); 32]),
                    sig: crate::authorship::Signature([i; 64]),
                })
                .collect(),
        }
    }

    #[test]
    fn spliced_members_decode_as_one_answer() {
        let head = SyncResponse {
            v: VERSION,
            epoch: "e1".into(),
            results: vec![],
            docs: vec![pulled(1)],
            cursor: "l.9".into(),
            more: true,
            remaining: 3,
            rescoped: true,
            widened: false,
            credential: None,
            revocations: None,
            authors: vec![],
        };
        let (a, b, c) = (vec![pulled(2), pulled(3)], vec![pulled(4)], vec![pulled(5), pulled(6)]);
        let seg = encode_docs_member(&b);
        let body = encode_sync_response(
            &head,
            &[DocsPart::Fresh(&a), DocsPart::Member(&seg), DocsPart::Fresh(&c)],
        );
        let back: SyncResponse = decode(&body).expect("decodes");
        let mut want = head.clone();
        want.docs.extend(a.iter().chain(&b).chain(&c).cloned());
        assert_eq!(back, want);
        // With the authors' credentials, an eleventh field.
        let issuer = crate::peer::Issuer::generate();
        let author = issuer.credential(&crate::peer::CredentialBody {
            device: "d".into(),
            user: "u".into(),
            role: "patrol".into(),
            patrol: None,
            scopes: vec![],
            actor: serde_bytes::ByteBuf::from(vec![1; 16]),
            issued_at: 0,
            expires_at: 1,
            key: None,
        });
        let signed = SyncResponse { authors: vec![author], ..head.clone() };
        let body = encode_sync_response(&signed, &[DocsPart::Member(&seg)]);
        let mut want = signed.clone();
        want.docs.extend(b.iter().cloned());
        assert_eq!(decode::<SyncResponse>(&body).expect("decodes"), want);
        // With `widened` too, a twelfth.
        let widened = SyncResponse { widened: true, ..signed };
        let body = encode_sync_response(&widened, &[DocsPart::Member(&seg)]);
        let mut want = widened;
        want.docs.extend(b.iter().cloned());
        assert_eq!(decode::<SyncResponse>(&body).expect("decodes"), want);
        // With nothing spliced it is one member, as small as the plain encoding.
        let plain = SyncResponse { docs: vec![], ..head };
        let one = encode_sync_response(&plain, &[]);
        assert_eq!(decode::<SyncResponse>(&one).expect("decodes"), plain);
        assert!(one.len() <= encode(&plain).len() + 8, "{} vs {}", one.len(), encode(&plain).len());
        // A cut anywhere fails to decode rather than giving part of an answer.
        for cut in [1, body.len() / 2, body.len() - 1] {
            assert!(decode::<SyncResponse>(&body[..cut]).is_err(), "cut at {cut}");
        }
    }

    /// Members made one after another on one thread (one deflate stream, reset each time) are
    /// each a whole gzip member any reader takes: CRC and length checked, empty and
    /// incompressible inputs included.
    #[test]
    fn members_of_a_reused_stream_each_read_back() {
        use flate2::read::GzDecoder;
        let mut noise = vec![0u8; 300_000];
        let mut x = 0x2545_f491_u32;
        for b in noise.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let inputs: Vec<Vec<u8>> = vec![
            b"patrol".to_vec(),
            Vec::new(),
            noise.clone(),
            "楼顶违建 ".repeat(20_000).into_bytes(),
            noise[..1000].to_vec(),
        ];
        let mut all = Vec::new();
        for input in &inputs {
            let member = gzip_member(input);
            let mut back = Vec::new();
            GzDecoder::new(&member[..]).read_to_end(&mut back).expect("a whole gzip member");
            assert_eq!(&back, input);
            all.extend_from_slice(&member);
        }
        let mut back = Vec::new();
        MultiGzDecoder::new(&all[..]).read_to_end(&mut back).expect("members one after another");
        assert_eq!(back, inputs.concat());
    }

    #[test]
    fn refuses_garbage_truncation_and_bombs() {
        use flate2::write::GzEncoder;
        let body = encode(&request());
        assert!(matches!(decode::<SyncRequest>(b"plain text"), Err(DecodeError::Gzip(_))));
        assert!(decode::<SyncRequest>(&body[..body.len() - 4]).is_err());
        // Valid gzip, wrong message.
        assert!(matches!(decode::<SyncRequest>(&encode(&"hello")), Err(DecodeError::Cbor(_))));
        // A gzip bomb: 64 MiB of zeros compresses to ~64 KiB.
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            std::io::Write::write_all(&mut gz, &zeros).expect("write");
        }
        let bomb = gz.finish().expect("finish");
        assert!(bomb.len() < limits::BODY_BYTES);
        assert!(matches!(decode::<SyncRequest>(&bomb), Err(DecodeError::TooLarge { .. })));
    }
}
