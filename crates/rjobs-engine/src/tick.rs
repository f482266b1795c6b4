//! One step of the engine: for each owned execution that is dirty, stale or due (see
//! `view.rs`), ask the planner (`rjobs_core::engine::planner`) what to do — process due timers,
//! start pending iterations, finish — do it through the group commit, and ask again.

use rjobs_core::engine::planner::{plan, Step};
use rjobs_core::engine::{
    transition, AttemptInfo, ExecMode, ExecutionStatus, IterationEvent, IterationState,
    SummaryDelta, Transition,
};
use rjobs_core::execution::{Execution, IterationRow};
use rjobs_core::jobs::ResourceType;
use rjobs_core::{Id, Timestamp};
use rjobs_store::{ExecWrite, Fence, IterationWrite, StoreError};
use serde_json::{json, Value};

use crate::engine::{Engine, TickReport};
use crate::sink::{TriggerEvent, TriggerKind};
use crate::view::View;
use crate::{payload, EngineError};

/// Plan-and-act rounds per execution per tick (a round is bounded by `Engine::batch`).
const ROUNDS: usize = 4;

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn write_of(row: &IterationRow, t: &Transition) -> IterationWrite {
    IterationWrite {
        seq: row.seq,
        expected_state: t.expected_state,
        expected_attempt: t.expected_attempt,
        record: t.record.clone(),
    }
}

/// What a step learned that the view must reflect.
pub(crate) enum Outcome {
    /// Keep stepping later.
    Keep(Box<View>),
    /// The execution is final or gone: forget it.
    Done,
}

impl Engine {
    /// One step over the owned executions that need one. Errors of one execution are logged
    /// and do not stop the others.
    pub async fn tick(&self) -> Result<TickReport, EngineError> {
        #[allow(clippy::disallowed_methods)] // latency measurement only
        let began = std::time::Instant::now();
        let r = self.tick_all().await;
        self.metrics.store_op("tick", began.elapsed().as_secs_f64());
        r
    }

    async fn tick_all(&self) -> Result<TickReport, EngineError> {
        let now = self.clock.now();
        let mut report = TickReport::default();
        self.maintain_leases(now).await?;
        self.views.sync(&self.cluster.owned_ids());
        for id in self.views.due(now) {
            // Only the lease holder dispatches an execution.
            let Some(fence) = self.cluster.fence(&id) else {
                self.views.remove(&id);
                continue;
            };
            let span = tracing::info_span!("execution", execution_id = %id);
            let step = tracing::Instrument::instrument(
                self.step_execution(&id, &fence, now, &mut report),
                span,
            );
            match step.await {
                Ok(Outcome::Keep(v)) => self.views.put(*v),
                Ok(Outcome::Done) => {
                    self.views.remove(&id);
                    self.cluster.drop_lease(&id);
                }
                Err(EngineError::Store(StoreError::Fenced)) => {
                    self.views.remove(&id);
                    self.fenced(&id);
                }
                Err(err) => {
                    tracing::error!(execution_id = %id, error = %err, "execution step failed");
                    // Reload everything at the next try, a second from now.
                    self.views.retry_at(&id, now.plus_millis(1000));
                }
            }
        }
        let next = self.views.next_wake(now);
        report.next_wakeup = earliest(report.next_wakeup, next);
        Ok(report)
    }

