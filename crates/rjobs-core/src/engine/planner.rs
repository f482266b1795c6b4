//! The planner: from what the lease holder knows of one execution (its [`ExecView`]) and `now`,
//! the next step — whether an abort threshold holds, whether its timers are due, how many
//! pending iterations to start, whether it is finished, and when to look again. The engine
//! performs the step and asks again; it never re-derives any of these rules itself.
//!
//! - **Abort** ([`AbortConfig::check`]) is asked first, while `inProgress` or `paused`: the
//!   same counters give the same outcome whether the last ack came before or after the check.
//! - **Completion** is [`Summary::is_drained`].
//! - **Starts** (only while `inProgress`) follow [`dispatch_plan`] — concurrency, the iteration
//!   delay, serial hand-over — with the rollout rate folded in as a longer delay
//!   ([`pacing`] of [`RolloutConfig::rate`] at the current `succeeded` count).
//! - **Paused** executions process due deadlines only; the engine reads no retry timers for
//!   them, so due retries wait for resume.
//! - **Wake-up**: the earliest of the next timer (a deadline or a retry) and the moment the
//!   delay or the rate allows the next start. An execution waiting only for acknowledgements
//!   has no wake-up: the ack that frees a slot wakes it.

use super::controls::{pacing, AbortConfig, AbortReason, RolloutConfig};
use super::{dispatch_plan, ExecutionStatus, Summary};
use crate::Timestamp;

/// What the lease holder knows of one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecView<'a> {
    /// Its status.
    pub status: ExecutionStatus,
    /// Its counters (kept by the store with every transition).
    pub summary: Summary,
    /// `maxIterationConcurrency`.
    pub max_concurrency: u32,
    /// `iterationDelay` (ms).
    pub iteration_delay_ms: i64,
    /// When the last pending iteration started.
    pub last_start: Option<Timestamp>,
    /// The earliest deadline of an attempt in progress or retry time of a retrying iteration
    /// (deadlines only while paused); `None` when there is none.
    pub next_timer: Option<Timestamp>,
    /// `abortConfig`.
    pub abort: Option<&'a AbortConfig>,
    /// `rolloutConfig`.
    pub rollout: Option<RolloutConfig>,
}

/// The next step of one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Step {
    /// An abort threshold holds: cancel the execution with this reason now (nothing else).
    pub abort: Option<AbortReason>,
    /// Process due deadlines and retries now.
    pub timers_due: bool,
    /// Start this many pending iterations now.
    pub start: u32,
    /// Nothing is in flight or left: take the `Drained` event now.
    pub finish: bool,
    /// Look again at this instant (`None`: only an event can create work).
    pub wake_at: Option<Timestamp>,
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// The current rollout rate of `v` (starts per minute), if it has one.
pub fn current_rate(rollout: Option<&RolloutConfig>, summary: &Summary) -> Option<u32> {
    rollout.map(|r| r.rate(summary.succeeded))
}

