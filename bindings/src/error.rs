//! The one error type of the phone API, converted from core's error in one place.
//!
//! Foreign code sees it as a sealed exception hierarchy (`FieldException.NotFound` in Kotlin,
//! `FieldError.NotFound` in Python and Swift), each with the fields an app needs to react.

use fieldsync_core::CoreError;
use fieldsync_core::model::Kind;
use fieldsync_core::peer::{CredentialRefusal, LinkError, PeerError};

/// Everything a call into fieldsync can fail with.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// No record with this id is stored on the phone.
    #[error("record {id} not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The record is of another kind than the call needs (e.g. a patrol command on a report).
    #[error("record {id} is a {found}, not a {expected}")]
    WrongKind {
        /// The record.
        id: String,
        /// The kind the call needs.
        expected: Kind,
        /// The kind stored.
        found: Kind,
    },
    /// The command does not apply in the record's current state; nothing was changed.
    #[error("cannot {command} {id}: {reason}")]
    InvalidTransition {
        /// The record.
        id: String,
        /// The command, e.g. `resolve_report`.
        command: String,
        /// Why not.
        reason: String,
    },
    /// An argument is missing, malformed or over a limit.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which argument or field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A string that should be a record id is not one.
    #[error("invalid record id {input:?}: {reason}")]
    InvalidId {
        /// The string given (at most 64 characters of it).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The user's role or scopes do not allow this; nothing was changed.
    #[error("not allowed ({rule}): {detail}")]
    Forbidden {
        /// The rule that refused, e.g. `report.status`.
        rule: String,
        /// What was not allowed.
        detail: String,
    },
    /// A visit names a business this phone's copy of the registry does not hold (none has that
    /// id, or it lies outside the user's scopes); nothing was changed.
    #[error("no business {id} in this phone's copy of the registry")]
    UnknownBusiness {
        /// The business id given.
        id: String,
    },
    /// The field to settle has no concurrent values, or the value is not one of them.
    #[error("record {id}: {reason}")]
    NoSuchConflict {
        /// The record.
        id: String,
        /// Why the settle command does not apply.
        reason: String,
    },
    /// The phone is not enrolled with a server yet: enroll it with a code first.
    #[error("this device is not enrolled: {detail}")]
    NotEnrolled {
        /// What is missing.
        detail: String,
    },
    /// The server no longer accepts this device (revoked by an administrator). Unless `wiped`,
    /// data on the phone stays; enroll again with a new code. With `wiped` the administrator
    /// asked for a wipe (a lost phone) and the store was erased before this was thrown: every
    /// record, photo and the enrollment are gone (observers heard each record as `WIPED`).
    #[error("this device was revoked{}: {detail}", if *wiped { " and its store wiped" } else { "" })]
    DeviceRevoked {
        /// The server's explanation.
        detail: String,
        /// The store was erased, as the administrator asked.
        wiped: bool,
    },
    /// The server no longer accepts this user's devices (the user was disabled by an
    /// administrator); it may accept them again. Data on the phone stays; nothing needs to be
    /// enrolled again.
    #[error("this user was disabled: {detail}")]
    UserDisabled {
        /// The server's explanation.
        detail: String,
    },
    /// The code enrolls another user while this phone holds unsynced work of its current user:
    /// sync first, or enroll again with `discardUnsyncedWork`. The code was not used.
    #[error(
        "the code enrolls another user than {current}, whose work here is not synced: {detail}"
    )]
    OtherUser {
        /// The user whose unsynced work the phone holds.
        current: String,
        /// The server's explanation.
        detail: String,
    },
    /// The server refused the enrollment code: unknown, used already, expired, withdrawn or
    /// mistyped.
    #[error("enrollment code refused ({code}): {detail}")]
    CodeRefused {
        /// `code_unknown`, `code_used`, `code_expired`, `code_revoked` or `malformed_code`.
        code: String,
        /// The server's explanation.
        detail: String,
    },
    /// The server did not accept the device's credentials.
    #[error("not authorised ({code}): {detail}")]
    Unauthorized {
        /// The server's error code, e.g. `unknown_token`.
        code: String,
        /// The server's explanation.
        detail: String,
    },
    /// The server could not be reached, or did not answer within the request timeout
    /// (`SyncOptions.requestTimeout`) on any attempt; nothing is lost, sync again later.
    #[error("server unreachable after {attempts} attempts: {detail}")]
    Network {
        /// Attempts made.
        attempts: i32,
        /// The last network error.
        detail: String,
    },
    /// The sync did not finish within its deadline (`SyncOptions.deadline`): everything it
    /// applied is kept, and the next sync goes on from there.
    #[error("the sync did not finish within {seconds} s: {detail}")]
    Timeout {
        /// The deadline, in seconds.
        seconds: i64,
        /// What the sync did before.
        detail: String,
    },
    /// The server turns this phone's address away for a while (too many enrollment attempts,
    /// say): try again after `retryAfterSeconds`. An enrollment code was not used.
    #[error("too many attempts; try again in {retry_after_seconds} s: {detail}")]
    RateLimited {
        /// Seconds to wait before trying again.
        retry_after_seconds: i64,
        /// The server's explanation.
        detail: String,
    },
    /// The store file does not open with the key given (a wrong key, or not a fieldsync
    /// store); nothing was changed. Open it with the key it was encrypted with.
    #[error("the store {path} does not open with this key: {detail}")]
    WrongKey {
        /// The database file.
        path: String,
        /// What is known of why.
        detail: String,
    },
    /// The store was closed (`close`): this call and every later one on this handle fail so.
    /// Open the file again for a new handle.
    #[error("the store {path} is closed")]
    Closed {
        /// The database file of the closed store.
        path: String,
    },
    /// The server refused a points request: `not_enough_points`, `out_of_stock`,
    /// `unknown_good`, `good_withdrawn`, `not_in_community`, `request_reused` (a redemption),
    /// `unknown_voucher`, `already_collected` (a collection), `unknown_user` (an award).
    #[error("points refused ({code}): {detail}")]
    PointsRefused {
        /// The reason's code.
        code: String,
        /// The server's explanation.
        detail: String,
    },
    /// The server refused the request for another reason.
    #[error("server refused the request ({status} {code}): {detail}")]
    Server {
        /// HTTP status.
        status: i32,
        /// The server's error code.
        code: String,
        /// The server's explanation.
        detail: String,
    },
    /// The server's answer could not be understood (a server of another version?).
    #[error("unreadable answer from the server: {detail}")]
    Protocol {
        /// What was wrong.
        detail: String,
    },
    /// A stored or received record is damaged; it is kept as it was.
    #[error("record {id} is damaged: {reason}")]
    Corrupt {
        /// The record.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A record or the database was written by a newer app version: update the app.
    #[error("written by a newer version of fieldsync: {detail}")]
    TooNew {
        /// What is too new.
        detail: String,
    },
    /// The phone's storage failed (disk full, file damaged, permissions).
    #[error("storage failed: {detail}")]
    Storage {
        /// The underlying error.
        detail: String,
    },
    /// No such photo: no record on this phone references the hash, or the server has none
    /// this device may read (not uploaded whole yet, or in records the user may not read; the
    /// server answers both alike). A photo not uploaded yet can be asked for again later.
    #[error("photo {hash} not found: {detail}")]
    PhotoNotFound {
        /// The photo's SHA-256 (hex).
        hash: String,
        /// Where it was not found.
        detail: String,
    },
    /// The server takes a photo only from a device whose synced record references it: sync
    /// the records first (`uploadPhotos` leaves such photos waiting instead).
    #[error("photo {hash} is not referenced by a synced record: {detail}")]
    PhotoNotReferenced {
        /// The photo.
        hash: String,
        /// The server's explanation.
        detail: String,
    },
    /// This device's photos on the server would exceed its quota.
    #[error("photo {hash}: over this device's quota on the server: {detail}")]
    QuotaExceeded {
        /// The photo.
        hash: String,
        /// The server's explanation.
        detail: String,
    },
    /// The photo is over the server's size limit.
    #[error("photo {hash} is too large for the server: {detail}")]
    PhotoTooLarge {
        /// The photo.
        hash: String,
        /// The server's explanation.
        detail: String,
    },
    /// The photo's bytes do not match its hash (damaged on the way or on disk); the damaged
    /// bytes were discarded.
    #[error("photo {hash} is damaged: {detail}")]
    HashMismatch {
        /// The photo.
        hash: String,
        /// What was found.
        detail: String,
    },
    /// A file of the store (a photo, a thumbnail) does not read back whole: an encrypted
    /// store's file whose bytes were changed or cut on disk. Nothing of it is shown; download
    /// the photo again.
    #[error("file {path} is damaged: {detail}")]
    DamagedFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A transfer did not continue what the other side holds; the next attempt starts from
    /// what is held.
    #[error("photo {hash}: invalid range: {detail}")]
    InvalidRange {
        /// The photo.
        hash: String,
        /// The server's explanation (with the bytes it holds).
        detail: String,
    },
    /// The server has no thumbnail of this photo (it is not an image it can read); the
    /// original is there.
    #[error("photo {hash} has no thumbnail")]
    NoThumbnail {
        /// The photo.
        hash: String,
    },
    /// A peer session shared nothing: a credential was refused, this phone's by the peer
    /// (`byPeer`) or the peer's by this phone. A phone whose credential expired or whose device
    /// was revoked syncs with the server again.
    #[error("peer credential refused ({reason:?}{}): {detail}", if *by_peer { ", by the peer" } else { "" })]
    PeerRefused {
        /// Why.
        reason: PeerRefusal,
        /// The peer refused this phone's credential (else this phone refused the peer's).
        by_peer: bool,
        /// The reason in words, with the device and times it names.
        detail: String,
    },
    /// The peer session was cancelled (`PeerSession.cancel`); what it stored stays.
    #[error("the peer session was cancelled")]
    PeerCancelled,
    /// The link to the peer closed before the session ended (the other phone went away); what
    /// was stored stays, and meeting again goes on from there. An app's transport throws it
    /// when its link ends.
    #[error("the peer link closed: {detail}")]
    PeerLinkClosed {
        /// What is known of why.
        detail: String,
    },
    /// The link to the peer failed otherwise (a socket error; an app's transport that threw).
    #[error("peer link failed: {detail}")]
    PeerLink {
        /// The link's error.
        detail: String,
    },
    /// The peer sent what the peer protocol does not allow (another version, a damaged frame,
    /// a message out of turn), or the session did not settle; what was stored stays.
    #[error("peer protocol: {detail}")]
    PeerProtocol {
        /// What was wrong.
        detail: String,
    },
    /// A callback of the app (listener, observer, log hook) threw. It reaches the app only
    /// through the log hook (`setLogHook`): the call the callback reported on goes on.
    #[error("a callback failed: {detail}")]
    Callback {
        /// What the callback threw.
        detail: String,
    },
}

