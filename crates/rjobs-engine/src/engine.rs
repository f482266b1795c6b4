//! The [`Engine`]: acknowledgements (execute, cancel, pause and resume are in `control.rs`),
//! and the run loop around [`Engine::tick`] (in `tick.rs`).

use std::sync::Arc;
use std::time::Duration;

use rjobs_core::engine::{accumulator_text, AckInput, IterationId};
use rjobs_core::{Clock, Id, IdGen, Timestamp};
use rjobs_store::{AckOp, AckRejected, Store, StoreError, WriteOp, WriteOutcome};
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::cluster::{ClusterConfig, Membership};
use crate::metrics::Metrics;
use crate::report::ReportSigner;
use crate::sink::TriggerSink;
use crate::view::Views;
use crate::EngineError;

/// An acknowledgement of an iteration's current attempt.
#[derive(Debug, Clone)]
pub struct AckRequest {
    /// `<executionId>-<resourceId>`.
    pub iteration_id: String,
    /// Outcome.
    pub success: bool,
    /// Message (trimmed to 256 characters).
    pub message: Option<String>,
    /// Accumulator value (serial jobs); its JSON text must fit 256 characters.
    pub accumulator: Option<Value>,
    /// Only this attempt may be acknowledged, when given (flows pass the attempt they ran for).
    pub attempt: Option<u32>,
}

/// What one [`Engine::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Attempts started.
    pub started: u64,
    /// Attempts that timed out.
    pub timed_out: u64,
    /// Iterations settled without running (deleted resource, abandoned).
    pub settled: u64,
    /// Executions that reached a final status.
    pub completed: u64,
    /// When the next tick has work (None: only an outside event can create work).
    pub next_wakeup: Option<Timestamp>,
}

/// The execution engine.
#[derive(Debug)]
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sink: Arc<dyn TriggerSink>,
    pub(crate) signer: ReportSigner,
    pub(crate) ids: IdGen,
    wake: Notify,
    /// Most starts or timer events handled per execution per tick (bounds one tick's work).
    pub(crate) batch: u32,
    pub(crate) metrics: Metrics,
    pub(crate) cluster: Membership,
    /// The view of every owned execution (see `view.rs`).
    pub(crate) views: Views,
    /// Notified whenever attempts start (long-polling worker claims wait on it).
    pub(crate) started: Notify,
    /// Parts reporting in `/health` (see `device.rs`).
    pub(crate) components: std::sync::RwLock<Vec<Arc<dyn crate::device::Component>>>,
}

