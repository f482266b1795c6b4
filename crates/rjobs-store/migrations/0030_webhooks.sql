-- Webhooks (Standard Webhooks). `webhooks` holds the subscriptions (the signing secret is kept
-- as written: the server needs it to sign); `webhook_events` lists each webhook's event types
-- with its application, so the outbox insert is one indexed join that finds nothing (and costs
-- an index probe) when an application has no webhooks.
--
-- `webhook_outbox` is the durable outbox: a row per (event, webhook), inserted in the same
-- transaction as the status or iteration change that caused it, with a snapshot of what the
-- event reports. Deliveries are claimed with a lease (`lease_owner`, `lease_until`: times
-- bound from the server's clock, never SQL now()), so any node may deliver and a crashed
-- node's claims expire. Delivered rows are deleted; rows whose schedule ran out stay `failed`.
-- `webhook_attempts` records recent attempts for `GET …/deliveries` (pruned per webhook).

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    events          TEXT NOT NULL,
    enabled         BIGINT NOT NULL,
    creation_date   BIGINT NOT NULL,
    last_updated    BIGINT NOT NULL,
    version         BIGINT NOT NULL
);
CREATE INDEX webhooks_app ON webhooks(application_id, id);

CREATE TABLE webhook_events (
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    application_id  TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    PRIMARY KEY (webhook_id, event_type)
);
CREATE INDEX webhook_events_app ON webhook_events(application_id, event_type);

CREATE TABLE webhook_outbox (
    event_id        TEXT NOT NULL,
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    application_id  TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    event_at        BIGINT,
    execution_id    TEXT NOT NULL,
    resource_job_id TEXT NOT NULL,
    status          TEXT NOT NULL,
    iteration_seq   BIGINT,
    resource_id     TEXT,
    resource_name   TEXT,
    attempt         BIGINT,
    message         TEXT,
    n_succeeded     BIGINT NOT NULL,
    n_failed        BIGINT NOT NULL,
    n_timed_out     BIGINT NOT NULL,
    n_in_progress   BIGINT NOT NULL,
    n_remaining     BIGINT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    last_error      TEXT,
    PRIMARY KEY (event_id, webhook_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_lease ON webhook_outbox(lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE webhook_attempts (
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    status_code     BIGINT,
    error           TEXT,
    at              BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    PRIMARY KEY (webhook_id, event_id, attempt)
);
CREATE INDEX webhook_attempts_recent ON webhook_attempts(webhook_id, at);
