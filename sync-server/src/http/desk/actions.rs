//! `POST /api/v1/records/{id}/actions`: a desk runs a domain command on a record. The body names
//! the action and its arguments (`{"action": "dispatch", "assignee": "officer-1", "deadline":
//! 1767225600000, "note": "今天处理"}`); the server runs core's command as the desk device's
//! actor and ingests the change exactly as a phone's push (`documents::act`): the same policy,
//! the same log and index, and the phones receive it at their next sync.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fieldsync_core::model::{CheckOutcome, Command};
use fieldsync_core::time::Timestamp;
use serde::Deserialize;

use super::extract::Desk;
use super::{json, record, records};
use crate::documents::act;
use crate::http::App;
use crate::http::error::ServerError;
use crate::ingest::Author;

/// The largest action body (a note of at most 2,000 characters fits several times).
const ACTION_BODY_BYTES: usize = 32 * 1024;

/// What a desk may ask of a record: every domain command a person runs (the system device's
/// escalation is not among them). Which of them the signed-in user's role allows is the
/// policy's decision, as on a phone.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Action {
    /// Accept a submitted or reopened report.
    Accept {
        #[serde(default)]
        note: String,
    },
    /// Reject a report, with a reason.
    Reject { reason: String },
    /// Give a report to a responder with a deadline (ms since the epoch).
    Dispatch {
        assignee: String,
        deadline: i64,
        #[serde(default)]
        note: String,
    },
    /// Mark the work started (a dispatcher may, for the responder).
    StartWork {
        #[serde(default)]
        note: String,
    },
    /// Mark a report resolved.
    Resolve {
        #[serde(default)]
        note: String,
    },
    /// Confirm a resolution (a dispatcher may, for the reporter).
    Confirm {
        #[serde(default)]
        note: String,
    },
    /// Reopen a resolved or rejected report, with a reason.
    Reopen { reason: String },
    /// Comment on a report.
    Comment { text: String },
    /// Award points to the reporter of a confirmed report.
    AwardPoints {
        points: i64,
        #[serde(default)]
        note: String,
    },
    /// Press the responder (督办).
    Supervise { note: String },
    /// Settle a concurrent conflict by choosing one of the values shown.
    SettleConflict { field: String, value: String },
    /// End a patrol.
    FinishPatrol {
        #[serde(default)]
        note: String,
    },
    /// Record a mediation agreement.
    RecordAgreement { text: String },
    /// Record that a mediation failed.
    RecordFailure { reason: String },
    /// Pass a case to a higher body.
    EscalateCase {
        to: String,
        #[serde(default)]
        reason: String,
    },
    /// Close a case.
    CloseCase {
        #[serde(default)]
        note: String,
    },
    /// A follow-up visit after an agreement.
    AddFollowUp { note: String },
    /// Withdraw a warning bulletin before its validity ends, with a reason.
    WithdrawBulletin { reason: String },
    /// Record a visit's checklist item (`pass`, `fail` or `not_applicable`).
    RecordCheck {
        item: String,
        result: CheckOutcome,
        #[serde(default)]
        note: String,
    },
    /// Record a finding of a visit (photos come from the phones).
    AddFinding { text: String },
    /// Ask a visited business to do something by a deadline (ms since the epoch).
    SetVisitFollowUp { follow_up: String, deadline: i64 },
    /// Close a visit (its follow-up checked).
    CloseVisit {
        #[serde(default)]
        note: String,
    },
    /// Add a follow-up action to a decided deliberation (named so as not to repeat the enum's
    /// name; the action is `add_follow_up_action`).
    #[serde(rename = "add_follow_up_action")]
    AddFollowUpTask { text: String },
    /// Mark what a deliberation decided as done.
    MarkImplemented {
        #[serde(default)]
        note: String,
    },
    /// Drop a deliberation before it is implemented, with a reason.
    DropDeliberation { reason: String },
}

impl Action {
    /// The domain command this action runs.
    pub(crate) fn command(self) -> Command {
        match self {
            Action::Accept { note } => Command::AcceptReport { note },
            Action::Reject { reason } => Command::RejectReport { reason },
            Action::Dispatch { assignee, deadline, note } => Command::DispatchReport {
                assignee,
                deadline: Timestamp::from_millis(deadline),
                note,
            },
            Action::StartWork { note } => Command::StartWork { note },
            Action::Resolve { note } => Command::ResolveReport { note },
            Action::Confirm { note } => Command::ConfirmReport { note },
            Action::Reopen { reason } => Command::ReopenReport { reason },
            Action::Comment { text } => Command::CommentReport { text },
            Action::AwardPoints { points, note } => Command::AwardPoints { points, note },
            Action::Supervise { note } => Command::Supervise { note },
            Action::SettleConflict { field, value } => Command::SettleConflict { field, value },
            Action::FinishPatrol { note } => Command::FinishPatrol { note },
            Action::RecordAgreement { text } => Command::RecordAgreement { text },
            Action::RecordFailure { reason } => Command::RecordFailure { reason },
            Action::EscalateCase { to, reason } => Command::EscalateCase { to, reason },
            Action::CloseCase { note } => Command::CloseCase { note },
            Action::AddFollowUp { note } => Command::AddFollowUp { note },
            Action::WithdrawBulletin { reason } => Command::WithdrawBulletin { reason },
            Action::RecordCheck { item, result, note } => {
                Command::RecordCheck { item, result, note }
            }
            Action::AddFinding { text } => Command::AddFinding { text, photos: Vec::new() },
            Action::SetVisitFollowUp { follow_up, deadline } => Command::SetVisitFollowUp {
                action: follow_up,
                deadline: Timestamp::from_millis(deadline),
            },
            Action::CloseVisit { note } => Command::CloseVisit { note },
            Action::AddFollowUpTask { text } => Command::AddFollowUpAction { text },
            Action::MarkImplemented { note } => Command::MarkImplemented { note },
            Action::DropDeliberation { reason } => Command::DropDeliberation { reason },
        }
    }
}

/// `POST /api/v1/records/{id}/actions`: runs the action as the signed-in desk and answers
/// with the record as it is afterwards (the same body as `GET /api/v1/records/{id}`).
pub(crate) async fn run(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let id = records::doc_id(&id)?;
    let action: Action = json::read(&headers, body, ACTION_BODY_BYTES).await?;
    let author = Author {
        device: session.device.id.clone(),
        actor: session.device.actor.clone(),
        profile: session.profile.clone(),
        rights_changed: false,
        key: None,
    };
    act::act(&app.docs, id, author, app.clock.now_ms(), action.command()).await?;
    let view = record::view(&app, &session.profile, id).await?;
    json::answer(StatusCode::OK, &view)
}
