-- PostgreSQL schema, version 5: the scopes a user had before (the SQLite schema's version 18;
-- docs/protocol.md, "When a user's role or scopes change").
--
-- `set_scopes` records the scopes it replaces in the same transaction, so that a device whose
-- cursor was issued under them is sent only what it could not read already. Only the newest
-- few per user are kept.
CREATE TABLE former_scopes (
    user_id     TEXT NOT NULL REFERENCES users (user_id),
    scopes      TEXT NOT NULL,
    replaced_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, scopes)
);
