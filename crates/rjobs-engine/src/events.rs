//! The decisions of the execution event stream (`GET …/executions/{id}/events`), as pure
//! functions over what the stream read: which `progress`, `status` and `done` events an
//! execution row calls for, the rate and ETA, the event ids, and the event payloads. The API's
//! pump does the reading and the sending.
//!
//! **Why the stream polls the row.** An execution's counters and status are columns of its one
//! row, kept in the same transaction as every iteration transition, so reading that row every
//! 250 ms is one primary-key lookup, exact, and the same on every node of a cluster: a stream
//! served by node A sees what node B's engine committed, with no in-memory bus, no cluster
//! fan-out and nothing to lose on a restart. Finished iterations are paged from the store's
//! finish order ([`rjobs_store::IterationStore::finished_after`]) only when the finished count
//! moved.
//!
//! **Ids and resume.** Every event's id is the stream's position in the execution's finish
//! order, `"<finish_seq>-<seq>"` ([`Cursor`]): after an `iteration` event, that iteration's
//! place; on a stream without iterations, `"<finished>-0"`. A reconnect with `Last-Event-ID`
//! carries on with the iterations after that place; `status` and `progress` are state, not
//! history, so a (re)connection starts with the current ones.

use std::collections::VecDeque;

use rjobs_core::engine::{ExecutionStatus, Summary};
use rjobs_core::execution::{Execution, IterationRow};
use rjobs_core::Timestamp;
use serde_json::{json, Value};

use crate::views;

/// Progress events are at most this often (ms).
pub const PROGRESS_EVERY_MS: i64 = 250;
/// The window the rate is measured over (ms).
pub const RATE_WINDOW_MS: i64 = 10_000;
/// Most samples a [`Pace`] keeps (a poll every 250 ms fills 10 s with 40).
const MAX_SAMPLES: usize = 64;

/// A position in an execution's finish order: `(finish_seq, seq)` of the last iteration seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    /// The finish stamp.
    pub finish_seq: i64,
    /// The iteration's place in the target set.
    pub seq: i64,
}

impl Cursor {
    /// Parses an event id `"<finish_seq>-<seq>"` (None for anything else, negative included).
    pub fn parse(s: &str) -> Option<Cursor> {
        let (a, b) = s.trim().split_once('-')?;
        let (finish_seq, seq) = (a.parse::<i64>().ok()?, b.parse::<i64>().ok()?);
        (finish_seq >= 0 && seq >= 0).then_some(Cursor { finish_seq, seq })
    }

    /// The event id.
    pub fn id(&self) -> String {
        format!("{}-{}", self.finish_seq, self.seq)
    }

    /// As the store's keyset.
    pub fn key(&self) -> (i64, i64) {
        (self.finish_seq, self.seq)
    }
}

/// Iterations with a final outcome (what the rate counts).
pub fn finished(s: &Summary) -> u64 {
    s.succeeded + s.failed + s.timed_out
}

/// The rate of finished iterations over the last [`RATE_WINDOW_MS`], from the samples this
/// stream took (so joining a half-finished execution does not count its past as a burst).
/// Bounded: at most [`MAX_SAMPLES`] samples.
#[derive(Debug, Default, Clone)]
pub struct Pace {
    samples: VecDeque<(i64, u64)>,
}

impl Pace {
    /// Records `finished` at `at`.
    pub fn observe(&mut self, at: Timestamp, finished: u64) {
        let t = at.as_millis();
        // Keep one sample at or before the window's start as the base.
        while self.samples.len() >= 2 && self.samples[1].0 <= t - RATE_WINDOW_MS {
            self.samples.pop_front();
        }
        if self.samples.len() >= MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((t, finished));
    }

    /// Iterations finished per second over the window (0 before two samples).
    pub fn rate(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, n0)), Some(&(t1, n1))) if t1 > t0 => {
                n1.saturating_sub(n0) as f64 * 1000.0 / (t1 - t0) as f64
            }
            _ => 0.0,
        }
    }
}

/// Seconds left at `rate` for what has no outcome yet; 0 when nothing is left, None when
/// nothing is moving (or the execution is final with iterations never started).
pub fn eta(s: &Summary, status: ExecutionStatus, rate: f64) -> Option<f64> {
    let left = s.in_progress + s.remaining;
    if left == 0 {
        Some(0.0)
    } else if status.is_final() || rate <= 0.0 {
        None
    } else {
        Some(((left as f64 / rate) * 10.0).round() / 10.0)
    }
}

/// One event to send: its SSE `event` name and JSON `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    /// `progress`, `status`, `iteration` or `done`.
    pub event: &'static str,
    /// The payload.
    pub data: Value,
}

