//! [`ExecStore`](crate::ExecStore) for [`SqlStore`](super::SqlStore).

use async_trait::async_trait;
use rjobs_core::engine::{ExecutionStatus, IterationState, Summary};
use rjobs_core::execution::{Execution, IterationRow};
use rjobs_core::{Id, Timestamp};

use super::SqlStore;
use crate::batch::{ApplyOp, WriteOp, WriteOutcome};
use crate::{ExecStore, ExecWrite, Fence, IterationWrite, Page, StoreError, TargetSpec};

#[async_trait]
impl ExecStore for SqlStore {
    async fn create_execution(&self, e: &Execution, t: &TargetSpec<'_>) -> Result<i64, StoreError> {
        self.exec_create(e, t).await
    }
    async fn get_execution(
        &self,
        app: &Id,
        job: &Id,
        id: &Id,
    ) -> Result<Option<Execution>, StoreError> {
        self.exec_get(app, job, id).await
    }
    async fn list_executions(
        &self,
        app: &Id,
        job: &Id,
        since: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<Execution>, StoreError> {
        self.exec_list(app, job, since, limit).await
    }
    async fn executions_by_status(&self) -> Result<Vec<(String, i64)>, StoreError> {
        super::with_read!(self, pool => {
            Ok(sqlx::query_as("SELECT status, COUNT(*) FROM executions GROUP BY status")
                .fetch_all(pool)
                .await?)
        })
    }
    async fn load_execution(&self, id: &Id) -> Result<Option<Execution>, StoreError> {
        self.exec_load(id).await
    }
    async fn summary(&self, exec: &Id) -> Result<Summary, StoreError> {
        Ok(self
            .exec_load(exec)
            .await?
            .map(|e| e.summary)
            .unwrap_or_default())
    }
    async fn summary_from_records(&self, exec: &Id) -> Result<Summary, StoreError> {
        self.it_summary(exec).await
    }
    async fn submit(&self, ops: Vec<WriteOp>) -> Vec<Result<WriteOutcome, StoreError>> {
        self.submit_ops(ops).await
    }
    async fn due_iterations(
        &self,
        exec: &Id,
        now: Timestamp,
        limit: u32,
        retries: bool,
    ) -> Result<Vec<IterationRow>, StoreError> {
        self.it_due(exec, now, limit, retries).await
    }
    async fn pending_iterations(
        &self,
        exec: &Id,
        limit: u32,
    ) -> Result<Vec<IterationRow>, StoreError> {
        self.it_pending(exec, limit).await
    }
    async fn next_timer(&self, exec: &Id, retries: bool) -> Result<Option<Timestamp>, StoreError> {
        self.it_next_timer(exec, retries).await
    }
    async fn get_iteration(
        &self,
        exec: &Id,
        resource: &Id,
    ) -> Result<Option<IterationRow>, StoreError> {
        self.it_get(exec, resource).await
    }
    async fn list_iterations(
        &self,
        exec: &Id,
        state: Option<IterationState>,
        offset: u64,
        limit: u32,
    ) -> Result<Page<IterationRow>, StoreError> {
        self.it_list(exec, state, offset, limit).await
    }
    async fn iterations_after(
        &self,
        exec: &Id,
        after: i64,
        limit: u32,
    ) -> Result<Vec<IterationRow>, StoreError> {
        self.it_after(exec, after, limit).await
    }
    async fn finished_after(
        &self,
        exec: &Id,
        after: (i64, i64),
        limit: u32,
    ) -> Result<Vec<crate::FinishedIteration>, StoreError> {
        self.it_finished_after(exec, after, limit).await
    }
    async fn apply_iterations(
        &self,
        exec: &Id,
        writes: &[IterationWrite],
        ew: &ExecWrite,
    ) -> Result<Vec<bool>, StoreError> {
        let op = WriteOp::Apply(ApplyOp {
            exec: exec.clone(),
            writes: writes.to_vec(),
            exec_write: ew.clone(),
        });
        match self.submit_ops(vec![op]).await.pop() {
            Some(Ok(WriteOutcome::Applied(won))) => Ok(won),
            Some(Err(e)) => Err(e),
            Some(Ok(_)) | None => Err(StoreError::Aborted),
        }
    }
    async fn update_execution(
        &self,
        e: &Execution,
        expected: ExecutionStatus,
        abandon: bool,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError> {
        self.exec_update(e, expected, abandon, fence).await
    }
    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        self.secret(name, fresh).await
    }
}
