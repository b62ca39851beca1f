-- Schema version 2: the phone's sync state.

-- Bumped by every write of a document's bytes, so a document a reader loaded can be handed to the
-- writer when nothing was written since.
ALTER TABLE docs ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- Where this store is in the server's feed. One server per store; re-pointing a store at another
-- server resets this row and every document's acknowledged heads.
CREATE TABLE sync_server (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    epoch        TEXT,
    cursor       TEXT    NOT NULL DEFAULT '',
    last_sync_at INTEGER
);

-- Per document: heads the server is known to hold, and whether local changes await a push.
CREATE TABLE sync_docs (
    doc              INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
    acked_heads      BLOB    NOT NULL DEFAULT x'',
    pending          INTEGER NOT NULL DEFAULT 1,
    rejected_code    TEXT,
    rejected_message TEXT,
    rejected_at      INTEGER
);
CREATE INDEX sync_docs_to_push ON sync_docs(doc) WHERE pending = 1 AND rejected_code IS NULL;
CREATE INDEX sync_docs_rejected ON sync_docs(doc) WHERE rejected_code IS NOT NULL;

-- Documents to ask for whole on the next sync (pulled data that did not apply, or missing ones).
CREATE TABLE sync_wanted (
    doc_id BLOB PRIMARY KEY CHECK (length(doc_id) = 16)
) WITHOUT ROWID;

-- Documents stored before this version have never been pushed.
INSERT INTO sync_docs (doc, pending) SELECT id, 1 FROM docs;
