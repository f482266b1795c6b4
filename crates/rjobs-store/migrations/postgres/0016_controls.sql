-- Operator controls: a job's abort thresholds and rollout rate (JSON text, validated by the
-- API), snapshotted into each execution at execute time like every other setting; why an
-- execution aborted itself; which execution a re-run re-drives; and the `paused` status.

ALTER TABLE resource_jobs ADD COLUMN abort_config TEXT;
ALTER TABLE resource_jobs ADD COLUMN rollout_config TEXT;
ALTER TABLE executions ADD COLUMN abort_config TEXT;
ALTER TABLE executions ADD COLUMN rollout_config TEXT;
ALTER TABLE executions ADD COLUMN abort_reason TEXT;
ALTER TABLE executions ADD COLUMN rerun_of TEXT;
ALTER TABLE executions DROP CONSTRAINT executions_status_check;
ALTER TABLE executions ADD CONSTRAINT executions_status_check
    CHECK (status IN ('inProgress', 'paused', 'completed', 'erroring', 'errored', 'canceling', 'canceled'));
