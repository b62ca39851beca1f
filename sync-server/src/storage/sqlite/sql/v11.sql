-- Server storage, version 11: residents' points and their exchange (sync-server/src/points).
-- `points_ledger` is append-only (triggers refuse UPDATE and DELETE); `points_accounts` holds
-- each account's balance and what it owes, written in the same transaction as each entry, so
-- that a balance is read without summing the ledger and can never go below 0 (CHECK).
-- `points_goods` is each community's catalogue; `points_redemptions` the redemptions made, one
-- per account and request id, each with its unique voucher code.

CREATE TABLE points_accounts (
    account TEXT PRIMARY KEY,
    balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    owed    INTEGER NOT NULL DEFAULT 0 CHECK (owed >= 0)
) WITHOUT ROWID;

CREATE TABLE points_ledger (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account       TEXT NOT NULL,
    amount        INTEGER NOT NULL,
    owed_change   INTEGER NOT NULL DEFAULT 0,
    kind          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    source_doc    BLOB,
    redemption    TEXT,
    by_user       TEXT NOT NULL,
    at            INTEGER NOT NULL,
    balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
    CHECK (amount <> 0 OR owed_change <> 0)
);
CREATE INDEX points_ledger_account ON points_ledger (account, seq);
CREATE INDEX points_ledger_source ON points_ledger (source_doc) WHERE source_doc IS NOT NULL;

CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger
BEGIN
    SELECT RAISE(ABORT, 'the points ledger is append-only');
END;
CREATE TRIGGER points_ledger_no_delete BEFORE DELETE ON points_ledger
BEGIN
    SELECT RAISE(ABORT, 'the points ledger is append-only');
END;

CREATE TABLE points_goods (
    good_id      TEXT PRIMARY KEY,
    community    TEXT NOT NULL,
    name         TEXT NOT NULL,
    points       INTEGER NOT NULL CHECK (points > 0),
    stock        INTEGER NOT NULL CHECK (stock >= 0),
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    withdrawn_at INTEGER
) WITHOUT ROWID;

CREATE TABLE points_redemptions (
    account      TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    good_id      TEXT NOT NULL REFERENCES points_goods (good_id),
    good_name    TEXT NOT NULL,
    community    TEXT NOT NULL,
    points       INTEGER NOT NULL CHECK (points > 0),
    voucher      TEXT NOT NULL UNIQUE,
    at           INTEGER NOT NULL,
    collected_at INTEGER,
    collected_by TEXT,
    PRIMARY KEY (account, request_id)
) WITHOUT ROWID;
CREATE INDEX points_redemptions_by_account ON points_redemptions (account, at);
