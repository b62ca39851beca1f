-- Server storage, version 3: who may read each document, without loading it. With the kind and
-- scope already stored, the creator and the people it names (a report's assignee, a patrol's
-- team, a case's mediators; one per line) decide it (core's `policy::Audience`).
ALTER TABLE docs ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE docs ADD COLUMN participants TEXT NOT NULL DEFAULT '';
