-- Server storage, version 10: Open311 API keys. A third-party reporting app holds one key; the
-- server keeps only its SHA-256 (`key_hash`), its name, the scopes it may read and file into
-- (one per line) and when it was issued and revoked. Requests look a key up by its hash.

CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    key_hash   BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
