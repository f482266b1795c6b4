-- Operator controls: a job's abort thresholds and rollout rate (JSON text, validated by the
-- API), snapshotted into each execution at execute time like every other setting; why an
-- execution aborted itself; which execution a re-run re-drives; and the `paused` status.
--
-- SQLite cannot change a CHECK constraint in place, so `executions` is rebuilt: copy, drop,
-- rename, indexes. The migration runs inside a transaction (sqlx's SQLite migrator always opens
-- one), where foreign keys cannot be switched off, so the drop cascades to the iterations and
-- leases that reference executions: they are kept aside in temporary tables first and put
-- back once the renamed table has taken the old one's place. All of it commits or none.

ALTER TABLE resource_jobs ADD COLUMN abort_config TEXT;
ALTER TABLE resource_jobs ADD COLUMN rollout_config TEXT;

CREATE TABLE executions_new (
    id                         TEXT PRIMARY KEY,
    application_id             TEXT NOT NULL,
    resource_job_id            TEXT NOT NULL REFERENCES resource_jobs(id) ON DELETE CASCADE,
    status                     TEXT NOT NULL CHECK (status IN ('inProgress', 'paused', 'completed', 'erroring', 'errored', 'canceling', 'canceled')),
    resource_type              TEXT NOT NULL,
    data_table_id              TEXT,
    query_json                 TEXT NOT NULL,
    template_context           TEXT NOT NULL,
    source_type                TEXT NOT NULL,
    source_id                  TEXT,
    cancel_source_type         TEXT,
    cancel_source_id           TEXT,
    max_iteration_concurrency  BIGINT NOT NULL,
    iteration_delay            BIGINT NOT NULL,
    iteration_timeout          BIGINT NOT NULL,
    retry_on_failure           BIGINT NOT NULL,
    retry_on_timeout           BIGINT NOT NULL,
    max_iteration_retries      BIGINT NOT NULL,
    retry_delay                BIGINT NOT NULL,
    run_started_at             BIGINT NOT NULL,
    run_completed_at           BIGINT,
    accumulator                TEXT,
    error_message              TEXT,
    last_start_at              BIGINT,
    total                      BIGINT NOT NULL DEFAULT 0,
    version                    BIGINT NOT NULL DEFAULT 1,
    n_succeeded                BIGINT NOT NULL DEFAULT 0,
    n_failed                   BIGINT NOT NULL DEFAULT 0,
    n_timed_out                BIGINT NOT NULL DEFAULT 0,
    n_in_progress              BIGINT NOT NULL DEFAULT 0,
    n_remaining                BIGINT NOT NULL DEFAULT 0,
    abort_config               TEXT,
    rollout_config             TEXT,
    abort_reason               TEXT,
    rerun_of                   TEXT
);

CREATE TEMP TABLE keep_iterations AS SELECT * FROM iterations;
CREATE TEMP TABLE keep_leases AS SELECT * FROM leases;

INSERT INTO executions_new (id, application_id, resource_job_id, status, resource_type,
    data_table_id, query_json, template_context, source_type, source_id, cancel_source_type,
    cancel_source_id, max_iteration_concurrency, iteration_delay, iteration_timeout,
    retry_on_failure, retry_on_timeout, max_iteration_retries, retry_delay, run_started_at,
    run_completed_at, accumulator, error_message, last_start_at, total, version, n_succeeded,
    n_failed, n_timed_out, n_in_progress, n_remaining)
SELECT id, application_id, resource_job_id, status, resource_type,
    data_table_id, query_json, template_context, source_type, source_id, cancel_source_type,
    cancel_source_id, max_iteration_concurrency, iteration_delay, iteration_timeout,
    retry_on_failure, retry_on_timeout, max_iteration_retries, retry_delay, run_started_at,
    run_completed_at, accumulator, error_message, last_start_at, total, version, n_succeeded,
    n_failed, n_timed_out, n_in_progress, n_remaining
FROM executions;

DROP TABLE executions;
ALTER TABLE executions_new RENAME TO executions;
CREATE INDEX executions_job ON executions(resource_job_id, run_started_at);
CREATE INDEX executions_active ON executions(status);

INSERT INTO iterations SELECT * FROM keep_iterations;
INSERT INTO leases SELECT * FROM keep_leases;
DROP TABLE keep_iterations;
DROP TABLE keep_leases;
