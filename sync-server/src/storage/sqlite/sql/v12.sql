-- Server storage, version 12: the registry of businesses (走访联系制度, sync-server/src/businesses):
-- the businesses of each scope, kept by the police, grid leaders and dispatchers of it. `scope_key`
-- is the scope followed by `/`, so that "this scope or below" is one range of its index.

CREATE TABLE businesses (
    business_id TEXT PRIMARY KEY,
    scope       TEXT NOT NULL,
    scope_key   TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    address     TEXT NOT NULL,
    lat         REAL,
    lon         REAL,
    contact     TEXT NOT NULL,
    operator    TEXT,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    closed_at   INTEGER
) WITHOUT ROWID;
CREATE INDEX businesses_by_scope ON businesses (scope_key, name);
CREATE INDEX businesses_by_operator ON businesses (operator) WHERE operator IS NOT NULL;