    async fn step_execution(
        &self,
        id: &Id,
        fence: &Fence,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<Outcome, EngineError> {
        let Some(taken) = self.views.take(id) else {
            return Ok(Outcome::Done);
        };
        let mut view = match (taken.view, taken.reload) {
            (Some(v), false) => v,
            (old, true) => {
                let Some(exec) = self.store.load_execution(id).await? else {
                    return Ok(Outcome::Done);
                };
                View {
                    exec,
                    next_timer: old.as_ref().and_then(|v| v.next_timer),
                    wake_at: None,
                }
            }
            (None, false) => return Ok(Outcome::Done),
        };
        if view.exec.status.is_final() {
            return Ok(Outcome::Done);
        }
        if taken.timers {
            view.next_timer = self.store.next_timer(id, view.retries()).await?;
        }
        let mut step = plan(&view.planner_view(), now);
        for _ in 0..ROUNDS {
            if let Some(reason) = step.abort {
                self.abort(&mut view.exec, fence, &reason).await?;
                // Drain from a fresh row (the abandon recounted it).
                view.wake_at = Some(now);
                return Ok(Outcome::Keep(Box::new(view)));
            }
            if step.finish {
                return self.finish(view.exec, fence, now, report).await;
            }
            if !self.act(&mut view, &step, fence, now, report).await? {
                // It errored: drain from a fresh row (the view is stale already).
                view.wake_at = Some(now);
                return Ok(Outcome::Keep(Box::new(view)));
            }
            let again = plan(&view.planner_view(), now);
            let more = again.finish || again.timers_due || again.start > 0;
            step = again;
            if !more {
                break;
            }
        }
        // Work left after the last round (a long batch): come back at once.
        view.wake_at = if step.finish || step.timers_due || step.start > 0 {
            Some(now)
        } else {
            step.wake_at
        };
        Ok(Outcome::Keep(Box::new(view)))
    }

    /// Performs one planned step. Returns false if the execution stopped being ours to step
    /// (it errored).
    async fn act(
        &self,
        view: &mut View,
        step: &Step,
        fence: &Fence,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<bool, EngineError> {
        let Some(mode) = ExecMode::for_status(view.exec.status) else {
            return Ok(false);
        };
        let mut to_start = Vec::new();
        if step.timers_due {
            to_start = self.process_timers(view, fence, mode, now, report).await?;
            view.next_timer = self.store.next_timer(&view.exec.id, view.retries()).await?;
        }
        if step.start > 0 {
            let n = step.start.min(self.batch);
            to_start.extend(self.store.pending_iterations(&view.exec.id, n).await?);
        }
        if to_start.is_empty() {
            return Ok(true);
        }
        self.start(view, fence, to_start, now, report).await
    }

    /// Deadlines (timeouts) and due retries. Returns the retrying rows to start now.
    async fn process_timers(
        &self,
        view: &mut View,
        fence: &Fence,
        mode: ExecMode,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<Vec<IterationRow>, EngineError> {
        let e = &view.exec;
        let policy = e.settings.policy();
        let mut starts = Vec::new();
        let mut done: Vec<(IterationRow, Transition)> = Vec::new();
        let retries = view.retries();
        for row in self
            .store
            .due_iterations(&e.id, now, self.batch, retries)
            .await?
        {
            let ev = match (row.record.state, mode) {
                (IterationState::InProgress, _) => IterationEvent::Deadline { now },
                // Paused: due retries wait for resume (the store returns none then).
                (IterationState::Retrying, ExecMode::Running) => {
                    if retries {
                        starts.push(row);
                    }
                    continue;
                }
                (IterationState::Retrying, ExecMode::Draining) => IterationEvent::Abandon { now },
                _ => continue,
            };
            if let Ok(t) = transition(&row.record, ev, &policy, mode) {
                done.push((row, t));
            }
        }
        if done.is_empty() {
            return Ok(starts);
        }
        let writes: Vec<_> = done.iter().map(|(r, t)| write_of(r, t)).collect();
        let won = self
            .store
            .apply_iterations(
                &e.id,
                &writes,
                &ExecWrite {
                    fence: Some(fence.clone()),
                    ..ExecWrite::default()
                },
            )
            .await?;
        let mut delta = SummaryDelta::default();
        for ((row, t), ok) in done.iter().zip(won) {
            if !ok {
                continue;
            }
            delta.moved(t.expected_state, t.record.state);
            if let Some(due) = row.record.deadline.or(row.record.retry_at) {
                let lag = (now.as_millis() - due.as_millis()).max(0) as f64 / 1000.0;
                self.metrics
                    .dispatch_lag
                    .with_label_values(&["deadline"])
                    .observe(lag);
            }
            self.metrics
                .iterations_finished
                .with_label_values(&[t.record.state.as_str()])
                .inc();
            match t.record.state {
                IterationState::TimedOut | IterationState::Retrying
                    if row.record.state == IterationState::InProgress =>
                {
                    report.timed_out += 1
                }
                _ => report.settled += 1,
            }
            if let Some(info) = t.timeout_trigger() {
                self.fire_timeout(&view.exec, row, &info).await?;
            }
        }
        view.exec.summary = view.exec.summary.plus(&delta);
        Ok(starts)
    }

    async fn fire_timeout(
        &self,
        e: &Execution,
        row: &IterationRow,
        info: &AttemptInfo,
    ) -> Result<(), EngineError> {
        let res = self
            .store
            .get_resource_json(&e.application_id, e.resource_type, &row.resource_id)
            .await?
            .unwrap_or_else(|| json!({ "id": row.resource_id }));
        let acc = e
            .settings
            .serial()
            .then_some(e.accumulator.as_deref())
            .flatten();
        let data = payload::timeout(e, row, res, acc, info);
        self.fire(e, TriggerKind::Timeout, data).await;
        Ok(())
    }

    pub(crate) async fn fire(&self, e: &Execution, kind: TriggerKind, data: Value) {
        self.sink
            .fire(TriggerEvent {
                kind,
                application_id: e.application_id.clone(),
                resource_job_id: e.resource_job_id.clone(),
                time: self.clock.now(),
                data,
            })
            .await;
    }

    /// Starts attempts (or settles iterations whose resource is gone), their resources read in
    /// one statement. Returns false if the execution errored instead (its data table was
    /// deleted).
    async fn start(
        &self,
        view: &mut View,
        fence: &Fence,
        rows: Vec<IterationRow>,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<bool, EngineError> {
        let policy = view.exec.settings.policy();
        let ids: Vec<Id> = rows.iter().map(|r| r.resource_id.clone()).collect();
        let resources = self
            .store
            .get_resources_json(&view.exec.application_id, view.exec.resource_type, &ids)
            .await?;
        let mut planned: Vec<(IterationRow, Transition, Option<Value>)> = Vec::new();
        for (row, res) in rows.into_iter().zip(resources) {
            let ev = match &res {
                Some(_) => IterationEvent::Start { now },
                None => {
                    if view.exec.resource_type == ResourceType::DataTableRow
                        && !self.table_exists(&view.exec).await?
                    {
                        self.error_execution(
                            &mut view.exec,
                            fence,
                            "the execution's data table was deleted",
                        )
                        .await?;
                        return Ok(false);
                    }
                    IterationEvent::ResourceDeleted { now }
                }
            };
            if let Ok(t) = transition(&row.record, ev, &policy, ExecMode::Running) {
                planned.push((row, t, res));
            }
        }
        let writes: Vec<_> = planned.iter().map(|(r, t, _)| write_of(r, t)).collect();
        // Only pending iterations pace the next start (`iterationDelay`, the rollout rate);
        // retries are paced by `retryDelay` alone.
        let any_start = planned.iter().any(|(r, t, _)| {
            r.record.state == IterationState::Pending && t.iteration_trigger().is_some()
        });
        let ew = ExecWrite {
            last_start_at: any_start.then_some(now),
            fence: Some(fence.clone()),
            // A pause or cancel answered meanwhile (on any node) wins over these starts.
            require_status: Some(ExecutionStatus::InProgress),
        };
        #[allow(clippy::disallowed_methods)] // latency measurement only
        let began = std::time::Instant::now();
        let won = match self
            .store
            .apply_iterations(&view.exec.id, &writes, &ew)
            .await
        {
            Ok(won) => won,
            Err(StoreError::Conflict) => {
                // The status moved: nothing was written; step again from a fresh row.
                self.views.stale(&view.exec.id);
                return Ok(false);
            }
            Err(other) => return Err(other.into()),
        };
        self.metrics
            .store_op("start_iterations", began.elapsed().as_secs_f64());
        if any_start {
            view.exec.last_start_at = Some(now);
        }
        let e = &view.exec;
        let serial = e.settings.serial();
        let acc = serial.then_some(e.accumulator.as_deref()).flatten();
        let exec_obj = Value::Object(payload::execution(e));
        let mut delta = SummaryDelta::default();
        let mut started = 0u64;
        for ((row, t, res), ok) in planned.into_iter().zip(won) {
            if !ok {
                continue;
            }
            delta.moved(t.expected_state, t.record.state);
            view.next_timer = earliest(view.next_timer, t.wake_at());
            match (t.iteration_trigger(), res) {
                (Some(info), Some(res)) => {
                    report.started += 1;
                    started += 1;
                    tracing::debug!(iteration_id = %row.iteration_id(), attempt = info.attempt, "iteration started");
                    if let Some(due) = row.record.retry_at {
                        let lag = (now.as_millis() - due.as_millis()).max(0) as f64 / 1000.0;
                        self.metrics
                            .dispatch_lag
                            .with_label_values(&["retry"])
                            .observe(lag);
                    }
                    let data = Value::Object(payload::iteration(
                        e, &exec_obj, &row, res, serial, acc, &info,
                    ));
                    self.fire(e, TriggerKind::Iteration, data).await;
                }
                _ => {
                    report.settled += 1;
                    self.metrics
                        .iterations_finished
                        .with_label_values(&[t.record.state.as_str()])
                        .inc();
                }
            }
        }
        self.metrics.iterations_started.inc_by(started);
        self.cluster
            .dispatched
            .fetch_add(started as i64, std::sync::atomic::Ordering::Relaxed);
        view.exec.summary = view.exec.summary.plus(&delta);
        if started > 0 {
            self.started.notify_waiters();
        }
        Ok(true)
    }
}
