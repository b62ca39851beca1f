-- PostgreSQL storage, version 1: the tables of SQLite's version 15 (sqlite/sql/v1..v15.sql,
-- where each table's columns are explained), in PostgreSQL's types: integers are BIGINT, bytes
-- BYTEA, flags BOOLEAN, coordinates DOUBLE PRECISION. Lists (scopes, participants, members) stay
-- one item a line, as SQLite keeps them, so both backends read them with the same code.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The change log's head, one row: the last seq given and the last document position given.
-- Every document commit takes this row's lock first and holds it until it commits, so seqs
-- (and document positions) are given in commit order and without gaps: a reader that sees seq
-- N sees every smaller seq (docs/storage-postgres.md, "The log's order").
CREATE TABLE log_head (
    one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    seq  BIGINT NOT NULL,
    docs BIGINT NOT NULL
);
INSERT INTO log_head (one, seq, docs) VALUES (TRUE, 0, 0);

CREATE TABLE docs (
    id             BIGINT PRIMARY KEY,
    doc_id         BYTEA NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    scope          TEXT NOT NULL,
    snapshot_bytes BIGINT NOT NULL,
    chunk_bytes    BIGINT NOT NULL DEFAULT 0,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    participants   TEXT NOT NULL DEFAULT '',
    addressed      TEXT NOT NULL DEFAULT '',
    valid_until    BIGINT
);
CREATE INDEX docs_scope ON docs (scope);

CREATE TABLE doc_bytes (
    id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc   BIGINT NOT NULL REFERENCES docs (id),
    bytes BYTEA NOT NULL
);
CREATE INDEX doc_bytes_doc ON doc_bytes (doc, id);

CREATE TABLE log (
    seq         BIGINT PRIMARY KEY,
    doc         BIGINT NOT NULL REFERENCES docs (id),
    hash        BYTEA NOT NULL,
    actor       BYTEA NOT NULL,
    device      TEXT,
    received_at BIGINT NOT NULL,
    bytes       BYTEA NOT NULL
);
CREATE UNIQUE INDEX log_doc_hash ON log (doc, hash);

CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    patrol      TEXT,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (user_id),
    name        TEXT NOT NULL,
    token_hash  BYTEA NOT NULL UNIQUE,
    actor       BYTEA NOT NULL UNIQUE,
    enrolled_at BIGINT NOT NULL,
    revoked_at  BIGINT,
    kind        TEXT NOT NULL DEFAULT 'phone'
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE enroll_codes (
    code_hash  BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (user_id),
    issued_by  TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    device_id  TEXT,
    revoked_at BIGINT
);

