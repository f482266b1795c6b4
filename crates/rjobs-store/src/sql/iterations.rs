//! Iterations: the reads dispatch needs (each served by an index on `(execution_id, state,
//! seq)` or a partial index on the timers) and the summary by `GROUP BY state`, which the tests
//! compare with the execution's counters. The writes go through the group commit (`commit.rs`).
//!
//! ## Finish order
//!
//! The finish order of iterations (migration `0020_finish_order.sql`): the group commit's
//! compare-and-set write that gives an iteration its final outcome also sets its `finish_seq`
//! to the execution's finished count before that round, plus one (`batch_plan::FINISH_SEQ`; no
//! second write of the row), and the event stream pages the finished iterations by
//! `(finish_seq, seq)` ([`IterationStore::finished_after`]). Every finished row's `finish_seq` is
//! at most the execution's finished count, and rows finished later get a larger one.
//!
//! Why a stamp and not `completed_at`: the completion time is read from the clock before the
//! write is queued, so a batch committed later can carry an earlier time, and a reader paging by
//! time would skip it. The finished count only grows, and it grows in commit order (batches that
//! change one execution serialise: SQLite has one writer, and on PostgreSQL each batch locks the
//! executions it changes before it reads their counters), so a row stamped after a reader's
//! cursor always sorts after the cursor.

use async_trait::async_trait;
use rjobs_core::engine::{IterationRecord, IterationState, Summary};
use rjobs_core::execution::IterationRow;
use rjobs_core::{Id, Timestamp};

use super::row::{id, RowExt};
use super::{fetch_optional, with_read, SqlStore};
use crate::{FinishedIteration, IterationStore, Page, StoreError};

fn opt_ts(r: &impl RowExt, col: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(r.opt_int(col)?.map(Timestamp::from_millis))
}

pub(crate) fn iteration_from_row(r: &impl RowExt) -> Result<IterationRow, StoreError> {
    let state = r.text("state")?;
    let attempt = r.int("attempt")?;
    Ok(IterationRow {
        execution_id: id(r, "execution_id")?,
        seq: r.int("seq")?,
        resource_id: id(r, "resource_id")?,
        resource_name: r.text("resource_name")?,
        record: IterationRecord {
            state: IterationState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("state {state:?}")))?,
            attempt: u32::try_from(attempt)
                .map_err(|_| StoreError::Corrupt(format!("attempt {attempt}")))?,
            started_at: opt_ts(r, "started_at")?,
            deadline: opt_ts(r, "deadline")?,
            retry_at: opt_ts(r, "retry_at")?,
            completed_at: opt_ts(r, "completed_at")?,
            message: r.opt_text("message")?,
            accumulator: r.opt_text("accumulator")?,
        },
    })
}

