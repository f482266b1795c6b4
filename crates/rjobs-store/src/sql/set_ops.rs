//! The set-based statements of the group commit, each written the way its database runs it
//! best: the compare-and-set of a round's iteration writes, the read of the rows a batch's
//! acknowledgements decide on, and the insert of its flow-run log lines.
//!
//! - **SQLite**: `… FROM (VALUES (?, …), …)` with positional `?` placeholders, padded to a
//!   power-of-two row count with rows that match nothing, so each size is prepared once.
//! - **PostgreSQL**: `… FROM UNNEST($1::text[], $2::bigint[], …)`: twelve array parameters
//!   whatever the batch size, so one prepared statement serves every batch and the server plans
//!   twelve parameters instead of thousands (a 128-row `VALUES` update spent 0.8 ms planning).
//!
//! Either way a batch's writes of one kind are one statement, whatever their number (up to the
//! batch bound): each statement is a hand-off to SQLite's worker thread or a round trip to
//! PostgreSQL, and those, not the rows, are what a batch's time goes to.

use std::collections::{HashMap, HashSet};

use rjobs_core::{Id, Timestamp};
use sqlx::{PgConnection, SqliteConnection};

use super::batch_plan::{
    ack_read_sql, flow_runs_sql, padded, update_sql, AckTarget, RoundWrite, FLOW_RUN_COLS,
};
use super::commit::ack_target;
use super::row::{id, RowExt};
use crate::{FlowRun, StoreError};

/// Iteration writes per SQLite `UPDATE` (12 parameters each).
const WRITES_PER_STATEMENT: usize = 512;
/// Ack keys per SQLite read.
const KEYS_PER_READ: usize = 512;
/// Flow runs per SQLite `INSERT` (10 parameters each).
const RUNS_PER_STATEMENT: usize = 256;

fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_millis)
}

/// The backend-specific half of the group commit's statements.
pub(crate) trait SetOps {
    /// Applies the writes that still match their guards; returns those that won.
    async fn cas_writes(&mut self, writes: &[RoundWrite])
        -> Result<HashSet<(Id, i64)>, StoreError>;
    /// The iterations (with their executions' fields) of `(execution, resource)` keys.
    async fn read_acks(&mut self, keys: &[(&Id, &Id)]) -> Result<Vec<AckTarget>, StoreError>;
    /// The statuses of executions `ids` (sorted). On PostgreSQL their rows are locked, in id
    /// order, until the commit: a concurrent status change waits for this batch or is seen by
    /// it, and two batches lock the executions they share in the same order. SQLite has one
    /// writer, so a read suffices.
    async fn exec_statuses(&mut self, ids: &[&Id]) -> Result<HashMap<Id, String>, StoreError>;
    /// Inserts flow-run log lines.
    async fn insert_runs(&mut self, runs: &[&FlowRun]) -> Result<(), StoreError>;
}

impl SetOps for SqliteConnection {
    async fn cas_writes(
        &mut self,
        writes: &[RoundWrite],
    ) -> Result<HashSet<(Id, i64)>, StoreError> {
        let mut won = HashSet::new();
        for chunk in writes.chunks(WRITES_PER_STATEMENT) {
            let size = padded(chunk.len(), WRITES_PER_STATEMENT);
            let sql = update_sql(size);
            let mut q = sqlx::query(&sql);
            for rw in chunk {
                let r = &rw.w.record;
                q = q
                    .bind(rw.exec.as_str())
                    .bind(rw.w.seq)
                    .bind(r.state.as_str())
                    .bind(i64::from(r.attempt))
                    .bind(ms(r.started_at))
                    .bind(ms(r.deadline))
                    .bind(ms(r.retry_at))
                    .bind(ms(r.completed_at))
                    .bind(r.message.as_deref())
                    .bind(r.accumulator.as_deref())
                    .bind(rw.w.expected_state.as_str())
                    .bind(i64::from(rw.w.expected_attempt));
            }
            // Padding rows name no execution, so they match nothing.
            for _ in chunk.len()..size {
                q = q
                    .bind("")
                    .bind(-1i64)
                    .bind("pending")
                    .bind(0i64)
                    .bind(None::<i64>)
                    .bind(None::<i64>)
                    .bind(None::<i64>)
                    .bind(None::<i64>)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .bind("")
                    .bind(-1i64);
            }
            for row in q.fetch_all(&mut *self).await? {
                won.insert((id(&row, "execution_id")?, row.int("seq")?));
            }
        }
        Ok(won)
    }

