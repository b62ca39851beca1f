-- Server storage, version 7: one spelling. The protocol says `enroll` (`POST /v1/enroll`,
-- `EnrollRequest`, `fieldsync-server enroll-code`); the table of enrollment codes now does too.
ALTER TABLE enrol_codes RENAME TO enroll_codes;
