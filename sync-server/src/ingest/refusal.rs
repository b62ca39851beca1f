//! Why a document's changes were not taken, as the per-document `results` of a push carry it.

use fieldsync_core::model::{Kind, Record};
use fieldsync_core::protocol::PushOutcome;

/// Why a document's changes were not taken; travels in the per-document `results`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Refused for good: sending the same changes again will not help.
    Rejected {
        /// Protocol code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// Not taken now; the client keeps the changes and tries again later.
    Retry {
        /// Protocol code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// Refused for good as `stale_rights`: right when its author made it, not now (an
    /// assignment, a scope or a role withdrawn since, or a workflow step that no longer follows
    /// from the record's state). Honest offline work: listed for the dispatchers of `scope`.
    Stale {
        /// For people.
        message: String,
        /// The record's kind.
        kind: Kind,
        /// The record's scope.
        scope: String,
        /// The change's author when not the pusher (a change another phone relayed), under
        /// whom the refusal is listed; `None`: the pusher's own.
        author: Option<StaleAuthor>,
    },
}

/// The author of a change refused `stale_rights` that another phone relayed: the refusal is
/// listed under them, as if they had pushed it themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaleAuthor {
    /// Their device.
    pub(crate) device: String,
    /// Their user.
    pub(crate) user: String,
}

impl Refusal {
    /// Refused as `stale_rights`: `message` is why, `record` the record as merged (its kind and
    /// scope list the refusal), `author` the relayed author it is listed under (`None`: the
    /// pusher).
    pub(crate) fn stale(message: String, record: &Record, author: Option<StaleAuthor>) -> Self {
        let h = record.header();
        Refusal::Stale { message, kind: h.kind, scope: h.scope.clone(), author }
    }

    pub(crate) fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        Refusal::Rejected { code, message: message.into() }
    }

    pub(crate) fn retry(code: &'static str, message: impl Into<String>) -> Self {
        Refusal::Retry { code, message: message.into() }
    }

    /// As a push outcome.
    pub(crate) fn outcome(self) -> PushOutcome {
        match self {
            Refusal::Rejected { code, message } => {
                PushOutcome::Rejected { code: code.to_string(), message }
            }
            Refusal::Stale { message, .. } => {
                PushOutcome::Rejected { code: code::STALE_RIGHTS.to_string(), message }
            }
            Refusal::Retry { code, message } => {
                PushOutcome::Retry { code: code.to_string(), message }
            }
        }
    }
}

/// Per-document codes of the protocol.
pub(crate) mod code {
    pub(crate) const MALFORMED_CHANGES: &str = "malformed_changes";
    pub(crate) const MISSING_DEPENDENCIES: &str = "missing_dependencies";
    pub(crate) const INVALID_DOCUMENT: &str = "invalid_document";
    pub(crate) const HEADER_CHANGED: &str = "header_changed";
    pub(crate) const TOO_LARGE: &str = "too_large";
    pub(crate) const INTERNAL_ERROR: &str = "internal_error";
    pub(crate) const FORGED_ACTOR: &str = "forged_actor";
    /// A relayed change without its author's signature, or with one that does not check.
    pub(crate) const BAD_SIGNATURE: &str = "bad_signature";
    /// A relayed change made by a device that is revoked (or whose user is disabled).
    pub(crate) const REVOKED_AUTHOR: &str = "revoked_author";
    pub(crate) const FORBIDDEN: &str = "forbidden";
    pub(crate) const STALE_RIGHTS: &str = "stale_rights";
    /// A new visit names no business of the registry (in the scope the visit claims).
    pub(crate) const UNKNOWN_BUSINESS: &str = "unknown_business";

    /// Every code, for counting refusals by code.
    pub(crate) const ALL: &[&str] = &[
        MALFORMED_CHANGES,
        MISSING_DEPENDENCIES,
        INVALID_DOCUMENT,
        HEADER_CHANGED,
        TOO_LARGE,
        INTERNAL_ERROR,
        FORGED_ACTOR,
        BAD_SIGNATURE,
        REVOKED_AUTHOR,
        FORBIDDEN,
        STALE_RIGHTS,
        UNKNOWN_BUSINESS,
    ];
}
