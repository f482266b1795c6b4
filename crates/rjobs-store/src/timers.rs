//! Persistence of timer triggers: which instant of each timer was claimed last.
//!
//! Every node computes the same instants from a timer's schedule (`rjobs_flow::timer`) and races
//! to claim each one; [`TimerStore::claim_timer_instant`] lets exactly one win. The claim is a
//! compare-and-set that only moves forward: it succeeds if the stored instant is older than the
//! claimed one (or there is none), so a second claim of the same instant, or a late claim of an
//! older one by a node that fell behind, loses and fires nothing. One row per timer is also all
//! the history needed to fire a missed instant once after downtime; a timer's row is pruned when
//! a save removes the timer from its flow, and goes with the flow when it is deleted.

use async_trait::async_trait;
use rjobs_core::{Id, Timestamp};

use crate::flows::FlowRecord;
use crate::StoreError;

/// The last claimed instant of one timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerFire {
    /// The flow.
    pub flow_id: Id,
    /// The timer trigger's key.
    pub trigger_key: String,
    /// The claimed instant.
    pub instant: Timestamp,
    /// The node that claimed it.
    pub node_id: String,
    /// When the node claimed it (its clock).
    pub claimed_at: Timestamp,
}

/// Timer trigger persistence.
#[async_trait]
pub trait TimerStore: Send + Sync {
    /// Enabled flows (of every application) with at least one timer trigger, by id.
    async fn timer_flows(&self) -> Result<Vec<FlowRecord>, StoreError>;
    /// The last claimed instant of each timer of `flow`.
    async fn timer_fires_of(&self, flow: &Id) -> Result<Vec<TimerFire>, StoreError>;
    /// Claims `f.instant` for its timer: true if this call won (the caller fires it), false if
    /// that instant or a later one was already claimed, or the flow is gone.
    async fn claim_timer_instant(&self, f: &TimerFire) -> Result<bool, StoreError>;
}
