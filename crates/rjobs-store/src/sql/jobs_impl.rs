//! [`JobStore`](crate::JobStore) for [`SqlStore`](super::SqlStore).

use async_trait::async_trait;
use rjobs_core::jobs::ResourceJob;
use rjobs_core::list::ListParams;
use rjobs_core::Id;

use super::SqlStore;
use crate::{JobStore, Page, StoreError};

#[async_trait]
impl JobStore for SqlStore {
    async fn insert_job(&self, job: &ResourceJob) -> Result<(), StoreError> {
        self.job_insert(job).await
    }
    async fn get_job(&self, app: &Id, id: &Id) -> Result<Option<ResourceJob>, StoreError> {
        self.job_get(app, id).await
    }
    async fn list_jobs(&self, app: &Id, p: &ListParams) -> Result<Page<ResourceJob>, StoreError> {
        self.job_list(app, p).await
    }
    async fn update_job(&self, job: &ResourceJob, expected: i64) -> Result<(), StoreError> {
        self.job_update(job, expected).await
    }
    async fn delete_job(&self, app: &Id, id: &Id) -> Result<bool, StoreError> {
        self.job_delete(app, id).await
    }
}
