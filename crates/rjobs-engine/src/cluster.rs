//! Cluster mode: which node dispatches which execution.
//!
//! Every execution that is not final is *leased* to one node, which alone starts its
//! iterations, watches its deadlines and retries, and completes it. Nodes share nothing but the
//! database:
//!
//! - **Heartbeat.** Every `lease_ms / 3` a node renews its membership row and all its leases to
//!   `now + lease_ms` in one transaction (from a task of its own, so a slow tick cannot let the
//!   leases lapse; tests on a manual clock get it from `tick`); a lease missing from the renewal was taken (it is
//!   dropped locally and counted as `lost`).
//! - **Fair share.** A node holds at most `ceil(active executions / live nodes)` leases: it
//!   claims unleased or expired ones up to that share and hands back any excess, so executions
//!   spread over nodes and a new node gets work without a coordinator. Within a node every owned
//!   execution gets its own slots each tick, so a large execution never starves a small one.
//! - **Takeover.** A node that dies stops renewing; its leases expire at most `lease_ms` after
//!   its last heartbeat, and every other node schedules a claim pass for the earliest foreign
//!   expiry it knows, so the takeover happens at expiry, not a heartbeat later.
//! - **Fencing.** Each claim bumps the lease's epoch; every dispatch write carries the
//!   (owner, epoch) it was decided under and the store refuses it inside the same transaction if
//!   the lease moved ([`StoreError::Fenced`]). A node paused past its lease (GC, SIGSTOP, a
//!   stalled VM) therefore cannot apply a decision made before the pause.
//! - **Acknowledgements** are accepted by any node: their compare-and-set on (state, attempt) is
//!   their guard, so an ack for an attempt started by another node is applied exactly once.
//! - **Wake-ups.** A node that changes something another node must act on (created an
//!   execution, acked an iteration it does not own, handed leases back) sends a debounced
//!   [`Signal`] (PostgreSQL `NOTIFY`); nodes also poll, so a lost signal costs latency only.
//! - **Graceful shutdown** hands every lease back at once and signals the others to claim.
//!
//! SQLite is single-node: the node takes over leases held by any other node id at once (the
//! previous process on the file is assumed dead), and there are no signals.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rjobs_core::{Id, Timestamp};
use rjobs_store::{Backend, Fence, Lease, NodeRow, Signal, StoreError};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::EngineError;

/// Node identity and lease time.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Unique per running process; stable across restarts of the same node lets a restarted
    /// node re-adopt its leases at once.
    pub node_id: String,
    /// Lease time in milliseconds (renewed every third of it).
    pub lease_ms: i64,
}

impl ClusterConfig {
    /// A random node id and the default lease time (10 s).
    pub fn generated() -> Self {
        ClusterConfig {
            node_id: format!("node-{:08x}", rand::random::<u32>()),
            lease_ms: 10_000,
        }
    }
}

#[derive(Debug, Default)]
struct LeaseState {
    owned: HashMap<Id, Lease>,
    next_beat: Option<Timestamp>,
    next_claim: Option<Timestamp>,
    adopted: bool,
}

/// This node's membership: its leases and outgoing signals.
#[derive(Debug)]
pub(crate) struct Membership {
    pub(crate) cfg: ClusterConfig,
    started_at: Timestamp,
    state: Mutex<LeaseState>,
    claim_wanted: AtomicBool,
    pub(crate) dispatched: AtomicI64,
    pub(crate) outbox: Mutex<(bool, HashSet<Id>)>,
    pub(crate) outbox_ready: Notify,
    /// Serialises lease maintenance between the tick and the heartbeat task.
    maintaining: tokio::sync::Mutex<()>,
}

/// How long outgoing signals are gathered before one `NOTIFY` carries them all.
pub(crate) const SIGNAL_DEBOUNCE: Duration = Duration::from_millis(2);

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Most leases a node should hold: its fair share of the active executions.
pub fn fair_share(active: u64, live_nodes: u64) -> u64 {
    active.div_ceil(live_nodes.max(1))
}

impl Membership {
    pub(crate) fn new(cfg: ClusterConfig, started_at: Timestamp) -> Self {
        Membership {
            cfg,
            started_at,
            state: Mutex::new(LeaseState::default()),
            claim_wanted: AtomicBool::new(true),
            dispatched: AtomicI64::new(0),
            outbox: Mutex::new((false, HashSet::new())),
            outbox_ready: Notify::new(),
            maintaining: tokio::sync::Mutex::new(()),
        }
    }

    /// The fence of an owned execution.
    pub(crate) fn fence(&self, exec: &Id) -> Option<Fence> {
        lock(&self.state).owned.get(exec).map(Lease::fence)
    }

    pub(crate) fn owns(&self, exec: &Id) -> bool {
        lock(&self.state).owned.contains_key(exec)
    }

    /// Forgets a lease (the execution finished, vanished, or a write was fenced).
    pub(crate) fn drop_lease(&self, exec: &Id) {
        lock(&self.state).owned.remove(exec);
    }

    /// The executions this node holds leases of.
    pub(crate) fn owned_ids(&self) -> Vec<Id> {
        lock(&self.state).owned.keys().cloned().collect()
    }

