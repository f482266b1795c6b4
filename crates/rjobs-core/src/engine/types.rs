//! The vocabulary of the iteration state machine: its states, the flat record a database row
//! holds, the retry policy, the execution mode, and what a transition returns (the new record
//! plus the effects the engine must perform) or why it was refused.

use std::fmt;

use crate::Timestamp;

/// Longest ack message kept, in characters (longer ones are cut, never refused).
pub const MAX_MESSAGE_CHARS: usize = 256;

/// Longest accepted accumulator, in characters of JSON text.
pub const MAX_ACCUMULATOR_CHARS: usize = 256;

/// Message of a pending (or retrying) iteration whose resource vanished before it could start.
pub const RESOURCE_DELETED_MESSAGE: &str = "resource was deleted";

/// Message of an attempt whose ack carried an accumulator over [`MAX_ACCUMULATOR_CHARS`].
pub const ACCUMULATOR_TOO_LONG_MESSAGE: &str =
    "acknowledgement failed: accumulator is longer than 256 characters of JSON text";

/// Message of an attempt whose ack carried an accumulator that is not JSON text.
pub const ACCUMULATOR_NOT_JSON_MESSAGE: &str =
    "acknowledgement failed: accumulator is not valid JSON text";

/// Where one iteration stands. Stored as [`IterationState::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IterationState {
    /// In the target set, never started.
    Pending,
    /// An attempt was started and awaits its acknowledgement until its deadline.
    InProgress,
    /// An attempt failed or timed out and the next one waits for `retry_at`.
    Retrying,
    /// Final: acknowledged with `success: true`.
    Succeeded,
    /// Final: acknowledged with `success: false` (or a bad accumulator), or its resource vanished.
    Failed,
    /// Final: the last attempt was not acknowledged before its deadline.
    TimedOut,
    /// Final: the execution stopped (cancel or error) before this iteration's next start.
    NotStarted,
}

impl IterationState {
    /// Every state, in the order of the SPEC's diagram.
    pub const ALL: [IterationState; 7] = [
        IterationState::Pending,
        IterationState::InProgress,
        IterationState::Retrying,
        IterationState::Succeeded,
        IterationState::Failed,
        IterationState::TimedOut,
        IterationState::NotStarted,
    ];

    /// The SPEC's camelCase name, also the stored value.
    pub const fn as_str(self) -> &'static str {
        match self {
            IterationState::Pending => "pending",
            IterationState::InProgress => "inProgress",
            IterationState::Retrying => "retrying",
            IterationState::Succeeded => "succeeded",
            IterationState::Failed => "failed",
            IterationState::TimedOut => "timedOut",
            IterationState::NotStarted => "notStarted",
        }
    }

    /// Parses the camelCase name (exactly; stored values are never re-cased).
    pub fn parse(s: &str) -> Option<Self> {
        IterationState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No event changes a final iteration.
    pub const fn is_final(self) -> bool {
        match self {
            IterationState::Succeeded
            | IterationState::Failed
            | IterationState::TimedOut
            | IterationState::NotStarted => true,
            IterationState::Pending | IterationState::InProgress | IterationState::Retrying => {
                false
            }
        }
    }

    /// Holds one of the execution's `maxIterationConcurrency` slots (`inProgress` or `retrying`).
    pub const fn holds_slot(self) -> bool {
        match self {
            IterationState::InProgress | IterationState::Retrying => true,
            IterationState::Pending
            | IterationState::Succeeded
            | IterationState::Failed
            | IterationState::TimedOut
            | IterationState::NotStarted => false,
        }
    }
}

impl fmt::Display for IterationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One iteration as a database row holds it: flat, every timer a nullable column.
///
/// Which columns are set in which state (checked by [`IterationRecord::invariant_violation`]):
/// `deadline` exactly while `inProgress`, `retry_at` exactly while `retrying`, `completed_at` in
/// `succeeded`/`failed`/`timedOut` (never in `notStarted`: it never ran to an end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IterationRecord {
    /// The state.
    pub state: IterationState,
    /// The current (or last) attempt number: 0 before the first start, then 1, 2, ...
    /// Together with `state` it is the compare-and-set guard of every write.
    pub attempt: u32,
    /// When the current (or last) attempt started; what the Job: Timeout trigger reports as
    /// `iterationStartedAt` and what `deadline` counts from.
    pub started_at: Option<Timestamp>,
    /// `started_at + iterationTimeout`, set while `inProgress`.
    pub deadline: Option<Timestamp>,
    /// When the next attempt may start, set while `retrying`.
    pub retry_at: Option<Timestamp>,
    /// When the iteration reached `succeeded`, `failed` or `timedOut`.
    pub completed_at: Option<Timestamp>,
    /// The last finished attempt's message (≤ 256 characters).
    pub message: Option<String>,
    /// The last finished attempt's accumulator, as JSON text (≤ 256 characters).
    pub accumulator: Option<String>,
}

