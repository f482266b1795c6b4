-- Cluster mode. Every node announces itself in `nodes` with a heartbeat; every execution that is
-- not final is leased to at most one node (`leases`), which alone dispatches it and watches its
-- deadlines. A lease is renewed with the node's heartbeat and may be claimed by another node once
-- `expires_at` has passed. `epoch` grows by one on every claim and is the fencing token: every
-- engine write of an execution checks (owner, epoch) in its own transaction, so a node that was
-- paused past its lease cannot apply a stale decision. Times are milliseconds from the nodes'
-- clocks (SQL never reads the database's clock).

CREATE TABLE nodes (
    id            TEXT PRIMARY KEY,
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    dispatched    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE leases (
    execution_id  TEXT PRIMARY KEY REFERENCES executions(id) ON DELETE CASCADE,
    owner         TEXT NOT NULL,
    epoch         BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX leases_owner ON leases(owner);
