//! One step of the engine for every execution that is not final: timers, starts, completion.

use rjobs_core::engine::{
    dispatch_plan, execution_transition, transition, AttemptInfo, ExecMode, ExecutionEvent,
    ExecutionStatus, IterationEvent, IterationState, Transition,
};
use rjobs_core::execution::{Execution, IterationRow};
use rjobs_core::jobs::ResourceType;
use rjobs_core::Timestamp;
use rjobs_store::{ExecWrite, Fence, IterationWrite, StoreError};
use serde_json::{json, Value};

use crate::engine::{query_type, Engine, TickReport};
use crate::sink::{TriggerEvent, TriggerKind};
use crate::{payload, EngineError};

/// Resource reads in flight at once while starting a batch.
const RESOURCE_READS: usize = 8;

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

impl Engine {
    /// One step over every execution that is not final. Errors of one execution are logged and
    /// do not stop the others.
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
        let active = self.store.active_executions().await?;
        self.cluster
            .retain_active(&active.iter().map(|e| &e.id).collect());
        for e in active {
            // Only the lease holder dispatches an execution.
            let Some(fence) = self.cluster.fence(&e.id) else {
                continue;
            };
            let id = e.id.clone();
            let span = tracing::info_span!("execution", execution_id = %id, resource_job_id = %e.resource_job_id);
            let step = tracing::Instrument::instrument(
                self.tick_execution(e, &fence, now, &mut report),
                span,
            );
            match step.await {
                Ok(()) => {}
                Err(EngineError::Store(StoreError::Fenced)) => self.fenced(&id),
                Err(err) => {
                    tracing::error!(execution_id = %id, error = %err, "execution step failed");
                    report.next_wakeup = earliest(report.next_wakeup, Some(now.plus_millis(1000)));
                }
            }
        }
        Ok(report)
    }

    async fn tick_execution(
        &self,
        mut e: Execution,
        fence: &Fence,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<(), EngineError> {
        let Some(mode) = ExecMode::for_status(e.status) else {
            return Ok(());
        };
        let retry_starts = self.process_timers(&e, fence, mode, now, report).await?;
        let mut next = None;
        if e.status == ExecutionStatus::InProgress {
            let in_flight = self.store.dispatch_state(&e.id).await?.in_flight;
            let serial = e.settings.serial();
            let plan = dispatch_plan(
                now,
                u32::try_from(in_flight).unwrap_or(u32::MAX),
                u32::try_from(e.settings.max_iteration_concurrency).unwrap_or(1),
                e.last_start_at,
                e.settings.iteration_delay,
                serial && in_flight > 0,
            );
            next = plan.next_at;
            let mut to_start = retry_starts;
            if plan.can_start > 0 {
                let n = plan.can_start.min(self.batch);
                to_start.extend(self.store.pending_iterations(&e.id, n).await?);
            }
            if !to_start.is_empty() {
                if serial {
                    // The previous iteration's ack wrote the accumulator with its final state.
                    if let Some(fresh) = self
                        .store
                        .get_execution(&e.application_id, &e.resource_job_id, &e.id)
                        .await?
                    {
                        e = fresh;
                    }
                }
                if !self.start(&mut e, fence, to_start, now, report).await? {
                    return Ok(());
                }
            }
        }
        let ds = self.store.dispatch_state(&e.id).await?;
        let in_flight = ds.in_flight;
        let pending = e.status == ExecutionStatus::InProgress && ds.pending;
        if in_flight == 0 && !pending {
            return self.finish(e, fence, now, report).await;
        }
        // Pending work with a free slot (e.g. an iteration was settled instead of started): due
        // now, or when the delay since the last start is over.
        if pending && in_flight < u64::try_from(e.settings.max_iteration_concurrency).unwrap_or(1) {
            let due = match e.last_start_at {
                Some(last) if e.settings.iteration_delay > 0 => {
                    last.plus_millis(e.settings.iteration_delay).max(now)
                }
                _ => now,
            };
            next = earliest(next, Some(due));
        }
        report.next_wakeup = earliest(report.next_wakeup, earliest(ds.next_timer, next));
        Ok(())
    }

    /// Deadlines (timeouts) and due retries. Returns the retrying rows to start now.
    async fn process_timers(
        &self,
        e: &Execution,
        fence: &Fence,
        mode: ExecMode,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<Vec<IterationRow>, EngineError> {
        let policy = e.settings.policy();
        let mut starts = Vec::new();
        let mut done: Vec<(IterationRow, Transition)> = Vec::new();
        for row in self.store.due_iterations(&e.id, now, self.batch).await? {
            let ev = match (row.record.state, mode) {
                (IterationState::InProgress, _) => IterationEvent::Deadline { now },
                (IterationState::Retrying, ExecMode::Running) => {
                    starts.push(row);
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
        for ((row, t), ok) in done.iter().zip(won) {
            if !ok {
                continue;
            }
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
                self.fire_timeout(e, row, &info).await?;
            }
        }
        Ok(starts)
    }

    async fn resource(
        &self,
        e: &Execution,
        row: &IterationRow,
    ) -> Result<Option<Value>, StoreError> {
        self.store
            .get_resource_json(
                &e.application_id,
                query_type(e.resource_type),
                &row.resource_id,
            )
            .await
    }

    async fn fire_timeout(
        &self,
        e: &Execution,
        row: &IterationRow,
        info: &AttemptInfo,
    ) -> Result<(), EngineError> {
        let res = self
            .resource(e, row)
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

    async fn fire(&self, e: &Execution, kind: TriggerKind, data: Value) {
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

    /// Starts attempts (or settles iterations whose resource is gone). Returns false if the
    /// execution errored instead (its data table was deleted).
    async fn start(
        &self,
        e: &mut Execution,
        fence: &Fence,
        rows: Vec<IterationRow>,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<bool, EngineError> {
        let policy = e.settings.policy();
        let mut planned: Vec<(IterationRow, Transition, Option<Value>)> = Vec::new();
        // The resources are read concurrently (in order): one round trip's latency per batch
        // of RESOURCE_READS instead of one per iteration.
        let mut resources: Vec<Option<Value>> = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(RESOURCE_READS) {
            let reads: Vec<_> = chunk.iter().map(|row| self.resource(e, row)).collect();
            resources.extend(futures_util::future::try_join_all(reads).await?);
        }
        for (row, res) in rows.into_iter().zip(resources) {
            let ev = match &res {
                Some(_) => IterationEvent::Start { now },
                None => {
                    if e.resource_type == ResourceType::DataTableRow
                        && !self.table_exists(e).await?
                    {
                        self.error_execution(e, fence, "the execution's data table was deleted")
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
        let any_start = planned
            .iter()
            .any(|(_, t, _)| t.iteration_trigger().is_some());
        let ew = ExecWrite {
            last_start_at: any_start.then_some(now),
            accumulator: None,
            fence: Some(fence.clone()),
        };
        #[allow(clippy::disallowed_methods)] // latency measurement only
        let began = std::time::Instant::now();
        let won = self.store.apply_iterations(&e.id, &writes, &ew).await?;
        self.metrics
            .store_op("start_iterations", began.elapsed().as_secs_f64());
        if any_start {
            e.last_start_at = Some(now);
        }
        let acc = e.settings.serial().then_some(e.accumulator.as_deref());
        for ((row, t, res), ok) in planned.into_iter().zip(won) {
            if !ok {
                continue;
            }
            match (t.iteration_trigger(), res) {
                (Some(info), Some(res)) => {
                    report.started += 1;
                    self.metrics.iterations_started.inc();
                    self.cluster
                        .dispatched
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::debug!(iteration_id = %row.iteration_id(), attempt = info.attempt, "iteration started");
                    if let Some(due) = row.record.retry_at {
                        let lag = (now.as_millis() - due.as_millis()).max(0) as f64 / 1000.0;
                        self.metrics
                            .dispatch_lag
                            .with_label_values(&["retry"])
                            .observe(lag);
                    }
                    let data = payload::iteration(e, &row, res, acc.flatten(), &info);
                    let mut data = data;
                    if acc.is_none() {
                        if let Value::Object(m) = &mut data {
                            m.remove("accumulator");
                        }
                    }
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
        Ok(true)
    }

    async fn table_exists(&self, e: &Execution) -> Result<bool, EngineError> {
        Ok(match &e.data_table_id {
            Some(t) => self
                .store
                .get_data_table(&e.application_id, t)
                .await?
                .is_some(),
            None => false,
        })
    }

    async fn error_execution(
        &self,
        e: &mut Execution,
        fence: &Fence,
        message: &str,
    ) -> Result<(), EngineError> {
        let ev = ExecutionEvent::ErrorRaised {
            message: message.to_string(),
        };
        let Ok(next) = execution_transition(e.status, &ev) else {
            return Ok(());
        };
        let before = e.status;
        e.status = next;
        e.error_message = Some(message.to_string());
        match self
            .store
            .update_execution(e, before, true, Some(fence))
            .await
        {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Nothing in flight and nothing pending: the final status, then Job: Complete.
    async fn finish(
        &self,
        mut e: Execution,
        fence: &Fence,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<(), EngineError> {
        let Ok(next) = execution_transition(e.status, &ExecutionEvent::Drained) else {
            return Ok(());
        };
        let before = e.status;
        e.status = next;
        e.run_completed_at = Some(now);
        match self
            .store
            .update_execution(&e, before, false, Some(fence))
            .await
        {
            Ok(()) => self.cluster.drop_lease(&e.id),
            Err(StoreError::Conflict) => return Ok(()),
            Err(other) => return Err(other.into()),
        }
        report.completed += 1;
        let summary = self.store.summary(&e.id).await?;
        tracing::info!(execution_id = %e.id, status = e.status.as_str(), ?summary, "execution finished");
        let job = self
            .store
            .get_job(&e.application_id, &e.resource_job_id)
            .await?;
        let url = self
            .signer
            .url(&e.application_id, &e.resource_job_id, &e.id, now);
        let data = payload::complete(&e, job.as_ref(), &summary, &url);
        self.fire(&e, TriggerKind::Complete, data).await;
        Ok(())
    }
}
