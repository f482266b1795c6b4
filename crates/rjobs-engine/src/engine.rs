//! The [`Engine`]: execute, cancel and acknowledge (the request-driven entry points), and the
//! run loop around [`Engine::tick`] (in `tick.rs`).

use std::sync::Arc;
use std::time::Duration;

use rjobs_core::engine::{
    accumulator_text, execution_transition, AckInput, ExecutionEvent, ExecutionRefusal,
    ExecutionStatus, IterationId,
};
use rjobs_core::execution::{ExecSettings, Execution, Source};
use rjobs_core::jobs::{check_context, ResourceJob, ResourceType};
use rjobs_core::{Clock, Id, IdGen, Timestamp};
use rjobs_query::{ColumnType, TableSchema};
use rjobs_store::{AckOp, AckRejected, Store, StoreError, TargetSpec, WriteOp, WriteOutcome};
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::cluster::{ClusterConfig, Membership};
use crate::metrics::Metrics;
use crate::render::render;
use crate::report::ReportSigner;
use crate::sink::TriggerSink;
use crate::view::Views;
use crate::EngineError;

/// The execute options (`resourceJobExecutionOptions`) plus who asked.
#[derive(Debug, Clone)]
pub struct ExecuteRequest {
    /// Context JSON text; the job's `defaultContext` when absent.
    pub template_context: Option<String>,
    /// Query override (template).
    pub query_json: Option<String>,
    /// Data table override (id or template).
    pub data_table_id: Option<String>,
    /// Who asked.
    pub source: Source,
}

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
    ids: IdGen,
    wake: Notify,
    /// Most starts or timer events handled per execution per tick (bounds one tick's work).
    pub(crate) batch: u32,
    pub(crate) metrics: Metrics,
    pub(crate) cluster: Membership,
    /// The view of every owned execution (see `view.rs`).
    pub(crate) views: Views,
    /// Notified whenever attempts start (long-polling worker claims wait on it).
    pub(crate) started: Notify,
}

fn column_type(c: rjobs_core::resources::table::ColumnType) -> ColumnType {
    use rjobs_core::resources::table::ColumnType as C;
    match c {
        C::String => ColumnType::String,
        C::Number => ColumnType::Number,
        C::Boolean => ColumnType::Boolean,
    }
}

pub(crate) fn query_type(rt: ResourceType) -> rjobs_query::ResourceType {
    match rt {
        ResourceType::Device => rjobs_query::ResourceType::Device,
        ResourceType::DataTableRow => rjobs_query::ResourceType::DataTableRow,
        ResourceType::ExperienceGroup => rjobs_query::ResourceType::ExperienceGroup,
        ResourceType::ExperienceUser => rjobs_query::ResourceType::ExperienceUser,
    }
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

    /// Starts an execution of `job`: renders and validates the context, query and table, then
    /// durably creates the execution and its target set. Nothing is created on a 400.
    pub async fn execute(&self, job: &ResourceJob, req: ExecuteRequest) -> Result<Id, EngineError> {
        let (ctx_field, ctx_text) = match &req.template_context {
            Some(t) => ("templateContext", t.clone()),
            None => ("defaultContext", job.default_context.clone()),
        };
        let context = check_context(ctx_field, &ctx_text)
            .map_err(|e| EngineError::Validation(e.to_string()))?;
        let query_template = req.query_json.as_deref().unwrap_or(&job.query_json);
        let query_text =
            render("queryJson", query_template, &context).map_err(EngineError::Validation)?;
        let query_value: Value = serde_json::from_str(&query_text).map_err(|e| {
            EngineError::Validation(format!("queryJson: rendered query is not valid JSON: {e}"))
        })?;
        let app = &job.application_id;
        let (table_id, schema) = if job.resource_type == ResourceType::DataTableRow {
            let table_ref = req
                .data_table_id
                .as_deref()
                .or(job.data_table_id.as_deref())
                .ok_or_else(|| EngineError::Validation("dataTableId: is required".into()))?;
            let rendered =
                render("dataTableId", table_ref, &context).map_err(EngineError::Validation)?;
            let id = Id::parse(rendered.trim()).map_err(|_| {
                EngineError::Validation(format!(
                    "dataTableId: rendered to {rendered:?}, which is not a 24-character hexadecimal id"
                ))
            })?;
            let table = self.store.get_data_table(app, &id).await?.ok_or_else(|| {
                EngineError::Validation(format!(
                    "dataTableId: no data table {id} exists in this application"
                ))
            })?;
            let schema = TableSchema {
                columns: table
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), column_type(c.data_type)))
                    .collect(),
            };
            (Some(id), Some(schema))
        } else {
            (None, None)
        };
        let rt = query_type(job.resource_type);
        let query = rjobs_query::parse(rt, &query_value, schema.as_ref())
            .map_err(|e| EngineError::Validation(format!("queryJson: {e}")))?;
        let now = self.clock.now();
        let e = Execution {
            id: self.ids.next(now),
            application_id: app.clone(),
            resource_job_id: job.id.clone(),
            status: ExecutionStatus::InProgress,
            resource_type: job.resource_type,
            data_table_id: table_id.clone(),
            query_json: query_text,
            template_context: ctx_text,
            source: req.source,
            cancel_source: None,
            settings: ExecSettings::of(job),
            run_started_at: now,
            run_completed_at: None,
            accumulator: None,
            error_message: None,
            last_start_at: None,
            total: 0,
            version: 1,
            summary: Default::default(),
        };
        let target = TargetSpec {
            rt,
            table: table_id.as_ref(),
            query: &query,
        };
        let total = self.store.create_execution(&e, &target).await?;
        tracing::info!(execution_id = %e.id, resource_job_id = %job.id, total, "execution created");
        self.cluster.want_claim();
        self.cluster.send(rjobs_store::Signal::Claim);
        self.wake();
        Ok(e.id)
    }

    /// Marks an execution for cancellation (idempotent while canceling/canceled).
    pub async fn cancel(
        &self,
        app: &Id,
        job: &Id,
        exec: &Id,
        by: Source,
    ) -> Result<(), EngineError> {
        for _ in 0..5 {
            let e = self
                .store
                .get_execution(app, job, exec)
                .await?
                .ok_or(EngineError::NotFound("Execution"))?;
            let next = match execution_transition(e.status, &ExecutionEvent::CancelRequested) {
                Ok(s) => s,
                Err(
                    ExecutionRefusal::AlreadyFinal { status }
                    | ExecutionRefusal::AlreadyStopping { status },
                ) => {
                    return Err(EngineError::Validation(format!(
                        "executionId: the execution is already {}",
                        status.as_str()
                    )))
                }
            };
            if next == e.status {
                return Ok(());
            }
            let mut updated = e.clone();
            updated.status = next;
            updated.cancel_source = Some(by.clone());
            match self
                .store
                .update_execution(&updated, e.status, true, None)
                .await
            {
                Ok(()) => {
                    tracing::info!(execution_id = %exec, "execution canceling");
                    self.after_change(exec, None);
                    return Ok(());
                }
                Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(EngineError::Conflict(
            "the execution kept changing; retry".into(),
        ))
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
                    outs.push(Some(Err(EngineError::NotFound("Iteration"))));
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
                Err(EngineError::NotFound("Execution"))
            }
            WriteOutcome::Ack(Err(AckRejected::IterationNotFound)) => {
                Err(EngineError::NotFound("Iteration"))
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
