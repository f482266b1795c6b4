//! Webhooks' decisions, kept pure so they can be table-tested and shared by the store (which
//! writes events into the outbox inside the transaction of the change that caused them), the
//! API (which validates subscriptions) and the delivery worker (which decides what follows an
//! attempt).
//!
//! Why these shapes: the event a status change produces is a function of the change alone
//! ([`execution_event`], [`iteration_event`]), so every writer of that change emits exactly the
//! same events; the retry schedule is a function of the attempt number ([`after_attempt`]), so
//! any node of a cluster that picks a delivery up continues the same schedule.

use crate::engine::{ExecutionStatus, IterationState};
use crate::Timestamp;

/// The events a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// An execution was created and started.
    ExecutionStarted,
    /// An execution reached `completed`.
    ExecutionCompleted,
    /// An execution reached `canceled`.
    ExecutionCanceled,
    /// An execution reached `errored`.
    ExecutionErrored,
    /// An execution was paused.
    ExecutionPaused,
    /// An iteration ended `failed` (after its last retry).
    IterationFailed,
    /// An iteration ended `timedOut` (after its last retry).
    IterationTimedOut,
}

impl EventType {
    /// Every event type, in documentation order.
    pub const ALL: [EventType; 7] = [
        EventType::ExecutionStarted,
        EventType::ExecutionCompleted,
        EventType::ExecutionCanceled,
        EventType::ExecutionErrored,
        EventType::ExecutionPaused,
        EventType::IterationFailed,
        EventType::IterationTimedOut,
    ];

    /// The wire name (`execution.started`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ExecutionStarted => "execution.started",
            EventType::ExecutionCompleted => "execution.completed",
            EventType::ExecutionCanceled => "execution.canceled",
            EventType::ExecutionErrored => "execution.errored",
            EventType::ExecutionPaused => "execution.paused",
            EventType::IterationFailed => "iteration.failed",
            EventType::IterationTimedOut => "iteration.timedOut",
        }
    }

    /// The event type with this wire name.
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Whether the event is about an iteration (else about an execution).
    pub fn is_iteration(self) -> bool {
        match self {
            EventType::IterationFailed | EventType::IterationTimedOut => true,
            EventType::ExecutionStarted
            | EventType::ExecutionCompleted
            | EventType::ExecutionCanceled
            | EventType::ExecutionErrored
            | EventType::ExecutionPaused => false,
        }
    }
}

/// The event a status compare-and-set to `next` produces. Creation (`execution.started`) is
/// not a status change and is emitted by the insert; a resume back to `inProgress` and the
/// draining states emit nothing.
pub fn execution_event(next: ExecutionStatus) -> Option<EventType> {
    match next {
        ExecutionStatus::Completed => Some(EventType::ExecutionCompleted),
        ExecutionStatus::Canceled => Some(EventType::ExecutionCanceled),
        ExecutionStatus::Errored => Some(EventType::ExecutionErrored),
        ExecutionStatus::Paused => Some(EventType::ExecutionPaused),
        ExecutionStatus::InProgress | ExecutionStatus::Canceling | ExecutionStatus::Erroring => {
            None
        }
    }
}

/// The event an iteration write that moves it to `state` produces (only final failures: a
/// failed attempt that will be retried is `retrying`).
pub fn iteration_event(state: IterationState) -> Option<EventType> {
    match state {
        IterationState::Failed => Some(EventType::IterationFailed),
        IterationState::TimedOut => Some(EventType::IterationTimedOut),
        IterationState::Pending
        | IterationState::InProgress
        | IterationState::Retrying
        | IterationState::Succeeded
        | IterationState::NotStarted => None,
    }
}

/// The delays before the retries after a first failed attempt (the Standard Webhooks / Svix
/// schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — eight attempts over about 27.6 hours).
pub const DEFAULT_RETRY_SCHEDULE_MS: [i64; 7] = [
    5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// The receiver answered with this status code.
    Status(u16),
    /// No answer: refused by the outbound policy, connection error, timeout.
    Transport,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// A 2xx answer: done.
    Delivered,
    /// Try again at this instant.
    RetryAt(Timestamp),
    /// The schedule is exhausted: marked failed.
    Failed,
}

/// The decision after attempt number `attempt` (1 for the first) ended with `result` at `now`,
/// under `schedule` (delay before the retry following attempt `n` is `schedule[n - 1]`).
pub fn after_attempt(
    attempt: u32,
    result: AttemptResult,
    now: Timestamp,
    schedule: &[i64],
) -> NextStep {
    let ok = match result {
        AttemptResult::Status(code) => (200..300).contains(&code),
        AttemptResult::Transport => false,
    };
    if ok {
        return NextStep::Delivered;
    }
    let idx = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    match schedule.get(idx) {
        Some(delay) => NextStep::RetryAt(Timestamp::from_millis(
            now.as_millis().saturating_add((*delay).max(0)),
        )),
        None => NextStep::Failed,
    }
}