impl IterationRecord {
    /// A fresh `pending` iteration, as the target set is inserted.
    pub const fn pending() -> Self {
        IterationRecord {
            state: IterationState::Pending,
            attempt: 0,
            started_at: None,
            deadline: None,
            retry_at: None,
            completed_at: None,
            message: None,
            accumulator: None,
        }
    }

    /// Describes the first broken column rule, if any. A transition never produces a record
    /// that breaks one; store tests can use it on rows they read back.
    pub fn invariant_violation(&self) -> Option<&'static str> {
        use IterationState as S;
        let s = self.state;
        // `failed` and `notStarted` may have attempt 0 (resource deleted / abandoned before
        // the first start); `pending` always has, every state reached by a start never has.
        let started = matches!(s, S::InProgress | S::Retrying | S::Succeeded | S::TimedOut);
        if (s == S::Pending && self.attempt != 0) || (started && self.attempt == 0) {
            return Some("attempt is 0 while pending and at least 1 once started");
        }
        if (s == S::InProgress) != self.deadline.is_some() {
            return Some("deadline is set exactly while inProgress");
        }
        if (s == S::Retrying) != self.retry_at.is_some() {
            return Some("retry_at is set exactly while retrying");
        }
        let completes = matches!(s, S::Succeeded | S::Failed | S::TimedOut);
        if completes != self.completed_at.is_some() {
            return Some("completed_at is set exactly in succeeded, failed and timedOut");
        }
        if (self.attempt > 0) != self.started_at.is_some() {
            return Some("started_at is set exactly once an attempt has started");
        }
        if self
            .message
            .as_ref()
            .is_some_and(|m| m.chars().count() > MAX_MESSAGE_CHARS)
        {
            return Some("message is at most 256 characters");
        }
        if self
            .accumulator
            .as_ref()
            .is_some_and(|a| a.chars().count() > MAX_ACCUMULATOR_CHARS)
        {
            return Some("accumulator is at most 256 characters");
        }
        None
    }
}

/// The execution's retry and timeout settings (snapshotted from the job at execute time).
///
/// Any values are accepted: the API enforces the SPEC's ranges, the functions here just never
/// exceed `1 + max_retries` attempts and treat negative durations as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `retryOnFailure`: a failed attempt (negative ack, bad accumulator) is retried.
    pub retry_on_failure: bool,
    /// `retryOnTimeout`: a timed-out attempt is retried.
    pub retry_on_timeout: bool,
    /// `maxIterationRetries` (1–5): at most this many retries, so `1 + max_retries` attempts.
    pub max_retries: u32,
    /// `retryDelay` (ms) between the end of an attempt and the start of the next.
    pub retry_delay_ms: i64,
    /// `iterationTimeout` (ms) from an attempt's start to its deadline.
    pub timeout_ms: i64,
}

impl RetryPolicy {
    /// Whether another attempt may follow attempt number `attempt` (retries made so far:
    /// `attempt - 1`).
    pub const fn retries_left_after(&self, attempt: u32) -> bool {
        attempt <= self.max_retries
    }

    /// `willRetryOnFailure` of attempt `attempt` in trigger payloads.
    pub const fn will_retry_on_failure(&self, attempt: u32, mode: ExecMode) -> bool {
        self.retry_on_failure && mode.allows_retries() && self.retries_left_after(attempt)
    }

    /// `willRetryOnTimeout` of attempt `attempt` in trigger payloads.
    pub const fn will_retry_on_timeout(&self, attempt: u32, mode: ExecMode) -> bool {
        self.retry_on_timeout && mode.allows_retries() && self.retries_left_after(attempt)
    }
}

/// What the owning execution allows, derived from its status ([`ExecMode::for_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecMode {
    /// Execution `inProgress` (or `paused`): retries and Job: Timeout triggers happen.
    Running,
    /// Execution `canceling` or `erroring`: no start, no retry, no Job: Timeout trigger; in-flight
    /// attempts may still be acknowledged until their deadline.
    Draining,
}

impl ExecMode {
    /// The mode for an execution status; `None` for final statuses, whose iterations are all
    /// final already (the engine must not transition them at all).
    pub const fn for_status(status: super::ExecutionStatus) -> Option<ExecMode> {
        use super::ExecutionStatus as E;
        match status {
            // Paused: acks, timeouts and retry decisions as while running; the planner holds
            // the starts (pending iterations and due retries) until resume.
            E::InProgress | E::Paused => Some(ExecMode::Running),
            E::Canceling | E::Erroring => Some(ExecMode::Draining),
            E::Completed | E::Canceled | E::Errored => None,
        }
    }

    /// Retries (and new starts) happen only while running.
    pub const fn allows_retries(self) -> bool {
        match self {
            ExecMode::Running => true,
            ExecMode::Draining => false,
        }
    }
}

