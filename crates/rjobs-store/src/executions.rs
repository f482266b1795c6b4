//! Persistence of executions: one row per run of a job, holding what the run was started with
//! (the settings snapshot, the query, the controls), its status, and its counters.
//!
//! Why a trait of its own: these methods read and write the `executions` row (and, on creation,
//! materialise the target set), at the pace of API calls and status changes. The per-resource
//! work of a run, read and written thousands of times per second, is [`crate::IterationStore`].

use async_trait::async_trait;
use rjobs_core::engine::{ExecutionStatus, IterationState, Summary};
use rjobs_core::execution::Execution;
use rjobs_core::{Id, Timestamp};

use crate::{Fence, StoreError};

/// What an execution iterates over: the resource type, the data table (rows), and the compiled
/// query. The target set is materialised from it once, inside the database.
#[derive(Debug, Clone, Copy)]
pub struct TargetSpec<'a> {
    /// Resource type.
    pub rt: rjobs_query::ResourceType,
    /// The data table (row jobs).
    pub table: Option<&'a Id>,
    /// The parsed query.
    pub query: &'a rjobs_query::Query,
    /// A re-run: only the resources that ended an earlier execution in one of these states
    /// (and still exist).
    pub rerun: Option<RerunOf<'a>>,
}

/// The earlier execution a re-run re-drives, and the final states it takes.
#[derive(Debug, Clone, Copy)]
pub struct RerunOf<'a> {
    /// The earlier execution.
    pub execution: &'a Id,
    /// Its iterations' final states to take (`failed`, `timedOut`, ...).
    pub states: &'a [IterationState],
}

/// Execution persistence: creation, reads and the status compare-and-set.
#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Inserts the execution and its whole target set (one iteration per matching resource, in
    /// id order) in one transaction, and stamps the job's `lastExecutionRequested`. Returns the
    /// number of iterations.
    async fn create_execution(
        &self,
        e: &Execution,
        target: &TargetSpec<'_>,
    ) -> Result<i64, StoreError>;
    /// One execution of a job.
    async fn get_execution(
        &self,
        app: &Id,
        job: &Id,
        id: &Id,
    ) -> Result<Option<Execution>, StoreError>;
    /// A job's executions, newest first, started at or after `since`.
    async fn list_executions(
        &self,
        app: &Id,
        job: &Id,
        since: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<Execution>, StoreError>;
    /// Number of executions in each status (for metrics).
    async fn executions_by_status(&self) -> Result<Vec<(String, i64)>, StoreError>;
    /// One execution by id alone (the engine's view of an execution it leases).
    async fn load_execution(&self, id: &Id) -> Result<Option<Execution>, StoreError>;
    /// The execution's counters (one row; kept with every transition). Compare
    /// [`IterationStore::summary_from_records`](crate::IterationStore::summary_from_records).
    async fn summary(&self, exec: &Id) -> Result<Summary, StoreError>;
    /// Compare-and-set of the execution's status (and cancel source, completion time, error
    /// message) from `expected`; with `abandon`, pending and retrying iterations become
    /// `notStarted` in the same transaction. With a `fence`, refused with
    /// [`StoreError::Fenced`] unless it still holds the lease. A final status drops the lease.
    async fn update_execution(
        &self,
        e: &Execution,
        expected: ExecutionStatus,
        abandon: bool,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError>;
}
