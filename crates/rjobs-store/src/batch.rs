//! The group commit's vocabulary: the state changes every writer hands to the store
//! ([`WriteOp`]) and what each caller gets back ([`WriteOutcome`]).
//!
//! Every iteration transition, acknowledgement, worker claim and flow-run log line goes through
//! [`BatchStore::submit`]: one writer per store drains what is waiting
//! (at most [`MAX_BATCH`] operations) into one transaction of set-based statements, and answers
//! each caller with its own outcome after the commit. A conflict, a stale attempt or a lost
//! fence is an *outcome* of that one operation, never an error of its neighbours; if the
//! transaction itself fails, each operation is retried alone so that only the culprit fails.

use async_trait::async_trait;
use rjobs_core::engine::{AckInput, AckRefusal, Transition};
use rjobs_core::execution::IterationRow;
use rjobs_core::{Id, Timestamp};

use crate::{ExecWrite, FlowRun, IterationWrite, StoreError};

/// Most operations committed in one transaction.
pub const MAX_BATCH: usize = 1000;

/// The group commit. A trait of its own because its operations cut across the others
/// (iterations, execution counters, acks, worker claims, flow-run log lines): what they share is
/// the transaction, not a table.
#[async_trait]
pub trait BatchStore: Send + Sync {
    /// Queues `ops`, which one writer commits with whatever else is waiting in one transaction;
    /// each gets its own outcome, in order, once it is durable.
    async fn submit(&self, ops: Vec<WriteOp>) -> Vec<Result<WriteOutcome, StoreError>>;
}

/// One state change.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// An acknowledgement, decided inside the transaction by
    /// [`rjobs_core::engine::decide_ack`] on the row and execution read there.
    Ack(AckOp),
    /// The engine's writes of one execution (starts, deadlines, retries, settled iterations).
    Apply(ApplyOp),
    /// A workflow run's log line.
    FlowRun(FlowRun),
    /// Hands started attempts no worker has claimed yet to an external worker.
    Claim(ClaimOp),
}

/// An acknowledgement of one iteration.
#[derive(Debug, Clone)]
pub struct AckOp {
    /// The application the caller acts for: an execution of another one is not found.
    pub app: Id,
    /// The job the caller named, if any: an execution of another job is not found.
    pub job: Option<Id>,
    /// The execution.
    pub exec: Id,
    /// The iteration's resource.
    pub resource: Id,
    /// The ack itself.
    pub input: AckInput,
}

/// The engine's compare-and-set writes of one execution and its execution-row changes.
#[derive(Debug, Clone)]
pub struct ApplyOp {
    /// The execution.
    pub exec: Id,
    /// Iteration writes, each applied only if its guard still holds.
    pub writes: Vec<IterationWrite>,
    /// Execution columns, and the lease the writes were decided under.
    pub exec_write: ExecWrite,
}

/// A worker's claim of started attempts of one execution.
#[derive(Debug, Clone)]
pub struct ClaimOp {
    /// The execution.
    pub exec: Id,
    /// At most this many.
    pub limit: u32,
    /// Attempts whose deadline has passed are not handed out.
    pub now: Timestamp,
}

/// What one operation did.
#[derive(Debug, Clone)]
pub enum WriteOutcome {
    /// The ack's outcome.
    Ack(Result<AckApplied, AckRejected>),
    /// Which of an [`ApplyOp`]'s writes won their compare-and-set.
    Applied(Vec<bool>),
    /// The flow run was logged.
    Logged,
    /// The attempts handed out, in target-set order (`claimed_attempt` is now their attempt).
    Claimed(Vec<IterationRow>),
}

/// An applied acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckApplied {
    /// The iteration's position.
    pub seq: i64,
    /// The transition written.
    pub transition: Transition,
}

/// Why an acknowledgement changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckRejected {
    /// No such execution in the application (or job).
    #[error("execution not found")]
    ExecutionNotFound,
    /// No such iteration in the execution.
    #[error("iteration not found")]
    IterationNotFound,
    /// The ack was decided and refused.
    #[error("{0}")]
    Refused(AckRefusal),
    /// Another write settled the iteration between the read and the write (a deadline, or a
    /// concurrent ack on another node).
    #[error("the iteration was settled concurrently")]
    Lost,
}
