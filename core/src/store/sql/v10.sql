-- Business visits: one row per visit, its visitors (one row per person), and the visit rules
-- the server last gave with the registry (how often a business is due a visit, the checklist).
-- No document of this kind can be stored before this version, so nothing is rebuilt.
CREATE TABLE visits (
    doc                INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
    scope              TEXT    NOT NULL,
    business           TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    created_by         TEXT    NOT NULL,
    -- Checklist items whose result as it stands is a failure, and findings recorded.
    failed             INTEGER NOT NULL,
    findings           INTEGER NOT NULL,
    follow_up_deadline INTEGER,
    conflicted         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX visits_by_business ON visits(business, created_at);
CREATE INDEX visits_by_scope ON visits(scope, created_at);
CREATE INDEX visits_by_created ON visits(created_at);

CREATE TABLE visit_members (
    user TEXT    NOT NULL,
    doc  INTEGER NOT NULL REFERENCES visits(doc) ON DELETE CASCADE,
    PRIMARY KEY (user, doc)
) WITHOUT ROWID;
CREATE INDEX visit_members_by_doc ON visit_members(doc);

-- One row: the rules of visits, replaced with the registry at each fetch.
CREATE TABLE visit_rules (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    every_days INTEGER NOT NULL,
    -- The checklist items, one a line.
    checklist  TEXT    NOT NULL
);
