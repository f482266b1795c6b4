//! The execution status machine ([`execution_transition`]) and the execution summary
//! ([`summarize`]), which is always derived from iteration states, never kept as a counter.

use std::fmt;

use serde::Serialize;

use super::types::IterationState;

/// An execution's status. Stored as [`ExecutionStatus::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    /// Dispatching iterations.
    InProgress,
    /// Paused by an operator: nothing new starts (neither pending iterations nor retries);
    /// attempts in flight still accept their acknowledgements and still time out.
    Paused,
    /// Final: every iteration has a final outcome (individual failures included).
    Completed,
    /// Cancel requested; in-flight attempts drain.
    Canceling,
    /// Final: canceled and drained.
    Canceled,
    /// The execution itself failed (e.g. its data table was deleted); in-flight attempts drain.
    Erroring,
    /// Final: errored and drained.
    Errored,
}

impl ExecutionStatus {
    /// Every status.
    pub const ALL: [ExecutionStatus; 7] = [
        ExecutionStatus::InProgress,
        ExecutionStatus::Paused,
        ExecutionStatus::Completed,
        ExecutionStatus::Canceling,
        ExecutionStatus::Canceled,
        ExecutionStatus::Erroring,
        ExecutionStatus::Errored,
    ];

    /// The SPEC's camelCase name, also the stored value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::InProgress => "inProgress",
            ExecutionStatus::Paused => "paused",
            ExecutionStatus::Completed => "completed",
            ExecutionStatus::Canceling => "canceling",
            ExecutionStatus::Canceled => "canceled",
            ExecutionStatus::Erroring => "erroring",
            ExecutionStatus::Errored => "errored",
        }
    }

    /// Parses the camelCase name.
    pub fn parse(s: &str) -> Option<Self> {
        ExecutionStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// `completed`, `canceled` and `errored` are final: `runCompletedAt` is set, the report is
    /// written and Job: Complete fires.
    pub const fn is_final(self) -> bool {
        match self {
            ExecutionStatus::Completed | ExecutionStatus::Canceled | ExecutionStatus::Errored => {
                true
            }
            ExecutionStatus::InProgress
            | ExecutionStatus::Paused
            | ExecutionStatus::Canceling
            | ExecutionStatus::Erroring => false,
        }
    }

    /// The Job: Complete trigger's `success`: true only for `completed`.
    pub const fn complete_trigger_success(self) -> bool {
        match self {
            ExecutionStatus::Completed => true,
            ExecutionStatus::InProgress
            | ExecutionStatus::Paused
            | ExecutionStatus::Canceling
            | ExecutionStatus::Canceled
            | ExecutionStatus::Erroring
            | ExecutionStatus::Errored => false,
        }
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened to an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionEvent {
    /// `cancelExecution` (or the job's deletion, or an abort threshold).
    CancelRequested,
    /// `pauseExecution`.
    PauseRequested,
    /// `resumeExecution`.
    ResumeRequested,
    /// The execution itself failed mid-run.
    ErrorRaised {
        /// Why; the engine records it with the status (the first error wins).
        message: String,
    },
    /// No iteration holds a slot (`inProgress`/`retrying`) any more, and — for an `inProgress`
    /// execution — none is `pending` either. See [`Summary::is_drained`].
    Drained,
}

/// Why an execution event changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionRefusal {
    /// The execution is final (`completed`, `errored`; or `canceled` for anything but a cancel).
    /// The cancel endpoint maps it to 400 `Validation`.
    #[error("execution is already {status}")]
    AlreadyFinal {
        /// Its status.
        status: ExecutionStatus,
    },
    /// The execution is already stopping for another reason (an error while canceling or
    /// erroring, a cancel while erroring). The cancel endpoint maps it to 400 `Validation`.
    #[error("execution is already {status}")]
    AlreadyStopping {
        /// Its status.
        status: ExecutionStatus,
    },
}

/// Applies `ev` to an execution in `status`. `Ok(s)` with `s == status` (a repeated cancel) is
/// an idempotent success: the API answers 200 and nothing is written (the first cancel's
/// `cancelSourceType`/`cancelSourceId` stay).
pub fn execution_transition(
    status: ExecutionStatus,
    ev: &ExecutionEvent,
) -> Result<ExecutionStatus, ExecutionRefusal> {
    use ExecutionEvent as V;
    use ExecutionStatus as S;
    match (status, ev) {
        (S::InProgress, V::CancelRequested) => Ok(S::Canceling),
        (S::InProgress, V::ErrorRaised { .. }) => Ok(S::Erroring),
        (S::InProgress, V::Drained) => Ok(S::Completed),
        (S::InProgress, V::PauseRequested) => Ok(S::Paused),
        (S::InProgress, V::ResumeRequested) => Ok(S::InProgress),

        (S::Paused, V::CancelRequested) => Ok(S::Canceling),
        (S::Paused, V::ErrorRaised { .. }) => Ok(S::Erroring),
        // The last attempt in flight finished while paused and nothing is left: done.
        (S::Paused, V::Drained) => Ok(S::Completed),
        (S::Paused, V::PauseRequested) => Ok(S::Paused),
        (S::Paused, V::ResumeRequested) => Ok(S::InProgress),

        (S::Canceling, V::CancelRequested) => Ok(S::Canceling),
        // Cancel came first and wins; the engine just logs the error.
        (S::Canceling, V::ErrorRaised { .. }) => Err(ExecutionRefusal::AlreadyStopping { status }),
        (S::Canceling, V::Drained) => Ok(S::Canceled),
        (S::Canceling, V::PauseRequested | V::ResumeRequested) => {
            Err(ExecutionRefusal::AlreadyStopping { status })
        }

        // Erroring will end `errored`; a cancel cannot turn it into `canceled` (400).
        (S::Erroring, V::CancelRequested) => Err(ExecutionRefusal::AlreadyStopping { status }),
        // The first error's message is the one kept.
        (S::Erroring, V::ErrorRaised { .. }) => Err(ExecutionRefusal::AlreadyStopping { status }),
        (S::Erroring, V::Drained) => Ok(S::Errored),
        (S::Erroring, V::PauseRequested | V::ResumeRequested) => {
            Err(ExecutionRefusal::AlreadyStopping { status })
        }

        (S::Canceled, V::CancelRequested) => Ok(S::Canceled),
        (
            S::Canceled,
            V::ErrorRaised { .. } | V::Drained | V::PauseRequested | V::ResumeRequested,
        ) => Err(ExecutionRefusal::AlreadyFinal { status }),
        (
            S::Completed | S::Errored,
            V::CancelRequested
            | V::ErrorRaised { .. }
            | V::Drained
            | V::PauseRequested
            | V::ResumeRequested,
        ) => Err(ExecutionRefusal::AlreadyFinal { status }),
    }
}

/// `executionSummary`: counts of iterations by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `succeeded`.
    pub succeeded: u64,
    /// `failed`.
    pub failed: u64,
    /// `timedOut`.
    pub timed_out: u64,
    /// `inProgress` + `retrying`.
    pub in_progress: u64,
    /// `pending` + `notStarted`.
    pub remaining: u64,
}