/// The attempt a trigger is fired for; the engine builds the payload from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptInfo {
    /// `attemptNumber`, from 1.
    pub attempt: u32,
    /// When this attempt started (`iterationStartedAt`).
    pub started_at: Timestamp,
    /// `willRetryOnFailure` for this attempt.
    pub will_retry_on_failure: bool,
    /// `willRetryOnTimeout` for this attempt.
    pub will_retry_on_timeout: bool,
}

/// Something the engine must do after persisting a transition (and only if the compare-and-set
/// won: a lost race performs no effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Fire the Job: Iteration trigger of every enabled workflow keyed to the job.
    FireIterationTrigger(AttemptInfo),
    /// Fire the Job: Timeout trigger (once per timed-out attempt, only while running).
    FireTimeoutTrigger(AttemptInfo),
    /// A timer of this iteration (deadline or retry) falls due at this instant.
    WakeAt(Timestamp),
}

/// An accepted event: the record to write and what to do once it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The compare-and-set guard: the state the row must still have ...
    pub expected_state: IterationState,
    /// ... and the attempt it must still have.
    pub expected_attempt: u32,
    /// The new row.
    pub record: IterationRecord,
    /// Effects, in the order to perform them.
    pub effects: Vec<Effect>,
}

impl Transition {
    /// The Job: Timeout trigger this transition fires, if any.
    pub fn timeout_trigger(&self) -> Option<AttemptInfo> {
        self.effects.iter().find_map(|e| match e {
            Effect::FireTimeoutTrigger(a) => Some(*a),
            Effect::FireIterationTrigger(_) | Effect::WakeAt(_) => None,
        })
    }

    /// The Job: Iteration trigger this transition fires, if any.
    pub fn iteration_trigger(&self) -> Option<AttemptInfo> {
        self.effects.iter().find_map(|e| match e {
            Effect::FireIterationTrigger(a) => Some(*a),
            Effect::FireTimeoutTrigger(_) | Effect::WakeAt(_) => None,
        })
    }

    /// The timer to arm, if any.
    pub fn wake_at(&self) -> Option<Timestamp> {
        self.effects.iter().find_map(|e| match e {
            Effect::WakeAt(t) => Some(*t),
            Effect::FireIterationTrigger(_) | Effect::FireTimeoutTrigger(_) => None,
        })
    }

    /// Whether a concurrency slot was released (the dispatcher may start another iteration).
    pub fn frees_slot(&self) -> bool {
        self.expected_state.holds_slot() && !self.record.state.holds_slot()
    }
}

/// Which event was refused (for [`Refusal::NotApplicable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// [`super::IterationEvent::Start`].
    Start,
    /// [`super::IterationEvent::Ack`].
    Ack,
    /// [`super::IterationEvent::Deadline`].
    Deadline,
    /// [`super::IterationEvent::ResourceDeleted`].
    ResourceDeleted,
    /// [`super::IterationEvent::Abandon`].
    Abandon,
}

/// Why an event changes nothing. A refused event must not be persisted nor acted on; the ack
/// endpoint maps every refusal to 409 `Conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The iteration is final; nothing changes it any more.
    #[error("iteration is already final ({state})")]
    AlreadyFinal {
        /// Its final state.
        state: IterationState,
    },
    /// An ack for another attempt than the one in progress (late, duplicate after a retry, or
    /// made up).
    #[error("acknowledgement is for attempt {got}, but attempt {current} is in progress")]
    WrongAttempt {
        /// The attempt in progress.
        current: u32,
        /// The attempt the ack named.
        got: u32,
    },
    /// An ack while no attempt is awaiting one (`pending`, or `retrying` between attempts).
    #[error("iteration is not awaiting an acknowledgement ({state})")]
    NotAwaitingAck {
        /// Its state.
        state: IterationState,
    },
    /// An ack at or after the attempt's deadline: the attempt has timed out (the Deadline
    /// event will say so, even if the engine has not processed it yet).
    #[error("acknowledgement arrived after the attempt's deadline {deadline}")]
    PastDeadline {
        /// The deadline.
        deadline: Timestamp,
    },
    /// A timer event before its time (retry start before `retry_at`, timeout before `deadline`).
    #[error("not due before {due}")]
    NotDue {
        /// When it becomes due.
        due: Timestamp,
    },
    /// The event means nothing in this state (start of an in-flight iteration, timeout of one
    /// not in flight, resource deletion or abandon of an in-flight attempt, ...).
    #[error("{event:?} does not apply to a {state} iteration")]
    NotApplicable {
        /// The state.
        state: IterationState,
        /// The event.
        event: EventKind,
    },
    /// A start while the execution is canceling or erroring.
    #[error("the execution is stopping: no new attempt starts")]
    ExecutionStopping,
    /// An abandon while the execution is still running.
    #[error("the execution is still running: nothing is abandoned")]
    ExecutionRunning,
}

/// Cuts `s` to at most `max` characters (characters, not bytes: never splits a code point).
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((byte, _)) => s[..byte].to_owned(),
        None => s.to_owned(),
    }
}
