//! The group commit on SQLite, run on the write connection's own handle.
//!
//! Through sqlx, every statement is a hand-off to the connection's worker thread and back: two
//! thread wake-ups. On a loaded 2-core machine that costs about 0.4 ms a statement (a bare
//! `BEGIN` averaged 0.39 ms, measured over a 30,000-iteration run), and a batch ran about nine
//! of them. That made a batch's time a matter of hand-offs, not of rows.
//!
//! Here the writer locks the handle out of sqlx's worker once (`lock_handle`) and runs the whole
//! transaction with direct calls ([`rusqlite`] over the same `libsqlite3-sys`), with one
//! single-row statement per kind, prepared once per batch and stepped per row. That is SQLite's
//! fast path: a row costs microseconds once the statement is prepared.
//!
//! The batch follows `commit.rs` step for step and shares its pure half (`batch_plan.rs`):
//! fences, status guards, flow-run lines, rounds of at most one write per iteration, the
//! iteration events, the counter updates, claims. PostgreSQL keeps the set-based statements of
//! `set_ops.rs`, where a statement is a network round trip and cannot be avoided this way.

use std::collections::{HashMap, HashSet};

use rjobs_core::Id;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::batch_plan::{
    claim_sql, missing, ms, plan_round, AckTarget, Outs, EXEC_CHANGE_SQL, FINISH_SEQ,
    PRUNE_RUNS_SQL,
};
use super::commit::{ack_target, fence_outcomes, fences_of, pruned_flows, KEEP_RUNS};
use super::iterations::iteration_from_row;
use super::outbox::iteration_events_direct;
use crate::batch::{WriteOp, WriteOutcome};
use crate::StoreError;

/// One iteration's compare-and-set (the row form of `set_ops.rs`'s `PG_UPDATE`), built once.
static UPDATE_ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "UPDATE iterations SET state = ?3, attempt = ?4, started_at = ?5, deadline = ?6,
             retry_at = ?7, completed_at = ?8, message = ?9, accumulator = ?10,
             finish_seq = CASE WHEN ?3 IN ('succeeded', 'failed', 'timedOut')
                 THEN ({FINISH_SEQ}) ELSE iterations.finish_seq END
         WHERE execution_id = ?1 AND seq = ?2 AND state = ?11 AND attempt = ?12"
    )
});

/// One ack's iteration and execution (the row form of `set_ops.rs`'s `PG_ACK_READ`).
const ACK_READ_ONE: &str = "SELECT i.*, e.application_id AS x_app,
         e.resource_job_id AS x_job, e.status AS x_status, e.max_iteration_concurrency AS x_mic,
         e.iteration_delay AS x_delay, e.iteration_timeout AS x_timeout,
         e.retry_on_failure AS x_rof, e.retry_on_timeout AS x_rot,
         e.max_iteration_retries AS x_mir, e.retry_delay AS x_rd
     FROM iterations i JOIN executions e ON e.id = i.execution_id
     WHERE i.execution_id = ?1 AND i.resource_id = ?2";

const FLOW_RUN_ONE: &str = "INSERT INTO flow_runs (id, flow_id, application_id, time,
         trigger_type, trigger_key, status, error, debug, duration_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// Applies `ops` in one transaction on `conn` (see the module docs); the outcomes in order.