/// Parses a schedule written as comma-separated milliseconds (`"5000,300000"`).
pub fn parse_schedule(s: &str) -> Result<Vec<i64>, String> {
    let mut out = Vec::new();
    for (i, item) in s.split(',').map(str::trim).enumerate() {
        if item.is_empty() && i == 0 && !s.contains(',') {
            break;
        }
        match item.parse::<i64>() {
            Ok(ms) if ms >= 0 => out.push(ms),
            _ => {
                return Err(format!(
                    "item {i} ({item:?}) is not a non-negative number of milliseconds"
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn names_round_trip() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
        }
        assert_eq!(EventType::parse("execution.Started"), None);
        assert_eq!(EventType::parse(""), None);
    }

    #[test]
    fn status_changes_map_to_events() {
        use ExecutionStatus as S;
        for (st, ev) in [
            (S::InProgress, None),
            (S::Paused, Some(EventType::ExecutionPaused)),
            (S::Completed, Some(EventType::ExecutionCompleted)),
            (S::Canceling, None),
            (S::Canceled, Some(EventType::ExecutionCanceled)),
            (S::Erroring, None),
            (S::Errored, Some(EventType::ExecutionErrored)),
        ] {
            assert_eq!(execution_event(st), ev, "{st:?}");
        }
        use IterationState as I;
        for (st, ev) in [
            (I::Pending, None),
            (I::InProgress, None),
            (I::Retrying, None),
            (I::Succeeded, None),
            (I::Failed, Some(EventType::IterationFailed)),
            (I::TimedOut, Some(EventType::IterationTimedOut)),
            (I::NotStarted, None),
        ] {
            assert_eq!(iteration_event(st), ev, "{st:?}");
        }
    }

    #[test]
    fn backoff_schedule_table() {
        let s = &DEFAULT_RETRY_SCHEDULE_MS;
        let now = t(1_000_000);
        let fail = AttemptResult::Status(500);
        for (attempt, want) in [
            (1, NextStep::RetryAt(t(1_005_000))),
            (2, NextStep::RetryAt(t(1_300_000))),
            (3, NextStep::RetryAt(t(2_800_000))),
            (4, NextStep::RetryAt(t(8_200_000))),
            (5, NextStep::RetryAt(t(19_000_000))),
            (6, NextStep::RetryAt(t(37_000_000))),
            (7, NextStep::RetryAt(t(37_000_000))),
            (8, NextStep::Failed),
            (9, NextStep::Failed),
        ] {
            assert_eq!(
                after_attempt(attempt, fail, now, s),
                want,
                "attempt {attempt}"
            );
        }
        // About a day in all.
        let total: i64 = s.iter().sum();
        assert!((24 * 3_600_000..30 * 3_600_000).contains(&total), "{total}");
    }

    #[test]
    fn outcomes_decide_delivery() {
        let s = &DEFAULT_RETRY_SCHEDULE_MS;
        for (r, delivered) in [
            (AttemptResult::Status(200), true),
            (AttemptResult::Status(204), true),
            (AttemptResult::Status(299), true),
            (AttemptResult::Status(300), false),
            (AttemptResult::Status(410), false),
            (AttemptResult::Status(500), false),
            (AttemptResult::Status(199), false),
            (AttemptResult::Transport, false),
        ] {
            let got = after_attempt(1, r, t(0), s);
            assert_eq!(got == NextStep::Delivered, delivered, "{r:?}");
        }
        // A success after the schedule is exhausted still counts.
        assert_eq!(
            after_attempt(8, AttemptResult::Status(200), t(0), s),
            NextStep::Delivered
        );
        assert_eq!(
            after_attempt(1, AttemptResult::Transport, t(0), &[]),
            NextStep::Failed
        );
    }

    #[test]
    fn schedules_parse() {
        assert_eq!(parse_schedule("5000, 300000").unwrap(), vec![5000, 300000]);
        assert_eq!(parse_schedule("").unwrap(), Vec::<i64>::new());
        assert_eq!(parse_schedule("0").unwrap(), vec![0]);
        assert!(parse_schedule("5s").is_err());
        assert!(parse_schedule("-1").is_err());
        assert!(parse_schedule("1,,2").is_err());
    }
}