    pub(crate) fn want_claim(&self) {
        self.claim_wanted.store(true, Ordering::SeqCst);
    }

    /// When the next heartbeat or claim pass is due.
    pub(crate) fn next_due(&self) -> Option<Timestamp> {
        let s = lock(&self.state);
        match (s.next_beat, s.next_claim) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Queues a signal for the other nodes.
    pub(crate) fn send(&self, s: Signal) {
        {
            let mut o = lock(&self.outbox);
            match s {
                Signal::Claim => o.0 = true,
                Signal::Work(ids) => o.1.extend(ids),
                Signal::Everything => o.0 = true,
            }
        }
        self.outbox_ready.notify_one();
    }
}

impl Engine {
    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.cluster.cfg.node_id
    }

    /// Sets the node identity and lease time (before the engine runs).
    pub fn with_cluster(mut self, cfg: ClusterConfig) -> Self {
        self.cluster = Membership::new(cfg, self.clock.now());
        self.publish_identity();
        self
    }

    /// Sets `rjobs_node_info` to this node's id and mode (the only series of that metric).
    pub(crate) fn publish_identity(&self) {
        self.metrics.node_info.reset();
        self.metrics
            .node_info
            .with_label_values(&[self.node_id(), self.mode()])
            .set(1);
    }

    pub(crate) fn mode(&self) -> &'static str {
        match self.store.backend() {
            Backend::Sqlite => "single",
            Backend::Postgres => "cluster",
        }
    }

    /// Heartbeat, renewal, and claiming or handing back leases, when due. Called by each tick.
    pub(crate) async fn maintain_leases(&self, now: Timestamp) -> Result<(), EngineError> {
        let m = &self.cluster;
        let _one_at_a_time = m.maintaining.lock().await;
        let lease = m.cfg.lease_ms;
        let (beat_due, claim_due, adopted) = {
            let s = lock(&m.state);
            let beat = s.next_beat.is_none_or(|t| now >= t);
            let claim = s.next_claim.is_some_and(|t| now >= t);
            (beat, claim, s.adopted)
        };
        let claim_due = m.claim_wanted.swap(false, Ordering::SeqCst) || claim_due || beat_due;
        if beat_due {
            let me = NodeRow {
                id: m.cfg.node_id.clone(),
                started_at: m.started_at,
                heartbeat_at: now,
                expires_at: now.plus_millis(lease),
                dispatched: m.dispatched.load(Ordering::Relaxed),
            };
            let held = if adopted {
                self.store.heartbeat(&me).await?
            } else {
                // First beat of this process: leases a previous process with this node id held
                // are re-claimed with a new epoch, fencing that process out should it still run.
                self.store.heartbeat(&me).await?;
                let mine = self.store.adopt_leases(&me.id, me.expires_at).await?;
                lock(&m.state).adopted = true;
                mine
            };
            let mut s = lock(&m.state);
            let fresh: HashMap<Id, Lease> = held
                .into_iter()
                .map(|l| (l.execution_id.clone(), l))
                .collect();
            let lost = s
                .owned
                .iter()
                .filter(|(id, l)| fresh.get(*id).map(|f| f.epoch) != Some(l.epoch))
                .count();
            if lost > 0 {
                tracing::warn!(lost, "leases found taken by another node at renewal");
                self.metrics
                    .lease_events
                    .with_label_values(&["lost"])
                    .inc_by(lost as u64);
            }
            s.owned = fresh;
            s.next_beat = Some(now.plus_millis((lease / 3).max(1)));
            drop(s);
            // The periodic refresh: whatever a lost signal or a change behind the engine's
            // back hid, the views see it within a heartbeat.
            self.views.stale_all();
        }
        if claim_due {
            self.claim_share(now).await?;
        }
        self.metrics
            .leases_held
            .set(lock(&m.state).owned.len() as i64);
        Ok(())
    }

    async fn claim_share(&self, now: Timestamp) -> Result<(), EngineError> {
        let m = &self.cluster;
        let me = m.cfg.node_id.as_str();
        let single = self.store.backend() == Backend::Sqlite;
        let load = self.store.cluster_load(me, now).await?;
        let (live, share) = if single {
            (1, u64::MAX)
        } else {
            (
                load.live_nodes.max(1),
                fair_share(load.active_executions, load.live_nodes),
            )
        };
        let owned = lock(&m.state).owned.len() as u64;
        if owned < share {
            let want = u32::try_from(share - owned).unwrap_or(u32::MAX).min(1000);
            // Single node: any other holder is a previous process on this file.
            let claimed = self
                .store
                .claim_leases(me, now, now.plus_millis(m.cfg.lease_ms), want, single)
                .await?;
            if !claimed.is_empty() {
                tracing::info!(count = claimed.len(), share, live, "leases claimed");
                self.metrics
                    .lease_events
                    .with_label_values(&["claimed"])
                    .inc_by(claimed.len() as u64);
            }
            let mut s = lock(&m.state);
            for l in claimed {
                s.owned.insert(l.execution_id.clone(), l);
            }
        } else if owned > share {
            let excess: Vec<Id> = {
                let s = lock(&m.state);
                let mut ids: Vec<Id> = s.owned.keys().cloned().collect();
                ids.sort();
                ids.into_iter()
                    .rev()
                    .take((owned - share) as usize)
                    .collect()
            };
            self.store.release_leases(me, Some(&excess), now).await?;
            tracing::info!(count = excess.len(), share, live, "leases handed back");
            self.metrics
                .lease_events
                .with_label_values(&["released"])
                .inc_by(excess.len() as u64);
            let mut s = lock(&m.state);
            for id in &excess {
                s.owned.remove(id);
            }
            drop(s);
            m.send(Signal::Claim);
        }
        let mut s = lock(&m.state);
        s.next_claim = load.next_foreign_expiry;
        self.metrics.nodes_live.set(live as i64);
        Ok(())
    }

    /// Records that a write under `exec`'s lease was fenced: the lease is gone.
    pub(crate) fn fenced(&self, exec: &Id) {
        self.cluster.drop_lease(exec);
        self.cluster.want_claim();
        self.metrics
            .lease_events
            .with_label_values(&["fenced"])
            .inc();
        tracing::warn!(execution_id = %exec, "write refused: another node holds the lease now");
    }

    /// Something changed `exec` (an ack, a cancel; `timer`: a timer it armed): the owner
    /// re-reads it — this node at once, another node when the signal reaches it.
    pub(crate) fn after_change(&self, exec: &Id, timer: Option<Timestamp>) {
        if self.views.touch(exec, timer) || self.cluster.owns(exec) {
            self.wake();
        } else {
            self.cluster.send(Signal::Work(vec![exec.clone()]));
        }
    }

    /// Hands every lease back and leaves the cluster (graceful shutdown).
    pub async fn leave(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let me = self.cluster.cfg.node_id.as_str();
        self.store.release_leases(me, None, now).await?;
        let n = {
            let mut s = lock(&self.cluster.state);
            let n = s.owned.len();
            s.owned.clear();
            n
        };
        self.metrics.leases_held.set(0);
        self.store.signal(&Signal::Claim).await?;
        tracing::info!(released = n, "left the cluster: leases handed back");
        Ok(())
    }

    /// Keeps the heartbeat going on the real clock even while a tick is slow (a long tick would
    /// otherwise let the leases lapse), until `shutdown`.
    pub(crate) async fn beat(&self, shutdown: CancellationToken) {
        let every = Duration::from_millis(
            u64::try_from(self.cluster.cfg.lease_ms / 6)
                .unwrap_or(1)
                .max(1),
        );
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.cancelled() => return,
            }
            let before = lock(&self.cluster.state).owned.len();
            match self.maintain_leases(self.clock.now()).await {
                Ok(()) if lock(&self.cluster.state).owned.len() > before => self.wake(),
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "heartbeat failed; retrying"),
            }
        }
    }

    /// This node's view of the cluster: every node, every lease, and this node's figures.
    pub async fn cluster_status(&self) -> Result<Value, EngineError> {
        let now = self.clock.now();
        let (nodes, leases) = self.store.cluster_view().await?;
        let mut held: HashMap<&str, u64> = HashMap::new();
        for l in &leases {
            if l.expires_at > now {
                *held.entry(l.owner.as_str()).or_default() += 1;
            }
        }
        let nodes: Vec<Value> = nodes
            .iter()
            .map(|n| {
                json!({
                    "id": n.id,
                    "alive": n.expires_at > now,
                    "startedAt": n.started_at.to_rfc3339(),
                    "heartbeatAt": n.heartbeat_at.to_rfc3339(),
                    "expiresAt": n.expires_at.to_rfc3339(),
                    "leasesHeld": held.get(n.id.as_str()).copied().unwrap_or(0),
                    "iterationsDispatched": n.dispatched,
                })
            })
            .collect();
        let leases: Vec<Value> = leases
            .iter()
            .map(|l| {
                json!({
                    "executionId": l.execution_id.as_str(),
                    "owner": l.owner,
                    "epoch": l.epoch,
                    "expiresAt": (l.expires_at.as_millis() > 0).then(|| l.expires_at.to_rfc3339()),
                    "valid": l.expires_at > now,
                })
            })
            .collect();
        let me = &self.cluster;
        Ok(json!({
            "nodeId": me.cfg.node_id,
            "mode": self.mode(),
            "leaseMs": me.cfg.lease_ms,
            "leasesHeld": lock(&me.state).owned.len(),
            "iterationsDispatched": me.dispatched.load(Ordering::Relaxed),
            "nodes": nodes,
            "leases": leases,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::fair_share;

    #[test]
    fn fair_share_covers_every_execution() {
        for (active, live, share) in [
            (0, 1, 0),
            (1, 1, 1),
            (1, 3, 1),
            (3, 3, 1),
            (4, 3, 2),
            (10, 3, 4),
            (5, 0, 5),
        ] {
            assert_eq!(fair_share(active, live), share, "{active}/{live}");
            // Every node at its share holds them all.
            assert!(fair_share(active, live) * live.max(1) >= active);
        }
    }
}
