//! The phone API of fieldsync (uniffi façade over fieldsync-core); filled by the phone-API issue.
