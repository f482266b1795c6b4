//! Persistence of cluster membership and execution leases, and the cross-node wake-up signal.
//!
//! The engine of each node decides *what* to claim (its fair share); the store makes claims
//! safe: a claim only takes executions whose lease is missing or expired, skipping rows another
//! node is claiming at the same instant (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one
//! writer, so claims are serial anyway), and bumps the lease's epoch. The epoch is the fencing
//! token that engine writes carry ([`Fence`]): a write whose (owner, epoch) no longer matches the
//! lease row is refused with [`StoreError::Fenced`] inside the same transaction and changes
//! nothing.

use async_trait::async_trait;
use rjobs_core::{Id, Timestamp};

use crate::StoreError;

/// The fencing token of an engine write: the lease the node believes it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The node.
    pub owner: String,
    /// The lease epoch it claimed.
    pub epoch: i64,
}

/// A lease on one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leased execution.
    pub execution_id: Id,
    /// The holding node.
    pub owner: String,
    /// Grows by one on every claim.
    pub epoch: i64,
    /// After this instant another node may claim it.
    pub expires_at: Timestamp,
}

impl Lease {
    /// The fence of writes made under this lease.
    pub fn fence(&self) -> Fence {
        Fence {
            owner: self.owner.clone(),
            epoch: self.epoch,
        }
    }
}

/// A node's row in the membership table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Node id.
    pub id: String,
    /// When the node started.
    pub started_at: Timestamp,
    /// Last heartbeat.
    pub heartbeat_at: Timestamp,
    /// The node counts as alive until then (set to the shutdown instant on graceful leave).
    pub expires_at: Timestamp,
    /// Attempts the node started since it started (reported with each heartbeat).
    pub dispatched: i64,
}

/// What a node needs to size its share of the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClusterLoad {
    /// Nodes alive at the instant asked (including the asking one once it has beaten).
    pub live_nodes: u64,
    /// Executions that are not final.
    pub active_executions: u64,
    /// The earliest instant a lease held by *another* node expires (when an orphan may appear).
    pub next_foreign_expiry: Option<Timestamp>,
}

/// A cross-node wake-up: a node changed something another node may have to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Executions whose owner should look at them now (an ack freed a slot, a cancel).
    Work(Vec<Id>),
    /// Unleased executions may exist (one was created, or a node handed its leases back).
    Claim,
    /// Something changed that this listener cannot name (the listener reconnected and may have
    /// missed signals): act as if everything changed.
    Everything,
}

/// Receives [`Signal`]s from every node (including this one).
#[async_trait]
pub trait SignalStream: Send {
    /// The next signal; errors are transient (the stream reconnects).
    async fn next(&mut self) -> Result<Signal, StoreError>;
}

/// Cluster membership, leases and signals.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Upserts the node's row (alive until `expires_at`) and renews every lease it holds to the
    /// same instant, in one transaction. Returns the leases it still holds.
    async fn heartbeat(&self, node: &NodeRow) -> Result<Vec<Lease>, StoreError>;
    /// Re-claims, with a new epoch, the leases a previous process with this node id still holds
    /// (called once at start, after the first heartbeat). Returns them.
    async fn adopt_leases(
        &self,
        node: &str,
        expires_at: Timestamp,
    ) -> Result<Vec<Lease>, StoreError>;
    /// Alive nodes, active executions and the next foreign lease expiry, at `now`.
    async fn cluster_load(&self, node: &str, now: Timestamp) -> Result<ClusterLoad, StoreError>;
    /// Claims up to `limit` executions that are not final and whose lease is missing or expired
    /// at `now`, oldest first; each claimed lease gets `owner = node`, `epoch + 1` and
    /// `expires_at`. With `steal` (single-node mode), leases held by other node ids count as
    /// expired.
    async fn claim_leases(
        &self,
        node: &str,
        now: Timestamp,
        expires_at: Timestamp,
        limit: u32,
        steal: bool,
    ) -> Result<Vec<Lease>, StoreError>;
    /// Hands leases back at once (they expire now; the epoch is kept, so the next claim fences
    /// this node out). With `None`, every lease of the node, and the node leaves at `now`.
    async fn release_leases(
        &self,
        node: &str,
        executions: Option<&[Id]>,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Every node row and every lease (the cluster status view).
    async fn cluster_view(&self) -> Result<(Vec<NodeRow>, Vec<Lease>), StoreError>;
    /// Sends a signal to every listening node (PostgreSQL `NOTIFY`; nothing on SQLite).
    async fn signal(&self, s: &Signal) -> Result<(), StoreError>;
    /// A stream of signals, or None where the backend has none (SQLite: single node).
    async fn listen(&self) -> Result<Option<Box<dyn SignalStream>>, StoreError>;
}

/// The channel name of the wake-up signal.
pub const CHANNEL: &str = "rjobs_wake";

/// Most execution ids carried by one [`Signal::Work`] (a `NOTIFY` payload is under 8,000 bytes);
/// beyond that the signal becomes [`Signal::Everything`].
pub const MAX_SIGNAL_IDS: usize = 200;

impl Signal {
    /// The `NOTIFY` payload: `claim`, `*`, or `work:` and comma-separated ids.
    pub fn encode(&self) -> String {
        match self {
            Signal::Claim => "claim".into(),
            Signal::Everything => "*".into(),
            Signal::Work(ids) if ids.len() > MAX_SIGNAL_IDS => "*".into(),
            Signal::Work(ids) => {
                let ids: Vec<&str> = ids.iter().map(Id::as_str).collect();
                format!("work:{}", ids.join(","))
            }
        }
    }

    /// Parses a payload; anything unrecognised is [`Signal::Everything`] (waking too much is
    /// safe, missing a wake-up only costs latency until the next poll).
    pub fn decode(payload: &str) -> Signal {
        match payload {
            "claim" => Signal::Claim,
            p => match p.strip_prefix("work:") {
                Some(list) => list
                    .split(',')
                    .map(Id::parse)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Signal::Work)
                    .unwrap_or(Signal::Everything),
                None => Signal::Everything,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_round_trip() {
        let a = Id::parse("5f0c6a0e9b1e8a0001a1b2c3").unwrap();
        let b = Id::parse("5f0c6a0e9b1e8a0001a1b2c4").unwrap();
        for s in [
            Signal::Claim,
            Signal::Everything,
            Signal::Work(vec![a.clone()]),
            Signal::Work(vec![a.clone(), b.clone()]),
        ] {
            assert_eq!(Signal::decode(&s.encode()), s);
        }
        let many = Signal::Work(vec![a; MAX_SIGNAL_IDS + 1]);
        assert_eq!(many.encode(), "*");
        assert!(many.encode().len() < 8000);
        assert_eq!(Signal::decode("work:nothex"), Signal::Everything);
        assert_eq!(Signal::decode(""), Signal::Everything);
        let full = Signal::Work(vec![b; MAX_SIGNAL_IDS]);
        assert!(full.encode().len() < 8000, "payload fits NOTIFY");
    }
}
