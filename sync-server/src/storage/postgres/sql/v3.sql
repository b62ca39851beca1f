-- PostgreSQL schema, version 3: device keys and change signatures (as SQLite's version 17).
ALTER TABLE devices ADD COLUMN device_key BYTEA;
ALTER TABLE log ADD COLUMN sig BYTEA;
