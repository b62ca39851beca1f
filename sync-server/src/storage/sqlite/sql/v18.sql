-- Server storage, version 18: the scopes a user had before, so that a scope change costs the
-- phone only what it did not hold (docs/protocol.md, "When a user's role or scopes change").
--
-- `set_scopes` records the scopes it replaces in the same transaction. A device's cursor
-- names the rights it was issued under (a tag of role, patrol kind and scopes); when those are
-- one of the user's former scopes, the restarted catch-up leaves out what they could read
-- already. Only the newest few per user are kept; a cursor of an older set restarts the
-- catch-up whole, as before.
CREATE TABLE former_scopes (
    user_id     TEXT NOT NULL REFERENCES users (user_id),
    scopes      TEXT NOT NULL,
    replaced_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, scopes)
) WITHOUT ROWID;
