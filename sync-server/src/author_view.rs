//! What the author of pushed changes saw and made, for the policy check: the typed record at
//! the changes' dependencies ("before") and, when that was not the server's current state (others
//! edited concurrently), the record after the changes in that same view, so that others' edits
//! never count against this author.

use std::sync::Arc;

use automerge::{Change, ChangeHash};
use fieldsync_core::DocId;
use fieldsync_core::model::Record;

use crate::cache::Loaded;
use crate::ingest::{Refusal, code, isolate, read_checked};

/// The author's view of one push.
#[derive(Debug, Default)]
pub(crate) struct AuthorView {
    /// The record before the changes; `None` for a document new to the server.
    pub(crate) before: Option<Arc<Record>>,
    /// The record after the changes in the author's view; `None` when that view is the
    /// server's current state (judge the merged document itself).
    pub(crate) after: Option<Record>,
}

/// The view of changes `fresh` whose dependencies outside themselves are `deps` (sorted), on
/// the server's document `current` (`None`: not stored yet).
pub(crate) fn author_view(
    id: DocId,
    current: Option<&mut Loaded>,
    deps: &[ChangeHash],
    fresh: &[Change],
) -> Result<AuthorView, Refusal> {
    let Some(l) = current else { return Ok(AuthorView::default()) };
    let mut heads = l.doc.get_heads();
    heads.sort();
    if heads == deps {
        // Up to date: the current state is the author's, and its typed record may be cached.
        let before = match &l.record {
            Some(r) => r.clone(),
            None => Arc::new(read_checked(id, &l.doc)?),
        };
        return Ok(AuthorView { before: Some(before), after: None });
    }
    let malformed = |e: String| Refusal::rejected(code::MALFORMED_CHANGES, e);
    let mut fork = isolate(|| l.doc.fork_at(deps))
        .map_err(|p| malformed(format!("fork failed: {p}")))?
        .map_err(|e| malformed(format!("fork failed: {e}")))?;
    let before = read_checked(id, &fork)?;
    isolate(|| fork.apply_changes(fresh.iter().cloned()))
        .map_err(malformed)?
        .map_err(|e| malformed(format!("changes do not apply: {e}")))?;
    Ok(AuthorView { before: Some(Arc::new(before)), after: Some(read_checked(id, &fork)?) })
}
