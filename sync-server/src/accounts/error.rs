//! Why an account operation was refused, in the protocol's codes (`docs/protocol.md`, "Errors");
//! `http::error` turns each into its answer.

use crate::storage::{SessionEnd, StorageError};

/// Why an account operation (adding a user, issuing or using a code, authenticating) failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// An argument breaks a rule (a user id, scopes, a patrol kind, an unknown user or device).
    #[error("{0}")]
    Invalid(String),
    /// An enrollment code that is not 10 letters and digits.
    #[error("{0}")]
    MalformedCode(String),
    /// No code has this hash.
    #[error("no such enrollment code; ask for a new one")]
    CodeUnknown,
    /// An operator withdrew the code (or disabled its user) before it was used.
    #[error("this enrollment code was withdrawn by an operator; ask for a new one")]
    CodeRevoked,
    /// The code enrolled a device already.
    #[error("this enrollment code was used already; ask for a new one")]
    CodeUsed,
    /// The code's time ran out.
    #[error("this enrollment code has expired; ask for a new one")]
    CodeExpired,
    /// The user is disabled: their devices and codes are refused.
    #[error(
        "this user was disabled by an operator: the server accepts nothing from their devices \
         until they are enabled again; what is saved stays on the phone"
    )]
    UserDisabled,
    /// The caller may not do this (a grid leader issuing a code for someone not theirs).
    #[error("{0}")]
    Forbidden(String),
    /// A good code of another user than the one whose unsynced work the phone holds; the code
    /// stays unused.
    #[error(
        "this code enrolls another user than {keep}, whose work on the phone is not synced; the \
         code was not used"
    )]
    OtherUser {
        /// The user whose work the phone keeps.
        keep: String,
    },
    /// A role no user may have (`system`: the server's own device).
    #[error("{0}")]
    ReservedRole(String),
    /// A good code of a user whose role does not work at a desk (resident, patrol, mediator);
    /// the code stays unused, for their phone.
    #[error(
        "{user} is a {role}: only dispatchers, grid leaders, supervisors and admins sign in at \
         a desk; the code was not used and still enrolls a phone"
    )]
    NotADeskRole {
        /// The code's user.
        user: String,
        /// Their role.
        role: String,
    },
    /// No desk session has this token.
    #[error("no desk session has this token; sign in again")]
    SessionUnknown,
    /// The desk session ended (signed out, revoked, its device revoked, its user disabled).
    #[error("this desk session ended ({0}); sign in again")]
    SessionEnded(SessionEnd),
    /// Nothing was asked with the desk session for longer than the idle limit.
    #[error("this desk session expired after {idle_secs} s without use; sign in again")]
    SessionExpired {
        /// The idle limit, in seconds.
        idle_secs: u64,
    },
    /// The storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A bug (a task that failed, a code made that does not read back).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AccountError {
    /// The protocol's error code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::Invalid(_) => "invalid_request",
            AccountError::MalformedCode(_) => "malformed_code",
            AccountError::CodeUnknown => "code_unknown",
            AccountError::CodeRevoked => "code_revoked",
            AccountError::CodeUsed => "code_used",
            AccountError::CodeExpired => "code_expired",
            AccountError::UserDisabled => "user_disabled",
            AccountError::Forbidden(_) => "forbidden",
            AccountError::OtherUser { .. } => "other_user",
            AccountError::ReservedRole(_) => "reserved_role",
            AccountError::NotADeskRole { .. } => "not_a_desk_role",
            AccountError::SessionUnknown => "no_session",
            AccountError::SessionEnded(_) => "session_ended",
            AccountError::SessionExpired { .. } => "session_expired",
            AccountError::Storage(StorageError::Closed | StorageError::Unavailable(_)) => {
                "unavailable"
            }
            AccountError::Storage(_) | AccountError::Internal(_) => "internal",
        }
    }

    /// Whether this is a code that did not work (what an enrollment failure budget counts).
    pub fn is_failed_code(&self) -> bool {
        matches!(
            self,
            AccountError::MalformedCode(_)
                | AccountError::CodeUnknown
                | AccountError::CodeUsed
                | AccountError::CodeExpired
                | AccountError::CodeRevoked
                | AccountError::UserDisabled
        )
    }
}
