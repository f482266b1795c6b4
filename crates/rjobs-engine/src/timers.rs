//! The timer scheduler: fires the timer triggers of every enabled flow, on every node.
//!
//! Each pass ([`TimerScheduler::tick`]) reads the enabled timer flows, and for each timer asks
//! the pure [`rjobs_flow::timer::next_fire`] whether an instant is due. A due instant is claimed
//! in the store ([`rjobs_store::TimerStore::claim_timer_instant`]) and only the node whose claim
//! wins fires it, so each instant fires once across a cluster however many nodes run the same
//! pass. What counts as already handled is the latest of the timer's last claimed instant and
//! the flow's last save (instants before a save are not "missed": a new, re-enabled or
//! rescheduled timer starts from its save). After all nodes were down, the first pass fires the
//! latest missed instant once and then the timer continues on schedule.
//!
//! The flows are re-read at least every [`REFRESH_MS`], so an edit, a disable or a delete takes
//! effect within a second. A flow whose stored document no longer parses is skipped with a log
//! line; nothing a flow contains can stop the scheduler. A node that crashes between winning a
//! claim and running the flow loses that firing (at most once, never twice).
//!
//! All time comes from the injected [`Clock`]: tests drive `tick` on a manual clock, and
//! [`TimerScheduler::run`] sleeps until the earliest wake-up the timers ask for.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rjobs_core::{Clock, Id, Timestamp};
use rjobs_flow::timer::{next_fire, timers_of};
use rjobs_flow::FlowDef;
use rjobs_store::{FlowRecord, Store, TimerFire};
use tokio_util::sync::CancellationToken;

use crate::EngineError;

/// The longest the scheduler waits before re-reading the flows.
pub const REFRESH_MS: i64 = 1_000;

/// One timer instant to run: the flow, which of its triggers, and the instant.
#[derive(Debug, Clone)]
pub struct TimerFiring {
    /// The flow record.
    pub flow: FlowRecord,
    /// Its parsed document.
    pub def: Arc<FlowDef>,
    /// The timer's index in `def.triggers`.
    pub trigger_index: usize,
    /// The timer's key (the payload's `triggerId`).
    pub key: String,
    /// The instant that fired (the payload's `time`).
    pub instant: Timestamp,
}

/// Runs timer firings (the flow sink in the server, a recorder in tests).
#[async_trait]
pub trait TimerTarget: Send + Sync + std::fmt::Debug + 'static {
    /// Runs one firing. Must not block: a slow flow runs in its own task.
    async fn fire_timer(&self, f: TimerFiring);
}

/// Keeps every firing, for tests.
#[derive(Debug, Default)]
pub struct RecordingTimers(Mutex<Vec<TimerFiring>>);

impl RecordingTimers {
    /// Takes the firings recorded so far.
    pub fn take(&self) -> Vec<TimerFiring> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

#[async_trait]
impl TimerTarget for RecordingTimers {
    async fn fire_timer(&self, f: TimerFiring) {
        if let Ok(mut v) = self.0.lock() {
            v.push(f);
        }
    }
}

/// (flow, timer key).
type TimerId = (Id, String);

/// Fires timer triggers; one per node.
#[derive(Debug)]
pub struct TimerScheduler {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    target: Arc<dyn TimerTarget>,
    node_id: String,
    /// The latest instant known to be claimed (by any node), per timer.
    claimed: Mutex<HashMap<TimerId, i64>>,
}

impl TimerScheduler {
    /// A scheduler for node `node_id` that hands firings to `target`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        target: Arc<dyn TimerTarget>,
        node_id: impl Into<String>,
    ) -> Self {
        TimerScheduler {
            store,
            clock,
            target,
            node_id: node_id.into(),
            claimed: Mutex::new(HashMap::new()),
        }
    }

    fn known(&self, id: &TimerId) -> Option<i64> {
        self.claimed.lock().ok()?.get(id).copied()
    }

    fn remember(&self, id: TimerId, instant: i64) {
        if let Ok(mut m) = self.claimed.lock() {
            let e = m.entry(id).or_insert(instant);
            *e = (*e).max(instant);
        }
    }

    /// One pass over every timer: fires what is due; returns when to pass again.
    pub async fn tick(&self) -> Result<Timestamp, EngineError> {
        let now = self.clock.now().as_millis();
        let mut wake = now + REFRESH_MS;
        let mut live: HashSet<TimerId> = HashSet::new();
        for rec in self.store.timer_flows().await? {
            let def = match rjobs_flow::parse_flow(&rec.body) {
                Ok(d) => Arc::new(d),
                Err(e) => {
                    tracing::warn!(flow_id = %rec.id, error = %e, "timer flow does not parse; skipped");
                    continue;
                }
            };
            let timers = timers_of(&def);
            let ids: Vec<TimerId> = timers
                .iter()
                .map(|(_, k, _)| (rec.id.clone(), k.to_string()))
                .collect();
            if ids.iter().any(|id| self.known(id).is_none()) {
                for f in self.store.timer_fires_of(&rec.id).await? {
                    self.remember((f.flow_id, f.trigger_key), f.instant.as_millis());
                }
                // Never claimed: the flow's last save is the floor (read once, not every pass).
                for id in &ids {
                    self.remember(id.clone(), i64::MIN);
                }
            }
            for ((index, key, schedule), id) in timers.iter().zip(ids) {
                let floor = rec.last_updated.as_millis();
                let last = self.known(&id).map_or(floor, |c| c.max(floor));
                let d = next_fire(schedule, Some(last), now);
                wake = wake.min(d.next_wake);
                live.insert(id.clone());
                let Some(instant) = d.fire else {
                    continue;
                };
                let claim = TimerFire {
                    flow_id: rec.id.clone(),
                    trigger_key: key.to_string(),
                    instant: Timestamp::from_millis(instant),
                    node_id: self.node_id.clone(),
                    claimed_at: Timestamp::from_millis(now),
                };
                match self.store.claim_timer_instant(&claim).await {
                    Ok(won) => {
                        self.remember(id, instant);
                        if won {
                            self.target
                                .fire_timer(TimerFiring {
                                    flow: rec.clone(),
                                    def: def.clone(),
                                    trigger_index: *index,
                                    key: key.to_string(),
                                    instant: claim.instant,
                                })
                                .await;
                        }
                    }
                    Err(e) => {
                        tracing::error!(flow_id = %rec.id, error = %e, "cannot claim a timer instant");
                        wake = wake.min(now + 500);
                    }
                }
            }
        }
        // Timers of deleted, disabled or edited flows are forgotten.
        if let Ok(mut m) = self.claimed.lock() {
            m.retain(|id, _| live.contains(id));
        }
        Ok(Timestamp::from_millis(wake))
    }

    /// Passes until `shutdown`, sleeping until the next wake-up (at most [`REFRESH_MS`]).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let wait = match self.tick().await {
                Ok(t) => {
                    let ms = t.as_millis() - self.clock.now().as_millis();
                    Duration::from_millis(ms.clamp(1, REFRESH_MS) as u64)
                }
                Err(e) => {
                    tracing::error!(error = %e, "timer pass failed; retrying shortly");
                    Duration::from_millis(500)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::info!("timer scheduler stopped");
    }
}