CREATE TABLE desk_sessions (
    session_id   TEXT PRIMARY KEY,
    token_hash   BYTEA NOT NULL UNIQUE,
    device_id    TEXT NOT NULL REFERENCES devices (device_id),
    user_id      TEXT NOT NULL REFERENCES users (user_id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at     BIGINT,
    end_reason   TEXT
);
CREATE INDEX desk_sessions_device ON desk_sessions (device_id);
CREATE INDEX desk_sessions_user ON desk_sessions (user_id);

CREATE TABLE blobs (
    hash              TEXT PRIMARY KEY,
    size              BIGINT NOT NULL,
    media_type        TEXT NOT NULL,
    received          BIGINT NOT NULL DEFAULT 0,
    complete          BOOLEAN NOT NULL DEFAULT FALSE,
    thumbnail         BOOLEAN NOT NULL DEFAULT FALSE,
    uploaded_by       TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    completed_at      BIGINT,
    thumbnail_pending BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX blobs_uploaded_by ON blobs (uploaded_by);

CREATE TABLE blob_refs (
    hash       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    doc        BIGINT NOT NULL REFERENCES docs (id),
    device     TEXT NOT NULL,
    PRIMARY KEY (hash, doc, size, device)
);
CREATE INDEX blob_refs_doc ON blob_refs (doc);

CREATE TABLE blob_uploads (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash       TEXT NOT NULL,
    device     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    received   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (hash, device)
);
CREATE INDEX blob_uploads_device ON blob_uploads (device);

CREATE TABLE blob_holders (
    hash      TEXT NOT NULL,
    device    TEXT NOT NULL,
    proven_at BIGINT NOT NULL,
    how       TEXT NOT NULL,
    PRIMARY KEY (hash, device)
);

-- Refusals are listed by id after a cursor: ids are taken under a transaction-scoped advisory
-- lock held until commit (see postgres/refusals.rs), so they too become visible in id order.
CREATE TABLE refusals (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_id   BYTEA NOT NULL,
    kind     TEXT NOT NULL,
    scope    TEXT NOT NULL,
    device   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    code     TEXT NOT NULL,
    message  TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at  BIGINT NOT NULL,
    times    BIGINT NOT NULL DEFAULT 1,
    UNIQUE (doc_id, device, code)
);
CREATE INDEX refusals_scope ON refusals (scope, last_at);

CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    key_hash   BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE points_accounts (
    account TEXT PRIMARY KEY,
    balance BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    owed    BIGINT NOT NULL DEFAULT 0 CHECK (owed >= 0)
);

-- An account's entries are written while its `points_accounts` row is locked, so its seqs
-- become visible in order (`points_of` pages by seq).
CREATE TABLE points_ledger (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account       TEXT NOT NULL,
    amount        BIGINT NOT NULL,
    owed_change   BIGINT NOT NULL DEFAULT 0,
    kind          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    source_doc    BYTEA,
    redemption    TEXT,
    by_user       TEXT NOT NULL,
    at            BIGINT NOT NULL,
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    CHECK (amount <> 0 OR owed_change <> 0)
);
CREATE INDEX points_ledger_account ON points_ledger (account, seq);
CREATE INDEX points_ledger_source ON points_ledger (source_doc) WHERE source_doc IS NOT NULL;

CREATE FUNCTION points_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the points ledger is append-only';
END;
$$;
CREATE TRIGGER points_ledger_no_change BEFORE UPDATE OR DELETE ON points_ledger
    FOR EACH ROW EXECUTE FUNCTION points_ledger_append_only();
CREATE TRIGGER points_ledger_no_truncate BEFORE TRUNCATE ON points_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION points_ledger_append_only();

CREATE TABLE points_goods (
    good_id      TEXT PRIMARY KEY,
    community    TEXT NOT NULL,
    name         TEXT NOT NULL,
    points       BIGINT NOT NULL CHECK (points > 0),
    stock        BIGINT NOT NULL CHECK (stock >= 0),
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    withdrawn_at BIGINT
);

CREATE TABLE points_redemptions (
    account      TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    good_id      TEXT NOT NULL REFERENCES points_goods (good_id),
    good_name    TEXT NOT NULL,
    community    TEXT NOT NULL,
    points       BIGINT NOT NULL CHECK (points > 0),
    voucher      TEXT NOT NULL UNIQUE,
    at           BIGINT NOT NULL,
    collected_at BIGINT,
    collected_by TEXT,
    PRIMARY KEY (account, request_id)
);
CREATE INDEX points_redemptions_by_account ON points_redemptions (account, at);

-- `scope_key` is the scope and a '/': "at or below a scope" is one range. COLLATE "C" makes
-- the range compare bytes, as SQLite does, whatever the database's collation.
CREATE TABLE businesses (
    business_id TEXT PRIMARY KEY,
    scope       TEXT NOT NULL,
    scope_key   TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    address     TEXT NOT NULL,
    lat         DOUBLE PRECISION,
    lon         DOUBLE PRECISION,
    contact     TEXT NOT NULL,
    operator    TEXT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    closed_at   BIGINT
);
CREATE INDEX businesses_by_scope ON businesses (scope_key, name);
CREATE INDEX businesses_by_operator ON businesses (operator) WHERE operator IS NOT NULL;

-- The record index (sqlite/sql/v9.sql, v13 to v15): one row per record, written in the same
-- transaction as the document write it was computed from; `seq` is the document's last log seq
-- when the row was written (the live event stream resumes from it, and it is given in commit
-- order like every seq). `scope_key` compares bytewise (COLLATE "C") so that "this scope or
-- below" is one range. Each sort of the desk has an index that starts with its keys and `doc`.

CREATE TABLE report_index (
    doc               BIGINT PRIMARY KEY REFERENCES docs (id),
    doc_id            BYTEA NOT NULL,
    seq               BIGINT NOT NULL,
    scope             TEXT NOT NULL,
    scope_key         TEXT COLLATE "C" NOT NULL,
    status            TEXT NOT NULL,
    category          TEXT NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    search            TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    assignee          TEXT,
    created_at        BIGINT NOT NULL,
    submitted_at      BIGINT,
    accepted_at       BIGINT,
    dispatched_at     BIGINT,
    resolved_at       BIGINT,
    confirmed_at      BIGINT,
    rejected_at       BIGINT,
    deadline          BIGINT,
    deadline_key      BIGINT NOT NULL,
    priority          BIGINT NOT NULL,
    lat               DOUBLE PRECISION,
    lon               DOUBLE PRECISION,
    address           TEXT,
    points            BIGINT NOT NULL,
    supervisions      BIGINT NOT NULL,
    reopens           BIGINT NOT NULL,
    escalated_accept  BIGINT NOT NULL,
    escalated_resolve BIGINT NOT NULL,
    accept_due        BIGINT NOT NULL,
    resolve_due       BIGINT NOT NULL,
    photos            BIGINT NOT NULL,
    comments          BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
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

CREATE TABLE patrol_index (
    doc                 BIGINT PRIMARY KEY REFERENCES docs (id),
    doc_id              BYTEA NOT NULL,
    seq                 BIGINT NOT NULL,
    scope               TEXT NOT NULL,
    scope_key           TEXT COLLATE "C" NOT NULL,
    area                TEXT NOT NULL,
    members             TEXT NOT NULL,
    status              TEXT NOT NULL,
    entries             BIGINT NOT NULL,
    checkpoints_reached BIGINT NOT NULL,
    checkpoints_planned BIGINT NOT NULL,
    started_at          BIGINT NOT NULL,
    ended_at            BIGINT,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX patrol_index_seq ON patrol_index (seq);
CREATE INDEX patrol_index_scope ON patrol_index (scope_key, started_at);
CREATE INDEX patrol_index_started ON patrol_index (started_at, doc, scope_key);
CREATE INDEX patrol_index_updated ON patrol_index (updated_at, doc, scope_key);

CREATE TABLE case_index (
    doc        BIGINT PRIMARY KEY REFERENCES docs (id),
    doc_id     BYTEA NOT NULL,
    seq        BIGINT NOT NULL,
    scope      TEXT NOT NULL,
    scope_key  TEXT COLLATE "C" NOT NULL,
    status     TEXT NOT NULL,
    category   TEXT NOT NULL,
    mediators  TEXT NOT NULL,
    sessions   BIGINT NOT NULL,
    outcome    TEXT NOT NULL,
    opened_at  BIGINT NOT NULL,
    closed_at  BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX case_index_seq ON case_index (seq);
CREATE INDEX case_index_scope ON case_index (scope_key, opened_at);
CREATE INDEX case_index_opened ON case_index (opened_at, doc, scope_key);
CREATE INDEX case_index_updated ON case_index (updated_at, doc, scope_key);

CREATE TABLE bulletin_index (
    doc          BIGINT PRIMARY KEY REFERENCES docs (id),
    doc_id       BYTEA NOT NULL,
    seq          BIGINT NOT NULL,
    scope        TEXT NOT NULL,
    scope_key    TEXT COLLATE "C" NOT NULL,
    status       TEXT NOT NULL,
    severity     TEXT NOT NULL,
    audience     TEXT NOT NULL,
    title        TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    valid_until  BIGINT NOT NULL,
    acknowledged TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX bulletin_index_seq ON bulletin_index (seq);
CREATE INDEX bulletin_index_created ON bulletin_index (created_at, doc, scope_key);
CREATE INDEX bulletin_index_updated ON bulletin_index (updated_at, doc, scope_key);

CREATE TABLE visit_index (
    doc                BIGINT PRIMARY KEY REFERENCES docs (id),
    doc_id             BYTEA NOT NULL,
    seq                BIGINT NOT NULL,
    scope              TEXT NOT NULL,
    scope_key          TEXT COLLATE "C" NOT NULL,
    business           TEXT NOT NULL,
    status             TEXT NOT NULL,
    visitors           TEXT NOT NULL,
    created_by         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    failed             TEXT NOT NULL,
    findings           BIGINT NOT NULL,
    follow_up          TEXT NOT NULL,
    follow_up_deadline BIGINT,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX visit_index_seq ON visit_index (seq);
CREATE INDEX visit_index_created ON visit_index (created_at, doc, scope_key);
CREATE INDEX visit_index_updated ON visit_index (updated_at, doc, scope_key);
CREATE INDEX visit_index_business ON visit_index (business, created_at);

CREATE TABLE deliberation_index (
    doc             BIGINT PRIMARY KEY REFERENCES docs (id),
    doc_id          BYTEA NOT NULL,
    seq             BIGINT NOT NULL,
    scope           TEXT NOT NULL,
    scope_key       TEXT COLLATE "C" NOT NULL,
    status          TEXT NOT NULL,
    topic           TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    comments        BIGINT NOT NULL,
    options         BIGINT NOT NULL,
    meetings        BIGINT NOT NULL,
    next_meeting_at BIGINT,
    attendees       TEXT NOT NULL,
    decided_at      BIGINT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX deliberation_index_seq ON deliberation_index (seq);
CREATE INDEX deliberation_index_created ON deliberation_index (created_at, doc, scope_key);
CREATE INDEX deliberation_index_updated ON deliberation_index (updated_at, doc, scope_key);
