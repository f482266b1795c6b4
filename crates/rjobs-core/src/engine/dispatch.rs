//! How many `pending` iterations the dispatcher may start now, and when to look again.
//!
//! Rules (SPEC §6 Start):
//! - at most `maxIterationConcurrency` iterations are `inProgress` or `retrying` at once — a
//!   retrying iteration keeps its slot between attempts;
//! - consecutive *iteration* starts (`pending` → `inProgress`) are at least `iterationDelay`
//!   apart, measured start to start; the first starts at once. Retry starts are paced by
//!   `retryDelay` only: they neither wait for nor reset the iteration delay, and they never need
//!   a free slot (they already hold one);
//! - with concurrency 1 the next iteration starts only after the previous is final.
//!
//! With a delay, at most `per_delay` starts are granted per call: the engine persists the start (which
//! becomes `last_start`) and calls again at `next_at`.

use crate::Timestamp;

/// The dispatcher's decision for one execution at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchPlan {
    /// How many `pending` iterations may start now (the engine starts at most that many, fewer
    /// if fewer are pending).
    pub can_start: u32,
    /// When starting may become possible again because of the delay alone. `None` means only
    /// an iteration ending (a slot freeing) can unblock the dispatcher, so it needs no timer.
    pub next_at: Option<Timestamp>,
}

/// Decides how many pending iterations may start at `now`.
///
/// - `in_flight`: iterations of the execution now `inProgress` or `retrying`;
/// - `max_concurrency`: `maxIterationConcurrency` (0 is read as 1);
/// - `last_start`: the last time a `pending` iteration of this execution started;
/// - `iteration_delay_ms`: `iterationDelay` (negative is read as 0), or the rollout rate's
///   gap when that is longer;
/// - `per_delay`: starts allowed at once per delay (1 for `iterationDelay`; more for a rollout
///   rate above one start per millisecond; 0 is read as 1);
/// - `serial_waiting_for_previous`: concurrency 1 and the previously started iteration is not
///   final yet (with concurrency 1 `in_flight` already says so; the flag lets the engine hold
///   the next start also while it is still finishing the previous one, e.g. reading its
///   accumulator).
pub fn dispatch_plan(
    now: Timestamp,
    in_flight: u32,
    max_concurrency: u32,
    last_start: Option<Timestamp>,
    iteration_delay_ms: i64,
    per_delay: u32,
    serial_waiting_for_previous: bool,
) -> DispatchPlan {
    let max = max_concurrency.max(1);
    let free = max.saturating_sub(in_flight);
    let blocked = DispatchPlan {
        can_start: 0,
        next_at: None,
    };
    if free == 0 || (max == 1 && serial_waiting_for_previous) {
        return blocked;
    }
    let delay = iteration_delay_ms.max(0);
    if delay == 0 {
        return DispatchPlan {
            can_start: free,
            next_at: None,
        };
    }
    if let Some(last) = last_start {
        let earliest = last.plus_millis(delay);
        if now < earliest {
            return DispatchPlan {
                can_start: 0,
                next_at: Some(earliest),
            };
        }
    }
    // `per_delay` starts now; if a slot remains after them, the next may follow one delay
    // later.
    let n = per_delay.max(1).min(free);
    DispatchPlan {
        can_start: n,
        next_at: (free > n).then(|| now.plus_millis(delay)),
    }
}
