-- Server storage, version 6: the rules found missing by probing a live server.

-- An operator can stop a person: a disabled user's devices are refused (`403 user_disabled`)
-- and their unused enrolment codes stop working, until the user is enabled again.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- An enrolment code withdrawn by an operator before it was used.
ALTER TABLE enrol_codes ADD COLUMN revoked_at INTEGER;

-- Devices that have proven they hold a blob's bytes: they uploaded it (`how` = 'upload'), or
-- answered a possession challenge over ranges the server picked (`how` = 'challenge'). A
-- document's reference to a blob grants reading it only when the device that added the
-- reference is here (docs/blobs.md, "Who may do what"): knowing a hash and a size is not enough.
CREATE TABLE blob_holders (
    hash      TEXT NOT NULL,
    device    TEXT NOT NULL,
    proven_at INTEGER NOT NULL,
    how       TEXT NOT NULL,
    PRIMARY KEY (hash, device)
) WITHOUT ROWID;
-- The device whose upload completed a blob holds it.
INSERT INTO blob_holders (hash, device, proven_at, how)
    SELECT hash, uploaded_by, COALESCE(completed_at, created_at), 'upload' FROM blobs;

-- Pushes refused because their author no longer holds the rights the changes use (a responder
-- taken off a report, a scope withdrawn) or because they no longer follow from the record's
-- state (`stale_rights`): honest offline work, listed for the dispatchers of the record's scope
-- so that it is never dropped silently. One row per document, device and code; a refusal
-- repeated updates it.
CREATE TABLE refusals (
    id         INTEGER PRIMARY KEY,
    doc_id     BLOB NOT NULL,
    kind       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    device     TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    code       TEXT NOT NULL,
    message    TEXT NOT NULL,
    first_at   INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    times      INTEGER NOT NULL DEFAULT 1,
    UNIQUE (doc_id, device, code)
);
CREATE INDEX refusals_scope ON refusals (scope, last_at);
