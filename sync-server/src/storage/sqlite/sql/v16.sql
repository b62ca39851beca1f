-- Server storage, version 16: a revoked device may also be told to wipe itself.
--
-- Set with the revocation (`device revoke <id> --wipe`); at its next contact the phone gets
-- `device_revoked` with `wipe: true` and erases its store and files (docs/protocol.md).
ALTER TABLE devices ADD COLUMN wipe INTEGER NOT NULL DEFAULT 0;
