-- Schema version 5: the server lets the readers of this device's records read a photo only once
-- this device proved it holds the bytes (docs/blobs.md, "Who may do what"). Before, a server
-- answered "complete" at once to any device that named a photo another device had uploaded, and
-- this store marked such a photo 'uploaded' though this device proved nothing. Every photo marked
-- 'uploaded' goes back in the upload queue, once: the queue asks its status (one request, and
-- done, when this device uploaded it itself) or answers a possession challenge (no byte of the
-- photo sent again).
UPDATE blobs SET state = 'local', received = 0 WHERE state = 'uploaded';
