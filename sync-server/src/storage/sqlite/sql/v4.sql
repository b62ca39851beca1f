-- Server storage, version 4: blobs (photos), see docs/blobs.md. The bytes are files beside the
-- database (`blobs/`); these tables hold what is known of them.

-- One row per blob being uploaded or stored. `received` is the prefix held when last recorded
-- (the partial file's length is what counts after a crash); `complete` once the bytes are
-- verified against `hash` and the file is in place; `thumbnail` 1 when a thumbnail was made on
-- completion, 0 when the bytes are not an image the server reads. `uploaded_by` is the device
-- that started the upload: its quota carries the blob.
CREATE TABLE blobs (
    hash         TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    media_type   TEXT NOT NULL,
    received     INTEGER NOT NULL DEFAULT 0,
    complete     INTEGER NOT NULL DEFAULT 0,
    thumbnail    INTEGER NOT NULL DEFAULT 0,
    uploaded_by  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    completed_at INTEGER
) WITHOUT ROWID;
CREATE INDEX blobs_uploaded_by ON blobs (uploaded_by);

-- Which documents reference which blob (with the size and media type the reference gives), and
-- the device that added the reference ('' when not known): written in the same transaction as
-- the document. A device may upload a blob a reference of its own names, and read one that a
-- document it may read references.
--
-- No backfill: before this version no blob could reach a server, and a phone uploads only the
-- photos it added through its blob store (also new), whose references reach the server with
-- the changes that add them. A document written before keeps its older references unrecorded
-- until its next write, which records every reference it holds.
CREATE TABLE blob_refs (
    hash       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    doc        INTEGER NOT NULL REFERENCES docs (id),
    device     TEXT NOT NULL,
    PRIMARY KEY (hash, doc, size, device)
) WITHOUT ROWID;
CREATE INDEX blob_refs_doc ON blob_refs (doc);
