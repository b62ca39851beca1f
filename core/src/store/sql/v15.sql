-- Store version 15: the people of every record in one table. A patrol's members, a case's
-- mediators, who acknowledged a bulletin, a visit's visitors and a deliberation's attendees had
-- five tables of the same shape, each with its index: ten of the schema's 67 objects, which
-- SQLite parses on every open of the store (about 4 µs an object on a 2-core machine).
-- `role` says which of them a row is; a document has one kind, so its rows have one role.
CREATE TABLE doc_users (
    role TEXT    NOT NULL,
    user TEXT    NOT NULL,
    doc  INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    PRIMARY KEY (role, user, doc)
) WITHOUT ROWID;
CREATE INDEX doc_users_by_doc ON doc_users(doc);

INSERT INTO doc_users (role, user, doc) SELECT 'patrol_member', user, doc FROM patrol_members;
INSERT INTO doc_users (role, user, doc) SELECT 'case_mediator', user, doc FROM case_mediators;
INSERT INTO doc_users (role, user, doc) SELECT 'bulletin_ack', user, doc FROM bulletin_acks;
INSERT INTO doc_users (role, user, doc) SELECT 'visit_member', user, doc FROM visit_members;
INSERT INTO doc_users (role, user, doc)
    SELECT 'deliberation_attendee', user, doc FROM deliberation_attendees;

DROP TABLE patrol_members;
DROP TABLE case_mediators;
DROP TABLE bulletin_acks;
DROP TABLE visit_members;
DROP TABLE deliberation_attendees;
