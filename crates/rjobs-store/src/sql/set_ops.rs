//! The set-based statements of the group commit on PostgreSQL: the compare-and-set of a round's
//! iteration writes, the read of the rows a batch's acknowledgements decide on, the status lock
//! of the executions a batch changes, and the insert of its flow-run log lines.
//!
//! Each is `… FROM UNNEST($1::text[], $2::bigint[], …)`: a fixed number of array parameters
//! whatever the batch size, so one prepared statement serves every batch and the server plans a
//! dozen parameters instead of thousands (a 128-row `VALUES` update spent 0.8 ms planning). A
//! statement is a network round trip, and those, not the rows, are what a batch's time goes to.
//! SQLite runs its batch with direct calls instead (`direct.rs`).

use std::collections::{HashMap, HashSet};

use rjobs_core::Id;
use sqlx::PgConnection;

use super::batch_plan::{ms, AckTarget, RoundWrite};
use super::commit::ack_target;
use super::row::{id, RowExt};
use crate::{FlowRun, StoreError};

/// The group commit's statements on a PostgreSQL transaction.
pub(crate) trait SetOps {
    /// Applies the writes that still match their guards; returns those that won.
    async fn cas_writes(&mut self, writes: &[RoundWrite])
        -> Result<HashSet<(Id, i64)>, StoreError>;
    /// The iterations (with their executions' fields) of `(execution, resource)` keys.
    async fn read_acks(&mut self, keys: &[(&Id, &Id)]) -> Result<Vec<AckTarget>, StoreError>;
    /// The statuses of executions `ids` (sorted), their rows locked in id order until the
    /// commit: a concurrent status change waits for this batch or is seen by it, and two
    /// batches lock the executions they share in the same order.
    async fn exec_statuses(&mut self, ids: &[&Id]) -> Result<HashMap<Id, String>, StoreError>;
    /// Inserts flow-run log lines.
    async fn insert_runs(&mut self, runs: &[&FlowRun]) -> Result<(), StoreError>;
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
