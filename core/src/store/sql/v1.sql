-- fieldsync phone store, schema version 1.
-- Automerge bytes are the truth (docs + doc_chunks); every other table is a projection that
-- Store::rebuild_projections can recreate from them.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- One row per document: the last compacted snapshot.
CREATE TABLE docs (
    id          INTEGER PRIMARY KEY,
    doc_id      BLOB    NOT NULL UNIQUE CHECK (length(doc_id) = 16),
    kind        INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),
    snapshot    BLOB    NOT NULL,
    chunk_bytes INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);

-- Incremental saves appended since the snapshot; loading concatenates snapshot and chunks.
CREATE TABLE doc_chunks (
    id    INTEGER PRIMARY KEY,
    doc   INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    bytes BLOB    NOT NULL
);
CREATE INDEX doc_chunks_by_doc ON doc_chunks(doc, id);

CREATE TABLE reports (
    doc        INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    assignee   TEXT,
    deadline   INTEGER,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    conflicted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reports_by_status_scope ON reports(status, scope, created_at);
CREATE INDEX reports_by_scope ON reports(scope, created_at);
CREATE INDEX reports_by_category ON reports(category, created_at);
CREATE INDEX reports_by_assignee ON reports(assignee, deadline) WHERE assignee IS NOT NULL;
CREATE INDEX reports_open_by_deadline ON reports(deadline)
    WHERE deadline IS NOT NULL AND status IN ('dispatched', 'in_progress');
CREATE INDEX reports_by_created ON reports(created_at);
CREATE INDEX reports_by_creator ON reports(created_by, created_at);

CREATE TABLE patrols (
    doc         INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
    scope       TEXT    NOT NULL,
    area        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    created_by  TEXT    NOT NULL,
    entry_count INTEGER NOT NULL,
    conflicted  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX patrols_by_scope ON patrols(scope, started_at);
CREATE INDEX patrols_by_area ON patrols(area, started_at);
CREATE INDEX patrols_by_started ON patrols(started_at);

CREATE TABLE patrol_members (
    user TEXT    NOT NULL,
    doc  INTEGER NOT NULL REFERENCES patrols(doc) ON DELETE CASCADE,
    PRIMARY KEY (user, doc)
) WITHOUT ROWID;
CREATE INDEX patrol_members_by_doc ON patrol_members(doc);

CREATE TABLE cases (
    doc        INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    place      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    conflicted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cases_by_status_scope ON cases(status, scope, created_at);
CREATE INDEX cases_by_scope ON cases(scope, created_at);

CREATE TABLE case_mediators (
    user TEXT    NOT NULL,
    doc  INTEGER NOT NULL REFERENCES cases(doc) ON DELETE CASCADE,
    PRIMARY KEY (user, doc)
) WITHOUT ROWID;
CREATE INDEX case_mediators_by_doc ON case_mediators(doc);

-- Full-text search; the trigram tokenizer matches substrings, so Chinese text works without a
-- word segmenter. rowid = docs.id.
CREATE VIRTUAL TABLE search USING fts5(title, body, tokenize = 'trigram');