/// What one stream has told its client, deciding the next `progress` and `status` events.
#[derive(Debug, Default, Clone)]
pub struct Watch {
    status: Option<ExecutionStatus>,
    summary: Option<Summary>,
    progress_at: Option<i64>,
    pace: Pace,
}

impl Watch {
    /// The events the execution row `e`, read at `now`, calls for: a `progress` when the
    /// counters or status changed (at most every [`PROGRESS_EVERY_MS`], except that a final
    /// status is never held back), then a `status` when the status changed. The first call
    /// always gives both.
    pub fn step(&mut self, e: &Execution, now: Timestamp) -> Vec<Emit> {
        self.pace.observe(now, finished(&e.summary));
        let mut out = Vec::new();
        let changed = self.summary != Some(e.summary) || self.status != Some(e.status);
        let due = self
            .progress_at
            .is_none_or(|t| now.as_millis() - t >= PROGRESS_EVERY_MS);
        if changed && (due || e.status.is_final()) {
            out.push(Emit {
                event: "progress",
                data: self.progress(e, now),
            });
            // A status change goes out with the progress that carries it.
            if self.status != Some(e.status) {
                out.push(Emit {
                    event: "status",
                    data: json!({"status": e.status.as_str(), "at": now}),
                });
            }
            self.summary = Some(e.summary);
            self.status = Some(e.status);
            self.progress_at = Some(now.as_millis());
        }
        out
    }

    /// The `progress` payload.
    pub fn progress(&self, e: &Execution, now: Timestamp) -> Value {
        let rate = (self.pace.rate() * 100.0).round() / 100.0;
        json!({
            "status": e.status.as_str(),
            "executionSummary": views::summary(&e.summary),
            "rate": rate,
            "eta": eta(&e.summary, e.status, rate),
            "at": now,
        })
    }
}

/// The final `done` event.
pub fn done(e: &Execution, now: Timestamp) -> Emit {
    Emit {
        event: "done",
        data: json!({
            "status": e.status.as_str(),
            "executionSummary": views::summary(&e.summary),
            "at": now,
        }),
    }
}

/// An `iteration` event.
pub fn iteration(r: &IterationRow) -> Emit {
    Emit {
        event: "iteration",
        data: json!({
            "id": r.iteration_id().to_string(),
            "resourceId": r.resource_id,
            "resourceName": r.resource_name,
            "status": r.record.state.as_str(),
            "attempts": r.record.attempt,
            "message": r.record.message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn cursor_round_trips_and_refuses_junk() {
        let c = Cursor {
            finish_seq: 12,
            seq: 7,
        };
        assert_eq!(Cursor::parse(&c.id()), Some(c));
        for bad in ["", "12", "a-b", "-1-2", "3--4", "1-2-3"] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
        assert!(Cursor::parse("2-1") > Cursor::parse("1-9"));
    }

    #[test]
    fn rate_is_over_the_last_ten_seconds_and_bounded() {
        let mut p = Pace::default();
        assert_eq!(p.rate(), 0.0);
        // 100/s for 20 s, sampled every 250 ms, then 10/s for 10 s.
        let mut n = 0;
        for i in 0..=80 {
            p.observe(ts(i * 250), n);
            n += 25;
        }
        assert!((p.rate() - 100.0).abs() < 1e-9, "{}", p.rate());
        for i in 81..=120 {
            n += 2; // 2 per 250 ms
            p.observe(ts(i * 250), n);
        }
        // The window is (20 s, 30 s]: the last 25-step (20.00 → 20.25 s) and 40 steps of 2.
        assert!((p.rate() - 10.5).abs() < 1e-9, "{}", p.rate());
        // A long quiet spell: the rate falls to 0 once the window holds no progress.
        for i in 121..=200 {
            p.observe(ts(i * 250), n);
        }
        assert_eq!(p.rate(), 0.0);
        assert!(p.samples.len() <= MAX_SAMPLES);
    }

    #[test]
    fn eta_from_what_is_left() {
        let s = Summary {
            succeeded: 10,
            in_progress: 5,
            remaining: 45,
            ..Default::default()
        };
        assert_eq!(eta(&s, ExecutionStatus::InProgress, 10.0), Some(5.0));
        assert_eq!(eta(&s, ExecutionStatus::InProgress, 0.0), None);
        assert_eq!(eta(&s, ExecutionStatus::Canceled, 10.0), None);
        let end = Summary {
            succeeded: 60,
            ..Default::default()
        };
        assert_eq!(eta(&end, ExecutionStatus::Completed, 0.0), Some(0.0));
    }
}
