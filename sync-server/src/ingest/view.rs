//! What the author of pushed changes saw and made, for the policy check: the typed record at
//! the changes' dependencies ("before") and, when that was not the server's current state (others
//! edited concurrently), the record after the changes in that same view, so that others' edits
//! never count against this author; and the server's current record, against which the rights
//! the changes use are checked again (`policy::check_now`).

use std::sync::Arc;

use automerge::{Change, ChangeHash};
use fieldsync_core::DocId;
use fieldsync_core::model::Record;

use super::loaded::Loaded;
use super::read::read_checked;
use super::refusal::{Refusal, code};
use crate::isolate::isolate;

/// The author's view of one push.
#[derive(Debug, Default)]
pub(crate) struct AuthorView {
    /// The server's record before the changes; `None` for a document new to the server.
    pub(crate) current: Option<Arc<Record>>,
    /// The record before the changes as the author saw it; `None` for a document new to the
    /// server. The same as `current` when the author was up to date.
    pub(crate) before: Option<Arc<Record>>,
    /// The record after the changes in the author's view; `None` when that view is the
    /// server's current state (judge the merged document itself).
    pub(crate) after: Option<Record>,
}

impl AuthorView {
    /// Whether others changed the document since the state the author built on.
    pub(crate) fn concurrent(&self) -> bool {
        self.after.is_some()
    }
}

/// The server's current record of the loaded document (kept with it for the next request).
pub(crate) fn current(id: DocId, l: &mut Loaded) -> Result<Arc<Record>, Refusal> {
    if let Some(r) = &l.record {
        return Ok(r.clone());
    }
    let r = Arc::new(read_checked(id, &l.doc)?);
    l.record = Some(r.clone());
    Ok(r)
}

/// The view of changes `fresh` whose dependencies outside themselves are `deps` (sorted), on
/// the server's document `current` (`None`: not stored yet).
pub(crate) fn author_view(
    id: DocId,
    stored: Option<&mut Loaded>,
    deps: &[ChangeHash],
    fresh: &[Change],
) -> Result<AuthorView, Refusal> {
    let Some(l) = stored else { return Ok(AuthorView::default()) };
    let now = current(id, l)?;
    let mut heads = l.doc.get_heads();
    heads.sort();
    if heads == deps {
        // Up to date: the current state is the author's.
        return Ok(AuthorView { current: Some(now.clone()), before: Some(now), after: None });
    }
    let malformed = |e: String| Refusal::rejected(code::MALFORMED_CHANGES, e);
    let mut fork = isolate(|| l.doc.fork_at(deps))
        .map_err(|p| malformed(format!("fork failed: {p}")))?
        .map_err(|e| malformed(format!("fork failed: {e}")))?;
    let before = read_checked(id, &fork)?;
    isolate(|| fork.apply_changes(fresh.iter().cloned()))
        .map_err(malformed)?
        .map_err(|e| malformed(format!("changes do not apply: {e}")))?;
    Ok(AuthorView {
        current: Some(now),
        before: Some(Arc::new(before)),
        after: Some(read_checked(id, &fork)?),
    })
}