    async fn read_acks(&mut self, keys: &[(&Id, &Id)]) -> Result<Vec<AckTarget>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(KEYS_PER_READ) {
            let size = padded(chunk.len(), KEYS_PER_READ);
            let sql = ack_read_sql(size);
            let mut q = sqlx::query(&sql);
            for (e, r) in chunk {
                q = q.bind(e.as_str()).bind(r.as_str());
            }
            for _ in chunk.len()..size {
                q = q.bind("").bind("");
            }
            for row in q.fetch_all(&mut *self).await? {
                out.push(ack_target(&row)?);
            }
        }
        Ok(out)
    }

    async fn exec_statuses(&mut self, ids: &[&Id]) -> Result<HashMap<Id, String>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for e in ids {
            let st: Option<String> =
                sqlx::query_scalar("SELECT status FROM executions WHERE id = $1")
                    .bind(e.as_str())
                    .fetch_optional(&mut *self)
                    .await?;
            if let Some(st) = st {
                out.insert((*e).clone(), st);
            }
        }
        Ok(out)
    }

    async fn insert_runs(&mut self, runs: &[&FlowRun]) -> Result<(), StoreError> {
        for chunk in runs.chunks(RUNS_PER_STATEMENT) {
            let size = padded(chunk.len(), RUNS_PER_STATEMENT);
            let sql = flow_runs_sql(size);
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.id.as_str())
                    .bind(r.flow_id.as_str())
                    .bind(r.application_id.as_str())
                    .bind(r.time.as_millis())
                    .bind(r.trigger_type.as_str())
                    .bind(r.trigger_key.as_str())
                    .bind(r.status.as_str())
                    .bind(r.error.as_deref())
                    .bind(r.debug.to_string())
                    .bind(r.duration_ms);
            }
            // Padding rows are all NULL: the statement's `WHERE` drops them.
            for _ in 0..(size - chunk.len()) * FLOW_RUN_COLS {
                q = q.bind(None::<&str>);
            }
            q.execute(&mut *self).await?;
        }
        Ok(())
    }
}

const PG_UPDATE: &str = "UPDATE iterations SET state = v.state, attempt = v.attempt,
         started_at = v.started_at, deadline = v.deadline, retry_at = v.retry_at,
         completed_at = v.completed_at, message = v.message, accumulator = v.accumulator,
         finish_seq = CASE WHEN v.state IN ('succeeded', 'failed', 'timedOut')
             THEN (SELECT n_succeeded + n_failed + n_timed_out + 1
                   FROM executions WHERE executions.id = iterations.execution_id)
             ELSE iterations.finish_seq END
     FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
                 $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bigint[])
         AS v(execution_id, seq, state, attempt, started_at, deadline, retry_at, completed_at,
              message, accumulator, expected_state, expected_attempt)
     WHERE iterations.execution_id = v.execution_id AND iterations.seq = v.seq
         AND iterations.state = v.expected_state AND iterations.attempt = v.expected_attempt
     RETURNING iterations.execution_id, iterations.seq";

const PG_RUNS_INSERT: &str = "INSERT INTO flow_runs (id, flow_id, application_id, time,
         trigger_type, trigger_key, status, error, debug, duration_ms)
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                          $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[])";

const PG_ACK_READ: &str = "SELECT i.*, e.application_id AS x_app, e.resource_job_id AS x_job,
         e.status AS x_status, e.max_iteration_concurrency AS x_mic, e.iteration_delay AS x_delay,
         e.iteration_timeout AS x_timeout, e.retry_on_failure AS x_rof,
         e.retry_on_timeout AS x_rot, e.max_iteration_retries AS x_mir, e.retry_delay AS x_rd
     FROM UNNEST($1::text[], $2::text[]) AS k(execution_id, resource_id)
     JOIN iterations i ON i.execution_id = k.execution_id AND i.resource_id = k.resource_id
     JOIN executions e ON e.id = i.execution_id";

