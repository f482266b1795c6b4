//! Persistence of resource jobs: the job definitions an API client creates, reads, updates and
//! deletes. What happens when a job runs lives in [`crate::executions`] (one row per run) and
//! [`crate::iterations`] (one row per resource of a run).

use async_trait::async_trait;
use rjobs_core::jobs::ResourceJob;
use rjobs_core::list::ListParams;
use rjobs_core::Id;

use crate::{Page, StoreError};

/// Job persistence.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Inserts a job.
    async fn insert_job(&self, job: &ResourceJob) -> Result<(), StoreError>;
    /// One job of an application.
    async fn get_job(&self, app: &Id, id: &Id) -> Result<Option<ResourceJob>, StoreError>;
    /// A page of an application's jobs.
    async fn list_jobs(&self, app: &Id, p: &ListParams) -> Result<Page<ResourceJob>, StoreError>;
    /// Compare-and-set update of every mutable field; the stored version becomes `job.version`.
    async fn update_job(&self, job: &ResourceJob, expected_version: i64) -> Result<(), StoreError>;
    /// Deletes a job; false if it did not exist.
    async fn delete_job(&self, app: &Id, id: &Id) -> Result<bool, StoreError>;
}
