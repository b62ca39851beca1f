-- Phone-to-phone sync (docs/peer.md): the credentials of devices whose changes this phone holds
-- or relays, met directly or passed on by another phone, so that a change that reaches it
-- through a third phone is judged under its author's rights, and the credential goes on with it.
-- This phone's own credential, the pinned server key and the revocation list live in `meta`.
CREATE TABLE peer_credentials (
    actor      BLOB    PRIMARY KEY,
    device     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    credential BLOB    NOT NULL
) WITHOUT ROWID;
