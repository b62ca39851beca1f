//! The pull half of a sync: one page of at most `page_bytes` — wanted documents whole first,
//! then the catch-up (stored documents whole, no Automerge parsing) or the log after the cursor,
//! grouped by document, leaving out the requesting device's own changes.
//!
//! The feed is read before the wanted documents, so a wanted document's bytes contain every
//! change of it in the feed page: those entries are passed over rather than sent twice, and a
//! document never appears twice in one page.

use std::collections::{HashMap, HashSet};

use fieldsync_core::DocId;
use fieldsync_core::protocol::{PullDoc, limits};

use crate::app::App;
use crate::cursor::Cursor;
use crate::error::ServerError;
use crate::storage::{CatchUpPage, LogPage};

/// One page of pulled data.
#[derive(Debug)]
pub(crate) struct Page {
    /// Pulled data, one entry per document.
    pub(crate) docs: Vec<PullDoc>,
    /// Where the next page starts.
    pub(crate) cursor: Cursor,
    /// More data waits after `cursor`.
    pub(crate) more: bool,
    /// Estimate of the feed entries (or catch-up documents) still waiting.
    pub(crate) remaining: u64,
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

enum Feed {
    Log { after: u64, page: LogPage },
    CatchUp { seq: u64, after: i64, page: CatchUpPage },
}

/// Reads one page for a device writing as `actor`.
pub(crate) async fn pull(
    app: &App,
    cursor: Cursor,
    actor: &[u8],
    want: &[DocId],
    budget: usize,
) -> Result<Page, ServerError> {
    let feed = match cursor {
        Cursor::Log { seq } => {
            Feed::Log { after: seq, page: app.storage.log_page(seq, actor.to_vec(), budget).await? }
        }
        Cursor::Start => {
            let page = app.storage.catch_up(0, budget).await?;
            Feed::CatchUp { seq: page.log_end, after: 0, page }
        }
        Cursor::CatchUp { seq, row } => {
            Feed::CatchUp { seq, after: row, page: app.storage.catch_up(row, budget).await? }
        }
    };
    let mut seen = HashSet::new();
    let want: Vec<DocId> = want.iter().copied().filter(|d| seen.insert(*d)).collect();
    let (wanted, looked) = if want.is_empty() {
        (Vec::new(), 0)
    } else {
        app.storage.whole(want.clone(), budget).await?
    };

    let mut docs: Vec<PullDoc> = Vec::new();
    let mut used = 0usize;
    let mut more = looked < want.len();
    let mut whole: HashSet<DocId> = HashSet::new();
    for w in wanted {
        if !docs.is_empty() && used + w.bytes.len() > budget {
            more = true;
            break;
        }
        used += w.bytes.len();
        whole.insert(w.doc);
        docs.push(PullDoc { doc: w.doc, bytes: w.bytes, whole: true });
    }

    let fits =
        |docs: &Vec<PullDoc>, used: usize, len: usize| docs.is_empty() || used + len <= budget;
    let (cursor, remaining) = match feed {
        Feed::Log { after, page } => {
            let mut at = after;
            let mut cut = false;
            let mut group: HashMap<DocId, usize> = HashMap::new();
            for e in page.entries {
                if whole.contains(&e.doc) {
                    at = e.seq;
                    continue;
                }
                if !fits(&docs, used, e.bytes.len()) {
                    cut = true;
                    break;
                }
                used += e.bytes.len();
                match group.get(&e.doc) {
                    Some(&i) => docs[i].bytes.extend_from_slice(&e.bytes),
                    None => {
                        group.insert(e.doc, docs.len());
                        docs.push(PullDoc { doc: e.doc, bytes: e.bytes, whole: false });
                    }
                }
                at = e.seq;
            }
            if !cut {
                at = page.next;
            }
            more |= at < page.end;
            (Cursor::Log { seq: at }, page.end.saturating_sub(at))
        }
        Feed::CatchUp { seq, after, page } => {
            let mut row = after;
            let mut left = 0u64;
            for d in page.docs {
                if left > 0 || (!whole.contains(&d.doc) && !fits(&docs, used, d.bytes.len())) {
                    left += 1;
                    continue;
                }
                row = d.pos;
                if whole.insert(d.doc) {
                    used += d.bytes.len();
                    docs.push(PullDoc { doc: d.doc, bytes: d.bytes, whole: true });
                }
            }
            let log_waiting = page.log_end.saturating_sub(seq);
            if left == 0 && page.done {
                more |= log_waiting > 0;
                (Cursor::Log { seq }, log_waiting)
            } else {
                more = true;
                (Cursor::CatchUp { seq, row }, page.docs_after + left + log_waiting)
            }
        }
    };
    Ok(Page { docs, cursor, more, remaining })
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
