-- Schema version 6: the responder's inbox (Store::inbox). What a report's timeline says about
-- dispatch, supervision (督办) and overdue escalation, projected so the inbox is a query.

-- When the report was last dispatched (the latest dispatch_report event): a supervision or an
-- escalation counts for the assignee only when it came after this.
ALTER TABLE reports ADD COLUMN assigned_at INTEGER;
-- Supervision events, and the time of the latest.
ALTER TABLE reports ADD COLUMN supervisions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN supervised_at INTEGER;
-- Escalation events, and the time of the latest.
ALTER TABLE reports ADD COLUMN escalations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN escalated_at INTEGER;

-- Who an escalation named (its note: "resolve: gl-1, disp-2"), with the time of the latest
-- escalation naming them.
CREATE TABLE report_notified (
    user TEXT    NOT NULL,
    doc  INTEGER NOT NULL REFERENCES reports(doc) ON DELETE CASCADE,
    at   INTEGER NOT NULL,
    PRIMARY KEY (user, doc)
) WITHOUT ROWID;
CREATE INDEX report_notified_by_doc ON report_notified(doc);

-- Documents stored before this version get these columns from their timelines: Store::open
-- projects them once.
INSERT INTO meta (key, value) SELECT 'projection_rebuild', '1' WHERE EXISTS (SELECT 1 FROM docs);
