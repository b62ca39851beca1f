-- Server storage, version 14: deliberations (议事协商).
--
-- Who may read a deliberation is its kind, scope, raiser and attendees: the audience columns
-- `docs` has (version 3), so only the index rows are new, as the other kinds' (version 9).
CREATE TABLE deliberation_index (
    doc             INTEGER PRIMARY KEY REFERENCES docs (id),
    doc_id          BLOB NOT NULL,
    seq             INTEGER NOT NULL,
    scope           TEXT NOT NULL,
    scope_key       TEXT NOT NULL,
    status          TEXT NOT NULL,
    topic           TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    comments        INTEGER NOT NULL,
    options         INTEGER NOT NULL,
    meetings        INTEGER NOT NULL,
    -- The earliest of its meetings not held yet.
    next_meeting_at INTEGER,
    -- User ids of those who attended one of its meetings, one a line.
    attendees       TEXT NOT NULL,
    decided_at      INTEGER,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX deliberation_index_seq ON deliberation_index (seq);
CREATE INDEX deliberation_index_created ON deliberation_index (created_at, doc, scope_key);
CREATE INDEX deliberation_index_updated ON deliberation_index (updated_at, doc, scope_key);
