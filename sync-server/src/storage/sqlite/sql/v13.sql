-- Server storage, version 13: warning bulletins.
--
-- Who may read a bulletin depends on who it is addressed to, and a device enrolled after its
-- validity ended is not sent it: both are kept beside the rest of a document's audience (they
-- never change after the bulletin's issue; empty and null for the other kinds).
ALTER TABLE docs ADD COLUMN addressed TEXT NOT NULL DEFAULT '';
ALTER TABLE docs ADD COLUMN valid_until INTEGER;

-- The bulletins' index rows, as the other kinds' (version 9).
CREATE TABLE bulletin_index (
    doc          INTEGER PRIMARY KEY REFERENCES docs (id),
    doc_id       BLOB NOT NULL,
    seq          INTEGER NOT NULL,
    scope        TEXT NOT NULL,
    scope_key    TEXT NOT NULL,
    status       TEXT NOT NULL,
    severity     TEXT NOT NULL,
    -- The addressees, one a line.
    audience     TEXT NOT NULL,
    title        TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    valid_until  INTEGER NOT NULL,
    -- User ids of those who acknowledged it, one a line, in the order they did.
    acknowledged TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX bulletin_index_seq ON bulletin_index (seq);
CREATE INDEX bulletin_index_created ON bulletin_index (created_at, doc, scope_key);
CREATE INDEX bulletin_index_updated ON bulletin_index (updated_at, doc, scope_key);
