//! Operator controls: abort thresholds, the rollout rate and its pacing, their parsing, and the
//! planner with pause, abort and rate — tables, then a simulation of whole executions under
//! random settings and acknowledgement timings (a property test).

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::engine::controls::{
    pacing, AbortConfig, AbortCriterion, AbortOutcome, ExponentialRate, Pacing, RolloutConfig,
};
use crate::engine::planner::{plan, ExecView, Step};

fn summary(
    succeeded: u64,
    failed: u64,
    timed_out: u64,
    in_progress: u64,
    remaining: u64,
) -> Summary {
    Summary {
        succeeded,
        failed,
        timed_out,
        in_progress,
        remaining,
    }
}

fn crit(outcome: AbortOutcome, pct: u32, min: u64) -> AbortCriterion {
    AbortCriterion {
        outcome,
        threshold_bp: pct * 100,
        min_finished: min,
    }
}

#[test]
fn abort_holds_exactly_at_the_threshold() {
    use AbortOutcome::{Any, Failed, TimedOut};
    // (criterion, summary) → held?
    let cases = [
        // 10 finished, 2 failed = 20%: at a 20% threshold it holds, at 21% not
        (crit(Failed, 20, 10), summary(8, 2, 0, 5, 5), true),
        (crit(Failed, 21, 10), summary(8, 2, 0, 5, 5), false),
        // too few finished yet
        (crit(Failed, 20, 11), summary(8, 2, 0, 5, 5), false),
        // retrying/in flight do not count as finished
        (crit(Failed, 50, 2), summary(0, 1, 0, 9, 0), false),
        (crit(TimedOut, 50, 2), summary(1, 0, 1, 0, 0), true),
        (crit(Any, 50, 4), summary(2, 1, 1, 0, 0), true),
        (crit(Any, 51, 4), summary(2, 1, 1, 0, 0), false),
        (crit(Failed, 0, 1), summary(1, 0, 0, 0, 0), true),
        (crit(Failed, 100, 1), summary(0, 1, 0, 0, 0), true),
        (crit(Failed, 100, 1), summary(1, 1, 0, 0, 0), false),
    ];
    for (c, s, want) in cases {
        let cfg = AbortConfig { criteria: vec![c] };
        assert_eq!(cfg.check(&s).is_some(), want, "{c:?} {s:?}");
    }
    // fractional thresholds: 1 of 3 is 33.33…%, at or above 33.33% but not 33.34%
    let at = |bp| AbortConfig {
        criteria: vec![AbortCriterion {
            outcome: Failed,
            threshold_bp: bp,
            min_finished: 3,
        }],
    };
    assert!(at(3333).check(&summary(2, 1, 0, 0, 0)).is_some());
    assert!(at(3334).check(&summary(2, 1, 0, 0, 0)).is_none());
    // the first criterion that holds is reported, with the figures
    let two = AbortConfig {
        criteria: vec![crit(TimedOut, 10, 1), crit(Failed, 10, 1)],
    };
    let r = two.check(&summary(5, 5, 0, 0, 0)).unwrap();
    assert_eq!((r.criterion, r.finished, r.matched), (1, 10, 5));
    let j = r.to_json();
    assert_eq!(j["outcome"], "failed");
    assert_eq!(j["percent"], 50.0);
    assert_eq!(j["thresholdPercent"], 10.0);
}

