-- Server storage, version 9: the record index. One row per record, written in the same
-- transaction as the document write it was computed from; `doc` is the document's row in
-- `docs` (so the tie-breaker of every sort), `seq` the last log seq of the document when the
-- row was written (the live event stream resumes from it). `scope_key` is the scope with a
-- '/' after it, so "this scope or below it" is one range (`[s/, s0)`: '0' follows '/').
--
-- Every sort of the desk has an index that starts with its keys and `doc` (so a keyset page
-- seeks and reads in order, never sorting) and ends with `scope_key`, `status` and `category`,
-- so that the scope cut and those filters are judged inside the index, before any row is read:
-- a page of one grid of a hundred reads about a hundred index entries per row shown, not the
-- grid's every row. One status (a dispatcher's queue) has an index per sort of its own; the
-- open reports (what can be overdue) one in creation order. Statistics of a scope range over
-- `(scope_key, created_at)`.

CREATE TABLE report_index (
    doc               INTEGER PRIMARY KEY REFERENCES docs (id),
    doc_id            BLOB NOT NULL,
    seq               INTEGER NOT NULL,
    scope             TEXT NOT NULL,
    scope_key         TEXT NOT NULL,
    status            TEXT NOT NULL,
    category          TEXT NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    -- Title and description, case-folded: what text search matches (a literal substring).
    search            TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    assignee          TEXT,
    created_at        INTEGER NOT NULL,
    submitted_at      INTEGER,
    accepted_at       INTEGER,
    dispatched_at     INTEGER,
    resolved_at       INTEGER,
    confirmed_at      INTEGER,
    rejected_at       INTEGER,
    deadline          INTEGER,
    -- The deadline, or the largest integer when there is none: sorts those last.
    deadline_key      INTEGER NOT NULL,
    priority          INTEGER NOT NULL,
    lat               REAL,
    lon               REAL,
    address           TEXT,
    points            INTEGER NOT NULL,
    supervisions      INTEGER NOT NULL,
    reopens           INTEGER NOT NULL,
    escalated_accept  INTEGER NOT NULL,
    escalated_resolve INTEGER NOT NULL,
    accept_due        INTEGER NOT NULL,
    resolve_due       INTEGER NOT NULL,
    photos            INTEGER NOT NULL,
    comments          INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX report_index_seq ON report_index (seq);
CREATE INDEX report_index_scope ON report_index (scope_key, created_at);
CREATE INDEX report_index_created ON report_index (created_at, doc, scope_key, status, category);
CREATE INDEX report_index_deadline ON report_index (deadline_key, doc, scope_key, status, category);
CREATE INDEX report_index_priority
    ON report_index (priority, created_at, doc, scope_key, status, category);
CREATE INDEX report_index_updated ON report_index (updated_at, doc, scope_key, status, category);
CREATE INDEX report_index_status ON report_index (status, created_at, doc, scope_key, category);
CREATE INDEX report_index_status_deadline
    ON report_index (status, deadline_key, doc, scope_key, category);
CREATE INDEX report_index_status_priority
    ON report_index (status, priority, created_at, doc, scope_key, category);
CREATE INDEX report_index_status_updated
    ON report_index (status, updated_at, doc, scope_key, category);
CREATE INDEX report_index_assignee ON report_index (assignee, created_at, doc);
-- The condition must stay as the overdue filter writes it (list.rs), or SQLite won't use it.
CREATE INDEX report_index_open
    ON report_index (created_at, doc, scope_key, status, category, accept_due, resolve_due)
    WHERE status NOT IN ('resolved', 'confirmed', 'rejected');

CREATE TABLE patrol_index (
    doc                 INTEGER PRIMARY KEY REFERENCES docs (id),
    doc_id              BLOB NOT NULL,
    seq                 INTEGER NOT NULL,
    scope               TEXT NOT NULL,
    scope_key           TEXT NOT NULL,
    area                TEXT NOT NULL,
    -- User ids of the team, one a line.
    members             TEXT NOT NULL,
    status              TEXT NOT NULL,
    entries             INTEGER NOT NULL,
    checkpoints_reached INTEGER NOT NULL,
    checkpoints_planned INTEGER NOT NULL,
    started_at          INTEGER NOT NULL,
    ended_at            INTEGER,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX patrol_index_seq ON patrol_index (seq);
CREATE INDEX patrol_index_scope ON patrol_index (scope_key, started_at);
CREATE INDEX patrol_index_started ON patrol_index (started_at, doc, scope_key);
CREATE INDEX patrol_index_updated ON patrol_index (updated_at, doc, scope_key);

CREATE TABLE case_index (
    doc        INTEGER PRIMARY KEY REFERENCES docs (id),
    doc_id     BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    scope      TEXT NOT NULL,
    scope_key  TEXT NOT NULL,
    status     TEXT NOT NULL,
    category   TEXT NOT NULL,
    -- User ids of the mediators, one a line.
    mediators  TEXT NOT NULL,
    sessions   INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    opened_at  INTEGER NOT NULL,
    closed_at  INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX case_index_seq ON case_index (seq);
CREATE INDEX case_index_scope ON case_index (scope_key, opened_at);
CREATE INDEX case_index_opened ON case_index (opened_at, doc, scope_key);
CREATE INDEX case_index_updated ON case_index (updated_at, doc, scope_key);