/// Why a peer's credential was refused (`docs/peer.md`, "Credentials").
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PeerRefusal {
    /// Its validity ended.
    Expired,
    /// The server revoked the device (as of the refusing phone's last sync).
    Revoked,
    /// It is not signed by the server this phone enrolled with.
    Forged,
    /// It does not read as a credential.
    Malformed,
    /// A side holds no credential yet: it must sync with the server first.
    NotEnrolled,
    /// A reason this version does not know (a newer peer's).
    Other,
}

impl PeerRefusal {
    /// The reason the wire code names.
    fn from_code(code: &str) -> PeerRefusal {
        match code {
            "expired" => PeerRefusal::Expired,
            "revoked" => PeerRefusal::Revoked,
            "forged" => PeerRefusal::Forged,
            "malformed" => PeerRefusal::Malformed,
            "not_enrolled" => PeerRefusal::NotEnrolled,
            _ => PeerRefusal::Other,
        }
    }
}

impl From<PeerError> for FieldError {
    fn from(e: PeerError) -> Self {
        let detail = e.to_string();
        match e {
            PeerError::Link(LinkError::Closed) => FieldError::PeerLinkClosed { detail },
            PeerError::Link(_) => FieldError::PeerLink { detail },
            PeerError::Decode(_)
            | PeerError::Unexpected { .. }
            | PeerError::Malformed(_)
            | PeerError::TooManyRounds(_) => FieldError::PeerProtocol { detail },
            PeerError::Refused(CredentialRefusal::NotEnrolled) | PeerError::NotEnrolled => {
                FieldError::NotEnrolled { detail }
            }
            PeerError::Refused(why) => FieldError::PeerRefused {
                reason: PeerRefusal::from_code(why.code()),
                by_peer: false,
                detail: why.to_string(),
            },
            PeerError::RefusedByPeer { code, message } => FieldError::PeerRefused {
                reason: PeerRefusal::from_code(&code),
                by_peer: true,
                detail: message,
            },
            PeerError::Store(e) => e.into(),
        }
    }
}

