-- Deliberations (议事协商): one row per deliberation, and who attended one of its meetings (one
-- row per person). No document of this kind can be stored before this version, so nothing is
-- rebuilt; `docs` takes the kind's code after this step (schema.rs, widen_kinds).
CREATE TABLE deliberations (
    doc             INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
    scope           TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    -- How many comments and meetings it has.
    comments        INTEGER NOT NULL,
    meetings        INTEGER NOT NULL,
    -- The earliest of its meetings not held yet.
    next_meeting_at INTEGER,
    conflicted      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deliberations_by_scope ON deliberations(scope, created_at);
CREATE INDEX deliberations_by_created ON deliberations(created_at);

CREATE TABLE deliberation_attendees (
    user TEXT    NOT NULL,
    doc  INTEGER NOT NULL REFERENCES deliberations(doc) ON DELETE CASCADE,
    PRIMARY KEY (user, doc)
) WITHOUT ROWID;
CREATE INDEX deliberation_attendees_by_doc ON deliberation_attendees(doc);
