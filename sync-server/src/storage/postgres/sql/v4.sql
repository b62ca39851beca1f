-- PostgreSQL schema, version 4: the log is numbered under a short lock released before the
-- commit, and readers stop at a watermark (docs/storage-postgres.md, "The log's order").
--
-- Seqs and document positions come from two sequences. `log_number` gives a transaction its
-- numbers, and its transaction id, under one advisory lock, so that ids and numbers are given
-- in the same order; it records them in `log_marks` (one row per numbering transaction,
-- visible once, and only if, that transaction commits). The lock is taken in a
-- subtransaction that is then rolled back: it is released before the commit, whatever
-- happens (an error or a cancellation ends the subtransaction too), and the numbers and the
-- transaction id stay (sequences and the top transaction's id are not rolled back).
--
-- A reader's end of the log (`log_visible`) is the mark of the latest numbering transaction
-- below its snapshot's xmin: every transaction below xmin has finished, and every one still
-- running was numbered after it, so every seq up to that mark is visible or never will be.
-- `log_head` keeps the mark the marks table was last pruned to.
CREATE SEQUENCE log_seq MINVALUE 0;
SELECT setval('log_seq', (SELECT seq FROM log_head), true);
CREATE SEQUENCE doc_pos MINVALUE 0;
SELECT setval('doc_pos', (SELECT docs FROM log_head), true);

CREATE TABLE log_marks (
    xid  XID8 PRIMARY KEY,
    -- The last seq and the last document position given when this transaction was numbered,
    -- and how many of each it was given (its ranges end at `seq` and `docs`).
    seq     BIGINT NOT NULL,
    docs    BIGINT NOT NULL,
    changes BIGINT NOT NULL,
    created BIGINT NOT NULL
);

-- Numbers `changes` log entries and `created` documents for the calling transaction, which
-- must not have a transaction id yet (its id is taken here, under the lock); returns the last
-- seq and the last position given (the first are `last - n + 1`). Once per transaction.
CREATE FUNCTION log_number(changes BIGINT, created BIGINT, OUT last_seq BIGINT,
                           OUT last_doc BIGINT)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    me XID8;
BEGIN
    BEGIN
        -- The key: "log", and this schema's sequence (several storages share a database).
        PERFORM pg_advisory_xact_lock(7106407,
            ('log_seq'::regclass::oid::bigint - 2147483648)::int);
        me := pg_current_xact_id();
        IF changes > 0 THEN
            last_seq := setval('log_seq', nextval('log_seq') + changes - 1);
        ELSE
            SELECT last_value INTO last_seq FROM log_seq;
        END IF;
        IF created > 0 THEN
            last_doc := setval('doc_pos', nextval('doc_pos') + created - 1);
        ELSE
            SELECT last_value INTO last_doc FROM doc_pos;
        END IF;
        RAISE SQLSTATE 'FSNUM';
    EXCEPTION WHEN SQLSTATE 'FSNUM' THEN
        -- The subtransaction is gone, and the lock with it; the variables keep their values.
        NULL;
    END;
    INSERT INTO log_marks (xid, seq, docs, changes, created)
    VALUES (me, last_seq, last_doc, changes, created);
END
$$;

-- The end of the log and of the document positions a reader's snapshot may read up to: the
-- mark below xmin (`below`), then on through the marks at or above xmin (committed after the
-- oldest transaction still running began: any transaction of the cluster holds xmin, not only
-- this log's commits) as long as their ranges follow each other without a gap. A gap is a
-- numbering transaction the snapshot does not see (in flight, or rolled back: the chain waits
-- until xmin passes it); past the first gap the numbers given and the numbers seen differ for
-- good, so the marks that close no gap are a prefix of them.
CREATE VIEW log_visible AS
WITH x AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
below AS (
    SELECT greatest(h.seq, m.seq) AS seq, greatest(h.docs, m.docs) AS docs
    FROM log_head h LEFT JOIN LATERAL (
        SELECT seq, docs FROM log_marks WHERE xid < (SELECT xmin FROM x)
        ORDER BY xid DESC LIMIT 1
    ) m ON TRUE
),
above AS (
    SELECT seq, docs,
           sum(changes) OVER w AS changes_before,
           sum(created) OVER w AS created_before
    FROM log_marks WHERE xid >= (SELECT xmin FROM x)
    WINDOW w AS (ORDER BY xid ROWS UNBOUNDED PRECEDING)
)
SELECT greatest(b.seq, max(a.seq)) AS seq, greatest(b.docs, max(a.docs)) AS docs
FROM below b LEFT JOIN above a
  ON a.seq - b.seq = a.changes_before AND a.docs - b.docs = a.created_before
GROUP BY b.seq, b.docs;
