//! Persistence of iterations: one row per resource of an execution, with its state machine
//! record (state, attempt, deadline, retry time, outcome).
//!
//! Why a trait of its own: this is the engine's hot path. Reads are served by indexes on
//! `(execution_id, state, seq)` and partial indexes on the timers; every write is a
//! compare-and-set on `(state, attempt)` that goes through the group commit
//! ([`BatchStore::submit`]), together with the execution counters it moves. Execution-level
//! reads and the status compare-and-set are [`crate::ExecutionStore`].

use async_trait::async_trait;
use rjobs_core::engine::{ExecutionStatus, IterationRecord, IterationState, Summary, Transition};
use rjobs_core::execution::IterationRow;
use rjobs_core::{Id, Timestamp};

use crate::batch::{ApplyOp, BatchStore, WriteOp, WriteOutcome};
use crate::{Fence, Page, StoreError};

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

impl IterationWrite {
    /// The write of transition `t` of the iteration at `seq`, guarded by the state and attempt
    /// the transition started from.
    pub fn of(seq: i64, t: Transition) -> Self {
        IterationWrite {
            seq,
            expected_state: t.expected_state,
            expected_attempt: t.expected_attempt,
            record: t.record,
        }
    }
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

/// Iteration persistence: the reads dispatch and the reports need, and the guarded writes.
#[async_trait]
pub trait IterationStore: BatchStore + Send + Sync {
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
    /// Counts by state, from the iteration records themselves (tests compare it with the
    /// counters of [`ExecutionStore::summary`](crate::ExecutionStore::summary)).
    async fn summary_from_records(&self, exec: &Id) -> Result<Summary, StoreError>;
    /// Applies iteration writes (each a compare-and-set) and the execution write in one
    /// transaction (through [`BatchStore::submit`]); returns which writes won.
    async fn apply_iterations(
        &self,
        exec: &Id,
        writes: &[IterationWrite],
        exec_write: &ExecWrite,
    ) -> Result<Vec<bool>, StoreError> {
        let op = WriteOp::Apply(ApplyOp {
            exec: exec.clone(),
            writes: writes.to_vec(),
            exec_write: exec_write.clone(),
        });
        match self.submit(vec![op]).await.pop() {
            Some(Ok(WriteOutcome::Applied(won))) => Ok(won),
            Some(Err(e)) => Err(e),
            Some(Ok(_)) | None => Err(StoreError::Aborted),
        }
    }
}
