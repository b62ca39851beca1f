-- Warning bulletins: one row per bulletin, and who acknowledged it (one row per person).
-- No document of this kind can be stored before this version, so nothing is rebuilt.
CREATE TABLE bulletins (
    doc         INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
    scope       TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    -- The addressees (patrols, businesses, residents), one per line.
    audience    TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    valid_until INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    conflicted  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX bulletins_by_scope ON bulletins(scope, created_at);
CREATE INDEX bulletins_by_created ON bulletins(created_at);

CREATE TABLE bulletin_acks (
    user TEXT    NOT NULL,
    doc  INTEGER NOT NULL REFERENCES bulletins(doc) ON DELETE CASCADE,
    PRIMARY KEY (user, doc)
) WITHOUT ROWID;
CREATE INDEX bulletin_acks_by_doc ON bulletin_acks(doc);
