//! Overdue escalation (督办): the server's own system device marks each report that passed one
//! of its category's time limits (accept within, resolve within; `crate::rules`) and names who
//! it escalates to, the grid leaders and dispatchers whose scopes cover the report.
//!
//! The escalation is a domain command (`Command::Escalate`) run like any desk action
//! (`documents::act`): a timeline event in the document, so phones see it at their next sync,
//! the index marks the limit escalated, and the desk's event stream shows the row. It happens
//! once per report and limit: core refuses a second escalation of a limit under the document's
//! lock, and the document (not memory) says what was escalated, so a restart (or, later,
//! another server instance) never escalates twice.

use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::model::{Command, OverdueLimit};
use fieldsync_core::policy::{Profile, Role, scope_covers};
use fieldsync_core::{CoreError, DocId};

use crate::accounts;
pub use crate::clock::Clock;
use crate::documents::Documents;
use crate::documents::act::{ActError, act};
use crate::ingest::Author;
use crate::storage::index::{PageRequest, Readable, ReportFilter, ReportRow, Sort};

/// The system device's id, as the change log records it.
pub const SYSTEM_DEVICE: &str = "system";
/// The user id the system device writes as (no person has it: `Role::System`).
pub const SYSTEM_USER: &str = "system";

/// The system device as an author: its own actor (derived from the storage's epoch, so the
/// same across restarts) and the system role, which may only add escalation events.
pub(crate) fn system_author(epoch: &str) -> Author {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("fieldsync system device {epoch}").as_bytes());
    Author {
        device: SYSTEM_DEVICE.to_string(),
        actor: digest[..16].to_vec(),
        profile: Profile {
            user: SYSTEM_USER.to_string(),
            role: Role::System,
            patrol: None,
            scopes: Vec::new(),
        },
        rights_changed: false,
        key: None,
    }
}

/// The limits of `r` that have passed at `now` and are not yet escalated.
pub(crate) fn due(r: &ReportRow, now: i64) -> Vec<OverdueLimit> {
    let escalated = |l: &OverdueLimit| match l {
        OverdueLimit::Accept => r.escalated_accept,
        OverdueLimit::Resolve => r.escalated_resolve,
    };
    r.passed_limits(now).into_iter().filter(|l| !escalated(l)).collect()
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Escalations written.
    pub escalated: usize,
    /// Escalations found done already (by an earlier pass or another instance).
    pub already: usize,
    /// Escalations that failed (logged; tried again at the next pass).
    pub failed: usize,
}

/// Escalates every overdue report once per passed limit, at time `now`.
pub(crate) async fn pass(docs: &Documents, now: i64) -> Result<Pass, ActError> {
    let storage = docs.storage.clone();
    let author = system_author(docs.epoch());
    let users = accounts::users(storage.as_ref()).await.map_err(|e| ActError::Refused {
        code: "internal_error".into(),
        message: e.to_string(),
        retry: true,
    })?;
    let tellers: Vec<(String, Vec<String>)> = users
        .into_iter()
        .filter(|u| u.disabled_at.is_none())
        .filter(|u| matches!(u.profile.role, Role::GridLeader | Role::Dispatcher))
        .map(|u| (u.id, u.profile.scopes))
        .collect();
    let notify = |scope: &str| -> Vec<String> {
        tellers
            .iter()
            .filter(|(_, scopes)| scopes.iter().any(|s| scope_covers(s, scope)))
            .map(|(id, _)| id.clone())
            .take(fieldsync_core::limits::SHORT_LIST_ITEMS)
            .collect()
    };
    let mut done = Pass::default();
    let mut page = PageRequest { sort: Sort::Created, size: 200, after: None };
    loop {
        let filter = ReportFilter {
            readable: Readable::All,
            overdue_at: Some(now),
            ..ReportFilter::default()
        };
        let found = storage
            .list_reports(filter, page)
            .await
            .map_err(|e| ActError::Documents(crate::documents::DocumentsError::Storage(e)))?;
        for row in &found.rows {
            for limit in due(row, now) {
                let cmd = Command::Escalate { limit, notify: notify(&row.scope) };
                match escalate(docs, row.doc, &author, now, cmd).await {
                    Ok(()) => done.escalated += 1,
                    Err(ActError::Command(CoreError::InvalidTransition { .. })) => {
                        done.already += 1
                    }
                    Err(e) => {
                        tracing::warn!(doc = %row.doc, %limit, "escalation failed: {e}");
                        done.failed += 1;
                    }
                }
            }
        }
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    Ok(done)
}

async fn escalate(
    docs: &Documents,
    id: DocId,
    author: &Author,
    now: i64,
    cmd: Command,
) -> Result<(), ActError> {
    act(docs, id, author.clone(), now, cmd).await.map(|_| ())
}

/// Runs a pass every `every` until the server stops (the task is aborted with the server).
pub(crate) async fn run(docs: Arc<Documents>, clock: Clock, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // With several servers on one storage, one of them escalates.
        if !docs.storage.try_lead().await {
            continue;
        }
        match pass(&docs, clock.now_ms()).await {
            Ok(p) if p.escalated > 0 || p.failed > 0 => {
                tracing::info!(escalated = p.escalated, failed = p.failed, "overdue escalation")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("overdue escalation pass failed: {e}"),
        }
    }
}
