-- Server storage, version 5: every device uploads a blob on its own (docs/blobs.md, "Server
-- storage"). Before, one partial upload per blob was shared by every device that referenced it,
-- so a device could block the rightful upload (a wrong size under way) or spoil it (wrong bytes
-- in the shared prefix: the whole upload failed its hash at the end).
--
-- `blob_uploads`: one row per upload under way, per blob and device; its bytes are the file
-- `<data>/blobs/partial/<hash>.<id>`. `received` is the prefix held when last recorded (after a
-- crash the file's length counts). The first upload of a blob to verify makes the `blobs` row;
-- the other devices' uploads of it are then dropped.
CREATE TABLE blob_uploads (
    id         INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL,
    device     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    received   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (hash, device)
);
CREATE INDEX blob_uploads_device ON blob_uploads (device);

-- Uploads under way move over (their files, `partial/<hash>`, are renamed when the blob store
-- opens); `blobs` keeps the complete blobs only.
INSERT INTO blob_uploads (hash, device, size, media_type, received, created_at)
    SELECT hash, uploaded_by, size, media_type, received, created_at FROM blobs WHERE complete = 0;
DELETE FROM blobs WHERE complete = 0;

-- 1 while the thumbnail of a complete blob is still to be made: it is made after the last range
-- of the upload has been answered (the uploader does not wait ~0.2 s of CPU per photo, nor for
-- the thumbnails of others' uploads ahead of it), or at the first request for it.
ALTER TABLE blobs ADD COLUMN thumbnail_pending INTEGER NOT NULL DEFAULT 0;
