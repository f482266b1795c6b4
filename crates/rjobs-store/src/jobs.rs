//! Persistence of resource jobs (and, with the engine, their executions and iterations).

use async_trait::async_trait;
use rjobs_core::engine::{ExecutionStatus, IterationRecord, IterationState, Summary};
use rjobs_core::execution::{Execution, IterationRow};
use rjobs_core::jobs::ResourceJob;
use rjobs_core::list::ListParams;
use rjobs_core::{Id, Timestamp};

use crate::batch::{WriteOp, WriteOutcome};
use crate::{Fence, Page, StoreError};

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

/// One compare-and-set write of an iteration: applied only if the row is still in
/// (`expected_state`, `expected_attempt`).
#[derive(Debug, Clone)]
pub struct IterationWrite {
    /// Row.
    pub seq: i64,
    /// Guard.
    pub expected_state: IterationState,
    /// Guard (the fencing token).
    pub expected_attempt: u32,
    /// New record.
    pub record: IterationRecord,
}

/// A finished iteration with its place in the execution's finish order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedIteration {
    /// The execution's finished count right after the transaction that finished it (several
    /// rows of one transaction share it; `seq` orders them). 0 for rows finished before the
    /// finish order was recorded.
    pub finish_seq: i64,
    /// The iteration.
    pub row: IterationRow,
}

/// Execution columns updated in the same transaction as a batch of iteration writes.
#[derive(Debug, Clone, Default)]
pub struct ExecWrite {
    /// Set `last_start_at` (an attempt started).
    pub last_start_at: Option<Timestamp>,
    /// The lease the writer holds (engine dispatch); None for writes any node may make (acks:
    /// their compare-and-set on (state, attempt) is their guard).
    pub fence: Option<Fence>,
    /// Apply only while the execution is in this status (starts: `inProgress`), checked in the
    /// commit's transaction; otherwise the op fails with [`StoreError::Conflict`] and writes
    /// nothing. A pause or cancel answered by any node therefore wins over a start decided
    /// before it.
    pub require_status: Option<ExecutionStatus>,
}

/// Execution and iteration persistence, used by the engine.
#[async_trait]
pub trait ExecStore: Send + Sync {
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
    /// The execution's counters (one row; kept with every transition).
    async fn summary(&self, exec: &Id) -> Result<Summary, StoreError>;
    /// Counts by state, from the iteration records (tests compare it with [`Self::summary`]).
    async fn summary_from_records(&self, exec: &Id) -> Result<Summary, StoreError>;
    /// The group commit: queues `ops`, which one writer commits with whatever else is waiting
    /// in one transaction; each gets its own outcome, in order, once it is durable.
    async fn submit(&self, ops: Vec<WriteOp>) -> Vec<Result<WriteOutcome, StoreError>>;
    /// In-progress iterations past their deadline and (with `retries`) retrying ones past
    /// their retry time. A paused execution asks without retries: they wait for resume.
    async fn due_iterations(
        &self,
        exec: &Id,
        now: Timestamp,
        limit: u32,
        retries: bool,
    ) -> Result<Vec<IterationRow>, StoreError>;
    /// The next pending iterations in target-set order.
    async fn pending_iterations(
        &self,
        exec: &Id,
        limit: u32,
    ) -> Result<Vec<IterationRow>, StoreError>;
    /// The earliest deadline of an attempt in progress or (with `retries`) retry time of a
    /// retrying iteration (two partial indexes); slots held and pending work are the
    /// execution's counters.
    async fn next_timer(&self, exec: &Id, retries: bool) -> Result<Option<Timestamp>, StoreError>;
    /// The iteration of one resource.
    async fn get_iteration(
        &self,
        exec: &Id,
        resource: &Id,
    ) -> Result<Option<IterationRow>, StoreError>;
    /// A page of iterations in order, optionally of one state, with the matching total.
    async fn list_iterations(
        &self,
        exec: &Id,
        state: Option<IterationState>,
        offset: u64,
        limit: u32,
    ) -> Result<Page<IterationRow>, StoreError>;
    /// Iterations after position `after_seq`, in order (keyset paging for the report).
    async fn iterations_after(
        &self,
        exec: &Id,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<IterationRow>, StoreError>;
    /// Finished iterations (succeeded, failed, timed out) in finish order, after the keyset
    /// position `after` = `(finish_seq, seq)`; `(0, 0)` starts at the beginning. A row that
    /// finishes later always sorts after every row already returned (see
    /// [`FinishedIteration::finish_seq`]), so paging never skips one.
    async fn finished_after(
        &self,
        exec: &Id,
        after: (i64, i64),
        limit: u32,
    ) -> Result<Vec<FinishedIteration>, StoreError>;
    /// Applies iteration writes (each a compare-and-set) and the execution write in one
    /// transaction (through [`Self::submit`]); returns which writes won.
    async fn apply_iterations(
        &self,
        exec: &Id,
        writes: &[IterationWrite],
        exec_write: &ExecWrite,
    ) -> Result<Vec<bool>, StoreError>;
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
    /// The secret `name`, created from `fresh` the first time (shared by all nodes).
    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError>;
}