impl SetOps for PgConnection {
    async fn cas_writes(
        &mut self,
        writes: &[RoundWrite],
    ) -> Result<HashSet<(Id, i64)>, StoreError> {
        let mut won = HashSet::new();
        if writes.is_empty() {
            return Ok(won);
        }
        let col = |f: &dyn Fn(&RoundWrite) -> Option<i64>| writes.iter().map(f).collect::<Vec<_>>();
        let text =
            |f: &dyn Fn(&RoundWrite) -> Option<String>| writes.iter().map(f).collect::<Vec<_>>();
        let rows = sqlx::query(PG_UPDATE)
            .bind(
                writes
                    .iter()
                    .map(|w| w.exec.to_string())
                    .collect::<Vec<_>>(),
            )
            .bind(writes.iter().map(|w| w.w.seq).collect::<Vec<_>>())
            .bind(
                writes
                    .iter()
                    .map(|w| w.w.record.state.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(
                writes
                    .iter()
                    .map(|w| i64::from(w.w.record.attempt))
                    .collect::<Vec<_>>(),
            )
            .bind(col(&|w| ms(w.w.record.started_at)))
            .bind(col(&|w| ms(w.w.record.deadline)))
            .bind(col(&|w| ms(w.w.record.retry_at)))
            .bind(col(&|w| ms(w.w.record.completed_at)))
            .bind(text(&|w| w.w.record.message.clone()))
            .bind(text(&|w| w.w.record.accumulator.clone()))
            .bind(
                writes
                    .iter()
                    .map(|w| w.w.expected_state.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(
                writes
                    .iter()
                    .map(|w| i64::from(w.w.expected_attempt))
                    .collect::<Vec<_>>(),
            )
            .fetch_all(&mut *self)
            .await?;
        for row in rows {
            won.insert((id(&row, "execution_id")?, row.int("seq")?));
        }
        Ok(won)
    }

    async fn read_acks(&mut self, keys: &[(&Id, &Id)]) -> Result<Vec<AckTarget>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(PG_ACK_READ)
            .bind(keys.iter().map(|k| k.0.to_string()).collect::<Vec<_>>())
            .bind(keys.iter().map(|k| k.1.to_string()).collect::<Vec<_>>())
            .fetch_all(&mut *self)
            .await?;
        rows.iter().map(ack_target).collect()
    }

    async fn exec_statuses(&mut self, ids: &[&Id]) -> Result<HashMap<Id, String>, StoreError> {
        let list: Vec<&str> = ids.iter().map(|e| e.as_str()).collect();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, status FROM executions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
        )
        .bind(list)
        .fetch_all(&mut *self)
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for (e, st) in rows {
            let e =
                Id::parse(&e).map_err(|_| StoreError::Corrupt(format!("execution id {e:?}")))?;
            out.insert(e, st);
        }
        Ok(out)
    }

    async fn insert_runs(&mut self, runs: &[&FlowRun]) -> Result<(), StoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        let text = |f: &dyn Fn(&FlowRun) -> String| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
        sqlx::query(PG_RUNS_INSERT)
            .bind(text(&|r| r.id.to_string()))
            .bind(text(&|r| r.flow_id.to_string()))
            .bind(text(&|r| r.application_id.to_string()))
            .bind(runs.iter().map(|r| r.time.as_millis()).collect::<Vec<_>>())
            .bind(text(&|r| r.trigger_type.clone()))
            .bind(text(&|r| r.trigger_key.clone()))
            .bind(text(&|r| r.status.clone()))
            .bind(runs.iter().map(|r| r.error.clone()).collect::<Vec<_>>())
            .bind(text(&|r| r.debug.to_string()))
            .bind(runs.iter().map(|r| r.duration_ms).collect::<Vec<_>>())
            .execute(&mut *self)
            .await?;
        Ok(())
    }
}
