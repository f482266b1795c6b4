-- The finish order of iterations, for the execution event stream's `iteration` events.
--
-- `finish_seq` is the execution's finished count (n_succeeded + n_failed + n_timed_out) right
-- after the transaction that gave the iteration its final outcome; the group commit stamps it
-- in that transaction. The count strictly grows with every such transaction, and transactions
-- that finish iterations of one execution serialise on its counter row, so a reader that pages
-- by (finish_seq, seq) never sees a later page's row appear behind its cursor. Iterations that
-- finished before this migration get 0 (their order among themselves is the target order).

ALTER TABLE iterations ADD COLUMN finish_seq BIGINT;

UPDATE iterations SET finish_seq = 0 WHERE state IN ('succeeded', 'failed', 'timedOut');

-- Keyset paging of one execution's finished iterations.
CREATE INDEX iterations_finish_order ON iterations (execution_id, finish_seq, seq)
    WHERE finish_seq IS NOT NULL;

-- The rows a commit has yet to stamp: only those it just finished, so the stamp is cheap.
CREATE INDEX iterations_unstamped ON iterations (execution_id)
    WHERE finish_seq IS NULL AND state IN ('succeeded', 'failed', 'timedOut');