/// The `FieldError::InvalidInput` for `field`.
pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> FieldError {
    FieldError::InvalidInput { field: field.to_string(), reason: reason.into() }
}

impl From<CoreError> for FieldError {
    fn from(e: CoreError) -> Self {
        let text = e.to_string();
        match e {
            CoreError::NotFound { id } => FieldError::NotFound { id: id.to_string() },
            CoreError::WrongKind { id, expected, found } => {
                FieldError::WrongKind { id: id.to_string(), expected, found }
            }
            CoreError::InvalidTransition { id, command, reason } => FieldError::InvalidTransition {
                id: id.to_string(),
                command: command.into(),
                reason,
            },
            CoreError::InvalidInput { field, reason } => invalid(field, reason),
            CoreError::InvalidId { input, reason } => {
                FieldError::InvalidId { input, reason: reason.into() }
            }
            CoreError::Malformed { id, reason } => {
                FieldError::Corrupt { id: id.to_string(), reason }
            }
            CoreError::MissingDependencies { id, .. } => {
                FieldError::Corrupt { id: id.to_string(), reason: text }
            }
            CoreError::WrongKey { path, reason } => {
                FieldError::WrongKey { path, detail: reason.into() }
            }
            CoreError::DocumentTooNew { .. } | CoreError::DatabaseTooNew { .. } => {
                FieldError::TooNew { detail: text }
            }
            CoreError::Forbidden { rule, message } => {
                FieldError::Forbidden { rule: rule.into(), detail: message }
            }
            CoreError::UnknownBusiness { id } => FieldError::UnknownBusiness { id },
            CoreError::NoSuchConflict { id, reason } => {
                FieldError::NoSuchConflict { id: id.to_string(), reason }
            }
            CoreError::OtherUser { current, message } => {
                FieldError::OtherUser { current, detail: message }
            }
            CoreError::Network { attempts, message } => FieldError::Network {
                attempts: i32::try_from(attempts).unwrap_or(i32::MAX),
                detail: message,
            },
            CoreError::RateLimited { retry_after_secs, message } => FieldError::RateLimited {
                retry_after_seconds: i64::try_from(retry_after_secs).unwrap_or(i64::MAX),
                detail: message,
            },
            CoreError::Timeout { after, message } => {
                FieldError::Timeout { seconds: after.as_millis().div_euclid(1000), detail: message }
            }
            CoreError::DeviceRevoked { message, wiped } => {
                FieldError::DeviceRevoked { detail: message, wiped }
            }
            CoreError::UserDisabled { message } => FieldError::UserDisabled { detail: message },
            CoreError::CodeRefused { code, message } => {
                FieldError::CodeRefused { code, detail: message }
            }
            CoreError::Unauthorized { code, message } => {
                FieldError::Unauthorized { code, detail: message }
            }
            CoreError::PointsRefused { code, message } => {
                FieldError::PointsRefused { code, detail: message }
            }
            CoreError::Server { status, code, message } => {
                FieldError::Server { status: status.into(), code, detail: message }
            }
            CoreError::PhotoNotFound { hash } => FieldError::PhotoNotFound {
                hash,
                detail: "the server has none this device may read (not uploaded whole yet?)".into(),
            },
            CoreError::PhotoNotReferenced { hash, message } => {
                FieldError::PhotoNotReferenced { hash, detail: message }
            }
            CoreError::QuotaExceeded { hash, message } => {
                FieldError::QuotaExceeded { hash, detail: message }
            }
            CoreError::PhotoTooLarge { hash, message } => {
                FieldError::PhotoTooLarge { hash, detail: message }
            }
            CoreError::HashMismatch { hash, message } => {
                FieldError::HashMismatch { hash, detail: message }
            }
            CoreError::DamagedFile { path, reason } => {
                FieldError::DamagedFile { path, detail: reason }
            }
            CoreError::InvalidRange { hash, message } => {
                FieldError::InvalidRange { hash, detail: message }
            }
            CoreError::NoThumbnail { hash } => FieldError::NoThumbnail { hash },
            CoreError::Protocol(detail) => FieldError::Protocol { detail },
            CoreError::Storage(_) | CoreError::Automerge(_) | CoreError::Io(_) => {
                FieldError::Storage { detail: text }
            }
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for FieldError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        FieldError::Callback { detail: e.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status: u16, code: &str) -> FieldError {
        FieldError::from(CoreError::from_server(status, code.into(), "why".into(), false))
    }

    #[test]
    fn the_server_refusing_a_device_or_its_user_reaches_the_app_typed() {
        assert!(matches!(server(403, "device_revoked"), FieldError::DeviceRevoked { .. }));
        assert!(matches!(server(403, "user_disabled"), FieldError::UserDisabled { .. }));
        assert!(matches!(
            server(403, "code_revoked"),
            FieldError::CodeRefused { code, .. } if code == "code_revoked"
        ));
        assert!(matches!(server(429, "rate_limited"), FieldError::Server { status: 429, .. }));
        assert!(matches!(
            server(401, "unknown_token"),
            FieldError::Unauthorized { code, .. } if code == "unknown_token"
        ));
        assert!(matches!(server(400, "invalid_cursor"), FieldError::Server { status: 400, .. }));
    }

    #[test]
    fn a_rate_limit_and_a_deadline_reach_the_app_with_their_seconds() {
        let limited = CoreError::RateLimited { retry_after_secs: 12, message: "slow down".into() };
        assert!(matches!(
            FieldError::from(limited),
            FieldError::RateLimited { retry_after_seconds: 12, .. }
        ));
        let late = CoreError::Timeout {
            after: fieldsync_core::time::TimeSpan::from_secs(300),
            message: "kept".into(),
        };
        assert!(matches!(FieldError::from(late), FieldError::Timeout { seconds: 300, .. }));
    }
}