#[async_trait]
impl IterationStore for SqlStore {
    async fn summary_from_records(&self, exec: &Id) -> Result<Summary, StoreError> {
        with_read!(self, pool => {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT state, COUNT(*) FROM iterations WHERE execution_id = $1 GROUP BY state",
            )
            .bind(exec.as_str())
            .fetch_all(pool)
            .await?;
            let mut counts = Vec::with_capacity(rows.len());
            for (s, n) in rows {
                let st = IterationState::parse(&s)
                    .ok_or_else(|| StoreError::Corrupt(format!("state {s:?}")))?;
                counts.push((st, n as u64));
            }
            Ok(Summary::from_counts(counts))
        })
    }

    async fn due_iterations(
        &self,
        exec: &Id,
        now: Timestamp,
        limit: u32,
        retries: bool,
    ) -> Result<Vec<IterationRow>, StoreError> {
        const DEADLINES: &str = "SELECT * FROM iterations WHERE execution_id = $1
             AND state = 'inProgress' AND (deadline IS NULL OR deadline <= $2)
             ORDER BY seq LIMIT $3";
        const BOTH: &str = "SELECT * FROM (
                 SELECT * FROM iterations WHERE execution_id = $1 AND state = 'inProgress'
                     AND (deadline IS NULL OR deadline <= $2)
                 UNION ALL
                 SELECT * FROM iterations WHERE execution_id = $1 AND state = 'retrying'
                     AND (retry_at IS NULL OR retry_at <= $2)
             ) due ORDER BY seq LIMIT $3";
        with_read!(self, pool => {
            let rows = sqlx::query(if retries { BOTH } else { DEADLINES })
                .bind(exec.as_str())
                .bind(now.as_millis())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(iteration_from_row).collect()
        })
    }

    async fn pending_iterations(
        &self,
        exec: &Id,
        limit: u32,
    ) -> Result<Vec<IterationRow>, StoreError> {
        with_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM iterations WHERE execution_id = $1 AND state = 'pending'
                 ORDER BY seq LIMIT $2",
            )
            .bind(exec.as_str())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(iteration_from_row).collect()
        })
    }

    async fn next_timer(&self, exec: &Id, retries: bool) -> Result<Option<Timestamp>, StoreError> {
        with_read!(self, pool => {
            let (deadline, retry): (Option<i64>, Option<i64>) = sqlx::query_as(
                "SELECT
                     (SELECT MIN(deadline) FROM iterations WHERE execution_id = $1
                         AND state = 'inProgress'),
                     (SELECT MIN(retry_at) FROM iterations WHERE execution_id = $1
                         AND state = 'retrying')",
            )
            .bind(exec.as_str())
            .fetch_one(pool)
            .await?;
            let retry = retry.filter(|_| retries);
            Ok([deadline, retry].into_iter().flatten().min().map(Timestamp::from_millis))
        })
    }

    async fn get_iteration(
        &self,
        exec: &Id,
        resource: &Id,
    ) -> Result<Option<IterationRow>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM iterations WHERE execution_id = $1 AND resource_id = $2",)
                .bind(exec.as_str())
                .bind(resource.as_str()),
            iteration_from_row
        )
    }

    async fn list_iterations(
        &self,
        exec: &Id,
        state: Option<IterationState>,
        offset: u64,
        limit: u32,
    ) -> Result<Page<IterationRow>, StoreError> {
        let filter = if state.is_some() {
            " AND state = $2"
        } else {
            " AND $2 = $2"
        };
        let count_sql = format!("SELECT COUNT(*) FROM iterations WHERE execution_id = $1{filter}");
        let page_sql = format!(
            "SELECT * FROM iterations WHERE execution_id = $1{filter} ORDER BY seq LIMIT $3 OFFSET $4"
        );
        let st = state.map_or("", IterationState::as_str);
        with_read!(self, pool => {
            let total: i64 = sqlx::query_scalar(&count_sql)
                .bind(exec.as_str())
                .bind(st)
                .fetch_one(pool)
                .await?;
            let rows = sqlx::query(&page_sql)
                .bind(exec.as_str())
                .bind(st)
                .bind(i64::from(limit))
                .bind(offset as i64)
                .fetch_all(pool)
                .await?;
            Ok(Page {
                items: rows.iter().map(iteration_from_row).collect::<Result<_, _>>()?,
                total_count: total as u64,
            })
        })
    }

    async fn iterations_after(
        &self,
        exec: &Id,
        after: i64,
        limit: u32,
    ) -> Result<Vec<IterationRow>, StoreError> {
        with_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM iterations WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(exec.as_str())
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(iteration_from_row).collect()
        })
    }

    async fn finished_after(
        &self,
        exec: &Id,
        after: (i64, i64),
        limit: u32,
    ) -> Result<Vec<FinishedIteration>, StoreError> {
        with_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM iterations WHERE execution_id = $1 AND finish_seq IS NOT NULL
                     AND (finish_seq > $2 OR (finish_seq = $2 AND seq > $3))
                 ORDER BY finish_seq, seq LIMIT $4",
            )
            .bind(exec.as_str())
            .bind(after.0)
            .bind(after.1)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(FinishedIteration {
                        finish_seq: r.int("finish_seq")?,
                        row: iteration_from_row(r)?,
                    })
                })
                .collect()
        })
    }
}