pub(crate) fn commit(
    conn: &mut rusqlite::Connection,
    ops: &[WriteOp],
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outs: Outs = (0..ops.len()).map(|_| None).collect();
    // Fences. The transaction holds SQLite's one write lock, so a read decides.
    let mut fences = fences_of(ops);
    {
        let mut st = tx.prepare_cached(
            "SELECT COUNT(*) FROM leases WHERE execution_id = ?1 AND owner = ?2 AND epoch = ?3",
        )?;
        for (key, holds) in fences.iter_mut() {
            let n: i64 =
                st.query_row(params![key.0.as_str(), key.1.as_str(), key.2], |r| r.get(0))?;
            *holds = n == 1;
        }
    }
    fence_outcomes(ops, &fences, &mut outs);
    // Status guards: a start applies only while its execution is still what it requires.
    {
        let mut st = tx.prepare_cached("SELECT status FROM executions WHERE id = ?1")?;
        let mut statuses: HashMap<&Id, Option<String>> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            let WriteOp::Apply(a) = op else { continue };
            let Some(want) = a.exec_write.require_status else {
                continue;
            };
            if outs[i].is_some() {
                continue;
            }
            if !statuses.contains_key(&a.exec) {
                let s = st
                    .query_row(params![a.exec.as_str()], |r| r.get::<_, String>(0))
                    .optional()?;
                statuses.insert(&a.exec, s);
            }
            if statuses.get(&a.exec).and_then(|s| s.as_deref()) != Some(want.as_str()) {
                outs[i] = Some(Err(StoreError::Conflict));
            }
        }
    }
    // Flow-run log lines, and now and then a prune (see `commit.rs`).
    let runs: Vec<usize> = (0..ops.len())
        .filter(|i| matches!(ops[*i], WriteOp::FlowRun(_)))
        .collect();
    {
        let mut st = tx.prepare_cached(FLOW_RUN_ONE)?;
        for i in &runs {
            let WriteOp::FlowRun(r) = &ops[*i] else {
                continue;
            };
            st.execute(params![
                r.id.as_str(),
                r.flow_id.as_str(),
                r.application_id.as_str(),
                r.time.as_millis(),
                r.trigger_type,
                r.trigger_key,
                r.status,
                r.error,
                r.debug.to_string(),
                r.duration_ms
            ])?;
        }
    }
    for flow in pruned_flows(ops, &runs) {
        tx.prepare_cached(PRUNE_RUNS_SQL)?
            .execute(params![flow.as_str(), KEEP_RUNS])?;
    }
    for i in runs {
        outs[i] = Some(Ok(WriteOutcome::Logged));
    }
    // Iteration writes, in rounds of at most one write per iteration.
    let mut todo: Vec<usize> = (0..ops.len())
        .filter(|i| outs[*i].is_none() && matches!(ops[*i], WriteOp::Ack(_) | WriteOp::Apply(_)))
        .collect();
    while !todo.is_empty() {
        let mut found: HashMap<(Id, Id), AckTarget> = HashMap::new();
        {
            let mut st = tx.prepare_cached(ACK_READ_ONE)?;
            for i in &todo {
                let WriteOp::Ack(a) = &ops[*i] else { continue };
                let key = (a.exec.clone(), a.resource.clone());
                if found.contains_key(&key) {
                    continue;
                }
                let mut rows = st.query(params![a.exec.as_str(), a.resource.as_str()])?;
                if let Some(row) = rows.next()? {
                    found.insert(key, ack_target(row)?);
                }
            }
        }
        let round = plan_round(ops, &todo, &found, &mut outs);
        for i in &round.missing {
            let WriteOp::Ack(a) = &ops[*i] else { continue };
            let owner: Option<(String, String)> = tx
                .prepare_cached(
                    "SELECT application_id, resource_job_id FROM executions WHERE id = ?1",
                )?
                .query_row(params![a.exec.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            outs[*i] = Some(Ok(WriteOutcome::Ack(Err(missing(a, owner)))));
        }
        let mut won = HashSet::new();
        {
            let mut st = tx.prepare_cached(&UPDATE_ONE)?;
            for rw in &round.writes {
                let r = &rw.w.record;
                let n = st.execute(params![
                    rw.exec.as_str(),
                    rw.w.seq,
                    r.state.as_str(),
                    i64::from(r.attempt),
                    ms(r.started_at),
                    ms(r.deadline),
                    ms(r.retry_at),
                    ms(r.completed_at),
                    r.message.as_deref(),
                    r.accumulator.as_deref(),
                    rw.w.expected_state.as_str(),
                    i64::from(rw.w.expected_attempt)
                ])?;
                if n == 1 {
                    won.insert((rw.exec.clone(), rw.w.seq));
                }
            }
        }
        iteration_events_direct(&tx, &round.writes, &won)?;
        let next = round.deferred.clone();
        let changes = round.finish(ops, &won, &mut outs);
        let mut changes: Vec<_> = changes.into_iter().filter(|(_, c)| !c.is_noop()).collect();
        changes.sort_by(|a, b| a.0.cmp(&b.0));
        {
            let mut st = tx.prepare_cached(EXEC_CHANGE_SQL)?;
            for (exec, c) in changes {
                st.execute(params![
                    c.delta.succeeded,
                    c.delta.failed,
                    c.delta.timed_out,
                    c.delta.in_progress,
                    c.delta.remaining,
                    ms(c.last_start),
                    c.accumulator,
                    exec.as_str()
                ])?;
            }
        }
        todo = next;
    }
    // Claims last, so attempts started in this batch can be handed out by it.
    let claim = claim_sql(false);
    for (i, op) in ops.iter().enumerate() {
        let WriteOp::Claim(c) = op else { continue };
        let mut st = tx.prepare_cached(&claim)?;
        let mut rows = st.query(params![
            c.exec.as_str(),
            c.now.as_millis(),
            i64::from(c.limit)
        ])?;
        let mut claimed = Vec::new();
        while let Some(row) = rows.next()? {
            claimed.push(iteration_from_row(row)?);
        }
        claimed.sort_by_key(|r| r.seq);
        outs[i] = Some(Ok(WriteOutcome::Claimed(claimed)));
    }
    tx.commit()?;
    Ok(outs
        .into_iter()
        .map(|o| o.unwrap_or(Err(StoreError::Aborted)))
        .collect())
}