impl Summary {
    /// Adds `n` iterations in `state`.
    pub fn add(&mut self, state: IterationState, n: u64) {
        let slot = match state {
            IterationState::Succeeded => &mut self.succeeded,
            IterationState::Failed => &mut self.failed,
            IterationState::TimedOut => &mut self.timed_out,
            IterationState::InProgress | IterationState::Retrying => &mut self.in_progress,
            IterationState::Pending | IterationState::NotStarted => &mut self.remaining,
        };
        *slot = slot.saturating_add(n);
    }

    /// From `(state, count)` rows, as a store's `GROUP BY state` returns them.
    pub fn from_counts(rows: impl IntoIterator<Item = (IterationState, u64)>) -> Self {
        let mut s = Summary::default();
        for (state, n) in rows {
            s.add(state, n);
        }
        s
    }

    /// Number of iterations counted.
    pub const fn total(&self) -> u64 {
        self.succeeded
            .saturating_add(self.failed)
            .saturating_add(self.timed_out)
            .saturating_add(self.in_progress)
            .saturating_add(self.remaining)
    }

    /// Whether an execution in `status` may take the `Drained` event. While `inProgress`
    /// nothing may be in flight or left (`remaining` is then only `pending`: `notStarted`
    /// exists only after a cancel or error). While `canceling`/`erroring` nothing may be in
    /// flight; the engine must have abandoned the pending iterations first (in the same
    /// transaction as the status change), so `remaining` is then only `notStarted`.
    pub const fn is_drained(&self, status: ExecutionStatus) -> bool {
        match status {
            ExecutionStatus::InProgress | ExecutionStatus::Paused => {
                self.in_progress == 0 && self.remaining == 0
            }
            ExecutionStatus::Canceling | ExecutionStatus::Erroring => self.in_progress == 0,
            ExecutionStatus::Completed | ExecutionStatus::Canceled | ExecutionStatus::Errored => {
                false
            }
        }
    }
}

/// A signed change of a [`Summary`]: what a batch of transitions does to an execution's
/// counters. The store adds it to the counter columns in the same transaction as the
/// iteration writes, so the counters can never drift from the records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SummaryDelta {
    /// Change of `succeeded`.
    pub succeeded: i64,
    /// Change of `failed`.
    pub failed: i64,
    /// Change of `timedOut`.
    pub timed_out: i64,
    /// Change of `inProgress` (+ `retrying`).
    pub in_progress: i64,
    /// Change of `remaining` (`pending` + `notStarted`).
    pub remaining: i64,
}

impl SummaryDelta {
    fn slot(&mut self, state: IterationState) -> &mut i64 {
        match state {
            IterationState::Succeeded => &mut self.succeeded,
            IterationState::Failed => &mut self.failed,
            IterationState::TimedOut => &mut self.timed_out,
            IterationState::InProgress | IterationState::Retrying => &mut self.in_progress,
            IterationState::Pending | IterationState::NotStarted => &mut self.remaining,
        }
    }

    /// One iteration moved from `from` to `to`.
    pub fn moved(&mut self, from: IterationState, to: IterationState) {
        *self.slot(from) -= 1;
        *self.slot(to) += 1;
    }

    /// Whether nothing changes.
    pub fn is_zero(&self) -> bool {
        *self == SummaryDelta::default()
    }
}

impl Summary {
    /// The summary after `d` (counts never go below zero).
    pub fn plus(self, d: &SummaryDelta) -> Summary {
        let f = |n: u64, by: i64| n.saturating_add_signed(by);
        Summary {
            succeeded: f(self.succeeded, d.succeeded),
            failed: f(self.failed, d.failed),
            timed_out: f(self.timed_out, d.timed_out),
            in_progress: f(self.in_progress, d.in_progress),
            remaining: f(self.remaining, d.remaining),
        }
    }
}

/// The summary of iterations in `states`.
pub fn summarize(states: impl IntoIterator<Item = IterationState>) -> Summary {
    let mut s = Summary::default();
    for state in states {
        s.add(state, 1);
    }
    s
}
