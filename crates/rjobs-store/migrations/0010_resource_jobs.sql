-- Resource job definitions. Booleans are BIGINT 0/1 on both backends so one decoder serves both.

CREATE TABLE resource_jobs (
    id                        TEXT PRIMARY KEY,
    application_id            TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name                      TEXT{{collate_c}} NOT NULL,
    description               TEXT NOT NULL DEFAULT '',
    resource_type             TEXT NOT NULL CHECK (resource_type IN ('device', 'dataTableRow', 'experienceGroup', 'experienceUser')),
    data_table_id             TEXT,
    query_json                TEXT NOT NULL,
    default_context           TEXT NOT NULL,
    max_iteration_concurrency BIGINT NOT NULL,
    iteration_delay           BIGINT NOT NULL,
    iteration_timeout         BIGINT NOT NULL,
    retry_on_failure          BIGINT NOT NULL,
    retry_on_timeout          BIGINT NOT NULL,
    max_iteration_retries     BIGINT NOT NULL,
    retry_delay               BIGINT NOT NULL,
    creation_date             BIGINT NOT NULL,
    last_updated              BIGINT NOT NULL,
    last_execution_requested  BIGINT,
    version                   BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX resource_jobs_app_name ON resource_jobs(application_id, name);
