-- Timer triggers. One row per (flow, timer key): the latest instant a node claimed. A claim is an
-- upsert that only moves the instant forward (`... DO UPDATE ... WHERE instant < new`), so of
-- all the nodes that compute the same instant exactly one claims it, and an instant at or before
-- the stored one can never be claimed again: each instant fires once across a cluster. The row is
-- the whole history the scheduler needs; it is pruned when a save removes its timer, and goes with
-- its flow.

CREATE TABLE timer_fires (
    flow_id         TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    trigger_key     TEXT NOT NULL,
    instant         BIGINT NOT NULL,
    node_id         TEXT NOT NULL,
    claimed_at      BIGINT NOT NULL,
    PRIMARY KEY (flow_id, trigger_key)
);

-- Every node lists the timer flows on each pass.
CREATE INDEX flow_triggers_type ON flow_triggers(trigger_type, flow_id);
