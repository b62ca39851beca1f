//! fieldsync sync server.
