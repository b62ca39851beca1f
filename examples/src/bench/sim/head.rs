//! Reading a sync answer's head (acknowledgements and position) without the pulled documents.

use fieldsync_core::protocol::{self, PushResult, SyncResponse};

use crate::bench::Result;

/// What a device that does not apply pulled data reads of an answer.
#[derive(Debug, Default)]
pub(super) struct Head {
    pub(super) epoch: String,
    pub(super) results: Vec<PushResult>,
    pub(super) cursor: String,
    pub(super) more: bool,
    found_cursor: bool,
}

/// Reads an answer's head without inflating or parsing the pulled documents after it, as a load
/// generator should (a phone decodes them; that cost is measured by `sync.initial_*`). The
/// server writes the documents last; an answer laid out otherwise is decoded whole.
pub(super) fn read_head(body: &[u8]) -> Result<Head> {
    let mut r = flate2::read::MultiGzDecoder::new(body);
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut r, &mut first)?;
    let mut head = Head::default();
    // A map of up to 23 fields has its size in the first byte (0xa0 + n).
    if (0xa1..=0xb7).contains(&first[0]) {
        for _ in 0..(first[0] - 0xa0) {
            let key: String = ciborium::from_reader(&mut r)?;
            match key.as_str() {
                "docs" if head.found_cursor => return Ok(head),
                "docs" => break,
                "epoch" => head.epoch = ciborium::from_reader(&mut r)?,
                "results" => head.results = ciborium::from_reader(&mut r)?,
                "more" => head.more = ciborium::from_reader(&mut r)?,
                "cursor" => {
                    head.cursor = ciborium::from_reader(&mut r)?;
                    head.found_cursor = true;
                }
                _ => {
                    let _: ciborium::Value = ciborium::from_reader(&mut r)?;
                }
            }
        }
    }
    let full: SyncResponse = protocol::decode(body)?;
    Ok(Head {
        epoch: full.epoch,
        results: full.results,
        cursor: full.cursor,
        more: full.more,
        found_cursor: true,
    })
}
