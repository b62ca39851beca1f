//! The first steps of ingesting a document's changes: decode the bytes into verified changes
//! (bounded in what they inflate to), then admit the ones the server does not hold, which must
//! be the sending device's own and whose dependencies must be on the server.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::{Change, ChangeHash};
use fieldsync_core::DocId;
use fieldsync_core::changes::{self, ParseError};
use fieldsync_core::protocol::limits;

use super::author::Author;
use super::loaded::Loaded;
use super::refusal::{Refusal, code};
use super::relay::{self, Authorship, Signed};

/// Parses and verifies `bytes`, chunk by chunk, bounding what they inflate to, all together, by
/// `max_bytes` (the largest a document may be).
pub(crate) fn parse(id: DocId, bytes: &[u8], max_bytes: usize) -> Result<Vec<Change>, Refusal> {
    let malformed = |e: ParseError| {
        Refusal::rejected(code::MALFORMED_CHANGES, format!("changes for {id} are malformed: {e}"))
    };
    let too_large = || {
        Refusal::rejected(
            code::TOO_LARGE,
            format!("changes for {id} inflate past {max_bytes} bytes"),
        )
    };
    let chunks = changes::split_chunks(bytes).map_err(malformed)?;
    let mut budget = max_bytes;
    let mut out = Vec::new();
    for (_, chunk) in chunks {
        // Automerge inflates compressed changes and the deflated columns of a saved document
        // without a bound: what the chunk inflates to is measured first, within the budget.
        if changes::inflated_size(chunk, budget).map_err(malformed)? > budget {
            return Err(too_large());
        }
        for c in changes::parse_changes(chunk, budget).map_err(malformed)? {
            budget = budget.checked_sub(c.raw_bytes().len()).ok_or_else(too_large)?;
            out.push(c);
        }
    }
    Ok(out)
}

/// What the Automerge chunks of one request may inflate to, all documents together: as much as
/// the request's body may (a document alone may inflate to its own limit).
pub(crate) const REQUEST_INFLATED_BYTES: usize = limits::INFLATED_BYTES;

/// Measures what `bytes` (the changes pushed for `id`) inflate to against `left`, what remains
/// of the request's [`REQUEST_INFLATED_BYTES`], and takes it from there. Once a document does
/// not fit, or cannot be measured (inflating failed part way), nothing more is inflated for this
/// request: the documents after it that would need inflating are answered `too_large` as a
/// retry, for a later request. The first document that inflates anything is left to
/// [`super::ingest`], which holds it to the document's own limit. Without this, a body of a few
/// megabytes holding many small deflate bombs, one per document, costs gigabytes of inflating.
pub(crate) fn reserve_inflation(id: DocId, bytes: &[u8], left: &mut usize) -> Result<(), Refusal> {
    // Bytes that do not split into chunks are refused by `ingest` before anything is inflated.
    let Ok(chunks) = changes::split_chunks(bytes) else { return Ok(()) };
    let first = *left == REQUEST_INFLATED_BYTES;
    for (_, chunk) in chunks {
        match changes::inflated_size(chunk, *left) {
            Ok(n) if n <= *left => *left -= n,
            _ => {
                *left = 0;
                if first {
                    return Ok(());
                }
                return Err(Refusal::retry(
                    code::TOO_LARGE,
                    format!(
                        "the changes for {id} and those before them in this request inflate past \
                         {REQUEST_INFLATED_BYTES} bytes; send them in a later request"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The changes of a push the server does not hold yet, ready to apply.
pub(crate) struct Fresh {
    /// In causal order.
    pub(crate) changes: Vec<Change>,
    /// The changes they depend on outside themselves, sorted: what their author built on
    /// (empty for the creation of a document).
    pub(crate) deps: Vec<ChangeHash>,
    /// Who made them, when not the pusher, and their signatures.
    pub(crate) who: Authorship,
}

/// Admits `incoming` for the document `current` (`None`: not stored): the changes it lacks,
/// which must carry the sending device's actor and whose dependencies it must hold. `None` when
/// it holds every change already.
pub(crate) fn admit(
    id: DocId,
    mut current: Option<&mut Loaded>,
    incoming: Vec<Change>,
    author: Option<&Author>,
    signed: Signed<'_>,
) -> Result<Option<Fresh>, Refusal> {
    let mut seen = HashSet::new();
    let incoming: Vec<Change> = incoming.into_iter().filter(|c| seen.insert(c.hash())).collect();
    let hashes: Vec<ChangeHash> = incoming.iter().map(Change::hash).collect();
    let new_hashes: HashSet<ChangeHash> = match current.as_deref_mut() {
        Some(l) => l.doc.get_missing_deps(&hashes).into_iter().collect(),
        None => hashes.iter().copied().collect(),
    };
    let fresh: Vec<Change> =
        incoming.into_iter().filter(|c| new_hashes.contains(&c.hash())).collect();
    if fresh.is_empty() {
        return Ok(None);
    }
    // Changes the server holds already may come from anyone (a phone passes on what it got);
    // a new change must be the sending device's own, or another device's that it relays with
    // that device's signature, so authorship in the history holds.
    let who = match author {
        Some(a) => relay::authorship(id, &fresh, a, signed)?,
        None => Authorship::default(),
    };
    let mut deps: Vec<ChangeHash> = fresh
        .iter()
        .flat_map(|c| c.deps().iter().copied())
        .filter(|d| !new_hashes.contains(d))
        .collect();
    deps.sort();
    deps.dedup();
    let missing = match current {
        Some(l) => l.doc.get_missing_deps(&deps).len(),
        None => deps.len(),
    };
    if missing > 0 {
        return Err(Refusal::retry(
            code::MISSING_DEPENDENCIES,
            format!("{missing} changes that the changes for {id} depend on are not on the server"),
        ));
    }
    Ok(Some(Fresh { changes: causal_order(fresh), deps, who }))
}

/// Orders changes so that each comes after the ones it depends on (Kahn, stable).
fn causal_order(changes: Vec<Change>) -> Vec<Change> {
    let index: HashMap<ChangeHash, usize> =
        changes.iter().enumerate().map(|(i, c)| (c.hash(), i)).collect();
    let mut waiting = vec![0usize; changes.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, c) in changes.iter().enumerate() {
        for d in c.deps() {
            if let Some(&j) = index.get(d) {
                waiting[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: VecDeque<usize> = (0..changes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(changes.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &k in &dependents[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push_back(k);
            }
        }
    }
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;
    use automerge::transaction::Transactable;

    use super::*;

    #[test]
    fn causal_order_puts_dependencies_first() {
        let mut doc = AutoCommit::new();
        for i in 0..5i64 {
            doc.put(automerge::ROOT, "n", i).unwrap();
            doc.commit();
        }
        let mut changes = doc.get_changes(&[]);
        changes.reverse();
        let ordered = causal_order(changes);
        let hashes: Vec<_> = ordered.iter().map(Change::hash).collect();
        for (i, c) in ordered.iter().enumerate() {
            for d in c.deps() {
                assert!(hashes[..i].contains(d));
            }
        }
    }
}
