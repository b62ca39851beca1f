//! New visits checked against the business registry before the commit of a push or a
//! reconcile: a visit's scope must be the own scope of a business of the registry
//! (`{scope}/business:{id}`). The registry is the server's storage, so this is judged here,
//! beside it, not in the ingestion's pure steps; a visit that names no business is refused
//! `unknown_business` and nothing of it is stored.

use fieldsync_core::model::{Kind, business_of_scope, business_scope};

use super::batch::{Pending, Slot, WorkingSet};
use super::{Documents, DocumentsError};
use crate::ingest::{Refusal, code};

/// Whether a new record of `kind` in `scope` names a business of the registry when it is a
/// visit (its scope is then that business's own).
async fn names_a_business(
    docs: &Documents,
    kind: Kind,
    scope: &str,
) -> Result<bool, DocumentsError> {
    if kind != Kind::Visit {
        return Ok(true);
    }
    let Some(id) = business_of_scope(scope) else { return Ok(false) };
    let found = docs.storage.business(id.to_string()).await.map_err(DocumentsError::from)?;
    Ok(found.is_some_and(|b| business_scope(&b.scope, &b.id) == scope))
}

/// The writes of `pending` to commit, and for each write given, `None` when it is kept or its
/// refusal when it creates a visit that names no business of the registry: such a write is
/// dropped and its document forgotten (the slot emptied, as before the request).
pub(crate) async fn check(
    docs: &Documents,
    ws: &mut WorkingSet,
    pending: Vec<Pending>,
) -> Result<(Vec<Pending>, Vec<Option<Refusal>>), DocumentsError> {
    let mut fate = Vec::with_capacity(pending.len());
    for p in &pending {
        let w = &p.write;
        let known = w.base.is_some() || names_a_business(docs, w.kind, &w.scope).await?;
        fate.push((!known).then(|| {
            Refusal::rejected(
                code::UNKNOWN_BUSINESS,
                format!("visit {} names no business of the registry ({})", w.doc, w.scope),
            )
        }));
    }
    if fate.iter().all(Option::is_none) {
        return Ok((pending, fate));
    }
    let mut kept = Vec::with_capacity(pending.len());
    for (p, f) in pending.into_iter().zip(&fate) {
        if f.is_none() {
            kept.push(p);
        } else if let Some(slot) = ws.slots.get_mut(&p.write.doc) {
            *slot = Slot::Ready(None);
        }
    }
    Ok((kept, fate))
}
