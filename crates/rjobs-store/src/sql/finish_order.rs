//! The finish order of iterations (migration `0020_finish_order.sql`): the group commit's
//! compare-and-set write that gives an iteration its final outcome also sets its `finish_seq`
//! to the execution's finished count before that round, plus one (`batch_plan::FINISH_SEQ`; no
//! second write of the row), and the event stream pages the finished iterations by
//! `(finish_seq, seq)` ([`SqlStore::it_finished_after`]). Every finished row's `finish_seq` is
//! at most the execution's finished count, and rows finished later get a larger one.
//!
//! Why a stamp and not `completed_at`: the completion time is read from the clock before the
//! write is queued, so a batch committed later can carry an earlier time, and a reader paging by
//! time would skip it. The finished count only grows, and it grows in commit order (batches that
//! change one execution serialise: SQLite has one writer, and on PostgreSQL each batch locks the
//! executions it changes before it reads their counters), so a row stamped after a reader's
//! cursor always sorts after the cursor.

use rjobs_core::Id;

use super::iterations::iteration_from_row;
use super::row::RowExt;
use super::{with_read, SqlStore};
use crate::{FinishedIteration, StoreError};

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