#[test]
fn parsing_names_the_field() {
    let bad = [
        (json!([]), "abortConfig"),
        (json!({}), "abortConfig.criteria"),
        (json!({"criteria": []}), "abortConfig.criteria"),
        (
            json!({"criteria": [{"outcome": "x", "thresholdPercent": 5, "minFinished": 1}]}),
            "abortConfig.criteria[0].outcome",
        ),
        (
            json!({"criteria": [{"outcome": "any", "thresholdPercent": 101, "minFinished": 1}]}),
            "abortConfig.criteria[0].thresholdPercent",
        ),
        (
            json!({"criteria": [{"outcome": "any", "thresholdPercent": -1, "minFinished": 1}]}),
            "abortConfig.criteria[0].thresholdPercent",
        ),
        (
            json!({"criteria": [{"outcome": "any", "thresholdPercent": 5, "minFinished": 0}]}),
            "abortConfig.criteria[0].minFinished",
        ),
        (
            json!({"criteria": [{"outcome": "any", "thresholdPercent": 5}]}),
            "abortConfig.criteria[0].minFinished",
        ),
        (
            json!({"criteria": [{"outcome": "any", "thresholdPercent": 5, "minFinished": 1, "x": 1}]}),
            "abortConfig.criteria[0].x",
        ),
    ];
    for (v, field) in bad {
        let e = AbortConfig::parse(&v).unwrap_err();
        assert_eq!(e.field, field, "{v}: {e:?}");
    }
    let ok =
        json!({"criteria": [{"outcome": "timedOut", "thresholdPercent": 12.5, "minFinished": 20}]});
    let cfg = AbortConfig::parse(&ok).unwrap().unwrap();
    assert_eq!(cfg.criteria[0].threshold_bp, 1250);
    assert_eq!(AbortConfig::parse(&cfg.to_json()).unwrap(), Some(cfg));
    assert_eq!(AbortConfig::parse(&json!(null)).unwrap(), None);

    let bad = [
        (json!(5), "rolloutConfig"),
        (json!({}), "rolloutConfig.maxPerMinute"),
        (json!({"maxPerMinute": 0}), "rolloutConfig.maxPerMinute"),
        (
            json!({"maxPerMinute": 1_000_001}),
            "rolloutConfig.maxPerMinute",
        ),
        (json!({"maxPerMinute": 1.5}), "rolloutConfig.maxPerMinute"),
        (
            json!({"maxPerMinute": 10, "exponentialRate": 3}),
            "rolloutConfig.exponentialRate",
        ),
        (
            json!({"maxPerMinute": 10, "exponentialRate": {"baseRatePerMinute": 11, "incrementFactor": 2, "rateIncreaseCriteria": {"numberOfSucceeded": 1}}}),
            "rolloutConfig.exponentialRate.baseRatePerMinute",
        ),
        (
            json!({"maxPerMinute": 10, "exponentialRate": {"baseRatePerMinute": 1, "incrementFactor": 1.0, "rateIncreaseCriteria": {"numberOfSucceeded": 1}}}),
            "rolloutConfig.exponentialRate.incrementFactor",
        ),
        (
            json!({"maxPerMinute": 10, "exponentialRate": {"baseRatePerMinute": 1, "incrementFactor": 5.1, "rateIncreaseCriteria": {"numberOfSucceeded": 1}}}),
            "rolloutConfig.exponentialRate.incrementFactor",
        ),
        (
            json!({"maxPerMinute": 10, "exponentialRate": {"baseRatePerMinute": 1, "incrementFactor": 2}}),
            "rolloutConfig.exponentialRate.rateIncreaseCriteria",
        ),
        (
            json!({"maxPerMinute": 10, "exponentialRate": {"baseRatePerMinute": 1, "incrementFactor": 2, "rateIncreaseCriteria": {"numberOfSucceeded": 0}}}),
            "rolloutConfig.exponentialRate.rateIncreaseCriteria.numberOfSucceeded",
        ),
    ];
    for (v, field) in bad {
        let e = RolloutConfig::parse(&v).unwrap_err();
        assert_eq!(e.field, field, "{v}: {e:?}");
    }
    let ok = json!({"maxPerMinute": 600, "exponentialRate": {"baseRatePerMinute": 60, "incrementFactor": 1.5, "rateIncreaseCriteria": {"numberOfSucceeded": 10}}});
    let cfg = RolloutConfig::parse(&ok).unwrap().unwrap();
    assert_eq!(RolloutConfig::parse(&cfg.to_json()).unwrap(), Some(cfg));
}

#[test]
fn the_rate_ramps_and_caps() {
    let flat = RolloutConfig {
        max_per_minute: 120,
        exponential_rate: None,
    };
    assert_eq!(flat.rate(0), 120);
    assert_eq!(flat.rate(1_000_000), 120);
    let ramp = RolloutConfig {
        max_per_minute: 500,
        exponential_rate: Some(ExponentialRate {
            base_rate_per_minute: 60,
            increment_factor_milli: 1500,
            number_of_succeeded: 10,
        }),
    };
    // (succeeded, rate): 60, 90, 135, 202 (202.5 floored), 303, 455, then the cap
    for (n, want) in [
        (0, 60),
        (9, 60),
        (10, 90),
        (19, 90),
        (20, 135),
        (30, 202),
        (40, 303),
        (50, 455),
        (60, 500),
        (u64::MAX, 500),
    ] {
        assert_eq!(ramp.rate(n), want, "succeeded {n}");
    }
}

