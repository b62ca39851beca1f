-- Server storage, version 1.

-- Server-wide settings: the epoch (a random id made when the database was created).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per document; `id` is the storage order used by the catch-up. The bytes live in
-- doc_bytes so that updating the sizes and version does not rewrite them.
CREATE TABLE docs (
    id             INTEGER PRIMARY KEY,
    doc_id         BLOB NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    scope          TEXT NOT NULL,
    snapshot_bytes INTEGER NOT NULL,
    chunk_bytes    INTEGER NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX docs_scope ON docs (scope);

-- A document's stored bytes: its snapshot, then the change chunks appended since, in id order.
CREATE TABLE doc_bytes (
    id    INTEGER PRIMARY KEY,
    doc   INTEGER NOT NULL REFERENCES docs (id),
    bytes BLOB NOT NULL
);
CREATE INDEX doc_bytes_doc ON doc_bytes (doc, id);

-- The change log: every accepted change, numbered by one server-wide sequence, written in the
-- same transaction as the document's bytes. Also the audit trail.
CREATE TABLE log (
    seq         INTEGER PRIMARY KEY,
    doc         INTEGER NOT NULL REFERENCES docs (id),
    hash        BLOB NOT NULL,
    actor       BLOB NOT NULL,
    device      TEXT,
    received_at INTEGER NOT NULL,
    bytes       BLOB NOT NULL
);
CREATE UNIQUE INDEX log_doc_hash ON log (doc, hash);
