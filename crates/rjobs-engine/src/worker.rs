//! The external worker API: a worker *claims* started attempts (each attempt is handed out
//! once, across every node: the claim is a compare-and-set on `claimed_attempt` in the group
//! commit, with `FOR UPDATE SKIP LOCKED` on PostgreSQL) and acknowledges them in batches
//! ([`Engine::ack_many`]). A claim with nothing to hand out long-polls: it waits for this
//! node's next start (or re-checks every [`POLL`], for starts made by another node) until its
//! `waitMs` is over. An attempt that times out is offered again only as its retry, a new attempt.
//! A claim answered to a client that has gone away is lost to the workers: its attempts time
//! out at their deadline (and are retried if the job says so) — the deadline is the claim's
//! visibility timeout.

use std::time::Duration;

use rjobs_core::engine::{AttemptInfo, ExecMode};
use rjobs_core::execution::Execution;
use rjobs_core::Id;
use rjobs_store::{ClaimOp, StoreError, WriteOp, WriteOutcome};
use serde_json::{json, Value};

use crate::engine::Engine;
use crate::views::ClaimedView;
use crate::{payload, EngineError};

/// How often a waiting claim looks again when no local start wakes it.
const POLL: Duration = Duration::from_millis(25);

impl Engine {
    /// Up to `limit` started attempts of the execution no worker has claimed yet, each as
    /// `{id, resourceId, resourceName, attempt, deadline, payload}` (`payload`: the Job:
    /// Iteration trigger's `data`). Waits up to `wait` while there are none.
    pub async fn claim(
        &self,
        app: &Id,
        job: &Id,
        exec: &Id,
        limit: u32,
        wait: Duration,
    ) -> Result<Vec<ClaimedView>, EngineError> {
        let e = self
            .store
            .load_execution(exec)
            .await?
            .filter(|e| e.application_id == *app && e.resource_job_id == *job)
            .ok_or(EngineError::NotFound(crate::Missing::Execution))?;
        // A claim that has committed is never abandoned half-way (its attempts would be
        // marked handed out and never reach the worker): the wait is checked between claims.
        let until = tokio::time::Instant::now() + wait;
        loop {
            let started = self.started.notified();
            tokio::pin!(started);
            started.as_mut().enable();
            let items = self.claim_once(&e, limit).await?;
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if !items.is_empty() || e.status.is_final() || left.is_zero() {
                return Ok(items);
            }
            tokio::select! {
                _ = started => {}
                _ = tokio::time::sleep(left.min(POLL)) => {}
            }
        }
    }

    async fn claim_once(&self, e: &Execution, limit: u32) -> Result<Vec<ClaimedView>, EngineError> {
        let op = WriteOp::Claim(ClaimOp {
            exec: e.id.clone(),
            limit,
            now: self.clock.now(),
        });
        let rows = match self.store.submit(vec![op]).await.pop() {
            Some(Ok(WriteOutcome::Claimed(rows))) => rows,
            Some(Err(err)) => return Err(err.into()),
            Some(Ok(_)) | None => return Err(EngineError::Store(StoreError::Aborted)),
        };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Id> = rows.iter().map(|r| r.resource_id.clone()).collect();
        let resources = self
            .store
            .get_resources_json(&e.application_id, e.resource_type, &ids)
            .await?;
        let policy = e.settings.policy();
        let mode = ExecMode::for_status(e.status).unwrap_or(ExecMode::Draining);
        let serial = e.settings.serial();
        let exec_obj = Value::Object(payload::execution(e));
        let mut out = Vec::with_capacity(rows.len());
        for (row, res) in rows.iter().zip(resources) {
            let attempt = row.record.attempt;
            let info = AttemptInfo {
                attempt,
                started_at: row.record.started_at.unwrap_or(e.run_started_at),
                will_retry_on_failure: policy.will_retry_on_failure(attempt, mode),
                will_retry_on_timeout: policy.will_retry_on_timeout(attempt, mode),
            };
            let res = res.unwrap_or_else(|| json!({ "id": row.resource_id }));
            let data = payload::iteration(
                e,
                &exec_obj,
                row,
                res,
                serial,
                e.accumulator.as_deref(),
                &info,
            );
            out.push(ClaimedView {
                id: row.iteration_id().to_string(),
                resource_id: row.resource_id.clone(),
                resource_name: row.resource_name.clone(),
                attempt,
                deadline: row.record.deadline,
                payload: data,
            });
        }
        Ok(out)
    }
}
