//! The one error type of the core layer.
//!
//! Every message names what failed and on what, so a phone can show it and a log can be searched.

use crate::id::DocId;
use crate::model::Kind;

/// Result alias for the core layer.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in fieldsync-core. Not `non_exhaustive`: the bindings map every
/// variant by name, so a new one cannot reach an app as an untyped storage error.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// No record with this id is stored.
    #[error("document {id} not found")]
    NotFound {
        /// The id asked for.
        id: DocId,
    },
    /// The record exists but is of another kind than the command or query needs.
    #[error("document {id} is a {found}, not a {expected}")]
    WrongKind {
        /// The record.
        id: DocId,
        /// The kind the caller needed.
        expected: Kind,
        /// The kind stored.
        found: Kind,
    },
    /// The command is not valid in the record's current state; nothing was changed.
    #[error("cannot {command} {id}: {reason}")]
    InvalidTransition {
        /// The record.
        id: DocId,
        /// The command's name, e.g. `resolve_report`.
        command: &'static str,
        /// Why not, e.g. `its status is submitted; it must be in_progress`.
        reason: String,
    },
    /// An argument is missing, malformed or over a limit.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which argument or field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A string that should be a document id is not one.
    #[error("invalid document id {input:?}: {reason}")]
    InvalidId {
        /// The string given (truncated to 64 characters).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Bytes or a document that are not a valid fieldsync record.
    #[error("document {id} is malformed: {reason}")]
    Malformed {
        /// The document the bytes were for.
        id: DocId,
        /// What is wrong.
        reason: String,
    },
    /// Incoming changes depend on changes this store does not have; nothing was applied.
    #[error("document {id}: {missing} dependencies of the incoming changes are missing")]
    MissingDependencies {
        /// The document.
        id: DocId,
        /// How many change hashes are missing.
        missing: usize,
    },
    /// The document was written by a newer version of fieldsync.
    #[error("document {id} has schema version {found}; this build understands up to {supported}")]
    DocumentTooNew {
        /// The document.
        id: DocId,
        /// Its schema version.
        found: i64,
        /// The newest this build reads.
        supported: i64,
    },
    /// The database file was written by a newer version of fieldsync.
    #[error(
        "database {path} has schema version {found}; this build understands up to {supported}; \
         update the app"
    )]
    DatabaseTooNew {
        /// The database file.
        path: String,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The store file does not open with the key given: a wrong key, no key for an encrypted
    /// store, or a file that is not a store. Nothing was changed.
    #[error("store {path} does not open: {reason}")]
    WrongKey {
        /// The database file.
        path: String,
        /// Which of those it is, as far as can be told.
        reason: &'static str,
    },
    #[error(
        "no business {id} in this phone's copy of the registry (unknown, or outside your scopes)"
    )]
    /// A visit names a business the phone's copy of the registry does not hold: none has
    /// that id, or it lies outside the user's scopes (fetch the registry again when it may be
    /// new).
    UnknownBusiness {
        /// The business id given.
        id: String,
    },
    /// The access policy does not allow this user to do this.
    #[error("not allowed ({rule}): {message}")]
    Forbidden {
        /// The rule that refused, e.g. `report.status`.
        rule: &'static str,
        /// What was not allowed.
        message: String,
    },
    /// A field the caller wants to settle has no concurrent conflict, or the value is not one of them.
    #[error("document {id}: {reason}")]
    NoSuchConflict {
        /// The document.
        id: DocId,
        /// Why the settle command does not apply.
        reason: String,
    },
    /// Enrolling would hand the phone to another user while it holds unsynced work of its
    /// current user (`409 other_user`): sync first, or enroll again discarding that work. The
    /// code was not used.
    #[error(
        "the code enrolls another user than {current}, whose work on this phone is not synced: \
         sync first, or enroll discarding it ({message})"
    )]
    OtherUser {
        /// The user whose unsynced work the phone holds.
        current: String,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached (after retries); nothing is lost, sync again later.
    #[error("server unreachable after {attempts} attempts: {message}")]
    Network {
        /// Attempts made.
        attempts: u32,
        /// The last network error.
        message: String,
    },
    /// The server turned the requests of this address away for a while (`429 rate_limited`,
    /// e.g. too many enrollment attempts): try again after `retry_after_secs`.
    #[error("too many requests; try again in {retry_after_secs} s ({message})")]
    RateLimited {
        /// Seconds to wait (the answer's `Retry-After`).
        retry_after_secs: u64,
        /// The server's message.
        message: String,
    },
    /// A sync did not finish within its deadline (`SyncOptions::deadline`); what it applied is
    /// kept, and the next sync goes on from there.
    #[error("the sync did not finish within {after}: {message}")]
    Timeout {
        /// The deadline it ran into.
        after: crate::time::TimeSpan,
        /// What it did before.
        message: String,
    },
    /// The server no longer accepts this device: an administrator revoked it
    /// (`403 device_revoked`). Without `wiped` the data on the phone stays; enroll again with a
    /// new code. With it, the administrator asked for a wipe and the store was erased before
    /// this error was returned (records, unsynced work, photos, enrollment).
    #[error("this device was revoked{}: {message}", if *wiped { " and its store wiped" } else { "" })]
    DeviceRevoked {
        /// The server's message.
        message: String,
        /// The store was erased, as the administrator asked.
        wiped: bool,
    },
    /// The server no longer accepts this user's devices: an administrator disabled the user
    /// (`403 user_disabled`); enabled again, the same devices work.
    #[error("this user was disabled: {message}")]
    UserDisabled {
        /// The server's message.
        message: String,
    },
    /// The server refused an enrollment code: unknown, used, expired, withdrawn or mistyped.
    #[error("enrollment code refused ({code}): {message}")]
    CodeRefused {
        /// `code_unknown`, `code_used`, `code_expired`, `code_revoked` or `malformed_code`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server does not know the device's credentials (`401`: no, a malformed or an
    /// unknown token): enroll again.
    #[error("not authorised ({code}): {message}")]
    Unauthorized {
        /// `missing_token`, `malformed_token` or `unknown_token`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server refused a points request: `not_enough_points`, `out_of_stock`,
    /// `unknown_good`, `good_withdrawn`, `not_in_community`, `request_reused` (a redemption);
    /// `unknown_voucher`, `already_collected` (a collection); `unknown_user` (an award).
    #[error("points refused ({code}): {message}")]
    PointsRefused {
        /// The reason's code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server refused the request for another reason.
    #[error("server refused the request ({status} {code}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's error code, e.g. `unsupported_version`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server has no such blob for this device: none was uploaded whole, or the device may
    /// not read a record that references it (the server gives both the same answer); for an
    /// upload, no record this device synced references it yet (`404 not_found`).
    #[error("photo {hash} not found on the server")]
    PhotoNotFound {
        /// The blob's SHA-256 (hex).
        hash: String,
    },
    /// The server takes a blob only from a device whose synced record references it with this
    /// size: sync the record first (`409 not_referenced`).
    #[error("photo {hash}: no record this device synced references it ({message})")]
    PhotoNotReferenced {
        /// The blob.
        hash: String,
        /// The server's message.
        message: String,
    },
    /// The device's photos on the server plus this one would exceed its quota
    /// (`403 quota_exceeded`).
    #[error("photo {hash}: over this device's quota on the server ({message})")]
    QuotaExceeded {
        /// The blob.
        hash: String,
        /// The server's message.
        message: String,
    },
    /// The photo, or one request of it, is over the server's size limit (`413 too_large`).
    #[error("photo {hash} is too large for the server ({message})")]
    PhotoTooLarge {
        /// The blob.
        hash: String,
        /// The server's message.
        message: String,
    },
    /// Bytes that do not hash to the blob's name: the server's check of an upload
    /// (`422 hash_mismatch`, it discarded them) or the phone's check of a download (removed).
    #[error("photo {hash}: the bytes do not match its hash ({message})")]
    HashMismatch {
        /// The blob.
        hash: String,
        /// What was found.
        message: String,
    },
    /// A file of this phone's store (a photo, a thumbnail) that does not read back whole: a
    /// sealed file (an encrypted store's) whose chunk does not authenticate — flipped bytes, a
    /// chunk cut off, chunks out of order — or a plaintext file where the store keeps sealed
    /// ones. None of its bytes are given out.
    #[error("file {path} is damaged: {reason}")]
    DamagedFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A range that does not continue what the server holds, or does not fit the blob
    /// (`416 invalid_range`, or `400` for an empty blob).
    #[error("photo {hash}: invalid range ({message})")]
    InvalidRange {
        /// The blob.
        hash: String,
        /// The server's message (it says how many bytes the server holds).
        message: String,
    },
    /// The server made no thumbnail of this blob: it is not an image it can read
    /// (`404 no_thumbnail`); the original is there.
    #[error("photo {hash} has no thumbnail")]
    NoThumbnail {
        /// The blob.
        hash: String,
    },
    /// The server's answer could not be understood.
    #[error("unreadable answer from the server: {0}")]
    Protocol(String),
    /// SQLite failed.
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    /// Automerge failed on a document that was valid so far.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// Reading a file failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<crate::sql::OpenError> for CoreError {
    fn from(e: crate::sql::OpenError) -> Self {
        use crate::sql::OpenError;
        match e {
            OpenError::Sqlite(e) => CoreError::Storage(e),
            OpenError::TooNew { path, found, supported } => {
                CoreError::DatabaseTooNew { path, found, supported }
            }
            OpenError::InvalidVersion { found, .. } => {
                CoreError::invalid("database", format!("user_version {found} is negative"))
            }
        }
    }
}

impl CoreError {
    /// The error for an answer the server refused with `status` and the protocol's `code`: the
    /// codes an app acts on have variants of their own, the rest are [`CoreError::Server`].
    /// `wipe` is the error body's flag; a `device_revoked` with it is returned as
    /// `DeviceRevoked { wiped: true }` only once the caller erased the store (see
    /// `sync::client::failed`).
    pub fn from_server(status: u16, code: String, message: String, wipe: bool) -> Self {
        match code.as_str() {
            "device_revoked" => CoreError::DeviceRevoked { message, wiped: wipe },
            "user_disabled" => CoreError::UserDisabled { message },
            "code_unknown" | "code_used" | "code_expired" | "code_revoked" | "malformed_code" => {
                CoreError::CodeRefused { code, message }
            }
            "not_enough_points" | "out_of_stock" | "unknown_good" | "good_withdrawn"
            | "not_in_community" | "request_reused" | "unknown_voucher" | "already_collected"
            | "unknown_user" => CoreError::PointsRefused { code, message },
            _ if status == 401 => CoreError::Unauthorized { code, message },
            _ => CoreError::Server { status, code, message },
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        CoreError::InvalidInput { field, reason: reason.into() }
    }

    pub(crate) fn malformed(id: DocId, reason: impl Into<String>) -> Self {
        CoreError::Malformed { id, reason: reason.into() }
    }
}
