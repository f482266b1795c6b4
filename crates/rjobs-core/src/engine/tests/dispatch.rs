//! Dispatch: unit cases, and a simulated execution driven only by the plan's answers.

use proptest::prelude::*;

use super::*;

#[test]
fn no_delay_fills_every_free_slot() {
    let p = dispatch_plan(at(0), 3, 10, Some(at(0)), 0, 1, false);
    assert_eq!(
        p,
        DispatchPlan {
            can_start: 7,
            next_at: None
        }
    );
}

#[test]
fn full_means_wait_for_a_slot() {
    let p = dispatch_plan(at(0), 10, 10, None, 5_000, 1, false);
    assert_eq!(
        p,
        DispatchPlan {
            can_start: 0,
            next_at: None
        }
    );
    let p = dispatch_plan(at(0), 12, 10, None, 0, 1, false);
    assert_eq!(
        p.can_start, 0,
        "over the cap (lowered while running) starts nothing"
    );
}

#[test]
fn first_start_is_immediate_then_spaced_by_the_delay() {
    let p = dispatch_plan(at(0), 0, 3, None, 5_000, 1, false);
    assert_eq!(
        p,
        DispatchPlan {
            can_start: 1,
            next_at: Some(at(5_000))
        }
    );
    let p = dispatch_plan(at(4_999), 1, 3, Some(at(0)), 5_000, 1, false);
    assert_eq!(
        p,
        DispatchPlan {
            can_start: 0,
            next_at: Some(at(5_000))
        }
    );
    let p = dispatch_plan(at(5_000), 1, 3, Some(at(0)), 5_000, 1, false);
    assert_eq!(
        p,
        DispatchPlan {
            can_start: 1,
            next_at: Some(at(10_000))
        }
    );
    // The last free slot: after it only an ending iteration can unblock.
    let p = dispatch_plan(at(5_000), 2, 3, Some(at(0)), 5_000, 1, false);
    assert_eq!(
        p,
        DispatchPlan {
            can_start: 1,
            next_at: None
        }
    );
}

#[test]
fn serial_waits_for_the_previous_to_be_final() {
    let p = dispatch_plan(at(0), 0, 1, Some(at(-100_000)), 0, 1, true);
    assert_eq!(
        p,
        DispatchPlan {
            can_start: 0,
            next_at: None
        }
    );
    let p = dispatch_plan(at(0), 0, 1, Some(at(-100_000)), 0, 1, false);
    assert_eq!(p.can_start, 1);
    assert_eq!(
        dispatch_plan(at(0), 0, 0, None, 0, 1, false).can_start,
        1,
        "0 is read as 1"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Simulates one execution: iterations take random times to become final; the simulator
    /// wakes only at the plan's `next_at` or when an iteration ends, as the engine will.
    #[test]
    fn simulated_execution_honours_cap_delay_and_serial_rule(
        max in 1u32..6,
        delay in prop_oneof![Just(0i64), 1i64..3_000],
        durations in proptest::collection::vec(1i64..6_000, 1..40),
    ) {
        let n = durations.len();
        let mut now = at(0);
        let mut next_iteration = 0usize;
        let mut running: Vec<(Timestamp, Timestamp)> = Vec::new(); // (start, end)
        let mut starts: Vec<(Timestamp, Timestamp)> = Vec::new();
        let mut last_start = None;
        for _step in 0..10 * n + 10 {
            running.retain(|(_, end)| *end > now);
            let in_flight = running.len() as u32;
            let serial_waiting = max == 1 && !running.is_empty();
            let plan = dispatch_plan(now, in_flight, max, last_start, delay, 1, serial_waiting);
            let pending = (n - next_iteration) as u32;
            // Never idle when a start is allowed by every rule.
            let allowed = in_flight < max
                && !serial_waiting
                && last_start.is_none_or(|l: Timestamp| now >= l.plus_millis(delay));
            prop_assert_eq!(plan.can_start >= 1, allowed);
            for _ in 0..plan.can_start.min(pending) {
                let end = now.plus_millis(durations[next_iteration]);
                running.push((now, end));
                starts.push((now, end));
                next_iteration += 1;
                last_start = Some(now);
            }
            prop_assert!(running.len() as u32 <= max, "cap exceeded");
            if next_iteration == n && running.is_empty() {
                break;
            }
            let next_end = running.iter().map(|(_, e)| *e).min();
            let timer = if next_iteration < n { plan.next_at } else { None };
            let wake = match (next_end, timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).ok_or_else(|| TestCaseError::fail("deadlocked"))?,
            };
            prop_assert!(wake > now);
            // ... and never sleeps past the moment the delay alone would allow a start.
            let serial_waiting = max == 1 && !running.is_empty();
            if next_iteration < n && (running.len() as u32) < max && !serial_waiting {
                if let Some(l) = last_start {
                    prop_assert!(wake <= l.plus_millis(delay).max(now.plus_millis(1)), "idle");
                }
            }
            now = wake;
        }
        prop_assert_eq!(starts.len(), n, "not every iteration started");
        prop_assert_eq!(starts[0].0, at(0), "the first starts at once");
        for pair in starts.windows(2) {
            let ((s0, e0), (s1, _)) = (pair[0], pair[1]);
            prop_assert!(s1.as_millis() - s0.as_millis() >= delay, "starts too close");
            if max == 1 {
                prop_assert!(s1 >= e0, "serial start before the previous ended");
            }
        }
    }
}
