-- PostgreSQL schema, version 2: a revoked device may also be told to wipe itself (as SQLite's
-- version 16).
ALTER TABLE devices ADD COLUMN wipe BOOLEAN NOT NULL DEFAULT false;
