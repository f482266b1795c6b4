//! The finish order of iterations (migration `0020_finish_order.sql`): the group commit stamps
//! each iteration it gives a final outcome with its execution's finished count after the change
//! ([`STAMP_SQL`], in the commit's transaction), and the event stream pages the finished
//! iterations by `(finish_seq, seq)` ([`SqlStore::it_finished_after`]).
//!
//! Why a stamp and not `completed_at`: the completion time is read from the clock before the
//! write is queued, so a batch committed later can carry an earlier time, and a reader paging by
//! time would skip it. The finished count only grows, and it grows in commit order (writers of
//! one execution serialise on its counter row), so a row stamped after a reader's cursor always
//! sorts after the cursor.

use rjobs_core::Id;

use super::iterations::iteration_from_row;
use super::row::RowExt;
use super::{with_read, SqlStore};
use crate::{FinishedIteration, StoreError};

/// Stamps the iterations of execution `$1` that got a final outcome in this transaction (the
/// partial index `iterations_unstamped` holds exactly those). Run after the counters' update.
pub(crate) const STAMP_SQL: &str = "UPDATE iterations SET finish_seq =
         (SELECT n_succeeded + n_failed + n_timed_out FROM executions WHERE id = $1)
     WHERE execution_id = $1 AND finish_seq IS NULL
         AND state IN ('succeeded', 'failed', 'timedOut')";

impl SqlStore {
    pub(crate) async fn it_finished_after(
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
