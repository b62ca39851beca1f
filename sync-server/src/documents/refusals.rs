//! Pushes refused as `stale_rights` — right when their author made them offline, not when they
//! arrived — are listed, so that honest offline work is never dropped silently: the phone keeps
//! the refused changes with their reason, and the dispatchers of the record's scope see the
//! list (`GET /v1/refusals`, and `fieldsync-server refusals` for operators).

use fieldsync_core::DocId;

use super::Documents;
use crate::ingest::{Author, Refusal, code};
use crate::storage::Refused;

/// The listing of `refusal` of a push to `doc` by `author`, when it is one to list: under the
/// pusher, or under the author of a relayed change the refusal names.
pub(crate) fn listed(doc: DocId, refusal: &Refusal, author: Option<&Author>) -> Option<Refused> {
    let (Refusal::Stale { message, kind, scope, author: relayed }, Some(a)) = (refusal, author)
    else {
        return None;
    };
    let (device, user) = match relayed {
        Some(r) => (r.device.clone(), r.user.clone()),
        None => (a.device.clone(), a.profile.user.clone()),
    };
    Some(Refused {
        doc,
        kind: *kind,
        scope: scope.clone(),
        device,
        user,
        code: code::STALE_RIGHTS.to_string(),
        message: message.clone(),
        at: fieldsync_core::time::now_ms(),
    })
}

/// Lists `refused`; a failure is logged (the pusher has its answer either way).
pub(crate) async fn record(docs: &Documents, refused: Vec<Refused>) {
    if refused.is_empty() {
        return;
    }
    for r in &refused {
        tracing::info!(doc = %r.doc, device = %r.device, user = %r.user, "stale change listed");
    }
    if let Err(e) = docs.storage.record_refusals(refused).await {
        tracing::error!("listing refused changes failed: {e}");
    }
}
