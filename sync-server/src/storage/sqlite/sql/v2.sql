-- Server storage, version 2: users, their devices, and enrolment codes.

-- A person who uses the app: their role (and patrol kind) and scopes (paths in the
-- jurisdiction tree, one per line).
CREATE TABLE users (
    user_id    TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    patrol     TEXT,
    scopes     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- An enrolled phone. Only the SHA-256 of its bearer token is kept. `actor` is the Automerge
-- actor id every change from this device must carry.
CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (user_id),
    name        TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    actor       BLOB NOT NULL UNIQUE,
    enrolled_at INTEGER NOT NULL,
    revoked_at  INTEGER
) WITHOUT ROWID;
CREATE INDEX devices_user ON devices (user_id);

-- Single-use, expiring enrolment codes; only their SHA-256 is kept.
CREATE TABLE enrol_codes (
    code_hash  BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (user_id),
    issued_by  TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    device_id  TEXT
) WITHOUT ROWID;
