//! The group commit: one writer per store. Callers queue [`WriteOp`]s and wait; a writer task
//! (started when work arrives, ended when the queue is empty) takes everything waiting — at most
//! [`MAX_BATCH`] operations — into one transaction of set-based statements, commits, and answers
//! each caller with its own outcome. While one batch commits the next one gathers, so under load
//! a transaction carries hundreds of state changes and a caller waits about one commit.
//!
//! On SQLite a batch is one lock of the write connection's handle and direct calls (`direct.rs`)
//! instead of a hand-off to sqlx's worker thread per statement; on PostgreSQL, thousands of round
//! trips and fsyncs become a few set-based statements and one commit per batch.
//!
//! Answers come only after the commit, so an answered write is durable. If the transaction fails
//! as a whole (say one operation's text is refused by the database), each operation is retried
//! alone, so only the culprit fails. A batch runs in its own task: a caller that goes away (a
//! dropped HTTP request) cannot cancel its neighbours' writes.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use rjobs_core::engine::ExecutionStatus;
use rjobs_core::Id;
use tokio::sync::oneshot;

use super::batch_plan::{
    claim_sql, missing, plan_round, AckTarget, Outs, EXEC_CHANGE_SQL, PRUNE_RUNS_SQL,
};
use super::executions::settings_from_row;
use super::iterations::iteration_from_row;
use super::outbox::iteration_events_pg;
use super::row::{id, RowExt};
use super::set_ops::SetOps;
use super::SqlStore;
use crate::batch::{BatchStore, WriteOp, WriteOutcome, MAX_BATCH};
use crate::{FlowRun, StoreError};

type Reply = oneshot::Sender<Result<WriteOutcome, StoreError>>;

/// The queue and whether a writer task is draining it.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<VecDeque<(WriteOp, Reply)>>,
    running: AtomicBool,
}

/// Most yields the writer makes while its queue still grows.
const LINGER_YIELDS: usize = 8;
/// Flow runs kept per flow (older ones are pruned now and then).
pub(crate) const KEEP_RUNS: i64 = 1000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn ack_target(r: &impl RowExt) -> Result<AckTarget, StoreError> {
    let status = r.text("x_status")?;
    Ok(AckTarget {
        row: iteration_from_row(r)?,
        app: id(r, "x_app")?,
        job: id(r, "x_job")?,
        status: ExecutionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        // The ack reads alias the execution's settings columns (see `set_ops.rs`'s `PG_ACK_READ` and `direct.rs`'s `ACK_READ_ONE`).
        settings: settings_from_row(
            r,
            &[
                "x_mic",
                "x_delay",
                "x_timeout",
                "x_rof",
                "x_rot",
                "x_mir",
                "x_rd",
            ],
        )?,
    })
}

/// The fences of a batch's engine writes, each to be checked (`false` until it is).
pub(crate) fn fences_of(ops: &[WriteOp]) -> HashMap<(Id, String, i64), bool> {
    let mut fences = HashMap::new();
    for op in ops {
        if let WriteOp::Apply(a) = op {
            if let Some(f) = &a.exec_write.fence {
                fences.insert((a.exec.clone(), f.owner.clone(), f.epoch), false);
            }
        }
    }
    fences
}

/// Refuses, alone, each engine write whose fence did not hold.
pub(crate) fn fence_outcomes(
    ops: &[WriteOp],
    fences: &HashMap<(Id, String, i64), bool>,
    outs: &mut Outs,
) {
    for (i, op) in ops.iter().enumerate() {
        let WriteOp::Apply(a) = op else { continue };
        let Some(f) = &a.exec_write.fence else {
            continue;
        };
        if fences.get(&(a.exec.clone(), f.owner.clone(), f.epoch)) != Some(&true) {
            outs[i] = Some(Err(StoreError::Fenced));
        }
    }
}

/// The flows whose old runs this batch prunes. Pruning walks the kept runs, so it runs for
/// about one run in 256 (the id's counter byte): the log stays near KEEP_RUNS + 256 runs per
/// flow.
pub(crate) fn pruned_flows<'a>(ops: &'a [WriteOp], runs: &[usize]) -> Vec<&'a Id> {
    let mut prune: Vec<&Id> = runs
        .iter()
        .filter_map(|i| match &ops[*i] {
            WriteOp::FlowRun(r) if r.id.as_str().ends_with("00") => Some(&r.flow_id),
            _ => None,
        })
        .collect();
    prune.sort();
    prune.dedup();
    prune
}

