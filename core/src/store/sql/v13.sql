-- Signed changes (docs/peer.md, "Signed changes"): the signatures of other devices' changes
-- this phone holds, as they came with the changes (from a peer or the server), so that it can
-- pass them on with the changes: to another phone, or to the server. This phone's own changes
-- are signed as they leave, with the device key whose seed `meta` keeps (`device_key`).
CREATE TABLE change_sigs (
    hash BLOB PRIMARY KEY,
    sig  BLOB NOT NULL
) WITHOUT ROWID;
