-- Executions and their iterations. An execution's target set is inserted once, in id order, as
-- one `iterations` row per resource (`seq` = position), so dispatch pages it with an index and
-- memory never holds it. Every iteration write is a compare-and-set on (state, attempt).

CREATE TABLE executions (
    id                         TEXT PRIMARY KEY,
    application_id             TEXT NOT NULL,
    resource_job_id            TEXT NOT NULL REFERENCES resource_jobs(id) ON DELETE CASCADE,
    status                     TEXT NOT NULL CHECK (status IN ('inProgress', 'completed', 'erroring', 'errored', 'canceling', 'canceled')),
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
    version                    BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX executions_job ON executions(resource_job_id, run_started_at);
CREATE INDEX executions_active ON executions(status);

CREATE TABLE iterations (
    execution_id    TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    resource_id     TEXT NOT NULL,
    resource_name   TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'inProgress', 'retrying', 'succeeded', 'failed', 'timedOut', 'notStarted')),
    attempt         BIGINT NOT NULL DEFAULT 0,
    started_at      BIGINT,
    deadline        BIGINT,
    retry_at        BIGINT,
    completed_at    BIGINT,
    message         TEXT,
    accumulator     TEXT,
    PRIMARY KEY (execution_id, seq)
);
CREATE INDEX iterations_state ON iterations(execution_id, state, seq);
CREATE INDEX iterations_resource ON iterations(execution_id, resource_id);
CREATE INDEX iterations_deadline ON iterations(execution_id, deadline) WHERE state = 'inProgress';
CREATE INDEX iterations_retry ON iterations(execution_id, retry_at) WHERE state = 'retrying';

-- Server-wide secrets (the report-link HMAC key), shared by every node of a cluster.
CREATE TABLE server_secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
