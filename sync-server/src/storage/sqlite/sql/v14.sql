-- Server storage, version 14: business visits.
--
-- The visits' index rows, as the other kinds' (version 9): what the desk lists, and what tells
-- when each business was last visited (the overdue list). A visit's scope is its business's
-- own (`{scope}/business:{id}`), so the audience columns of `docs` need nothing new.
CREATE TABLE visit_index (
    doc                INTEGER PRIMARY KEY REFERENCES docs (id),
    doc_id             BLOB NOT NULL,
    seq                INTEGER NOT NULL,
    scope              TEXT NOT NULL,
    scope_key          TEXT NOT NULL,
    business           TEXT NOT NULL,
    status             TEXT NOT NULL,
    -- User ids of the visitors, one a line.
    visitors           TEXT NOT NULL,
    created_by         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    -- Checklist items whose result as it stands is a failure, one a line.
    failed             TEXT NOT NULL,
    findings           INTEGER NOT NULL,
    follow_up          TEXT NOT NULL,
    follow_up_deadline INTEGER,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX visit_index_seq ON visit_index (seq);
CREATE INDEX visit_index_created ON visit_index (created_at, doc, scope_key);
CREATE INDEX visit_index_updated ON visit_index (updated_at, doc, scope_key);
CREATE INDEX visit_index_business ON visit_index (business, created_at);