#[async_trait]
impl BatchStore for SqlStore {
    /// Queues `ops` for the group commit and waits for their outcomes (in order).
    async fn submit(&self, ops: Vec<WriteOp>) -> Vec<Result<WriteOutcome, StoreError>> {
        let mut waits = Vec::with_capacity(ops.len());
        {
            let mut q = lock(&self.gc.queue);
            for op in ops {
                let (tx, rx) = oneshot::channel();
                q.push_back((op, tx));
                waits.push(rx);
            }
        }
        if !self.gc.running.swap(true, Ordering::SeqCst) {
            let me = self.clone();
            tokio::spawn(async move { me.drain().await });
        }
        let mut outs = Vec::with_capacity(waits.len());
        for rx in waits {
            outs.push(rx.await.unwrap_or(Err(StoreError::Aborted)));
        }
        outs
    }
}

impl SqlStore {
    /// The writer: commits batches until the queue is empty.
    async fn drain(self) {
        loop {
            // Let the callers that are ready to run queue their writes first (the flows and
            // requests finishing at the same instant): a few yields cost nothing when nobody
            // is waiting, and turn a trickle of one-write commits into one commit.
            let mut seen = lock(&self.gc.queue).len();
            for _ in 0..LINGER_YIELDS {
                if seen >= MAX_BATCH {
                    break;
                }
                tokio::task::yield_now().await;
                let now = lock(&self.gc.queue).len();
                if now == seen {
                    break;
                }
                seen = now;
            }
            let batch: Vec<(WriteOp, Reply)> = {
                let mut q = lock(&self.gc.queue);
                let n = q.len().min(MAX_BATCH);
                q.drain(..n).collect()
            };
            if batch.is_empty() {
                self.gc.running.store(false, Ordering::SeqCst);
                // Work queued between the take and the flag is picked up here, not stranded.
                if lock(&self.gc.queue).is_empty() || self.gc.running.swap(true, Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            tracing::trace!(ops = batch.len(), "group commit batch");
            // One batch at a time, also on PostgreSQL: concurrent batches were measured 2.8x
            // slower there (every batch updates its execution's counter row, so they queue on
            // that row lock and gather less). The statements still take their locks in one
            // order (leases, iterations by (execution, seq), executions by id).
            let me = self.clone();
            // Its own task: a panic fails this batch's callers (their replies drop), not the
            // writer.
            if let Err(e) = tokio::spawn(async move { me.run_batch(batch).await }).await {
                tracing::error!(error = %e, "a group commit batch panicked");
            }
        }
    }

    async fn run_batch(&self, batch: Vec<(WriteOp, Reply)>) {
        let (ops, replies): (Vec<WriteOp>, Vec<Reply>) = batch.into_iter().unzip();
        match self.commit_ops(&ops).await {
            Ok(outs) => {
                for (reply, out) in replies.into_iter().zip(outs) {
                    let _ = reply.send(out);
                }
            }
            Err(e) if ops.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, ops = ops.len(), "group commit failed; retrying each operation alone");
                for (op, reply) in ops.iter().zip(replies) {
                    let out = match self.commit_ops(std::slice::from_ref(op)).await {
                        Ok(mut v) => v.pop().unwrap_or(Err(StoreError::Aborted)),
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(out);
                }
            }
        }
    }

    /// Applies `ops` in one transaction: on SQLite with direct calls (`direct.rs`), on
    /// PostgreSQL with the set-based statements of `set_ops.rs`.
    async fn commit_ops(
        &self,
        ops: &[WriteOp],
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        let pool = match &self.pools {
            super::Pools::Sqlite { write, .. } => {
                let mut conn = write.acquire().await?;
                let mut handle = conn.lock_handle().await?;
                let raw = handle.as_raw_handle().as_ptr();
                // SAFETY: `handle` keeps the connection locked out of sqlx's worker thread while
                // `direct` lives; `direct` does not own the handle (it never closes it) and is
                // dropped first, finalizing the statements it prepared.
                #[allow(unsafe_code)]
                let mut direct = unsafe { rusqlite::Connection::from_handle(raw) }?;
                return super::direct::commit(&mut direct, ops);
            }
            super::Pools::Postgres(pool) => pool,
        };
        let mut outs: Outs = (0..ops.len()).map(|_| None).collect();
        {
            let mut tx = pool.begin().await?;
            // Fences: an engine write decided under a lease that moved is refused alone. Checked
            // in key order (lock order, see `drain`).
            let mut fences = fences_of(ops);
            let mut keys: Vec<_> = fences.keys().cloned().collect();
            keys.sort();
            for key in keys {
                let n = sqlx::query(
                    "UPDATE leases SET epoch = epoch
                     WHERE execution_id = $1 AND owner = $2 AND epoch = $3",
                )
                .bind(key.0.as_str())
                .bind(key.1.as_str())
                .bind(key.2)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                fences.insert(key, n == 1);
            }
            fence_outcomes(ops, &fences, &mut outs);
            // Status guards: a start applies only while its execution is still `inProgress`
            // (a pause or cancel answered by any node wins). Every execution the batch changes
            // is locked, in id order (see `SetOps::exec_statuses`).
            let mut touched: Vec<&Id> = ops
                .iter()
                .enumerate()
                .filter_map(|(i, op)| match op {
                    WriteOp::Apply(a) if outs[i].is_none() => Some(&a.exec),
                    WriteOp::Ack(a) => Some(&a.exec),
                    _ => None,
                })
                .collect();
            touched.sort();
            touched.dedup();
            if !touched.is_empty() {
                let statuses = SetOps::exec_statuses(&mut *tx, &touched).await?;
                for (i, op) in ops.iter().enumerate() {
                    let WriteOp::Apply(a) = op else { continue };
                    let Some(want) = a.exec_write.require_status else {
                        continue;
                    };
                    if outs[i].is_none()
                        && statuses.get(&a.exec).map(String::as_str) != Some(want.as_str())
                    {
                        outs[i] = Some(Err(StoreError::Conflict));
                    }
                }
            }
            // Flow-run log lines.
            let runs: Vec<usize> = (0..ops.len())
                .filter(|i| matches!(ops[*i], WriteOp::FlowRun(_)))
                .collect();
            let lines: Vec<&FlowRun> = runs
                .iter()
                .filter_map(|i| match &ops[*i] {
                    WriteOp::FlowRun(r) => Some(r),
                    _ => None,
                })
                .collect();
            SetOps::insert_runs(&mut *tx, &lines).await?;
            for flow in pruned_flows(ops, &runs) {
                sqlx::query(PRUNE_RUNS_SQL)
                    .bind(flow.as_str())
                    .bind(KEEP_RUNS)
                    .execute(&mut *tx)
                    .await?;
            }
            for i in runs {
                outs[i] = Some(Ok(WriteOutcome::Logged));
            }
            // Iteration writes, in rounds of at most one write per iteration.
            let mut todo: Vec<usize> = (0..ops.len())
                .filter(|i| {
                    outs[*i].is_none() && matches!(ops[*i], WriteOp::Ack(_) | WriteOp::Apply(_))
                })
                .collect();
            while !todo.is_empty() {
                let mut keys: Vec<(&Id, &Id)> = todo
                    .iter()
                    .filter_map(|i| match &ops[*i] {
                        WriteOp::Ack(a) => Some((&a.exec, &a.resource)),
                        _ => None,
                    })
                    .collect();
                keys.sort();
                keys.dedup();
                let mut found: HashMap<(Id, Id), AckTarget> = HashMap::new();
                for t in SetOps::read_acks(&mut *tx, &keys).await? {
                    found.insert((t.row.execution_id.clone(), t.row.resource_id.clone()), t);
                }
                let round = plan_round(ops, &todo, &found, &mut outs);
                for i in &round.missing {
                    let WriteOp::Ack(a) = &ops[*i] else { continue };
                    let owner: Option<(String, String)> = sqlx::query_as(
                        "SELECT application_id, resource_job_id FROM executions WHERE id = $1",
                    )
                    .bind(a.exec.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    outs[*i] = Some(Ok(WriteOutcome::Ack(Err(missing(a, owner)))));
                }
                let won = SetOps::cas_writes(&mut *tx, &round.writes).await?;
                // Webhooks: iteration failures' events, in this transaction (see `outbox.rs`).
                iteration_events_pg(&mut tx, &round.writes, &won).await?;
                let next = round.deferred.clone();
                let changes = round.finish(ops, &won, &mut outs);
                let mut changes: Vec<_> =
                    changes.into_iter().filter(|(_, c)| !c.is_noop()).collect();
                changes.sort_by(|a, b| a.0.cmp(&b.0));
                for (exec, c) in changes {
                    sqlx::query(EXEC_CHANGE_SQL)
                        .bind(c.delta.succeeded)
                        .bind(c.delta.failed)
                        .bind(c.delta.timed_out)
                        .bind(c.delta.in_progress)
                        .bind(c.delta.remaining)
                        .bind(c.last_start.map(rjobs_core::Timestamp::as_millis))
                        .bind(c.accumulator)
                        .bind(exec.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                todo = next;
            }
            // Claims last, so attempts started in this batch can be handed out by it.
            let claim = claim_sql(true);
            for (i, op) in ops.iter().enumerate() {
                let WriteOp::Claim(c) = op else { continue };
                let rows = sqlx::query(&claim)
                    .bind(c.exec.as_str())
                    .bind(c.now.as_millis())
                    .bind(i64::from(c.limit))
                    .fetch_all(&mut *tx)
                    .await?;
                let mut rows = rows
                    .iter()
                    .map(iteration_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                rows.sort_by_key(|r| r.seq);
                outs[i] = Some(Ok(WriteOutcome::Claimed(rows)));
            }
            tx.commit().await?;
        }
        Ok(outs
            .into_iter()
            .map(|o| o.unwrap_or(Err(StoreError::Aborted)))
            .collect())
    }
}