impl Engine {
    /// An engine over `store`, reading time from `clock`, firing triggers into `sink`, signing
    /// report links with `signer`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn TriggerSink>,
        signer: ReportSigner,
    ) -> Self {
        let now = clock.now();
        let engine = Engine {
            store,
            clock,
            sink,
            signer,
            ids: IdGen::new(),
            wake: Notify::new(),
            batch: 500,
            metrics: Metrics::new().unwrap_or_else(|e| panic!("metric names are static: {e}")),
            cluster: Membership::new(ClusterConfig::generated(), now),
            views: Views::default(),
            started: Notify::new(),
            components: Default::default(),
        };
        engine.publish_identity();
        engine
    }

    /// The engine's metrics (the API adds HTTP figures and renders them at `/metrics`).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The report link signer.
    pub fn signer(&self) -> &ReportSigner {
        &self.signer
    }

    /// Wakes the run loop (new work may be due).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Applies an acknowledgement to the iteration's current attempt (through the group
    /// commit: it is durable when this returns `Ok`).
    pub async fn ack(
        &self,
        app: &Id,
        job: &Id,
        exec: &Id,
        req: AckRequest,
    ) -> Result<(), EngineError> {
        self.ack_many(app, Some(job), Some(exec), vec![req])
            .await
            .pop()
            .unwrap_or(Err(EngineError::Store(StoreError::Aborted)))
    }

    /// Applies acknowledgements in one commit; each gets its own outcome, in order. `job` and
    /// `exec`, when given, are what the caller named: an iteration of another job or execution
    /// is not found.
    pub async fn ack_many(
        &self,
        app: &Id,
        job: Option<&Id>,
        exec: Option<&Id>,
        reqs: Vec<AckRequest>,
    ) -> Vec<Result<(), EngineError>> {
        let now = self.clock.now();
        let mut outs: Vec<Option<Result<(), EngineError>>> = Vec::with_capacity(reqs.len());
        let mut ops = Vec::new();
        let mut slots = Vec::new();
        for req in reqs {
            let iid = match IterationId::parse(&req.iteration_id) {
                Ok(iid) if exec.is_none_or(|e| iid.execution_id() == e) => iid,
                _ => {
                    outs.push(Some(Err(EngineError::NotFound(crate::Missing::Iteration))));
                    continue;
                }
            };
            slots.push((
                outs.len(),
                req.iteration_id.clone(),
                iid.execution_id().clone(),
            ));
            outs.push(None);
            ops.push(WriteOp::Ack(AckOp {
                app: app.clone(),
                job: job.cloned(),
                exec: iid.execution_id().clone(),
                resource: iid.key().clone(),
                input: AckInput {
                    attempt: req.attempt,
                    success: req.success,
                    message: req.message,
                    accumulator: req.accumulator.as_ref().map(accumulator_text),
                    now,
                },
            }));
        }
        let results = self.store.submit(ops).await;
        for ((slot, iid, exec), r) in slots.into_iter().zip(results) {
            outs[slot] = Some(self.ack_outcome(&iid, &exec, r));
        }
        outs.into_iter()
            .map(|o| o.unwrap_or(Err(EngineError::Store(StoreError::Aborted))))
            .collect()
    }

    fn ack_outcome(
        &self,
        iid: &str,
        exec: &Id,
        r: Result<WriteOutcome, StoreError>,
    ) -> Result<(), EngineError> {
        match r? {
            WriteOutcome::Ack(Ok(applied)) => {
                let t = &applied.transition;
                let outcome = t.record.state.as_str();
                self.metrics
                    .iterations_finished
                    .with_label_values(&[outcome])
                    .inc();
                tracing::debug!(execution_id = %exec, iteration_id = %iid, outcome, "acknowledged");
                // An ack ends an attempt: it frees a slot (refill it now) or arms a retry.
                if t.frees_slot() || t.wake_at().is_some() {
                    self.after_change(exec, t.wake_at());
                }
                Ok(())
            }
            WriteOutcome::Ack(Err(AckRejected::ExecutionNotFound)) => {
                Err(EngineError::NotFound(crate::Missing::Execution))
            }
            WriteOutcome::Ack(Err(AckRejected::IterationNotFound)) => {
                Err(EngineError::NotFound(crate::Missing::Iteration))
            }
            WriteOutcome::Ack(Err(AckRejected::Refused(r))) => Err(EngineError::Conflict(format!(
                "iteration {iid} is not awaiting an acknowledgement: {r}"
            ))),
            WriteOutcome::Ack(Err(AckRejected::Lost)) => Err(EngineError::Conflict(format!(
                "iteration {iid} was settled concurrently"
            ))),
            WriteOutcome::Applied(_) | WriteOutcome::Logged | WriteOutcome::Claimed(_) => {
                Err(EngineError::Store(StoreError::Aborted))
            }
        }
    }

    /// Runs ticks until `shutdown`: after each, sleeps until the next due instant (at most
    /// `idle` when nothing is scheduled) or until woken.
    ///
    /// Also sends and receives the cluster's wake-up signals, and on shutdown hands every lease
    /// back before returning.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken, idle: Duration) {
        let signals = shutdown.child_token();
        let sender = tokio::spawn({
            let me = self.clone();
            let stop = signals.clone();
            async move { me.send_signals(stop).await }
        });
        let receiver = tokio::spawn({
            let me = self.clone();
            let stop = signals.clone();
            async move { me.receive_signals(stop).await }
        });
        let heart = tokio::spawn({
            let me = self.clone();
            let stop = signals.clone();
            async move { me.beat(stop).await }
        });
        // Never sleep past a heartbeat, even when `idle` is long.
        let idle = idle.min(Duration::from_millis(
            u64::try_from(self.cluster.cfg.lease_ms / 3)
                .unwrap_or(1)
                .max(1),
        ));
        self.run_ticks(&shutdown, idle).await;
        signals.cancel();
        let _ = sender.await;
        let _ = receiver.await;
        let _ = heart.await;
        if let Err(e) = self.leave().await {
            tracing::warn!(error = %e, "could not hand leases back (they will expire)");
        }
        tracing::info!("engine stopped");
    }

    async fn run_ticks(&self, shutdown: &CancellationToken, idle: Duration) {
        loop {
            let wait = match self.tick().await {
                // Heartbeats and claim passes are due on their own schedule.
                Ok(r) => match r
                    .next_wakeup
                    .into_iter()
                    .chain(self.cluster.next_due())
                    .min()
                {
                    Some(t) => {
                        let ms = t.as_millis() - self.clock.now().as_millis();
                        Duration::from_millis(ms.clamp(0, idle.as_millis() as i64) as u64)
                    }
                    None => idle,
                },
                Err(e) => {
                    tracing::error!(error = %e, "engine tick failed; retrying shortly");
                    Duration::from_millis(500)
                }
            };
            if wait.is_zero() {
                tokio::task::yield_now().await;
                if shutdown.is_cancelled() {
                    break;
                }
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.cancelled() => break,
            }
        }
    }
}
