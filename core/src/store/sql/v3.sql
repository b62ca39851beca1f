-- Schema version 3: blobs (photos), as docs/blobs.md describes. The bytes are files beside the
-- database (<store>.blobs/ab/<hash>); these tables hold what is known of them.

-- One row per blob this store knows of. state: 'local' (added on this phone, to upload),
-- 'uploaded' (the server holds it whole), 'remote' (named by a record; the bytes are not here)
-- or 'downloaded' (fetched and verified). received: for 'local', the bytes the server was last
-- known to hold; for 'remote', the bytes of a partial download. An upload the server refused
-- for good (too large, over quota) keeps its refusal until Store::retry_photo_upload.
CREATE TABLE blobs (
    hash            TEXT    PRIMARY KEY CHECK (length(hash) = 64),
    size            INTEGER NOT NULL CHECK (size > 0),
    media_type      TEXT    NOT NULL,
    state           TEXT    NOT NULL
                    CHECK (state IN ('local', 'uploaded', 'remote', 'downloaded')),
    received        INTEGER NOT NULL DEFAULT 0,
    added_at        INTEGER NOT NULL,
    refused_code    TEXT,
    refused_message TEXT
) WITHOUT ROWID;
CREATE INDEX blobs_to_upload ON blobs(added_at) WHERE state = 'local';
CREATE INDEX blobs_to_download ON blobs(size) WHERE state = 'remote';

-- Which documents reference a blob: a projection of the documents' photo lists, written with
-- the document.
CREATE TABLE blob_refs (
    hash TEXT    NOT NULL REFERENCES blobs(hash),
    doc  INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    PRIMARY KEY (hash, doc)
) WITHOUT ROWID;
CREATE INDEX blob_refs_by_doc ON blob_refs(doc);

-- Documents stored before this version may reference photos: Store::open projects them once.
INSERT INTO meta (key, value) SELECT 'blob_refs_rebuild', '1' WHERE EXISTS (SELECT 1 FROM docs);
