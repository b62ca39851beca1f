-- Schema version 8: the phone's copy of the business registry (Store::businesses), as the server
-- last gave it, so that a patrol picks the business it visits offline. Replaced whole at each
-- fetch, never edited locally.

CREATE TABLE businesses (
    id        TEXT PRIMARY KEY,
    scope     TEXT NOT NULL,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    address   TEXT NOT NULL,
    lat       REAL,
    lon       REAL,
    contact   TEXT NOT NULL,
    operator  TEXT,
    closed_at INTEGER
);
