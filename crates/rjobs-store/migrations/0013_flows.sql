-- Workflows. The flow document is stored as the original's JSON (TEXT); its resource-job
-- triggers are also kept in `flow_triggers` so the engine finds the flows of a job by index.

CREATE TABLE flows (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name            TEXT{{collate_c}} NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    enabled         BIGINT NOT NULL,
    body            TEXT NOT NULL,
    creation_date   BIGINT NOT NULL,
    last_updated    BIGINT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX flows_app_name ON flows(application_id, name);

CREATE TABLE flow_triggers (
    flow_id         TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    application_id  TEXT NOT NULL,
    trigger_type    TEXT NOT NULL,
    trigger_key     TEXT NOT NULL
);
CREATE INDEX flow_triggers_key ON flow_triggers(application_id, trigger_key, trigger_type);
CREATE INDEX flow_triggers_flow ON flow_triggers(flow_id);

CREATE TABLE flow_runs (
    id              TEXT PRIMARY KEY,
    flow_id         TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    application_id  TEXT NOT NULL,
    time            BIGINT NOT NULL,
    trigger_type    TEXT NOT NULL,
    trigger_key     TEXT NOT NULL,
    status          TEXT NOT NULL,
    error           TEXT,
    debug           TEXT NOT NULL,
    duration_ms     BIGINT NOT NULL
);
CREATE INDEX flow_runs_flow ON flow_runs(flow_id, time);
