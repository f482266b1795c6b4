//! Iterations: the reads dispatch needs (each served by an index on `(execution_id, state,
//! seq)` or a partial index on the timers) and the summary by `GROUP BY state`, which the tests
//! compare with the execution's counters. The writes go through the group commit (`commit.rs`).

use rjobs_core::engine::{IterationRecord, IterationState, Summary};
use rjobs_core::execution::IterationRow;
use rjobs_core::{Id, Timestamp};

use super::row::{id, RowExt};
use super::{with_read, SqlStore};
use crate::{Page, StoreError};

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

impl SqlStore {
    pub(crate) async fn it_summary(&self, exec: &Id) -> Result<Summary, StoreError> {
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

    pub(crate) async fn it_due(
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

    pub(crate) async fn it_pending(
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

    pub(crate) async fn it_next_timer(
        &self,
        exec: &Id,
        retries: bool,
    ) -> Result<Option<Timestamp>, StoreError> {
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

    pub(crate) async fn it_get(
        &self,
        exec: &Id,
        resource: &Id,
    ) -> Result<Option<IterationRow>, StoreError> {
        with_read!(self, pool => {
            let row = sqlx::query(
                "SELECT * FROM iterations WHERE execution_id = $1 AND resource_id = $2",
            )
            .bind(exec.as_str())
            .bind(resource.as_str())
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(iteration_from_row).transpose()
        })
    }

    pub(crate) async fn it_list(
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

    pub(crate) async fn it_after(
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
}