#[test]
fn pacing_never_exceeds_the_rate() {
    let cases = [
        (
            1,
            Pacing {
                per_start: 1,
                gap_ms: 60_000,
            },
        ),
        (
            7,
            Pacing {
                per_start: 1,
                gap_ms: 8_572,
            },
        ),
        (
            60,
            Pacing {
                per_start: 1,
                gap_ms: 1_000,
            },
        ),
        (
            60_000,
            Pacing {
                per_start: 1,
                gap_ms: 1,
            },
        ),
        (
            90_000,
            Pacing {
                per_start: 1,
                gap_ms: 1,
            },
        ),
        (
            1_000_000,
            Pacing {
                per_start: 16,
                gap_ms: 1,
            },
        ),
    ];
    for (rate, want) in cases {
        let p = pacing(rate);
        assert_eq!(p, want, "rate {rate}");
        // starts in any 60 s window: per_start × ceil(60,000 / gap)
        let per_window = i64::from(p.per_start) * ((60_000 + p.gap_ms - 1) / p.gap_ms);
        assert!(per_window <= i64::from(rate), "rate {rate}: {per_window}");
    }
}

#[test]
fn planner_with_controls() {
    let abort = AbortConfig {
        criteria: vec![crit(AbortOutcome::Failed, 50, 2)],
    };
    let rate = RolloutConfig {
        max_per_minute: 60,
        exponential_rate: None,
    };
    let busy = summary(0, 0, 0, 2, 8);
    // paused: no starts, but a due deadline is processed and a later one wakes it
    let paused = view(ExecutionStatus::Paused, busy);
    assert_eq!(plan(&paused, at(0)), Step::default());
    let due = ExecView {
        next_timer: Some(at(0)),
        ..paused
    };
    assert_eq!(
        plan(&due, at(0)),
        Step {
            timers_due: true,
            ..Step::default()
        }
    );
    let later = ExecView {
        next_timer: Some(at(5)),
        ..paused
    };
    assert_eq!(
        plan(&later, at(0)),
        Step {
            wake_at: Some(at(5)),
            ..Step::default()
        }
    );
    // paused with nothing left: completes
    let done = view(ExecutionStatus::Paused, summary(3, 0, 0, 0, 0));
    assert!(plan(&done, at(0)).finish);
    // abort comes first, running or paused, not while draining
    let failing = summary(1, 1, 0, 2, 6);
    for (status, want) in [
        (ExecutionStatus::InProgress, true),
        (ExecutionStatus::Paused, true),
        (ExecutionStatus::Canceling, false),
    ] {
        let v = ExecView {
            abort: Some(&abort),
            ..view(status, failing)
        };
        assert_eq!(plan(&v, at(0)).abort.is_some(), want, "{status}");
    }
    // the rate: one start now, the next a second later; concurrency still applies
    let v = ExecView {
        rollout: Some(rate),
        ..view(ExecutionStatus::InProgress, busy)
    };
    assert_eq!(
        plan(&v, at(0)),
        Step {
            start: 1,
            wake_at: Some(at(1_000)),
            ..Step::default()
        }
    );
    let v = ExecView {
        last_start: Some(at(-400)),
        ..v
    };
    assert_eq!(
        plan(&v, at(0)),
        Step {
            wake_at: Some(at(600)),
            ..Step::default()
        }
    );
    let full = ExecView {
        rollout: Some(rate),
        ..view(ExecutionStatus::InProgress, summary(0, 0, 0, 10, 8))
    };
    assert_eq!(plan(&full, at(0)), Step::default());
    // a longer iteration delay wins over the rate's gap
    let v = ExecView {
        rollout: Some(rate),
        iteration_delay_ms: 3_000,
        last_start: Some(at(-1_500)),
        ..view(ExecutionStatus::InProgress, busy)
    };
    assert_eq!(
        plan(&v, at(0)),
        Step {
            wake_at: Some(at(1_500)),
            ..Step::default()
        }
    );
    // above 60,000 per minute: several starts per millisecond
    let fast = RolloutConfig {
        max_per_minute: 300_000,
        exponential_rate: None,
    };
    let v = ExecView {
        rollout: Some(fast),
        ..view(ExecutionStatus::InProgress, summary(0, 0, 0, 0, 100))
    };
    assert_eq!(
        plan(&v, at(0)),
        Step {
            start: 5,
            wake_at: Some(at(1)),
            ..Step::default()
        }
    );
}

