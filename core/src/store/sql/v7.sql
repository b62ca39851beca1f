-- Schema version 7: the phone's copy of its user's points (Store::points), as the server last
-- gave them (the server owns the ledger). One statement row; the ledger's entries after the
-- server's seq order; the redemptions with their vouchers. Replaced, never edited locally.

CREATE TABLE points_statement (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    account   TEXT    NOT NULL,
    balance   INTEGER NOT NULL,
    owed      INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    synced_at INTEGER NOT NULL
);

CREATE TABLE points_entries (
    seq           INTEGER PRIMARY KEY,
    amount        INTEGER NOT NULL,
    owed_change   INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    source        BLOB,
    redemption    TEXT,
    by_user       TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    balance_after INTEGER NOT NULL
);

CREATE TABLE points_vouchers (
    request_id   TEXT    PRIMARY KEY,
    good         TEXT    NOT NULL,
    good_name    TEXT    NOT NULL,
    community    TEXT    NOT NULL,
    points       INTEGER NOT NULL,
    voucher      TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    collected_at INTEGER,
    collected_by TEXT
);
