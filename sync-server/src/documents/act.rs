//! A domain command run by the server on behalf of a device of its own: a desk (a dispatcher's
//! browser) or the server's system device (overdue escalation).
//!
//! The command is run by core exactly as a phone runs it (`model::command::apply`, with the
//! device's own Automerge actor), and the change it makes is then ingested as if that device
//! had pushed it: the same decode, the same layout and limits, the same policy, the same log and
//! index. Phones receive it through the normal sync. Nothing here trusts the desk more than a
//! phone.

use automerge::AutoCommit;
use fieldsync_core::model::{Command, Stamp, command};
use fieldsync_core::policy::{ESCALATE, Profile, Role, SUPERVISE};
use fieldsync_core::{CoreError, DocId};

use super::batch::{Slot, WorkingSet};
use super::{Documents, DocumentsError};
use crate::ingest::{Author, Refusal};

/// Why a command was not applied. Nothing was stored in any case.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ActError {
    /// No such document, or one the author may not read (the two are not told apart).
    #[error("no record {0}")]
    NotFound(DocId),
    /// Core refused the command: its arguments or the record's state (typed, as on a phone).
    #[error(transparent)]
    Command(#[from] CoreError),
    /// The change the command made was refused by the server's checks (policy, limits).
    #[error("{code}: {message}")]
    Refused {
        /// Protocol code (`forbidden`, `invalid_document`, …).
        code: String,
        /// For people.
        message: String,
        /// Whether trying again later may succeed (`retry` refusals).
        retry: bool,
    },
    /// The documents could not be worked on (storage, a failed task).
    #[error(transparent)]
    Documents(#[from] DocumentsError),
}

impl From<Refusal> for ActError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Rejected { code, message } => {
                ActError::Refused { code: code.to_string(), message, retry: false }
            }
            Refusal::Stale { message, .. } => ActError::Refused {
                code: crate::ingest::code::STALE_RIGHTS.to_string(),
                message,
                retry: false,
            },
            Refusal::Retry { code, message } => {
                ActError::Refused { code: code.to_string(), message, retry: true }
            }
        }
    }
}

/// Runs `cmd` on document `id` as `author` at time `at` (ms), stores the change and returns
/// the record's heads after it. The author must be able to read the record; the change must
/// pass the policy for the author's profile.
pub(crate) async fn act(
    docs: &Documents,
    id: DocId,
    author: Author,
    at: i64,
    cmd: Command,
) -> Result<Vec<automerge::ChangeHash>, ActError> {
    let mut ws = WorkingSet::open(docs, vec![id]).await?;
    let mut slots = std::mem::take(&mut ws.slots);
    let max_bytes = docs.doc_bytes;
    let rules = docs.rules.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let result = run(&mut slots, id, &author, at, &cmd, max_bytes, &rules);
        (slots, result)
    })
    .await;
    let (slots, result) = match outcome {
        Ok(done) => done,
        Err(e) => {
            // The slots went with the task: the working set holds nothing to put back.
            ws.finish(docs);
            return Err(DocumentsError::Task(format!("command task failed: {e}")).into());
        }
    };
    ws.slots = slots;
    let (pending, heads) = match result {
        Ok(done) => done,
        Err(e) => {
            ws.finish(docs);
            return Err(e);
        }
    };
    let committed = ws.commit(docs, vec![pending]).await;
    ws.finish(docs);
    match committed?.pop() {
        Some(Ok(())) => Ok(heads),
        Some(Err(refusal)) => Err(refusal.into()),
        None => Err(DocumentsError::Task("the write was not committed".into()).into()),
    }
}

/// A supervisor may only supervise and the system device only escalate: anything else is
/// refused before the command is tried, so that the refusal is the same whatever state the
/// record is in (the policy would refuse the change anyway, but only after core had judged
/// the record's state).
fn only_command_of_role(profile: &Profile, cmd: &Command) -> Result<(), ActError> {
    let only = match profile.role {
        Role::Supervisor => SUPERVISE,
        Role::System => ESCALATE,
        _ => return Ok(()),
    };
    if cmd.name() == only {
        return Ok(());
    }
    Err(ActError::Refused {
        code: "forbidden".into(),
        message: format!("a {} may only {only}, not {}", profile.role, cmd.name()),
        retry: false,
    })
}

/// The blocking part: apply the command to a fork of the document under the author's actor,
/// then ingest the change it made as the author's push.
fn run(
    slots: &mut std::collections::HashMap<DocId, Slot>,
    id: DocId,
    author: &Author,
    at: i64,
    cmd: &Command,
    max_bytes: usize,
    rules: &crate::rules::Rules,
) -> Result<(super::batch::Pending, Vec<automerge::ChangeHash>), ActError> {
    let slot = slots.get_mut(&id).ok_or(ActError::NotFound(id))?;
    let loaded = slot.ready(id)?.as_mut().ok_or(ActError::NotFound(id))?;
    let before = loaded.doc.get_heads();
    let mut fork: AutoCommit =
        loaded.doc.fork().with_actor(automerge::ActorId::from(author.actor.as_slice()));
    let readable = {
        let record = fieldsync_core::model::read_record(&fork, id)?;
        fieldsync_core::policy::can_read(
            &author.profile,
            &fieldsync_core::policy::Audience::of(&record),
        )
    };
    if !readable {
        return Err(ActError::NotFound(id));
    }
    only_command_of_role(&author.profile, cmd)?;
    let stamp = Stamp { by: author.profile.user.clone(), at };
    command::apply(&mut fork, id, &stamp, cmd)?;
    let change = fork.save_after(&before);
    let heads = fork.get_heads();
    let pending = slot
        .ingest(id, &change, Some(author), Default::default(), true, max_bytes, rules)?
        .ok_or_else(|| ActError::Refused {
            code: "internal_error".into(),
            message: "the command made no change".into(),
            retry: false,
        })?;
    Ok((pending, heads))
}