/// A whole execution under the planner: `n` iterations, random ack delays and outcomes.
/// Returns (start instant, rate at that instant, in flight after it) per start.
fn simulate(
    n: u64,
    concurrency: u32,
    delay: i64,
    rollout: RolloutConfig,
    acks: &[(i64, bool)],
) -> Vec<(i64, Option<u32>, u64)> {
    let mut s = summary(0, 0, 0, 0, n);
    let mut now = 0i64;
    let mut last_start = None;
    let mut flying: Vec<(i64, bool)> = Vec::new();
    let mut starts = Vec::new();
    let mut k = 0usize;
    for _ in 0..100_000 {
        let v = ExecView {
            status: ExecutionStatus::InProgress,
            summary: s,
            max_concurrency: concurrency,
            iteration_delay_ms: delay,
            last_start,
            next_timer: None,
            abort: None,
            rollout: Some(rollout),
        };
        let step = plan(&v, at(now));
        if step.finish {
            return starts;
        }
        for _ in 0..step.start {
            let (after, ok) = acks[k % acks.len()];
            k += 1;
            flying.push((now + after, ok));
            s.remaining -= 1;
            s.in_progress += 1;
            last_start = Some(at(now));
            let rate = crate::engine::planner::current_rate(Some(&rollout), &v.summary);
            starts.push((now, rate, s.in_progress));
        }
        if step.start > 0 {
            continue; // plan again at the same instant, as the engine does
        }
        let next_ack = flying.iter().map(|f| f.0).min();
        let wake = step.wake_at.map(|t| t.as_millis() - super::T0);
        let next = match (next_ack, wake) {
            (Some(a), Some(w)) => a.min(w),
            (a, w) => a
                .or(w)
                .expect("an execution with work left must have a wake-up"),
        };
        assert!(next >= now, "time goes forward");
        now = next;
        flying.retain(|&(t, ok)| {
            if t <= now {
                s.in_progress -= 1;
                if ok {
                    s.succeeded += 1
                } else {
                    s.failed += 1
                }
                false
            } else {
                true
            }
        });
    }
    panic!("the simulation did not finish");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn starts_respect_rate_delay_and_concurrency(
        n in 1u64..120,
        concurrency in 1u32..20,
        delay in prop_oneof![Just(0i64), 1i64..3_000],
        max in prop_oneof![1u32..600, 50_000u32..300_000],
        ramp in proptest::option::of((1u32..100, 1100u32..5000, 1u64..20)),
        acks in proptest::collection::vec((0i64..5_000, any::<bool>()), 1..30),
    ) {
        let rollout = RolloutConfig {
            max_per_minute: max,
            exponential_rate: ramp.map(|(b, f, k)| ExponentialRate {
                base_rate_per_minute: b.min(max),
                increment_factor_milli: f,
                number_of_succeeded: k,
            }),
        };
        let starts = simulate(n, concurrency, delay, rollout, &acks);
        prop_assert_eq!(starts.len() as u64, n);
        for &(_, _, in_flight) in &starts {
            prop_assert!(in_flight <= u64::from(concurrency));
        }
        for w in starts.windows(2) {
            let (a, _, _) = w[0];
            let (b, rate, _) = w[1];
            let p = pacing(rate.unwrap());
            if b == a {
                // a group of starts at one instant: only above 60,000 per minute, no delay
                prop_assert!(p.per_start > 1 && delay == 0);
            } else {
                prop_assert!(b - a >= p.gap_ms.max(delay), "{} → {} rate {:?} delay {}", a, b, rate, delay);
            }
        }
        // never more than the rate in any group of one instant
        let mut i = 0;
        while i < starts.len() {
            let j = starts[i..].iter().take_while(|s| s.0 == starts[i].0).count();
            prop_assert!(j as u32 <= pacing(starts[i].1.unwrap()).per_start.max(1));
            i += j;
        }
    }
}
