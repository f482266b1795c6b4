//! Tests of the engine's pure functions: a table of every (state, event, mode) triple, targeted
//! cases for each decision, property tests over random event sequences, the execution status
//! table, and a dispatch simulation.

mod controls;
mod dispatch;
mod execution;
mod iteration_cases;
mod iteration_props;
mod iteration_table;

use super::*;
use crate::Timestamp;

/// An arbitrary, fixed origin of time.
pub(super) const T0: i64 = 1_800_000_000_000;

pub(super) fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

/// Retries on both outcomes, two retries, 1 s retry delay, 60 s timeout.
pub(super) fn policy() -> RetryPolicy {
    RetryPolicy {
        retry_on_failure: true,
        retry_on_timeout: true,
        max_retries: 2,
        retry_delay_ms: 1_000,
        timeout_ms: 60_000,
    }
}

/// A record in `state` as the machine itself would have left it: attempt 1 started at T0
/// (deadline T0+60 s; a retry due at T0+70 s), attempt 0 for `pending`/`notStarted`.
pub(super) fn record_in(state: IterationState) -> IterationRecord {
    use IterationState as S;
    let started = IterationRecord {
        state,
        attempt: 1,
        started_at: Some(at(0)),
        deadline: None,
        retry_at: None,
        completed_at: None,
        message: Some("earlier".into()),
        accumulator: Some("{\"n\":1}".into()),
    };
    let rec = match state {
        S::Pending => IterationRecord::pending(),
        S::NotStarted => IterationRecord {
            state,
            ..IterationRecord::pending()
        },
        S::InProgress => IterationRecord {
            deadline: Some(at(60_000)),
            ..started
        },
        S::Retrying => IterationRecord {
            retry_at: Some(at(70_000)),
            ..started
        },
        S::Succeeded | S::Failed | S::TimedOut => IterationRecord {
            completed_at: Some(at(5_000)),
            ..started
        },
    };
    assert_eq!(rec.invariant_violation(), None, "fixture for {state}");
    rec
}

pub(super) fn ack(attempt: u32, success: bool, now: Timestamp) -> IterationEvent {
    IterationEvent::Ack {
        attempt,
        success,
        message: None,
        accumulator: None,
        now,
    }
}

/// An execution at `status` with `summary`, 10 slots, no delay, no timers and no controls.
pub(crate) fn view<'a>(status: ExecutionStatus, summary: Summary) -> planner::ExecView<'a> {
    planner::ExecView {
        status,
        summary,
        max_concurrency: 10,
        iteration_delay_ms: 0,
        last_start: None,
        next_timer: None,
        abort: None,
        rollout: None,
    }
}
