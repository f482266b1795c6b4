-- Execution counters and worker claims. Every iteration transition adjusts its execution's
-- counters in the same transaction (the group commit), so reading a summary is one row, not a
-- GROUP BY over the target set, and the counters always equal the records. `claimed_attempt` is
-- the last attempt handed to an external worker by `iterations/claim`: each attempt once.

ALTER TABLE executions ADD COLUMN n_succeeded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN n_failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN n_timed_out BIGINT NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN n_in_progress BIGINT NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN n_remaining BIGINT NOT NULL DEFAULT 0;

UPDATE executions SET
    n_succeeded = (SELECT COUNT(*) FROM iterations i WHERE i.execution_id = executions.id AND i.state = 'succeeded'),
    n_failed = (SELECT COUNT(*) FROM iterations i WHERE i.execution_id = executions.id AND i.state = 'failed'),
    n_timed_out = (SELECT COUNT(*) FROM iterations i WHERE i.execution_id = executions.id AND i.state = 'timedOut'),
    n_in_progress = (SELECT COUNT(*) FROM iterations i WHERE i.execution_id = executions.id AND i.state IN ('inProgress', 'retrying')),
    n_remaining = (SELECT COUNT(*) FROM iterations i WHERE i.execution_id = executions.id AND i.state IN ('pending', 'notStarted'));

ALTER TABLE iterations ADD COLUMN claimed_attempt BIGINT NOT NULL DEFAULT 0;
-- Claims find their rows through iterations_state (execution_id, state, seq).