/// Plans the next step of the execution `v` at `now`.
pub fn plan(v: &ExecView<'_>, now: Timestamp) -> Step {
    let (stoppable, starts) = match v.status {
        ExecutionStatus::InProgress => (true, true),
        ExecutionStatus::Paused => (true, false),
        ExecutionStatus::Canceling | ExecutionStatus::Erroring => (false, false),
        ExecutionStatus::Completed | ExecutionStatus::Canceled | ExecutionStatus::Errored => {
            return Step::default()
        }
    };
    if stoppable {
        if let Some(reason) = v.abort.and_then(|a| a.check(&v.summary)) {
            return Step {
                abort: Some(reason),
                ..Step::default()
            };
        }
    }
    if v.summary.is_drained(v.status) {
        return Step {
            finish: true,
            ..Step::default()
        };
    }
    let timers_due = v.next_timer.is_some_and(|t| t <= now);
    let mut step = Step {
        timers_due,
        wake_at: if timers_due { None } else { v.next_timer },
        ..Step::default()
    };
    if !starts || v.summary.remaining == 0 {
        return step;
    }
    let in_flight = u32::try_from(v.summary.in_progress).unwrap_or(u32::MAX);
    let (delay, per_delay) = match current_rate(v.rollout.as_ref(), &v.summary).map(pacing) {
        None => (v.iteration_delay_ms, 1),
        Some(p) if v.iteration_delay_ms >= p.gap_ms => (v.iteration_delay_ms, 1),
        Some(p) => (p.gap_ms, p.per_start),
    };
    let d = dispatch_plan(
        now,
        in_flight,
        v.max_concurrency,
        v.last_start,
        delay,
        per_delay,
        in_flight > 0,
    );
    step.start =
        u32::try_from(u64::from(d.can_start).min(v.summary.remaining)).unwrap_or(d.can_start);
    step.wake_at = earliest(step.wake_at, d.next_at);
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_000_000;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(T + ms)
    }

    fn view(in_progress: u64, remaining: u64) -> ExecView<'static> {
        let summary = Summary {
            in_progress,
            remaining,
            ..Summary::default()
        };
        crate::engine::tests::view(ExecutionStatus::InProgress, summary)
    }

    #[test]
    fn table() {
        let none = None;
        // (view, now) → step
        let cases: Vec<(ExecView, Step)> = vec![
            // fills every free slot, no more than are pending
            (
                view(3, 100),
                Step {
                    start: 7,
                    ..Step::default()
                },
            ),
            (
                view(3, 2),
                Step {
                    start: 2,
                    ..Step::default()
                },
            ),
            // full: waits for an ack (no wake-up) or for the next deadline
            (view(10, 5), Step::default()),
            (
                ExecView {
                    next_timer: Some(at(60_000)),
                    ..view(10, 5)
                },
                Step {
                    wake_at: Some(at(60_000)),
                    ..Step::default()
                },
            ),
            // a due timer is processed now
            (
                ExecView {
                    next_timer: Some(at(0)),
                    ..view(10, 5)
                },
                Step {
                    timers_due: true,
                    ..Step::default()
                },
            ),
            // drained: finish
            (
                view(0, 0),
                Step {
                    finish: true,
                    ..Step::default()
                },
            ),
            // the delay allows one start now and wakes one delay later
            (
                ExecView {
                    iteration_delay_ms: 500,
                    ..view(0, 5)
                },
                Step {
                    start: 1,
                    wake_at: Some(at(500)),
                    ..Step::default()
                },
            ),
            (
                ExecView {
                    iteration_delay_ms: 500,
                    last_start: Some(at(-100)),
                    ..view(1, 5)
                },
                Step {
                    wake_at: Some(at(400)),
                    ..Step::default()
                },
            ),
            // serial: the next starts only once the previous is final
            (
                ExecView {
                    max_concurrency: 1,
                    ..view(1, 5)
                },
                Step::default(),
            ),
            (
                ExecView {
                    max_concurrency: 1,
                    ..view(0, 5)
                },
                Step {
                    start: 1,
                    ..Step::default()
                },
            ),
            // canceling: no starts; finishes once nothing is in flight
            (
                ExecView {
                    status: ExecutionStatus::Canceling,
                    ..view(2, 5)
                },
                Step {
                    wake_at: none,
                    ..Step::default()
                },
            ),
            (
                ExecView {
                    status: ExecutionStatus::Canceling,
                    ..view(0, 5)
                },
                Step {
                    finish: true,
                    ..Step::default()
                },
            ),
            // final: nothing
            (
                ExecView {
                    status: ExecutionStatus::Completed,
                    ..view(0, 0)
                },
                Step::default(),
            ),
        ];
        for (v, want) in cases {
            assert_eq!(plan(&v, at(0)), want, "{v:?}");
        }
    }

    #[test]
    fn never_exceeds_the_cap_or_the_pending() {
        for in_progress in 0..12u64 {
            for remaining in 0..12u64 {
                for cap in 1..11u32 {
                    let v = ExecView {
                        max_concurrency: cap,
                        ..view(in_progress, remaining)
                    };
                    let s = plan(&v, at(0));
                    assert!(u64::from(s.start) <= remaining);
                    assert!(u64::from(s.start) + in_progress <= u64::from(cap).max(in_progress));
                    assert_eq!(s.finish, in_progress == 0 && remaining == 0);
                }
            }
        }
    }
}
