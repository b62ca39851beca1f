-- Server storage, version 8: desk sessions (the command centre's browsers).

-- A device is a phone (authenticated by its bearer token) or a desk (a browser, authenticated
-- by its one session). A desk device writes with an actor of its own like a phone; its
-- token_hash is the hash of a secret thrown away at once, so no bearer token opens it.
ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'phone';

-- A desk's signed-in session: only the SHA-256 of its token (the cookie) is kept. It ends once
-- (signed out, revoked, idle, its device revoked, its user disabled); an ended session is never
-- used again. last_seen_at is written at most about once a minute.
CREATE TABLE desk_sessions (
    session_id   TEXT PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    device_id    TEXT NOT NULL REFERENCES devices (device_id),
    user_id      TEXT NOT NULL REFERENCES users (user_id),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ended_at     INTEGER,
    end_reason   TEXT
) WITHOUT ROWID;
CREATE INDEX desk_sessions_device ON desk_sessions (device_id);
CREATE INDEX desk_sessions_user ON desk_sessions (user_id);
